"""Money: turn detector candidates into findings with profit, gas, bribes, USD and victim loss.

Definitions
    **Searcher addresses** -- the candidate's ``searcher`` EOA and ``contract``, plus the sender and
    the called contract of every attacker transaction, routers excluded
    (:func:`mevgraph.decode.labels.is_router`: a router's balance is not the trader's), plus
    *siblings* that both pay into and receive from the swapped pools (see
    :func:`searcher_addresses`).

    **Gross profit** (``profit_by_token``) -- the per-token balance change of the searcher
    addresses over *all* attacker transactions, from the graph's ``Transfer`` actions (native
    value as :data:`~mevgraph.core.types.ETH`), transfers between two searcher addresses netting
    out. Flash-loan borrow and repay legs are both transfers, so they net out by construction.
    Reverted transactions move nothing but gas. Coinbase payments are *not* subtracted here:
    ``coinbase_transfer_wei`` reports them, so ``net = gross − gas − coinbase``.

    **Coinbase payment** -- ETH sent by a searcher address directly to the block's fee recipient
    inside an attacker transaction: ``CoinbasePayment`` actions and ETH ``Transfer`` s to the
    miner, de-duplicated by their position in the transaction. Without traces (logs-only
    blocks) internal ETH moves are invisible: the payment is then reported as ``None`` with a
    reason unless a top-level value transfer to the miner was seen, and ``profit_usd`` is an
    upper bound (stated in ``unpriced_reason``).

    **Gas** -- ``Σ gas_used × effective_gas_price`` of the attacker transactions; ``None`` (with
    the reason) when any of them is unknown.

    **USD** -- via a :class:`~mevgraph.pricing.sources.PriceSource` (default: prices derived from
    the graph's own swaps, :class:`~mevgraph.pricing.sources.OnChainPrices`).
    ``profit_usd = gross_usd − gas_usd − coinbase_usd`` or ``None`` when any term is unknown,
    never a silent 0; ``|USD| > $50M`` is treated as a bad price ("price out of sanity range").

    **Victim loss** (sandwiches, and frontruns that trade ahead of a victim on its pool; not
    displacements, whose victim did not trade) -- counterfactual AMM replay without the frontruns,
    :func:`mevgraph.pricing.amm.victim_loss`, per pool; in the victims' out-tokens.

    **Status** -- ``REVERTED`` if the candidate says so; ``UNPROFITABLE`` when the net profit is
    known to be < 0 (in USD when priced; else in ETH when every delta is ETH/WETH; else when a
    single-token gross delta is already < 0); ``OK`` otherwise.

    **Confidence** -- ``candidate.confidence × q`` where ``q`` multiplies 0.9 when the money is
    incomplete (no USD profit for a reason other than a sanity cap), 0.9 when the block has no
    traces (ETH legs and bribes invisible) and 0.8 when a non-reverted finding shows no balance
    change at all (the profit went to addresses we cannot tie to the searcher).

Checked on real blocks (tests/detection/test_money.py): coinbase transfers and gas costs equal
the peer's miner payments for every transaction of the 21 blocks; balance-change profit equals the
peer's swap-based profit for every peer arbitrage (incl. 0xfcf4558f…, 53560707941943273628 wei,
and the sandwich of block 12775690, 49991481915322274 wei WETH) except where the balance shows
more than the swaps: a dYdX flash loan repaid with 1 wei of fee
(0x22540e530a33a8f4cf4fd69a468323df349bdb1b1cb0efe9da6e59470506e7a1), an ETH payment to a
third address (0x448245bf1a507b73516c4eeee01611927dada6610bf26d403012f2e66800d8f0), and
reverted attempts, which move nothing (the peer reports their would-be profit).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mevgraph.core.actions import CoinbasePayment, Swap, Transfer
from mevgraph.core.types import ETH, ZERO_ADDRESS
from mevgraph.decode.decoder import DecodedBlock
from mevgraph.decode.labels import is_router
from mevgraph.detection.base import Candidate, Finding, Kind, Status
from mevgraph.graph.tables import PropertyGraph
from mevgraph.pricing.amm import victim_loss
from mevgraph.pricing.sources import WETH, OnChainPrices, PriceSource

__all__ = ["USD_SANITY_CAP", "MoneyFacts", "searcher_addresses", "balance_changes", "finalize"]

log = logging.getLogger(__name__)

USD_SANITY_CAP = 50_000_000.0
_INCOMPLETE = 0.9
_NO_TRACES = 0.9
_NO_DELTA = 0.8


@dataclass(slots=True)
class MoneyFacts:
    """Raw-unit money of one candidate before pricing."""

    addresses: frozenset[str]
    profit_by_token: dict[str, int]
    coinbase_wei: int | None
    gas_cost_wei: int | None
    reasons: list[str] = field(default_factory=list)


class _Ctx:
    """Per-call caches: blocks, tx order, non-attempted swaps per pool."""

    def __init__(self, graph: PropertyGraph, prices: PriceSource) -> None:
        self.graph = graph
        self.prices = prices
        self.blocks: dict[tuple[int, int], DecodedBlock] = {
            (d.block.chain_id, d.block.number): d for d in graph.decoded
        }
        self._order: dict[tuple[int, str], tuple[int, int]] | None = None
        self._pools: dict[tuple[int, int, str], list[int]] | None = None

    def order(self, chain: int, h: str) -> tuple[float, float]:
        if self._order is None:
            self._order = {
                (d.block.chain_id, m.hash): (d.block.number, m.index)
                for d in self.graph.decoded
                for m in d.txs
            }
        return self._order.get((chain, h), (float("inf"), float("inf")))

    def pool_swaps(self, chain: int, block: int, pool: str) -> list[int]:
        """Action ids of the effective swaps on ``pool`` in ``block``, in execution order."""
        if self._pools is None:
            attempted = {id(a) for a in self.graph.attempted}
            idx: dict[tuple[int, int, str], list[int]] = {}
            acts = self.graph.actions
            for i, a in enumerate(acts):
                if isinstance(a, Swap) and id(a) not in attempted:
                    idx.setdefault((a.chain_id, a.block_number, a.pool), []).append(i)
            for lst in idx.values():
                lst.sort(key=lambda i: acts[i].position)
            self._pools = idx
        return self._pools.get((chain, block, pool), [])


def searcher_addresses(graph: PropertyGraph, cand: Candidate) -> frozenset[str]:
    """The searcher EOA and contract, its txs' senders and non-router targets, and siblings.

    A *sibling* is an address that, within one attacker transaction, both pays a token into a
    pool swapped on in that transaction and receives a token from one: the searcher's vault
    that funds the trades while another contract executes them (tx
    0x1abcaf29e25654d5fb1c8afa962d6880e0a9325b1f9829b799a3b681b12ce131: contract
    0x0000000000007f150bd6f54c40a34d7c3d5e9f56 trades WETH held by 0xdfee68a9adb981cd08699891a11cabe10f25ec44).
    """
    chain = cand.chain_id
    out = {a for a in (cand.searcher, cand.contract) if a and not is_router(chain, a)}
    for h in cand.attacker_txs:
        m = graph.tx_meta.get((chain, h))
        if m is None:
            continue
        if m.from_:
            out.add(m.from_)
        acts = graph.actions_of_tx(chain, h)
        pools = {a.pool for a in acts if isinstance(a, Swap)}
        # An EOA-only bot calls the pool itself: the pool is the venue, never the searcher's.
        if m.to and not is_router(chain, m.to) and m.to not in pools:
            out.add(m.to)
        if not pools:
            continue
        pays = {a.from_ for a in acts if isinstance(a, Transfer) and a.to in pools}
        gets = {a.to for a in acts if isinstance(a, Transfer) and a.from_ in pools}
        out.update(a for a in pays & gets if a not in pools and a != ZERO_ADDRESS and not is_router(chain, a))
    return frozenset(out)


def balance_changes(graph: PropertyGraph, cand: Candidate, miner: str | None, logs_only: bool) -> MoneyFacts:
    """Gross per-token deltas, coinbase payments and gas of ``cand``'s attacker transactions."""
    chain = cand.chain_id
    addrs = searcher_addresses(graph, cand)
    delta: dict[str, int] = {}
    coinbase: dict[tuple[str, tuple[int, ...] | None, int | None], int] = {}
    reasons: list[str] = []
    gas: int | None = 0
    for h in cand.attacker_txs:
        m = graph.tx_meta.get((chain, h))
        if m is None:
            gas = None
            reasons.append(f"gas unknown: tx {h} not in graph")
            continue
        if m.gas_cost_wei is None:  # the decoder already rejected corrupt receipt values
            gas = None
            reasons.append(f"gas unknown for {h}: {m.gas_cost_reason}")
        elif gas is not None:
            gas += m.gas_cost_wei
        if m.success is False:
            continue  # a reverted transaction moves nothing but gas
        for a in graph.actions_of_tx(chain, h):
            if isinstance(a, Transfer):
                fi, ti = a.from_ in addrs, a.to in addrs
                if fi == ti:
                    continue
                if fi and a.token == ETH and a.to == miner:
                    coinbase[(h, a.trace_address, a.log_index)] = a.amount
                    continue
                delta[a.token] = delta.get(a.token, 0) + (a.amount if ti else -a.amount)
            elif isinstance(a, CoinbasePayment) and a.from_ in addrs:
                coinbase[(h, a.trace_address, a.log_index)] = a.amount
    cb: int | None = sum(coinbase.values())
    if logs_only and not cb:
        cb = None
        reasons.append("coinbase payment unknown: logs-only block, internal ETH transfers are invisible")
    elif logs_only:
        reasons.append("logs-only block: internal ETH transfers invisible, bribes may be understated")
    return MoneyFacts(addrs, {t: v for t, v in delta.items() if v}, cb, gas, reasons)


