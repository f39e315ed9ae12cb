"""Flash loans (phase 1): Aave V1/V2/V3, ERC-3156 lenders, Balancer V2, dYdX SoloMargin.

A flash loan is ``amount`` of ``token`` lent by ``lender`` to ``receiver`` and repaid (plus
``fee``) within the same call. Decoded from the lender's entry point (``call`` frames only; the
pools' proxies re-enter their implementation by ``delegatecall`` with the same calldata):

* Aave V2/V3 ``flashLoan(address,address[],uint256[],uint256[],address,bytes,uint16)``: one loan
  per asset whose mode is 0 (modes 1/2 open a debt instead of repaying: a borrow, not a flash
  loan); V3 ``flashLoanSimple(address,address,uint256,bytes,uint16)``;
* ``flashLoan(address,address,uint256,bytes)``: Aave V1 ``(receiver, reserve, amount, params)``
  and ERC-3156 ``(receiver, token, amount, data)`` (MakerDAO DssFlash and others) share this
  selector and layout, so one handler labels by lender address;
* Balancer V2 Vault ``flashLoan(address,address[],uint256[],bytes)``;
* dYdX SoloMargin ``operate(...)`` whose actions contain Withdraw, Call and Deposit: the
  withdrawn transfer from SoloMargin is the loan, the deposit back minus it is the fee (2 wei).

From traces the fee is known for Aave V2/V3 and ERC-3156 lenders (the lender itself pulls ``amount + premium`` back with
``transferFrom(receiver, …)``, a frame whose caller is the pool) and dYdX; elsewhere the receiver
repays inside its own callback, indistinguishable from its other token movements, so the fee is
``None``. The logs carry it:
Aave V1 ``FlashLoan(address,address,uint256,uint256,uint256,uint256)``, V2
``FlashLoan(address,address,address,uint256,uint256,uint16)``, V3
``FlashLoan(address,address,address,uint256,uint8,uint256,uint16)``, Balancer V2 (and DssFlash,
same signature with a non-indexed token) ``FlashLoan(address,address,uint256,uint256)``.
Uniswap V2/V3 flash swaps belong to the DEX decoders.
"""

from __future__ import annotations

from mevgraph.core.actions import Action, FlashLoan
from mevgraph.core.types import Address
from mevgraph.decode.abi import addr_word, dyn_array, topic_addr, word
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.protocols.aave import protocol_of as aave_protocol
from mevgraph.decode.registry import REGISTRY

__all__ = [
    "BALANCER_VAULTS",
    "DYDX_SOLO",
    "aave_flash_loan_from_trace",
    "aave_flash_loan_simple_from_trace",
    "single_flash_loan_from_trace",
    "balancer_flash_loan_from_trace",
    "dydx_operate_from_trace",
    "aave_v1_flash_loan_from_log",
    "aave_v2_flash_loan_from_log",
    "aave_v3_flash_loan_from_log",
    "balancer_flash_loan_from_log",
]

PROTOCOL = "flashloans"

BALANCER_VAULTS: dict[int, frozenset[str]] = {
    1: frozenset({"0xba12222222228d8ba445958a75a0704d566bf2c8"}),
}
"""Balancer V2 Vault per chain id (same address on most chains, listed where verified)."""

DYDX_SOLO: dict[int, frozenset[str]] = {
    1: frozenset({"0x1e0447b19bb6ecfdae1e4ae1694b0c3659614e4e"}),
}
"""dYdX SoloMargin per chain id."""

_DYDX_DEPOSIT, _DYDX_WITHDRAW, _DYDX_CALL = 0, 1, 8


def _loan(
    ctx: TraceContext | LogContext,
    i: int,
    protocol: str,
    lender: Address,
    receiver: Address,
    token: Address,
    amount: int,
    fee: int | None = None,
) -> FlashLoan:
    return FlashLoan(
        **ctx.base(i, protocol), lender=lender, receiver=receiver, token=token, amount=amount, fee=fee
    )


def _call_frame(ctx: TraceContext, i: int) -> bool:
    fr = ctx.frames[i]
    return fr.call_type == "call" and fr.to is not None


_TRANSFER_FROM = "0x23b872dd"


