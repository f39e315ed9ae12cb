# %% [markdown]
# # Exploring one block's property graph
#
# A notebook in percent format (open it in Jupyter/VS Code as a notebook, or run it as a script:
# `.venv/bin/python notebooks/explore_block.py [BLOCK_FILE]`). It builds the property graph of
# one real mainnet block, queries its columnar tables with SQL, walks the sandwich it contains
# in networkx, and prints the findings.

# %%
import sys
from pathlib import Path

import networkx as nx

from mevgraph.decode.decoder import decode_block
from mevgraph.detection.engine import find
from mevgraph.graph import PropertyGraph, to_networkx
from mevgraph.ingest.files import read_block_file

ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent
path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data/mainnet/blocks/12775690.json.gz"
graph = PropertyGraph.build([decode_block(read_block_file(path))])
print({name: table.num_rows for name, table in graph.tables.items()}, "edges:", graph.n_edges)

# %% [markdown]
# The busiest pools of the block, straight from the `swaps` edge table (DuckDB over Arrow):

# %%
for pool, protocol, n in graph.sql(
    "SELECT pool, any_value(protocol), count(*) AS n FROM swaps WHERE NOT attempted "
    "GROUP BY pool ORDER BY n DESC LIMIT 5"
):
    print(f"{pool}  {protocol:<12} {n} swaps")

# %% [markdown]
# The findings, then the neighbourhood of the first sandwich's pool in the networkx export:

# %%
findings = find(graph)
for f in findings:
    print(f.kind, f.status, f.attacker_txs[0][:12], f.profit_by_token, f.profit_usd)

g = to_networkx(graph)
sandwich = next((f for f in findings if str(f.kind) == "sandwich"), None)
if sandwich is not None:
    pool = f"addr:{sandwich.chain_id}:{sandwich.pools[0]}"
    txs = sorted({u for u, _, d in g.in_edges(pool, data=True) if d["type"] == "SWAPPED_ON"})
    print(f"{len(txs)} transactions swapped on {sandwich.pools[0]}")
    ego = nx.ego_graph(g.to_undirected(as_view=True), pool, radius=2)
    print(
        f"2-hop neighbourhood of the attacked pool: {ego.number_of_nodes()} nodes, {ego.number_of_edges()} edges"
    )
