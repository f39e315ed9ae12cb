"""Native ETH movements and coinbase payments from traces (phase-0 value hook).

Every non-reverted frame that moves ETH becomes a ``Transfer(token=ETH)``:

* ``call`` frames with value (the decoder invokes the hook only for plain calls: a
  ``delegatecall``/``callcode`` frame repeats its parent's value without moving it again, and
  ``staticcall`` cannot carry value);
* ``create`` frames with value (endowment from creator to the new contract);
* ``suicide`` frames: the whole balance moves from the destroyed contract to the refund address.

Plain ETH sent to WETH9 runs its fallback, which *is* ``deposit()``: besides the ETH transfer this
also mints WETH to the sender (same convention as :mod:`.weth`), unless the frame is the explicit
``deposit()`` call that the WETH decoder already handles (WETH9's other functions are not
payable, so any other successful value call to it went through the fallback).

A movement whose recipient is the block's fee recipient (``ctx.miner``) is also a
:class:`~mevgraph.core.actions.CoinbasePayment` -- the direct bribe that searchers pay on top of
gas (e.g. tx 0x91a3abe5f3b806426542252820ba0ab6d56c098fdef6864ecaf4d352f64217a0 of block
12775690). Gas fees themselves never appear in traces and are computed from receipts. Without
traces (logs mode) the decoder itself records the transaction's own value; internal ETH
movements are then invisible.
"""

from __future__ import annotations

from mevgraph.core.actions import Action, CoinbasePayment, Transfer
from mevgraph.core.types import ETH
from mevgraph.decode.context import TraceContext
from mevgraph.decode.protocols.weth import WETH
from mevgraph.decode.registry import REGISTRY

__all__ = ["PROTOCOL", "eth_value_movement"]

PROTOCOL = "eth"
_DEPOSIT = "0xd0e30db0"  # deposit()


@REGISTRY.value_hook(PROTOCOL)
def eth_value_movement(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    value = fr.value
    if not value or fr.from_ is None or fr.to is None:
        return []
    base = ctx.base(i, PROTOCOL)
    out: list[Action] = [Transfer(**base, token=ETH, from_=fr.from_, to=fr.to, amount=value)]
    if fr.to == ctx.block.miner:
        out.append(CoinbasePayment(**base, from_=fr.from_, to=fr.to, amount=value))
    elif fr.to == WETH.get(ctx.block.chain_id) and fr.type == "call" and fr.input[:10] != _DEPOSIT:
        out.append(
            Transfer(**{**base, "protocol": "weth"}, token=fr.to, from_=fr.to, to=fr.from_, amount=value)
        )
    return out
