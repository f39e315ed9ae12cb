"""Response models: the spec's JSON shapes (section 4.1) and the bot/leakage views.

Field names are snake_case in Python and camelCase on the wire (alias generator). Store rows
(snake_case, ``Decimal`` money, ``datetime`` times) are mapped here and nowhere else. Money is a
JSON number; ``None`` (JSON ``null``) means *unpriced* or unknown, never zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "ErrorBody",
    "Opportunity",
    "OpportunitiesResponse",
    "Bot",
    "BotsResponse",
    "Leakage",
    "LeakageResponse",
    "Health",
    "opportunity_dict",
    "opportunity_from_row",
    "bot_from_row",
    "leakage_from_row",
    "iso_time",
    "money",
]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True)


def iso_time(value: Any) -> str | None:
    """ISO 8601 in UTC with a ``Z`` (naive times from the store are UTC; ints are unix seconds)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def money(value: Any) -> float | None:
    """Decimal/str/number -> float; None stays None (unpriced is not zero)."""
    if value is None:
        return None
    return float(value if isinstance(value, Decimal | int | float) else Decimal(str(value)))


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _strs(values: Iterable[Any] | None) -> list[str]:
    return [str(v) for v in values or ()]


# --- errors ----------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    error: str
    parameter: str | None = None
    message: str


# --- opportunities (spec 4.1) ----------------------------------------------------------------


class Transactions(_Model):
    target_tx_hash: str | None
    mev_tx_hashes: list[str]


class Tokens(_Model):
    addresses: list[str]
    symbols: list[str | None]  # null where the token's symbol is unknown


class ProtocolInfo(_Model):
    protocol_id: str | None
    protocol_name: str | None
    dex_name: str | None


class Financials(_Model):
    mev_profit_usd: float | None
    victim_loss_usd: float | None
    gas_cost_usd: float | None
    net_profit_usd: float | None


class BotRef(_Model):
    address: str | None
    name: str | None
    type: str | None


class Detection(_Model):
    method: str | None
    confidence_score: float | None


class Extras(_Model):
    """What the spec's shape cannot carry: raw amounts (decimal strings) and provenance."""

    block_hash: str | None = None
    finding_id: str | None = None
    counted: bool | None = None  # False for a finding nested in another: not in any total
    victim_txs: list[str] = Field(default_factory=list)
    profit_by_token: dict[str, str] = Field(default_factory=dict)
    usd_unpriced_reason: str | None = None
    searcher: str | None = None
    contract: str | None = None
    nested_in: str | None = None
    protocols: list[str] = Field(default_factory=list)
    pools: list[str] = Field(default_factory=list)
    coinbase_transfer_wei: str | None = None
    # the detector's evidence: only on ``/opportunities/{id}`` (null on list pages)
    details: dict[str, Any] | None = None


class Opportunity(_Model):
    id: str
    opportunity_type: str
    chain_id: str
    block_number: int
    timestamp: str | None
    transactions: Transactions
    tokens: Tokens
    protocol: ProtocolInfo
    financials: Financials
    bot: BotRef
    detection: Detection
    status: str | None
    extras: Extras


class Pagination(_Model):
    page: int
    limit: int
    total: int


class Summary(_Model):
    total_mev_extracted: float
    total_victim_loss: float
    avg_profit_per_opportunity: float | None


class OpportunitiesResponse(_Model):
    opportunities: list[Opportunity]
    pagination: Pagination
    summary: Summary


_SAFE_INT = 2**53  # beyond this a JSON number loses digits in JavaScript clients


def _json_safe(value: Any) -> Any:
    """``value`` with integers too large for a double turned into decimal strings (raw token
    amounts in ``details``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value) if abs(value) >= _SAFE_INT else value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _json_obj(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        import orjson

        value = orjson.loads(value)
    return _json_safe(dict(value)) if isinstance(value, dict) else {}


def opportunity_dict(row: dict[str, Any]) -> dict[str, Any]:
    """The wire form (camelCase) of a store row, exactly what :class:`Opportunity` dumps.

    List pages serialize these dicts with orjson directly: validating fifty nested models per
    request cost more CPU than the database query (see ``benchmarks/api_latency.py``). The
    API's tests check that every dict validates as an :class:`Opportunity` and dumps back equal."""
    profit_by_token = _json_obj(row.get("profit_by_token"))
    confidence = row.get("confidence_score")
    return {
        "id": str(row["id"]),
        "opportunityType": str(row["opportunity_type"]),
        "chainId": str(row["chain_id"]),
        "blockNumber": int(row["block_number"]),
        "timestamp": iso_time(row.get("timestamp")),
        "transactions": {
            "targetTxHash": row.get("target_tx_hash"),
            "mevTxHashes": _strs(row.get("mev_tx_hashes")),
        },
        "tokens": {
            "addresses": _strs(row.get("token_addresses")),
            "symbols": [None if v is None else str(v) for v in row.get("token_symbols") or ()],
        },
        "protocol": {
            "protocolId": row.get("protocol_id"),
            "protocolName": row.get("protocol_name"),
            "dexName": row.get("dex_name"),
        },
        "financials": {
            "mevProfitUsd": money(row.get("mev_profit_usd")),
            "victimLossUsd": money(row.get("victim_loss_usd")),
            "gasCostUsd": money(row.get("gas_cost_usd")),
            "netProfitUsd": money(row.get("net_profit_usd")),
        },
        "bot": {"address": row.get("bot_address"), "name": row.get("bot_name"), "type": row.get("bot_type")},
        "detection": {"method": row.get("detection_method"), "confidenceScore": money(confidence)},
        "status": row.get("status"),
        "extras": {
            "blockHash": row.get("block_hash"),
            "findingId": row.get("finding_id"),
            "counted": row.get("counted"),
            "victimTxs": _strs(row.get("victim_txs")),
            "profitByToken": {str(k): str(v) for k, v in profit_by_token.items()},
            "usdUnpricedReason": row.get("usd_unpriced_reason"),
            "searcher": row.get("searcher"),
            "contract": row.get("contract"),
            "nestedIn": row.get("nested_in"),
            "protocols": _strs(row.get("protocols")),
            "pools": _strs(row.get("pools")),
            "coinbaseTransferWei": _str_or_none(row.get("coinbase_transfer_wei")),
            "details": _json_obj(row["details"]) if "details" in row else None,
        },
    }


