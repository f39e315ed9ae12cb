"""Compound V2 and its forks (CREAM, ...): liquidations (phase 1) and seized cTokens (phase 0).

A liquidation is a successful call to the *borrowed* market (cToken):

* ``liquidateBorrow(address borrower, uint256 repayAmount, address cTokenCollateral)`` on a
  cErc20: the debt token is the underlying, found as the ``transferFrom(liquidator, cToken, x)``
  under the frame (the cToken's ``underlying`` is not visible in traces);
* ``liquidateBorrow(address borrower, address cTokenCollateral)`` (payable) on cETH/crETH: the debt
  is the call's ETH value (e.g. tx 0x78f7e67391c2bacde45e5057241f8b9e21a59330bce4332eecfff8fac279d090).

The borrowed market then calls ``seize(liquidator, borrower, seizeTokens)`` on the collateral
market, which moves cTokens from borrower to liquidator: that is a balance movement, emitted here
in phase 0, and ``collateral_amount`` is its amount (the collateral token is the cToken itself).
Newer cToken implementations keep a protocol share of ``seizeTokens`` (``protocolSeizeShare``)
as reserves; traces do not show that split, so from traces the seized amount is the gross
``seizeTokens`` the peer mev-inspect-py also reports (tx
0x012215bedd00147c58e1f59807664914b2abbfc13c260190dc9cfc490be3e343), while from logs the
``Transfer`` events give the net amount. When collateral and debt market are the same cToken the
seizure is internal (no ``seize`` frame); the market still asks its comptroller
``seizeAllowed(collateral, borrowed, liquidator, borrower, seizeTokens)``, which then carries the
movement (a failed seizure makes ``liquidateBorrow`` revert, so a surviving call did seize).

cToken supply changes are balance movements too (a liquidator commonly redeems the seized cTokens
in the same transaction): the amounts of cTokens minted/burned are computed inside the cToken
(exchange rate) and never appear in calldata, but the cToken reports them to its comptroller's
hooks ``redeemVerify(cToken, redeemer, redeemAmount, redeemTokens)`` and (in implementations that
still call it) ``mintVerify(cToken, minter, mintAmount, mintTokens)``, after the movement. As in
Compound's own ``Transfer`` events, minted cTokens come from the cToken contract and redeemed ones
go back to it.

Protocol label: the borrowed market asks its comptroller ``liquidateBorrowAllowed(...)``, a child
call whose target tells Compound (Unitroller 0x3d98…) from CREAM (0x3d5b…); any other comptroller is
``"compound_v2_fork"``. Logs: ``LiquidateBorrow(address,address,uint256,address,uint256)`` (no
indexed fields) from the borrowed market; the debt token is the underlying ``Transfer`` from the
liquidator to the market of ``repayAmount``, else ETH (cETH), and the label comes from
:data:`MARKETS` since the comptroller is not visible in logs.
"""

from __future__ import annotations

from mevgraph.core.actions import Action, Liquidation, Transfer
from mevgraph.core.types import ETH, Address
from mevgraph.decode.abi import addr_word, selector, word
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.registry import REGISTRY

__all__ = [
    "COMPTROLLERS",
    "MARKETS",
    "seize_from_trace",
    "seize_allowed_from_trace",
    "redeem_verify_from_trace",
    "mint_verify_from_trace",
    "liquidate_borrow_from_trace",
    "liquidate_borrow_eth_from_trace",
    "liquidate_borrow_from_log",
]

COMPTROLLERS: dict[int, dict[str, str]] = {
    1: {
        "0x3d9819210a31b4961b30ef54be2aed79b9c9cd3b": "compound_v2",  # Compound Unitroller
        "0x3d5bc3c8d13dcb8bf317092d84783c2697ae9258": "cream",  # CREAM Unitroller
    },
}
"""Comptroller (Unitroller proxy) per chain id -> protocol label."""

