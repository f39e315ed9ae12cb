"""Aave V1/V2/V3 liquidations (phase 1) and aToken liquidation transfers (phase 0).

A liquidation is a successful ``liquidationCall(address collateral, address debt, address user,
uint256 debtToCover, bool receiveAToken)`` -- one selector for all three versions, so one handler
that tells versions apart by the pool address (:data:`POOLS`); a pool we do not know (a fork, a
new deployment) is still decoded, labelled plain ``"aave"``.

Amounts are what actually moved, read from the phase-0 transfers under the call frame (never the
arguments: ``debtToCover`` may be ``uint(-1)`` or capped by the close factor):

* ``debt_amount``: the debt asset sent by the liquidator (in V1 an ETH reserve is paid as the
  call's value, token ``ETH``), minus any of it refunded to the liquidator;
* ``collateral_amount``: the collateral asset received by the liquidator -- the underlying (ETH in
  V1, e.g. tx 0xf687fedbc4bbc25adb3ef3a35c20c38fb7d35d86d7633d5061d2e3c4f86311b7) or, with
  ``receiveAToken``, the aToken moved by ``transferOnLiquidation`` (tx
  0xde551a73e813f1a1e5c843ac2c6a0e40d71618f4040bb7d0cd7cf7b2b6cf4633), reported as
  ``collateral_token``.

The pool is entered by ``call`` and re-enters its implementation by ``delegatecall`` with the
same calldata (twice in V1/V2: proxy, then collateral manager); only the ``call`` frame counts.

From logs (no traces): V2/V3 ``LiquidationCall(address,address,address,uint256,uint256,address,bool)``
and V1 ``LiquidationCall(address,address,address,uint256,uint256,uint256,address,bool,uint256)``
(topic 0x56864757…, verified against Aave's published V1 event list) give the amounts directly;
with ``receiveAToken`` the aToken is found among the transaction's ``Transfer`` events.
"""

from __future__ import annotations

from mevgraph.core.actions import Action, Liquidation, Transfer
from mevgraph.core.types import Address
from mevgraph.decode.abi import addr_word, topic_addr, word
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.registry import REGISTRY

__all__ = [
    "POOLS",
    "protocol_of",
    "liquidation_from_trace",
    "transfer_on_liquidation_from_trace",
    "liquidation_from_log_v2",
    "liquidation_from_log_v1",
]

POOLS: dict[int, dict[str, str]] = {
    1: {
        "0x398ec7346dcd622edc5ae82352f02be94c62d119": "aave_v1",  # V1 LendingPool
        "0x7d2768de32b0b80b7a3454c06bdac94a69ddc7a9": "aave_v2",  # V2 LendingPool
        "0x7937d4799803fbbe595ed57278bc4ca21f3bffcb": "aave_v2",  # V2 AMM market LendingPool
        "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2": "aave_v3",  # V3 Pool
    },
}
"""Known lending pools per chain id -> protocol label."""


def protocol_of(chain_id: int, pool: str) -> str:
    """``"aave_v1"``/``"aave_v2"``/``"aave_v3"`` for a known pool, else ``"aave"`` (unknown deployment)."""
    return POOLS.get(chain_id, {}).get(pool, "aave")


@REGISTRY.trace("aave", "transferOnLiquidation(address,address,uint256)", phase=0)
def transfer_on_liquidation_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    """The pool moves the borrower's aTokens to a liquidator that asked for aTokens."""
    fr = ctx.frames[i]
    if fr.call_type != "call" or fr.to is None:
        return []
    a = fr.input[10:]
    return [
        Transfer(
            **ctx.base(i, protocol_of(ctx.chain_id, fr.from_ or "")),
            token=fr.to,
            from_=addr_word(a, 0),
            to=addr_word(a, 1),
            amount=word(a, 2),
        )
    ]


@REGISTRY.trace("aave", "liquidationCall(address,address,address,uint256,bool)")
def liquidation_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    if fr.call_type != "call" or fr.to is None or fr.from_ is None:
        return []
    a = fr.input[10:]
    collateral = addr_word(a, 0)
    debt = addr_word(a, 1)
    borrower = addr_word(a, 2)
    receive_atoken = word(a, 4) != 0
    liquidator = fr.from_
    paid = refunded = 0
    received: dict[Address, int] = {}
    for t in ctx.transfers_under(i):
        if t.from_ == liquidator and t.to != liquidator:
            if t.token == debt:
                paid += t.amount
        elif t.to == liquidator:
            if t.token == debt and debt != collateral:
                refunded += t.amount
            elif t.token == collateral or (receive_atoken and t.token != debt):
                received[t.token] = received.get(t.token, 0) + t.amount
    if not paid:
        raise ValueError("liquidationCall without a debt payment from the liquidator")
    if not received:
        raise ValueError("liquidationCall without collateral reaching the liquidator")
    if receive_atoken and len(received) > 1:
        received.pop(collateral, None)  # the aToken is what the liquidator asked for
    token, amount = next(iter(received.items()))
    return [
        Liquidation(
            **ctx.base(i, protocol_of(ctx.chain_id, fr.to)),
            pool=fr.to,
            liquidator=liquidator,
            borrower=borrower,
            debt_token=debt,
            debt_amount=paid - refunded,
            collateral_token=token,
            collateral_amount=amount,
        )
    ]


def _from_log(
    ctx: LogContext, i: int, debt_amount: int, collateral_amount: int, liquidator: Address, receive: bool
) -> list[Action]:
    lg = ctx.logs[i]
    collateral = topic_addr(lg.topics[1])
    borrower = topic_addr(lg.topics[3])
    token = collateral
    if receive:
        # transferOnLiquidation emits an aToken Transfer(borrower -> liquidator) of exactly this amount.
        for t in ctx.transfers:
            if (
                t.from_ == borrower
                and t.to == liquidator
                and t.amount == collateral_amount
                and t.token != collateral
            ):
                token = t.token
                break
    return [
        Liquidation(
            **ctx.base(i, protocol_of(ctx.chain_id, lg.address)),
            pool=lg.address,
            liquidator=liquidator,
            borrower=borrower,
            debt_token=topic_addr(lg.topics[2]),
            debt_amount=debt_amount,
            collateral_token=token,
            collateral_amount=collateral_amount,
        )
    ]


@REGISTRY.log("aave", "LiquidationCall(address,address,address,uint256,uint256,address,bool)")
def liquidation_from_log_v2(ctx: LogContext, i: int) -> list[Action]:
    d = ctx.logs[i].data[2:]
    return _from_log(ctx, i, word(d, 0), word(d, 1), addr_word(d, 2), word(d, 3) != 0)


@REGISTRY.log("aave", "LiquidationCall(address,address,address,uint256,uint256,uint256,address,bool,uint256)")
def liquidation_from_log_v1(ctx: LogContext, i: int) -> list[Action]:
    d = ctx.logs[i].data[2:]
    return _from_log(ctx, i, word(d, 0), word(d, 1), addr_word(d, 3), word(d, 4) != 0)
