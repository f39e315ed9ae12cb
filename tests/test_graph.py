"""The property graph: node/edge tables and exports, on a real block."""

from __future__ import annotations

from mevgraph.graph import EDGE_TYPES, PropertyGraph, to_igraph, to_networkx

from .conftest import decoded_fixture


def test_tables_and_exports_agree(block_names: list[str]) -> None:
    g = PropertyGraph.build([decoded_fixture("12775690")])
    edges = g.edges
    assert set(edges.column("type").to_pylist()) <= set(EDGE_TYPES)
    assert {"SENT", "IN_BLOCK", "CALLED", "SWAPPED_ON", "TRANSFERRED"} <= set(
        edges.column("type").to_pylist()
    )
    nx_g = to_networkx(g)
    ig_g = to_igraph(g)
    assert nx_g.number_of_edges() == ig_g.ecount() == edges.num_rows
    assert nx_g.number_of_nodes() == ig_g.vcount()
    labels = {d["label"] for _, d in nx_g.nodes(data=True)}
    assert {"Block", "Transaction", "Address", "Pool", "Token"} <= labels
    # Every swap edge carries exact amounts and points from a transaction to a pool.
    swaps = [(u, v, d) for u, v, d in nx_g.edges(data=True) if d["type"] == "SWAPPED_ON"]
    assert swaps
    for u, v, d in swaps:
        assert u.startswith("tx:") and nx_g.nodes[v]["label"] == "Pool"
        assert isinstance(d["amount_in"], int) and isinstance(d["amount_out"], int)


def test_sql_over_tables(block_names: list[str]) -> None:
    g = PropertyGraph.build([decoded_fixture("12775690"), decoded_fixture("12914944")])
    (n,) = g.sql("select count(distinct block_number) from transactions")[0]
    assert n == 2
    rows = g.sql(
        "select t.tx_hash, count(*) from swaps s join transactions t "
        "on s.chain_id = t.chain_id and s.tx_hash = t.tx_hash group by t.tx_hash"
    )
    assert rows