MARKETS: dict[int, dict[str, str]] = {
    1: {
        "0x4ddc2d193948926d02f9b1fe9e1daa0718270ed5": "compound_v2",  # cETH
        "0x5d3a536e4d6dbd6114cc1ead35777bab948e3643": "compound_v2",  # cDAI
        "0x39aa39c021dfbae8fac545936693ac917d5e7563": "compound_v2",  # cUSDC
        "0xf650c3d88d12db855b8bf7d11be6c55a4e07dcc9": "compound_v2",  # cUSDT
        "0xccf4429db6322d5c611ee964527d42e5d685dd6a": "compound_v2",  # cWBTC2
        "0xc11b1268c1a384e55c48c2391d8d480264a3a7f4": "compound_v2",  # cWBTC (legacy)
        "0x35a18000230da775cac24873d00ff85bccded550": "compound_v2",  # cUNI
        "0x70e36f6bf80a52b3b46b3af8e106cc0ed743e8e4": "compound_v2",  # cCOMP
        "0x6c8c6b02e7b2be14d4fa6022dfd6d75921d90e4e": "compound_v2",  # cBAT
        "0xb3319f5d18bc0d84dd1b4825dcde5d5f7266d407": "compound_v2",  # cZRX
        "0xd06527d5e56a3495252a528c4987003b712860ee": "cream",  # crETH
    },
}
"""Known markets per chain id -> protocol label, for logs where the comptroller is invisible."""

_LIQUIDATE_ALLOWED = selector("liquidateBorrowAllowed(address,address,address,address,uint256)")


@REGISTRY.trace("compound_v2", "seize(address,address,uint256)", phase=0)
def seize_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    """``seize(liquidator, borrower, seizeTokens)`` moves collateral cTokens to the liquidator."""
    fr = ctx.frames[i]
    if fr.call_type != "call" or fr.to is None:
        return []
    a = fr.input[10:]
    amount = word(a, 2)
    if not amount:
        return []
    return [
        Transfer(
            **ctx.base(i, "compound_v2"),
            token=fr.to,
            from_=addr_word(a, 1),
            to=addr_word(a, 0),
            amount=amount,
        )
    ]


def _comptroller_hook(ctx: TraceContext, i: int) -> tuple[Address, Address, int] | None:
    """``(cToken, account, tokens)`` of a comptroller hook ``f(cToken, account, x, tokens)`` sent by the cToken."""
    fr = ctx.frames[i]
    a = fr.input[10:]
    ctoken = addr_word(a, 0)
    if fr.call_type != "call" or fr.from_ != ctoken:
        return None
    tokens = word(a, 3)
    return (ctoken, addr_word(a, 1), tokens) if tokens else None


@REGISTRY.trace("compound_v2", "seizeAllowed(address,address,address,address,uint256)", phase=0)
def seize_allowed_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    """Same-market seizure (collateral cToken == borrowed cToken): no ``seize`` frame exists."""
    fr = ctx.frames[i]
    a = fr.input[10:]
    market = addr_word(a, 0)
    if fr.call_type != "call" or fr.from_ != market or addr_word(a, 1) != market:
        return []
    amount = word(a, 4)
    if not amount:
        return []
    return [
        Transfer(
            **ctx.base(i, "compound_v2"),
            token=market,
            from_=addr_word(a, 3),
            to=addr_word(a, 2),
            amount=amount,
        )
    ]


@REGISTRY.trace("compound_v2", "redeemVerify(address,address,uint256,uint256)", phase=0)
def redeem_verify_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    hook = _comptroller_hook(ctx, i)
    if hook is None:
        return []
    ctoken, redeemer, tokens = hook
    return [Transfer(**ctx.base(i, "compound_v2"), token=ctoken, from_=redeemer, to=ctoken, amount=tokens)]


