"""ETH and USD-stablecoin flows of a transaction's contract (a quick arbitrage fingerprint).

For a transaction sent to a contract that is not a router, the *searcher addresses* are that
contract plus every implementation it ``delegatecall`` s into. Over the transaction's decoded
transfers we sum, for those addresses:

* ``ether_flows = [in, out]``: ETH and WETH received / sent, in wei, where wrapping and unwrapping
  legs (ETH into the WETH contract, WETH minted or burned) are left out -- they convert, they do
  not move value;
* ``dollar_flows = [in, out]``: raw units of the chain's USD stablecoins received / sent.

A bot whose ETH in/out are close while its dollar flows balance is cycling through stables; this
is the "token flow" view of mev-inspect-py's ``tokenflow.py`` computed from our normalized
transfers instead of raw calldata.
"""

from __future__ import annotations

from dataclasses import dataclass

from mevgraph.core.actions import Transfer
from mevgraph.core.tokens import WETH, stablecoins
from mevgraph.core.types import ETH, ZERO_ADDRESS
from mevgraph.decode.decoder import DecodedBlock
from mevgraph.decode.labels import is_router

__all__ = ["TokenFlows", "tx_token_flows"]


@dataclass(frozen=True, slots=True)
class TokenFlows:
    addresses: tuple[str, ...]
    ether_flows: tuple[int, int]
    dollar_flows: tuple[int, int]


def _searcher_addresses(decoded: DecodedBlock, tx_hash: str, to: str | None) -> tuple[str, ...]:
    if to is None or is_router(decoded.chain_id, to):
        return ()
    out = [to]
    for t in decoded.block.traces or ():
        if (
            t.tx_hash == tx_hash
            and t.call_type == "delegatecall"
            and t.from_ == to
            and t.to
            and t.to not in out
        ):
            out.append(t.to)
    return tuple(out)


def tx_token_flows(decoded: DecodedBlock, tx_hash: str) -> TokenFlows:
    """Flows of ``tx_hash``'s contract in ``decoded``; raises ``KeyError`` for an unknown tx."""
    meta = next((m for m in decoded.txs if m.hash == tx_hash), None)
    if meta is None:
        raise KeyError(f"transaction {tx_hash} not in block {decoded.number}")
    addrs = set(_searcher_addresses(decoded, tx_hash, meta.to))
    weth = WETH.get(decoded.chain_id)
    stables = stablecoins(decoded.chain_id)
    e_in = e_out = d_in = d_out = 0
    for a in decoded.actions:
        if not isinstance(a, Transfer) or a.tx_hash != tx_hash:
            continue
        if a.token == ETH or a.token == weth:
            if a.token == ETH and weth in (a.from_, a.to):
                continue  # wrap/unwrap leg
            if a.token == weth and (ZERO_ADDRESS in (a.from_, a.to) or weth in (a.from_, a.to)):
                continue  # WETH minted on deposit / burned on withdraw
            if a.to in addrs:
                e_in += a.amount
            elif a.from_ in addrs:
                e_out += a.amount
        elif a.token in stables:
            if a.to in addrs:
                d_in += a.amount
            elif a.from_ in addrs:
                d_out += a.amount
    return TokenFlows(tuple(sorted(addrs)), (e_in, e_out), (d_in, d_out))
