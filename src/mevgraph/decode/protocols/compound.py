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

# CREAM v1 (comptroller 0x3d5b...) crToken markets on mainnet other than crETH, as listed in CREAM's
# "Lending Contract Address" documentation (e.g. crLINK, the debt market of liquidation tx
# 0x0809bdbbddcf566e5392682a9bd9d0006a92a4dc441163c791b1136f982994b1). Iron Bank markets have
# their own comptroller and are not listed.
_CREAM_V1_MAINNET = (
    "0x797aab1ce7c01eb727ab980762ba88e7133d2157",  # crUSDT
    "0x44fbebd2f576670a6c33f6fc0b00aa8c5753b322",  # crUSDC
    "0xcbae0a83f4f9926997c8339545fb8ee32edc6b76",  # crYFI
    "0xce4fe9b4b8ff61949dcfeb7e03bc9faca59d2eb3",  # crBAL
    "0x19d1666f543d42ef17f66e376944a22aea1a8e46",  # crCOMP
    "0x9baf8a5236d44ac410c0186fe39178d5aad0bb87",  # crYCRV
    "0x892b14321a4fcba80669ae30bd0cd99a7ecf6ac0",  # crCREAM
    "0x697256caa3ccafd62bb6d3aa1c7c5671786a5fd9",  # crLINK
    "0x8b86e0598616a8d4f1fdae8b59e55fb5bc33d0d6",  # crLEND
    "0xc7fd8dcee4697ceef5a2fd4608a7bd6a94c77480",  # crCRV
    "0x17107f40d70f4470d20cb3f138a052cae8ebd4be",  # crRENBTC
    "0x1ff8cdb51219a8838b52e9cac09b71e591bc998e",  # crBUSD
    "0x3623387773010d9214b10c551d6e7fc375d31f58",  # crMTA
    "0x4ee15f44c6f0d8d1136c83efd2e8e4ac768954c6",  # crYYCRV
    "0x338286c0bc081891a4bda39c7667ae150bf5d206",  # crSUSHI
    "0x10fdbd1e48ee2fd9336a482d746138ae19e649db",  # crFTT
    "0x01da76dea59703578040012357b81ffe62015c2d",  # crYETH
    "0xef58b2d5a1b8d3cde67b8ab054dc5c831e9bc025",  # crSRM
    "0xe89a6d0509faf730bd707bf868d9a2a744a363c7",  # crUNI
    "0xeff039c3c1d668f408d09dd7b63008622a77532c",  # crWNXM
    "0x22b243b96495c547598d9042b6f94b01c22b2e9e",  # crSWAG
    "0x8b3ff1ed4f36c2c2be675afb13cc3aa5d73685a5",  # crCEL
    "0x2a537fa9ffaea8c1a41d3c2b68a9cb791529366d",  # crDPI
    "0x7ea9c63e216d5565c3940a2b3d150e59c2907db3",  # crBBTC
    "0x3225e3c669b39c7c8b3e204a8614bb218c5e31bc",  # crAAVE
    "0xf55bbe0255f7f4e70f63837ff72a577fbddbe924",  # crBOND
    "0x903560b1cce601794c584f58898da8a8b789fc5d",  # crKP3R
    "0x054b7ed3f45714d3091e82aad64a1588dc4096ed",  # crHBTC
    "0xd5103afcd0b3fa865997ef2984c66742c51b2a8b",  # crHFIL
    "0xfd609a03b393f1a1cfcacedabf068cad09a924e2",  # crCRETH2
    "0xd692ac3245bb82319a31068d6b8412796ee85d2c",  # crHUSD
    "0x92b767185fb3b04f881e3ac8e5b0662a027a1d9f",  # crDAI
    "0x10a3da2bb0fae4d591476fd97d6636fd172923a8",  # crHEGIC
    "0x3c6c553a95910f9fc81c98784736bd628636d296",  # crESD
    "0x21011bc93d9e515b9511a817a1ed1d6d468f49fc",  # crCOVER
    "0x85759961b116f1d36fd697855c57a6ae40793d9b",  # cr1INCH
    "0x7aaa323d7e398be4128c7042d197a2545f0f1fea",  # crOMG
    "0x011a014d5e8eb4771e575bb1000318d509230afa",  # crUNI-V2-WBTC-ETH
    "0xe6c3120f38f56deb38b69b65cc7dcaf916373963",  # crUNI-V2-ETH-USDT
    "0x4fe11bc316b6d7a345493127fbe298b95adaad85",  # crUNI-V2-USDC-ETH
    "0xcd22c4110c12ac41acefa0091c432ef44efaafa0",  # crUNI-V2-DAI-ETH
    "0x228619cca194fbe3ebeb2f835ec1ea5080dafbb2",  # crXSUSHI
    "0x73f6cba38922960b7092175c0add22ab8d0e81fc",  # crSLP-WBTC-ETH
    "0x38f27c03d6609a86ff7716ad03038881320be4ad",  # crSLP-DAI-ETH
    "0x5ecad8a75216cea7dff978525b2d523a251eea92",  # crSLP-USDC-ETH
    "0x5c291bc83d15f71fb37805878161718ea4b6aee9",  # crSLP-ETH-USDT
    "0x6ba0c66c48641e220cf78177c144323b3838d375",  # crSLP-SUSHI-ETH
    "0xd532944df6dfd5dd629e8772f03d4fc861873abf",  # crSLP-YFI-ETH
    "0x197070723ce0d3810a0e47f06e935c30a480d4fc",  # crWBTC
    "0xc25eae724f189ba9030b2556a1533e7c8a732e14",  # crSNX
    "0x25555933a8246ab67cbf907ce3d1949884e82b55",  # crSUSD
    "0xc68251421edda00a10815e273fa4b1191fac651b",  # crPICKLE
    "0x65883978ada0e707c3b2be2a6825b1c4bdf76a90",  # crAKRO
    "0x8b950f43fcac4931d408f1fcda55c6cb6cbf3096",  # crBBADGER
    "0x59089279987dd76fc65bf94cb40e186b96e03cb3",  # crOGN
    "0x2db6c82ce72c8d7d770ba1b5f5ed0b6e075066d6",  # crAMP
    "0xb092b4601850e23903a42eacbc9d8a0eec26a4d5",  # crFRAX
    "0x1d0986fb43985c88ffa9ad959cc24e6a087c7e35",  # crALPHA
    "0x51f48b638f82e8765f7a26373a2cb4ccb10c07af",  # crUST
    "0xc36080892c64821fa8e396bc1bd8678fa3b82b17",  # crFTM
    "0x8379baa817c5c5ab929b03ee8e3c48e45018ae41",  # crRUNE
    "0x299e254a8a165bbeb76d9d69305013329eea3a3b",  # crPERP
    "0xf8445c529d363ce114148662387eba5e62016e20",  # crRAI
    "0x7c3297cfb4c4bbd5f44b450c0872e0ada5203112",  # crOCEAN
    "0xa87e8e61dfac8af5944d353cd26b96b20d5f4d01",  # crYVECRV
    "0x1bcafa2c1b3a522e41baa60c2e318981ea8d1eb5",  # crYVSTECRV
    "0xf7c5314806bb349744cf5e721f4d3395259b8531",  # crYVCurve-IB
    "0x081fe64df6dc6fc70043aedf3713a3ce6f190a21",  # crRARI
    "0x28526bb33d7230e65e735db64296413731c5402e",  # crSFI
    "0x45406ba53bb84cd32a58e7098a2d4d1b11b107f6",  # crYVCurve-IB
    "0x6d1b9e01af17dd08d6dec08e210dfd5984ff1c20",  # crYVCurve-sETH
    "0x1f9b4756b008106c806c7e64322d7ed3b72cb284",  # crYVCurve-stETH
    "0xab10586c918612ba440482db77549d26b7abf8f7",  # crARMOR
    "0xdfff11dfe6436e42a17b86e7f419ac8292990393",  # crARNXM
    "0xdbb5e3081def4b6cdd8864ac2aeda4cbf778fecf",  # crMLN
)

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
        **dict.fromkeys(_CREAM_V1_MAINNET, "cream"),
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
