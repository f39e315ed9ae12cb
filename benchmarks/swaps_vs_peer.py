"""Compare our decoded swaps with mev-inspect-py's, block by block.

Usage: ``python benchmarks/swaps_vs_peer.py [-v]`` from the project root. For every shared block
prints: our swaps (successful + attempted in reverted txs), the peer's, how many match exactly
(same tx, trace address, pool, tokens and amounts) and, with ``-v``, every mismatch.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from mevgraph.core.actions import Swap
from mevgraph.decode.decoder import decode_block
from mevgraph.ingest.fixture import block_from_fixture

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mainnet"


def _key(tx: str, ta: tuple[int, ...] | list[int] | None) -> tuple[str, tuple[int, ...]]:
    return tx, tuple(ta or ())


def compare(number: str, verbose: bool) -> tuple[int, int, int]:
    with gzip.open(DATA / "blocks" / f"{number}.json.gz") as f:
        block = block_from_fixture(json.load(f))
    dec = decode_block(block)
    ours = {
        _key(a.tx_hash, a.trace_address): a
        for a in [*dec.actions, *dec.attempted]
        if isinstance(a, Swap) and a.trace_address is not None
    }
    with gzip.open(DATA / "peer" / f"{number}.json.gz") as f:
        peer = json.load(f)["swaps"]
    matched = 0
    seen = set()
    for p in peer:
        k = _key(p["transaction_hash"], p["trace_address"])
        seen.add(k)
        o = ours.get(k)
        if o is None:
            if verbose:
                print(f"  MISSING {p['protocol']} {k} pool={p['contract_address']}")
            continue
        pin, pout = p["token_in_address"], p["token_out_address"]
        ain, aout = p["token_in_amount"], p["token_out_amount"]
        got = (o.pool, o.token_in, o.token_out, o.amount_in, o.amount_out)
        want = (p["contract_address"].lower(), pin.lower(), pout.lower(), ain, aout)
        if got == want:
            matched += 1
        elif verbose:
            print(f"  DIFF {o.protocol}/{p['protocol']} {k}\n    ours={got}\n    peer={want}")
    if verbose:
        for k, o in ours.items():
            if k not in seen:
                print(f"  EXTRA {o.protocol} {k} pool={o.pool} {o.token_in}->{o.token_out}")
    skips = [s for s in dec.skips]
    if verbose and skips:
        for s in skips:
            print(f"  skip {s.tx_hash} {s.where}: {s.reason}")
    return len(ours), len(peer), matched


def main() -> None:
    verbose = "-v" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    tot = [0, 0, 0]
    for p in sorted((DATA / "blocks").glob("*.json.gz")):
        n = p.name.split(".")[0]
        if only and n not in only:
            continue
        o, q, m = compare(n, verbose)
        tot = [tot[0] + o, tot[1] + q, tot[2] + m]
        print(f"{n}: ours={o} peer={q} matched={m}")
    print(f"total: ours={tot[0]} peer={tot[1]} matched={tot[2]}")


if __name__ == "__main__":
    main()
