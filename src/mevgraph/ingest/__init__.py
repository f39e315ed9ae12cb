"""Everything that turns external chain data into :class:`~mevgraph.core.types.Block` s.

- :mod:`~mevgraph.ingest.fixture`: mev-inspect-py block fixtures (traces, minimal receipts).
- :mod:`~mevgraph.ingest.rpc_model`: standard JSON-RPC objects (blocks, receipts, logs, traces).
- :mod:`~mevgraph.ingest.bundle`: RPC bundle files (``{"block", "receipts", "traces"}``).
- :mod:`~mevgraph.ingest.files`: any file or directory, format auto-detected.
- :mod:`~mevgraph.ingest.rpc`: a live node over HTTP JSON-RPC (batched, retried, logs-only capable).
"""

from mevgraph.ingest.bundle import block_from_bundle, make_bundle, write_bundle
from mevgraph.ingest.files import FormatError, expand_paths, iter_block_files, read_block_file
from mevgraph.ingest.fixture import block_from_fixture
from mevgraph.ingest.rpc_model import block_from_rpc

__all__ = [
    "FormatError",
    "block_from_bundle",
    "block_from_fixture",
    "block_from_rpc",
    "expand_paths",
    "iter_block_files",
    "make_bundle",
    "read_block_file",
    "write_bundle",
]