def _pulled_back(ctx: TraceContext, i: int, receiver: Address) -> dict[str, int]:
    """Per token, what the lender (frame ``i``'s target) pulled from ``receiver`` by ``transferFrom``."""
    pool = ctx.frames[i].to
    tail = receiver[2:]
    out: dict[str, int] = {}
    for j in ctx.descendants(i):
        f = ctx.frames[j]
        inp = f.input
        token = f.to
        if (
            token is not None
            and inp[:10] == _TRANSFER_FROM
            and f.from_ == pool
            and f.call_type == "call"
            and inp[34:74] == tail
        ):
            out[token] = out.get(token, 0) + int(inp[138:202], 16)
    return out


def _fee(pulled: dict[str, int], token: str, amount: int) -> int | None:
    back = pulled.get(token)
    return back - amount if back is not None and back >= amount else None


@REGISTRY.trace(PROTOCOL, "flashLoan(address,address[],uint256[],uint256[],address,bytes,uint16)")
def aave_flash_loan_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    if not _call_frame(ctx, i):
        return []
    fr = ctx.frames[i]
    a = fr.input[10:]
    receiver = addr_word(a, 0)
    assets, amounts, modes = dyn_array(a, 1), dyn_array(a, 2), dyn_array(a, 3)
    if not len(assets) == len(amounts) == len(modes):
        raise ValueError("flashLoan arrays of different lengths")
    proto = aave_protocol(ctx.chain_id, fr.to)  # type: ignore[arg-type]
    pulled = _pulled_back(ctx, i, receiver)
    out: list[Action] = []
    for t, amt, mode in zip(assets, amounts, modes, strict=True):
        if mode == 0 and amt:
            token = Address("0x" + f"{t:040x}")
            out.append(_loan(ctx, i, proto, fr.to, receiver, token, amt, _fee(pulled, token, amt)))  # type: ignore[arg-type]
    return out


@REGISTRY.trace(PROTOCOL, "flashLoanSimple(address,address,uint256,bytes,uint16)")
def aave_flash_loan_simple_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    if not _call_frame(ctx, i):
        return []
    fr = ctx.frames[i]
    a = fr.input[10:]
    proto = aave_protocol(ctx.chain_id, fr.to)  # type: ignore[arg-type]
    receiver, token, amount = addr_word(a, 0), addr_word(a, 1), word(a, 2)
    fee = _fee(_pulled_back(ctx, i, receiver), token, amount)
    return [_loan(ctx, i, proto, fr.to, receiver, token, amount, fee)]  # type: ignore[arg-type]


@REGISTRY.trace(PROTOCOL, "flashLoan(address,address,uint256,bytes)")
def single_flash_loan_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    """Aave V1 ``flashLoan(receiver, reserve, amount, params)`` or ERC-3156 (same layout)."""
    if not _call_frame(ctx, i):
        return []
    fr = ctx.frames[i]
    a = fr.input[10:]
    proto = aave_protocol(ctx.chain_id, fr.to)  # type: ignore[arg-type]
    receiver, token, amount = addr_word(a, 0), addr_word(a, 1), word(a, 2)
    fee = None  # Aave V1: the receiver pushes the repayment back itself
    if proto == "aave":  # not an Aave pool we know: ERC-3156, whose lender pulls amount + fee
        proto = "erc3156"
        fee = _fee(_pulled_back(ctx, i, receiver), token, amount)
    return [_loan(ctx, i, proto, fr.to, receiver, token, amount, fee)]  # type: ignore[arg-type]


@REGISTRY.trace(PROTOCOL, "flashLoan(address,address[],uint256[],bytes)")
def balancer_flash_loan_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    if not _call_frame(ctx, i):
        return []
    fr = ctx.frames[i]
    a = fr.input[10:]
    proto = "balancer_v2" if fr.to in BALANCER_VAULTS.get(ctx.chain_id, ()) else "balancer_v2_fork"
    tokens, amounts = dyn_array(a, 1), dyn_array(a, 2)
    if len(tokens) != len(amounts):
        raise ValueError("flashLoan arrays of different lengths")
    receiver = addr_word(a, 0)
    return [
        _loan(ctx, i, proto, fr.to, receiver, Address("0x" + f"{t:040x}"), amt)  # type: ignore[arg-type]
        for t, amt in zip(tokens, amounts, strict=True)
        if amt
    ]


