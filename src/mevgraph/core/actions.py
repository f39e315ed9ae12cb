"""The closed set of normalized protocol actions -- the shared vocabulary of mevgraph.

Decoders (``mevgraph.decode``) turn traces and logs into these; the property graph turns them
into edges; detectors only ever see them (never calldata). Every action points back to its
transaction and to the trace frame (``trace_address``) or event (``log_index``) it came from.

Amounts are raw integers in the token's base unit; the native currency is :data:`ETH`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mevgraph.core.types import Address, TxHash

__all__ = [
    "ActionKind",
    "ActionSource",
    "BaseAction",
    "Swap",
    "Transfer",
    "Liquidation",
    "FlashLoan",
    "LiquidityChange",
    "CoinbasePayment",
    "Action",
]


class ActionKind(StrEnum):
    SWAP = "swap"
    TRANSFER = "transfer"
    LIQUIDATION = "liquidation"
    FLASH_LOAN = "flash_loan"
    LIQUIDITY_ADD = "liquidity_add"
    LIQUIDITY_REMOVE = "liquidity_remove"
    LIQUIDITY_COLLECT = "liquidity_collect"
    COINBASE_PAYMENT = "coinbase_payment"


class ActionSource(StrEnum):
    TRACE = "trace"
    LOG = "log"


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseAction:
    """Fields shared by every action.

    ``trace_address`` is set for actions decoded from traces, ``log_index`` for actions decoded
    from logs (both may be set when a decoder used both). ``protocol`` is a stable lowercase
    identifier such as ``"uniswap_v2"``, ``"sushiswap"``, ``"aave_v2"``, ``"erc20"``.
    """

    chain_id: int
    block_number: int
    tx_hash: TxHash
    tx_index: int
    protocol: str
    source: ActionSource
    trace_address: tuple[int, ...] | None = None
    log_index: int | None = None

    @property
    def kind(self) -> ActionKind:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def position(self) -> tuple[int, tuple[int, ...], int]:
        """Sort key giving execution order inside a block."""
        return (
            self.tx_index,
            self.trace_address if self.trace_address is not None else (),
            self.log_index if self.log_index is not None else -1,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Swap(BaseAction):
    """A trade against a pool: ``amount_in`` of ``token_in`` for ``amount_out`` of ``token_out``.

    ``sender`` is the address that called the pool (or the router/vault on the user's behalf),
    ``recipient`` the address that received ``token_out``. Optional pool state *after* the swap
    lets the money module replay AMM math: constant-product reserves ordered as
    (``token_in`` reserve, ``token_out`` reserve), or a V3 ``sqrt_price_x96``/``liquidity``/``tick``.
    ``fee_ppm`` is the pool fee in millionths when known (3000 = 0.3 %).
    """

    pool: Address
    sender: Address
    recipient: Address
    token_in: Address
    amount_in: int
    token_out: Address
    amount_out: int
    reserves_after: tuple[int, int] | None = None
    sqrt_price_x96_after: int | None = None
    liquidity_after: int | None = None
    tick_after: int | None = None
    fee_ppm: int | None = None

    @property
    def kind(self) -> ActionKind:
        return ActionKind.SWAP


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(BaseAction):
    """A balance movement of ``token`` (``ETH`` for native value) from ``from_`` to ``to``.

    Mints come from :data:`~mevgraph.core.types.ZERO_ADDRESS`, burns go to it; wrapping ETH into
    WETH is an ETH transfer to the WETH contract plus a WETH transfer from the WETH contract.
    """

    token: Address
    from_: Address
    to: Address
    amount: int

    @property
    def kind(self) -> ActionKind:
        return ActionKind.TRANSFER


@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidation(BaseAction):
    """A lending-market liquidation: ``liquidator`` repays ``debt_amount`` of ``debt_token`` for
    ``borrower`` and seizes ``collateral_amount`` of ``collateral_token`` (an aToken/cToken
    when the liquidator takes the receipt token). ``pool`` is the market contract called."""

    pool: Address
    liquidator: Address
    borrower: Address
    debt_token: Address
    debt_amount: int
    collateral_token: Address
    collateral_amount: int

    @property
    def kind(self) -> ActionKind:
        return ActionKind.LIQUIDATION


@dataclass(frozen=True, slots=True, kw_only=True)
class FlashLoan(BaseAction):
    """``lender`` lends ``amount`` of ``token`` to ``receiver`` within the transaction."""

    lender: Address
    receiver: Address
    token: Address
    amount: int
    fee: int | None = None

    @property
    def kind(self) -> ActionKind:
        return ActionKind.FLASH_LOAN


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidityChange(BaseAction):
    """Liquidity added to (``add``), removed from (``remove``) or fees collected from
    (``collect``) a pool by ``provider`` (the position owner). ``tokens``/``amounts`` are
    parallel tuples; V3 positions carry their tick range and liquidity delta."""

    change: ActionKind
    pool: Address
    provider: Address
    tokens: tuple[Address, ...]
    amounts: tuple[int, ...]
    recipient: Address | None = None
    tick_lower: int | None = None
    tick_upper: int | None = None
    liquidity: int | None = None

    @property
    def kind(self) -> ActionKind:
        return self.change


@dataclass(frozen=True, slots=True, kw_only=True)
class CoinbasePayment(BaseAction):
    """A direct ETH payment to the block's fee recipient (a bribe), separate from gas fees."""

    from_: Address
    to: Address
    amount: int

    @property
    def kind(self) -> ActionKind:
        return ActionKind.COINBASE_PAYMENT


Action = Swap | Transfer | Liquidation | FlashLoan | LiquidityChange | CoinbasePayment
