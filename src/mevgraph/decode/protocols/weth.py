"""Wrapped ether (WETH9) wraps and unwraps (phase 0), per chain.

Convention (see :class:`~mevgraph.core.actions.Transfer`): wrapping is a WETH transfer *from the
WETH contract* to the depositor, unwrapping a WETH transfer from the holder *to the WETH
contract*. The ETH leg is not emitted here: ``deposit()`` carries it as the frame's value and
``withdraw(uint256)`` pays it back with a value call from WETH to the caller, both of which the
ETH value hook (:mod:`mevgraph.decode.protocols.eth`) already records. So a depositor's deltas are
exactly +WETH / -ETH, and only the WETH contract's own WETH balance is not meaningful (it is
never a trader). ``transfer``/``transferFrom`` on WETH are plain ERC20 (:mod:`.erc20`).

``deposit()`` and ``withdraw(uint256)`` are common selectors (vaults, bridges), so only the
known WETH contract of the block's chain is decoded; other contracts with these selectors are
ignored here. From logs: ``Deposit(address indexed dst, uint wad)`` and
``Withdrawal(address indexed src, uint wad)`` emitted by the WETH contract. Logs show no internal
ETH movements, so there the ETH leg is inferred too (WETH9 only ever takes ETH from, and pays it
to, ``msg.sender`` = ``dst``/``src``), except for a deposit made by the transaction itself,
whose ETH leg is already the transaction's value. Only WETH9-compatible contracts that emit
``Deposit``/``Withdrawal`` and no ERC20 ``Transfer`` for wraps belong in :data:`WETH`.
"""

from __future__ import annotations

from mevgraph.core.actions import Action, Transfer
from mevgraph.core.types import ETH, Address
from mevgraph.decode.abi import topic_addr
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.registry import REGISTRY

__all__ = [
    "PROTOCOL",
    "WETH",
    "weth_of",
    "deposit_from_trace",
    "withdraw_from_trace",
    "deposit_from_log",
    "withdrawal_from_log",
]

PROTOCOL = "weth"

WETH: dict[int, Address] = {
    1: Address("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"),  # Ethereum mainnet WETH9
    10: Address("0x4200000000000000000000000000000000000006"),  # Optimism
    8453: Address("0x4200000000000000000000000000000000000006"),  # Base
}
"""Canonical wrapped-native token per chain id (WETH9-compatible deposit/withdraw)."""


def weth_of(chain_id: int) -> Address | None:
    """The chain's WETH address, or ``None`` when the chain is not configured."""
    return WETH.get(chain_id)


@REGISTRY.trace(PROTOCOL, "deposit()", phase=0)
def deposit_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    weth = WETH.get(ctx.block.chain_id)
    if fr.to != weth or fr.call_type != "call" or not fr.value:
        return []
    return [Transfer(**ctx.base(i, PROTOCOL), token=weth, from_=weth, to=fr.from_, amount=fr.value)]  # type: ignore[arg-type]


@REGISTRY.trace(PROTOCOL, "withdraw(uint256)", phase=0)
def withdraw_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    weth = WETH.get(ctx.block.chain_id)
    if fr.to != weth or fr.call_type != "call" or len(fr.input) < 74:
        return []
    amount = int(fr.input[10:74], 16)
    if not amount:
        return []
    return [Transfer(**ctx.base(i, PROTOCOL), token=weth, from_=fr.from_, to=weth, amount=amount)]  # type: ignore[arg-type]


@REGISTRY.log(PROTOCOL, "Deposit(address,uint256)", phase=0)
def deposit_from_log(ctx: LogContext, i: int) -> list[Action]:
    lg = ctx.logs[i]
    weth = WETH.get(ctx.block.chain_id)
    if lg.address != weth or len(lg.topics) != 2 or len(lg.data) < 66:
        return []
    amount = int(lg.data[2:66], 16)
    dst = topic_addr(lg.topics[1])
    base = ctx.base(i, PROTOCOL)
    out: list[Action] = [Transfer(**base, token=weth, from_=weth, to=dst, amount=amount)]
    tx = ctx.tx
    if tx is None or tx.to != weth:
        out.append(Transfer(**{**base, "protocol": "eth"}, token=ETH, from_=dst, to=weth, amount=amount))
    return out


@REGISTRY.log(PROTOCOL, "Withdrawal(address,uint256)", phase=0)
def withdrawal_from_log(ctx: LogContext, i: int) -> list[Action]:
    lg = ctx.logs[i]
    weth = WETH.get(ctx.block.chain_id)
    if lg.address != weth or len(lg.topics) != 2 or len(lg.data) < 66:
        return []
    amount = int(lg.data[2:66], 16)
    src = topic_addr(lg.topics[1])
    base = ctx.base(i, PROTOCOL)
    return [
        Transfer(**base, token=weth, from_=src, to=weth, amount=amount),
        Transfer(**{**base, "protocol": "eth"}, token=ETH, from_=weth, to=src, amount=amount),
    ]