def opportunity_from_row(row: dict[str, Any]) -> Opportunity:
    return Opportunity.model_validate(opportunity_dict(row))


# --- bots ------------------------------------------------------------------------------------


class Bot(_Model):
    bot_address: str
    chain_id: str
    bot_name: str | None = None
    bot_type: str | None = None
    verified: bool | None = None
    total_mev_extracted: float | None = None
    total_transactions: int | None = None
    success_rate: float | None = None
    avg_profit_per_tx: float | None = None
    first_seen: str | None = None
    last_active: str | None = None
    active_days: int | None = None
    preferred_opportunity_types: list[str] = Field(default_factory=list)
    preferred_protocols: list[str] = Field(default_factory=list)
    preferred_tokens: list[str] = Field(default_factory=list)
    sophistication_score: float | None = None
    uses_flashbots: bool | None = None
    uses_private_mempool: bool | None = None
    total_opportunities: int | None = None


class BotsResponse(_Model):
    bots: list[Bot]
    pagination: Pagination


_BOT_MONEY = ("total_mev_extracted", "success_rate", "avg_profit_per_tx", "sophistication_score")


def bot_from_row(row: dict[str, Any]) -> Bot:
    data: dict[str, Any] = {k: row.get(k) for k in Bot.model_fields if row.get(k) is not None}
    data["bot_address"] = str(row["bot_address"])
    data["chain_id"] = str(row["chain_id"])
    for k in _BOT_MONEY:
        data[k] = money(row.get(k))
    for k in ("first_seen", "last_active"):
        data[k] = iso_time(row.get(k))
    for k in ("preferred_opportunity_types", "preferred_protocols", "preferred_tokens"):
        data[k] = _strs(row.get(k))
    return Bot.model_validate(data)


# --- leakage ---------------------------------------------------------------------------------


class Leakage(_Model):
    protocol_id: str
    chain_id: str
    date: str
    total_mev_extracted: float | None = None
    sandwich_mev: float | None = None
    frontrun_mev: float | None = None
    backrun_mev: float | None = None
    arbitrage_mev: float | None = None
    liquidation_mev: float | None = None
    jit_mev: float | None = None
    total_transactions: int | None = None
    mev_affected_transactions: int | None = None
    mev_affected_pct: float | None = None
    total_user_loss: float | None = None
    avg_loss_per_affected_tx: float | None = None
    unique_bots: int | None = None
    top_bot_addresses: list[str] = Field(default_factory=list)


class LeakageResponse(_Model):
    leakage: list[Leakage]
    total: int


_LEAK_MONEY = (
    "total_mev_extracted",
    "sandwich_mev",
    "frontrun_mev",
    "backrun_mev",
    "arbitrage_mev",
    "liquidation_mev",
    "jit_mev",
    "mev_affected_pct",
    "total_user_loss",
    "avg_loss_per_affected_tx",
)


def leakage_from_row(row: dict[str, Any]) -> Leakage:
    data: dict[str, Any] = {k: row.get(k) for k in Leakage.model_fields if row.get(k) is not None}
    data["protocol_id"] = str(row["protocol_id"])
    data["chain_id"] = str(row["chain_id"])
    data["date"] = iso_time(row["date"])
    for k in _LEAK_MONEY:
        data[k] = money(row.get(k))
    data["top_bot_addresses"] = _strs(row.get("top_bot_addresses"))
    return Leakage.model_validate(data)


# --- health ----------------------------------------------------------------------------------


class Health(_Model):
    status: str  # ok | degraded
    version: str
    store: str  # ok | unreachable
    redis: str  # ok | unreachable | not configured
    # live pipeline: follower statuses (state connected/reconnecting/stopped, head, lag, last
    # error...) and mempool monitors (connected, seen, alerts, lag), empty when none runs
    followers: list[dict[str, Any]] = Field(default_factory=list)
    mempool: list[dict[str, Any]] = Field(default_factory=list)