def _usd(
    prices: PriceSource, chain: int, block: int, amounts: dict[str, int]
) -> tuple[float | None, list[str]]:
    total = 0.0
    missing: list[str] = []
    for tok, amt in sorted(amounts.items()):
        p = prices.usd_per_unit(chain, tok, block)
        if p is None:
            missing.append(prices.why_unpriced(chain, tok, block))
        else:
            total += amt * p
    return (None if missing else total), missing


def _status(cand: Candidate, mf: MoneyFacts, net_usd: float | None, chain: int) -> Status:
    if cand.status == Status.REVERTED:
        return Status.REVERTED
    if net_usd is not None:
        return Status.UNPROFITABLE if net_usd < 0 else Status.OK
    eth_like = {ETH, WETH.get(chain)}
    p = mf.profit_by_token
    if mf.gas_cost_wei is not None and set(p) <= eth_like:
        # Unknown coinbase only lowers the net further, so "< 0" stays true.
        if sum(p.values()) - mf.gas_cost_wei - (mf.coinbase_wei or 0) < 0:
            return Status.UNPROFITABLE
    elif len(p) == 1 and next(iter(p.values())) < 0:
        return Status.UNPROFITABLE
    return cand.status


def _victim_loss(ctx: _Ctx, cand: Candidate) -> tuple[dict[str, int] | None, str | None, str | None]:
    """(loss by token, reason when None, method) for a sandwich candidate."""
    g = ctx.graph
    acts = g.actions
    chain, block = cand.chain_id, cand.block_number
    d = cand.details
    if "victim_swaps" in d:
        fronts, victims, backs = (set(d.get(k, ())) for k in ("front_swaps", "victim_swaps", "back_swaps"))
    else:

        def swaps_of(txs: Iterable[str]) -> set[int]:
            idx = g._tx_index()
            return {i for h in txs for i in idx.get((chain, h), ()) if isinstance(acts[i], Swap)}

        fronts, victims, backs = (
            swaps_of(cand.frontrun_txs),
            swaps_of(cand.victim_txs),
            swaps_of(cand.backrun_txs),
        )
    if not victims:
        return None, "no victim swaps in the candidate", None
    total: dict[str, int] = {}
    methods: set[str] = set()
    for pool in sorted({acts[i].pool for i in victims if isinstance(acts[i], Swap)}):
        ids = ctx.pool_swaps(chain, block, pool)
        pos = [k for k, i in enumerate(ids) if i in fronts]
        if not pos:
            return None, f"no frontrun on victim pool {pool}", None
        end = max(k for k, i in enumerate(ids) if i in victims or i in backs)
        window_ids = ids[pos[0] : end + 1]
        roles = [
            "front" if i in fronts else "victim" if i in victims else "back" if i in backs else "other"
            for i in window_ids
        ]
        window = [acts[i] for i in window_ids]
        res = victim_loss([s for s in window if isinstance(s, Swap)], roles)
        if res.by_token is None:
            return None, res.reason, None
        for t, v in res.by_token.items():
            total[t] = total.get(t, 0) + v
        if res.method:
            methods.add(res.method)
    return {t: v for t, v in total.items() if v}, None, ",".join(sorted(methods)) or None