@REGISTRY.trace("compound_v2", "mintVerify(address,address,uint256,uint256)", phase=0)
def mint_verify_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    hook = _comptroller_hook(ctx, i)
    if hook is None:
        return []
    ctoken, minter, tokens = hook
    return [Transfer(**ctx.base(i, "compound_v2"), token=ctoken, from_=ctoken, to=minter, amount=tokens)]


def _protocol(ctx: TraceContext, i: int) -> str:
    market = ctx.frames[i].to
    labels = COMPTROLLERS.get(ctx.chain_id, {})
    for j in ctx.descendants(i):
        f = ctx.frames[j]
        if f.from_ == market and f.input[:10] == _LIQUIDATE_ALLOWED and f.to is not None:
            return labels.get(f.to, "compound_v2_fork")
    return MARKETS.get(ctx.chain_id, {}).get(market or "", "compound_v2_fork")


def _liquidation(
    ctx: TraceContext, i: int, borrower: Address, collateral: Address, debt: Address | None
) -> list[Action]:
    fr = ctx.frames[i]
    liquidator, market = fr.from_, fr.to
    if liquidator is None or market is None:
        return []
    debt_amount = fr.value if debt == ETH else 0
    seized = 0
    for t in ctx.transfers_under(i):
        if debt is None and t.from_ == liquidator and t.to == market and t.token != ETH:
            debt = t.token
        if t.token == debt and t.from_ == liquidator and t.to == market and debt != ETH:
            debt_amount += t.amount
        elif t.token == collateral and t.to == liquidator and t.from_ == borrower:
            seized += t.amount
    if debt is None or not debt_amount:
        raise ValueError("liquidateBorrow without a repayment from the liquidator")
    if not seized:
        raise ValueError("liquidateBorrow without seized collateral")
    return [
        Liquidation(
            **ctx.base(i, _protocol(ctx, i)),
            pool=market,
            liquidator=liquidator,
            borrower=borrower,
            debt_token=debt,
            debt_amount=debt_amount,
            collateral_token=collateral,
            collateral_amount=seized,
        )
    ]


@REGISTRY.trace("compound_v2", "liquidateBorrow(address,uint256,address)")
def liquidate_borrow_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    if fr.call_type != "call":
        return []
    a = fr.input[10:]
    return _liquidation(ctx, i, addr_word(a, 0), addr_word(a, 2), None)


@REGISTRY.trace("compound_v2", "liquidateBorrow(address,address)")
def liquidate_borrow_eth_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    if fr.call_type != "call":
        return []
    a = fr.input[10:]
    return _liquidation(ctx, i, addr_word(a, 0), addr_word(a, 1), ETH)


@REGISTRY.log("compound_v2", "LiquidateBorrow(address,address,uint256,address,uint256)")
def liquidate_borrow_from_log(ctx: LogContext, i: int) -> list[Action]:
    lg = ctx.logs[i]
    d = lg.data[2:]
    liquidator, borrower, repay = addr_word(d, 0), addr_word(d, 1), word(d, 2)
    collateral, seize_tokens = addr_word(d, 3), word(d, 4)
    market = lg.address
    debt: Address = ETH
    seized = 0
    here = lg.log_index
    # The repayment and the seizure's Transfer events precede LiquidateBorrow: take the latest
    # ones before it, so several liquidations in one transaction do not mix.
    for t in ctx.transfers:
        if t.log_index is None or t.log_index >= here:
            continue
        if t.to == market and t.from_ == liquidator and t.amount == repay and t.token != ETH:
            debt = t.token
        elif t.token == collateral and t.from_ == borrower and t.to == liquidator:
            seized = t.amount
    return [
        Liquidation(
            **ctx.base(i, MARKETS.get(ctx.chain_id, {}).get(market, "compound_v2_fork")),
            pool=market,
            liquidator=liquidator,
            borrower=borrower,
            debt_token=debt,
            debt_amount=repay,
            collateral_token=collateral,
            collateral_amount=seized or seize_tokens,
        )
    ]
