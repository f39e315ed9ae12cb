"""ERC20 balance movements (phase 0): ``transfer``/``transferFrom`` calls and ``Transfer`` events.

Definitions:

* From traces, a movement is a successful ``call``-type frame to the token with selector
  ``transfer(address,uint256)`` (from = the frame's caller) or
  ``transferFrom(address,address,uint256)`` (from = the first argument). Only plain ``call``
  frames move balances: a proxied token (USDC, every Aave aToken) receives the user's ``call`` and
  ``delegatecall``\\ s its implementation with identical calldata -- that inner frame moves the
  *proxy's* storage, so counting it would record the same movement twice, once under the
  implementation's address (e.g. USDC proxy ``0xa0b8…eb48`` -> implementation ``0xa232…cdbf`` in
  tx 0xa5526f8bcc1c2b6a385a7dfea0a94d6e096f9a03d0eb9be53f1344b846e24b3a, which the peer
  mev-inspect-py reports twice). ``staticcall`` frames cannot move balances either.
* Non-standard return values: USDT returns nothing (output ``0x``), so a missing return is
  accepted; a token that returns ``false`` instead of reverting (ABI word 0) moved nothing and is
  skipped.
* Address arguments are the low 20 bytes of their word, as the token's own (unchecked) ABI
  decoding reads them: tx 0xd02b3e5286e7f474e59ba7f71c921812ac2f1bfd469feaa803d5ee66b1c9aa56
  sends WETH with junk in the address word's high bytes, a transfer the peer's strict decoder
  drops.
* From logs, ``Transfer(address indexed,address indexed,uint256)`` with exactly three topics;
  ERC721 ``Transfer`` shares the topic but indexes the token id (four topics) and is skipped.

Known limits: fee-on-transfer tokens deliver less than the call's amount, which only the event
shows; ERC721 ``transferFrom`` shares the ERC20 selector, so from traces an NFT move appears as a
transfer of ``amount = tokenId`` of an unpriced token (harmless for priced balance deltas).
Mints and burns other than WETH wraps (:mod:`.weth`) and Compound cToken mints, redeems and
seizures (:mod:`.compound`) -- LP tokens, aTokens -- are only visible from logs.
"""

from __future__ import annotations

from mevgraph.core.actions import Action, Transfer
from mevgraph.core.types import Address
from mevgraph.decode.abi import topic_addr
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.registry import REGISTRY

__all__ = ["PROTOCOL", "FALSE_WORD", "transfer_from_trace", "transfer_from_from_trace", "transfer_from_log"]

PROTOCOL = "erc20"
FALSE_WORD = "0x" + "0" * 64
"""Return data of a token that reports failure with ``false`` instead of reverting."""


def _moves(ctx: TraceContext, i: int) -> bool:
    fr = ctx.frames[i]
    return fr.call_type == "call" and fr.output != FALSE_WORD and fr.to is not None


@REGISTRY.trace(PROTOCOL, "transfer(address,uint256)", phase=0)
def transfer_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    if not _moves(ctx, i):
        return []
    fr = ctx.frames[i]
    inp = fr.input
    if len(inp) < 138:
        raise ValueError(f"transfer calldata too short ({len(inp)} hex chars)")
    return [
        Transfer(
            **ctx.base(i, PROTOCOL),
            token=fr.to,  # type: ignore[arg-type]
            from_=fr.from_,  # type: ignore[arg-type]
            to=Address("0x" + inp[34:74]),
            amount=int(inp[74:138], 16),
        )
    ]


@REGISTRY.trace(PROTOCOL, "transferFrom(address,address,uint256)", phase=0)
def transfer_from_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    if not _moves(ctx, i):
        return []
    fr = ctx.frames[i]
    inp = fr.input
    if len(inp) < 202:
        raise ValueError(f"transferFrom calldata too short ({len(inp)} hex chars)")
    return [
        Transfer(
            **ctx.base(i, PROTOCOL),
            token=fr.to,  # type: ignore[arg-type]
            from_=Address("0x" + inp[34:74]),
            to=Address("0x" + inp[98:138]),
            amount=int(inp[138:202], 16),
        )
    ]


@REGISTRY.log(PROTOCOL, "Transfer(address,address,uint256)", phase=0)
def transfer_from_log(ctx: LogContext, i: int) -> list[Action]:
    lg = ctx.logs[i]
    if len(lg.topics) != 3 or len(lg.data) < 66:
        return []
    return [
        Transfer(
            **ctx.base(i, PROTOCOL),
            token=lg.address,
            from_=topic_addr(lg.topics[1]),
            to=topic_addr(lg.topics[2]),
            amount=int(lg.data[2:66], 16),
        )
    ]