def _tx_hashes(ctx: _Ctx, cand: Candidate) -> tuple[str, ...]:
    hs = set(cand.attacker_txs) | set(cand.frontrun_txs) | set(cand.backrun_txs) | set(cand.victim_txs)
    trig = cand.details.get("trigger_tx")
    if isinstance(trig, str):
        hs.add(trig)
    trigs = cand.details.get("trigger_txs")
    if isinstance(trigs, list | tuple):
        hs.update(t for t in trigs if isinstance(t, str))
    return tuple(sorted(hs, key=lambda h: (*ctx.order(cand.chain_id, h), h)))


def _finding(ctx: _Ctx, cand: Candidate) -> Finding:
    chain, bn = cand.chain_id, cand.block_number
    d = ctx.blocks.get((chain, bn))
    blk = d.block if d is not None else None
    logs_only = d is not None and d.mode != "traces"
    mf = balance_changes(ctx.graph, cand, blk.miner if blk else None, logs_only)
    reasons = list(mf.reasons)
    prices = ctx.prices
    eth_p = prices.usd_per_unit(chain, ETH, bn)

    gross_usd, missing = _usd(prices, chain, bn, mf.profit_by_token)
    reasons.extend(missing)
    gas_usd = mf.gas_cost_wei * eth_p if (mf.gas_cost_wei is not None and eth_p is not None) else None
    if eth_p is None and (mf.gas_cost_wei or mf.coinbase_wei):
        reasons.append(prices.why_unpriced(chain, ETH, bn))
    cb = mf.coinbase_wei
    cb_usd = (
        cb * eth_p if (cb is not None and eth_p is not None) else (0.0 if logs_only and cb is None else None)
    )
    net: float | None = None
    if gross_usd is not None and gas_usd is not None and cb_usd is not None:
        net = gross_usd - gas_usd - cb_usd
        if logs_only:
            reasons.append("profit_usd is an upper bound (bribes paid by internal calls are not visible)")
    capped = False
    if (gross_usd is not None and abs(gross_usd) > USD_SANITY_CAP) or (
        net is not None and abs(net) > USD_SANITY_CAP
    ):
        gross_usd = net = None
        capped = True
        reasons.append("price out of sanity range")

    loss: dict[str, int] | None = None
    loss_reason: str | None = None
    loss_usd: float | None = None
    details = dict(cand.details)
    details["profit_addresses"] = sorted(mf.addresses)
    if cand.kind == Kind.SANDWICH or (
        cand.kind == Kind.FRONTRUN and cand.details.get("displacement") is False
    ):
        loss, loss_reason, method = _victim_loss(ctx, cand)
        if loss is not None:
            details["victim_loss_method"] = method
            loss_usd, miss = _usd(prices, chain, bn, loss)
            if miss:
                loss_reason = "; ".join(miss)
            elif loss_usd is not None and abs(loss_usd) > USD_SANITY_CAP:
                loss_usd, loss_reason = None, "price out of sanity range"

    status = _status(cand, mf, net, chain)
    q = 1.0
    if net is None and not capped:
        q *= _INCOMPLETE
    if logs_only:
        q *= _NO_TRACES
    if not mf.profit_by_token and status != Status.REVERTED:
        q *= _NO_DELTA
    return Finding(
        **_roles(ctx, cand),
        profit_by_token=mf.profit_by_token,
        gas_cost_wei=mf.gas_cost_wei,
        coinbase_transfer_wei=cb,
        profit_usd=net,
        victim_loss_usd=loss_usd,
        unpriced_reason="; ".join(dict.fromkeys(reasons)) or None,
        status=status,
        confidence=max(0.0, min(1.0, cand.confidence * q)),
        gross_profit_usd=gross_usd,
        gas_cost_usd=gas_usd,
        victim_loss_by_token=loss,
        victim_loss_reason=loss_reason,
        block_timestamp=blk.timestamp if blk else None,
        details=details,
    )