@REGISTRY.trace(
    PROTOCOL,
    "operate((address,uint256)[],(uint8,uint256,(bool,uint8,uint8,uint256),uint256,uint256,address,uint256,bytes)[])",
)
def dydx_operate_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    solo = fr.to
    if not _call_frame(ctx, i) or solo not in DYDX_SOLO.get(ctx.chain_id, ()):
        return []
    a = fr.input[10:]
    off = word(a, 1) // 32
    n = word(a, off)
    if n > 64:
        raise ValueError(f"operate with {n} actions")
    kinds: set[int] = set()
    withdraw_to: list[Address] = []
    for k in range(n):
        base = off + 1 + word(a, off + 1 + k) // 32
        kind = word(a, base)
        kinds.add(kind)
        if kind == _DYDX_WITHDRAW:
            withdraw_to.append(addr_word(a, base + 8))
    if not {_DYDX_WITHDRAW, _DYDX_CALL, _DYDX_DEPOSIT} <= kinds:
        return []
    out: list[Action] = []
    transfers = ctx.transfers_under(i)
    for receiver in dict.fromkeys(withdraw_to):
        lent: dict[Address, int] = {}
        back: dict[Address, int] = {}
        for t in transfers:
            if t.from_ == solo and t.to == receiver:
                lent[t.token] = lent.get(t.token, 0) + t.amount
            elif t.from_ == receiver and t.to == solo:
                back[t.token] = back.get(t.token, 0) + t.amount
        for token, amount in lent.items():
            fee = back[token] - amount if back.get(token, 0) >= amount else None
            out.append(_loan(ctx, i, "dydx", solo, receiver, token, amount, fee))  # type: ignore[arg-type]
    return out


def _aave_loan_from_log(
    ctx: LogContext, i: int, token_topic: int, amount_word: int, fee_word: int
) -> list[Action]:
    """Aave's ``FlashLoan`` events differ per version only in where the asset and amounts sit."""
    lg = ctx.logs[i]
    d = lg.data[2:]
    return [
        _loan(
            ctx,
            i,
            aave_protocol(ctx.chain_id, lg.address),
            lg.address,
            topic_addr(lg.topics[1]),
            topic_addr(lg.topics[token_topic]),
            word(d, amount_word),
            word(d, fee_word),
        )
    ]


@REGISTRY.log(PROTOCOL, "FlashLoan(address,address,uint256,uint256,uint256,uint256)")
def aave_v1_flash_loan_from_log(ctx: LogContext, i: int) -> list[Action]:
    return _aave_loan_from_log(ctx, i, token_topic=2, amount_word=0, fee_word=1)


@REGISTRY.log(PROTOCOL, "FlashLoan(address,address,address,uint256,uint256,uint16)")
def aave_v2_flash_loan_from_log(ctx: LogContext, i: int) -> list[Action]:
    return _aave_loan_from_log(ctx, i, token_topic=3, amount_word=0, fee_word=1)


@REGISTRY.log(PROTOCOL, "FlashLoan(address,address,address,uint256,uint8,uint256,uint16)")
def aave_v3_flash_loan_from_log(ctx: LogContext, i: int) -> list[Action]:
    if word(ctx.logs[i].data[2:], 2) != 0:  # interestRateMode != 0: a debt, not repaid in the tx
        return []
    return _aave_loan_from_log(ctx, i, token_topic=2, amount_word=1, fee_word=3)


@REGISTRY.log(PROTOCOL, "FlashLoan(address,address,uint256,uint256)")
def balancer_flash_loan_from_log(ctx: LogContext, i: int) -> list[Action]:
    """Balancer V2 (``recipient``, ``token`` indexed) or MakerDAO DssFlash (``token`` in data)."""
    lg = ctx.logs[i]
    d = lg.data[2:]
    if len(lg.topics) == 3:
        proto = "balancer_v2" if lg.address in BALANCER_VAULTS.get(ctx.chain_id, ()) else "balancer_v2_fork"
        return [
            _loan(
                ctx,
                i,
                proto,
                lg.address,
                topic_addr(lg.topics[1]),
                topic_addr(lg.topics[2]),
                word(d, 0),
                word(d, 1),
            )
        ]
    return [
        _loan(
            ctx, i, "erc3156", lg.address, topic_addr(lg.topics[1]), addr_word(d, 0), word(d, 1), word(d, 2)
        )
    ]
