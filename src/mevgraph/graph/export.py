"""Exports of the columnar property graph to graph libraries.

Node ids are typed strings so that the five node kinds never collide:
``block:<chain>:<number>``, ``tx:<hash>``, ``addr:<address>`` (pools and tokens are address
nodes whose ``kind`` attribute says ``pool``/``token``). Every node has a ``label``
(Block/Transaction/Address/Pool/Token) and every edge a ``type`` from
:data:`~mevgraph.graph.tables.EDGE_TYPES` plus the properties of the action behind it.

>>> from mevgraph.graph import PropertyGraph
>>> g = PropertyGraph.build([])
>>> to_networkx(g).number_of_nodes()
0
"""

from __future__ import annotations

from typing import Any

from mevgraph.core.actions import Action
from mevgraph.graph.tables import PropertyGraph

__all__ = ["to_networkx", "to_igraph", "node_id"]


def node_id(label: str, key: str, chain_id: int | None = None) -> str:
    if label == "Block":
        return f"block:{chain_id}:{key}"
    if label == "Transaction":
        return f"tx:{key}"
    return f"addr:{chain_id}:{key}"


def _action_props(a: Action | None) -> dict[str, Any]:
    if a is None:
        return {}
    out: dict[str, Any] = {"protocol": a.protocol}
    for name in ("token_in", "token_out", "token", "debt_token", "collateral_token", "pool"):
        v = getattr(a, name, None)
        if v is not None:
            out[name] = v
    # Graph libraries store attributes as Python objects; amounts stay exact ints (as str for
    # formats that cannot hold 256-bit ints, e.g. GraphML -- convert at write time).
    for name in ("amount_in", "amount_out", "amount", "debt_amount", "collateral_amount"):
        v = getattr(a, name, None)
        if v is not None:
            out[name] = v
    return out


def _nodes_and_edges(
    graph: PropertyGraph,
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str, dict[str, Any]]]]:
    nodes: dict[str, dict[str, Any]] = {}
    t = graph.tables
    for row in t["blocks"].to_pylist():
        nodes[node_id("Block", str(row["number"]), row["chain_id"])] = {"label": "Block", **row}
    for row in t["transactions"].to_pylist():
        nodes[node_id("Transaction", row["tx_hash"])] = {"label": "Transaction", **row}
    pools = {(r["chain_id"], r["address"]): r for r in t["pools"].to_pylist()}
    tokens = {(r["chain_id"], r["address"]) for r in t["tokens"].to_pylist()}
    for row in t["addresses"].to_pylist():
        key = (row["chain_id"], row["address"])
        label = "Pool" if key in pools else ("Token" if key in tokens else "Address")
        nodes[node_id("Address", row["address"], row["chain_id"])] = {
            "label": label,
            "chain_id": row["chain_id"],
            "address": row["address"],
            "kind": row["kind"],
        }
    for chain, addr in tokens:
        nodes.setdefault(
            node_id("Address", addr, chain),
            {"label": "Token", "chain_id": chain, "address": addr, "kind": "token"},
        )
    edges: list[tuple[str, str, dict[str, Any]]] = []
    e = graph.edges
    cols = {name: e.column(name).to_pylist() for name in e.column_names}
    for k in range(e.num_rows):
        typ = cols["type"][k]
        chain = cols["chain_id"][k]
        src, dst = cols["src"][k], cols["dst"][k]
        if typ == "SENT":
            s, d = node_id("Address", src, chain), node_id("Transaction", dst)
        elif typ == "IN_BLOCK":
            s, d = node_id("Transaction", src), node_id("Block", dst.split(":", 1)[1], chain)
        elif typ == "TRANSFERRED" or typ == "HOLDS":
            s, d = node_id("Address", src, chain), node_id("Address", dst, chain)
        else:  # tx -> address/pool
            s, d = node_id("Transaction", src), node_id("Address", dst, chain)
        aid = cols["action_id"][k]
        props: dict[str, Any] = {"type": typ, "block_number": cols["block_number"][k]}
        if aid is not None:
            props["action_id"] = aid
            props.update(_action_props(graph.actions[aid]))
        for n in (s, d):
            if n not in nodes:
                if n.startswith("addr:"):
                    _, c, a = n.split(":", 2)
                    nodes[n] = {"label": "Address", "chain_id": int(c), "address": a, "kind": "unknown"}
                else:
                    nodes[n] = {"label": "Transaction" if n.startswith("tx:") else "Block"}
        edges.append((s, d, props))
    return nodes, edges


def to_networkx(graph: PropertyGraph) -> Any:
    """A ``networkx.MultiDiGraph`` with every node and typed edge of ``graph``."""
    import networkx as nx

    nodes, edges = _nodes_and_edges(graph)
    g = nx.MultiDiGraph()
    g.add_nodes_from(nodes.items())
    for s, d, p in edges:
        g.add_edge(s, d, key=p["type"] if "action_id" not in p else f"{p['type']}:{p['action_id']}", **p)
    return g


def to_igraph(graph: PropertyGraph) -> Any:
    """A directed ``igraph.Graph``; vertex attribute ``name`` holds the typed node id.

    igraph attributes cannot hold ints above 64 bits, so amounts are exported as decimal strings.
    """
    import igraph as ig

    nodes, edges = _nodes_and_edges(graph)
    names = list(nodes)
    index = {n: i for i, n in enumerate(names)}
    g = ig.Graph(directed=True)
    g.add_vertices(len(names))
    g.vs["name"] = names
    g.vs["label"] = [nodes[n].get("label") for n in names]
    g.vs["address"] = [nodes[n].get("address") for n in names]
    g.add_edges([(index[s], index[d]) for s, d, _ in edges])
    keys = sorted({k for _, _, p in edges for k in p})
    for k in keys:
        vals = [p.get(k) for _, _, p in edges]
        g.es[k] = [
            str(v) if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 1 << 63 else v
            for v in vals
        ]
    return g