def finalize(
    graph: PropertyGraph, candidates: Sequence[Candidate], price_source: PriceSource | None = None
) -> list[Finding]:
    """One :class:`Finding` per candidate; prices default to on-chain prices of ``graph``.

    A candidate whose money cannot be computed (malformed actions) is logged and kept with
    unknown money rather than dropped or allowed to fail the block.
    """
    if not candidates:
        return []
    graph.ensure_gas((c.chain_id, h) for c in candidates for h in c.attacker_txs)
    ctx = _Ctx(graph, price_source if price_source is not None else OnChainPrices.from_graph(graph))
    out: list[Finding] = []
    for c in candidates:
        try:
            out.append(_finding(ctx, c))
        except Exception as exc:  # one bad candidate must not fail the block
            log.warning("money failed for %s in block %s: %s", c.kind, c.block_number, exc)
            out.append(_bare(ctx, c, f"money computation failed: {type(exc).__name__}: {exc}"))
    return out


def _roles(ctx: _Ctx, cand: Candidate) -> dict[str, Any]:
    """The fields a finding takes over from its candidate unchanged."""
    return {
        "kind": cand.kind,
        "chain_id": cand.chain_id,
        "block_number": cand.block_number,
        "tx_hashes": _tx_hashes(ctx, cand),
        "attacker_txs": cand.attacker_txs,
        "frontrun_txs": cand.frontrun_txs,
        "backrun_txs": cand.backrun_txs,
        "victim_txs": cand.victim_txs,
        "searcher": cand.searcher,
        "contract": cand.contract,
        "pools": cand.pools,
        "protocols": cand.protocols,
        "nested_in": cand.nested_in,
    }


def _bare(ctx: _Ctx, cand: Candidate, reason: str) -> Finding:
    d = ctx.blocks.get((cand.chain_id, cand.block_number))
    return Finding(
        **_roles(ctx, cand),
        profit_by_token={},
        gas_cost_wei=None,
        coinbase_transfer_wei=None,
        profit_usd=None,
        victim_loss_usd=None,
        unpriced_reason=reason,
        status=cand.status,
        confidence=cand.confidence * _INCOMPLETE,
        block_timestamp=d.block.timestamp if d else None,
        details=dict(cand.details),
    )
