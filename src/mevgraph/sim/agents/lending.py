"""Aave V3 users and the bots that liquidate them: borrowers, the price oracle, liquidators.

* :class:`Borrower` -- many EOAs, each supplying one collateral (mostly WETH, some WBTC and LINK)
  and borrowing USDC or DAI to a target health factor of 1.05--1.6 (skewed towards the low end;
  position sizes log-normal). Most open their position at setup, the rest during the run; now and
  then one repays part of its debt, tops up its collateral or borrows back up to its target (which
  re-exposes a position that a liquidation has just de-levered).
* :class:`Oracle` -- the owner of the settable price feeds (``contracts/PriceFeed.sol``). Each
  block it reports the reference price (:class:`mevgraph.sim.env.MarketModel`) of every volatile
  collateral whose feed is more than 0.5 % off, or not updated for 20 blocks, with an ordinary
  public ``setAnswer`` transaction. During a crash episode this is what pushes health factors
  below 1.
* :class:`Liquidator` -- a searcher. It knows the borrowers from the pool's ``Borrow`` logs,
  reads their positions (one batched request), and recomputes every health factor in Python at
  the prices the pending ``setAnswer`` updates will set (Aave's own integer formula). It answers
  each update with ``liquidationCall`` transactions placed right behind it (max fee = the update's
  minus 1 wei), and liquidates positions already below 1 at the head too; the size is the close
  factor's share of the largest debt (the pool caps ``2**256 - 1`` at it) or what its inventory
  allows. It leaves alone a user whose liquidation by a competitor is already pending in public,
  and one whose bonus would not pay its minimum profit over gas. One operator goes through its
  :file:`contracts/Searcher.sol` (``liquidate``, with a small coinbase bribe) and wants 600 USD a
  liquidation; the other calls the pool from its EOAs, takes anything above 50 USD and sends
  the liquidations of 30 % of its blocks privately (so competitors cannot see them).

Fees: anvil does not mine a sender's transaction whose max fee is above that of the sender's
previous nonce (it is dropped from the block, not delayed), so every agent here gives one
sender's transactions of a block non-increasing max fees in nonce order.

Ground truth: a liquidator writes one ``liquidation`` record per liquidation transaction that
succeeded (it then emitted ``LiquidationCall``); ``details["trigger_tx"]`` names the oracle
update it answered when that update landed before it in the block.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mevgraph.decode.abi import keccak_hex, selector
from mevgraph.sim.abi import decode, encode_call
from mevgraph.sim.agents.base import Agent, BlockCtx, Mined, Pending, Plan, Truth
from mevgraph.sim.agents.market import agent_address
from mevgraph.sim.chain import RpcError, Tx

if TYPE_CHECKING:
    from mevgraph.sim.aave import AaveMarket
    from mevgraph.sim.env import Env

__all__ = [
    "AaveBook",
    "Borrower",
    "Oracle",
    "Liquidator",
    "Reserve",
    "health_factor",
    "funder_address",
    "searcher_labels",
    "FAMILIES",
    "oracle_prices",
    "read_reserves",
    "population",
    "VOLATILE",
]

log = logging.getLogger(__name__)

VOLATILE = ("WETH", "WBTC", "LINK")
"""Collateral tokens whose USD price the oracle reports (the stablecoin feeds stay at 1 USD)."""

MAX_UINT = 2**256 - 1
WAD = 10**18
PRICE_ONE = 10**8  # oracle base currency: USD with 8 decimals
CLOSE_FACTOR_HF = 95 * 10**16  # below this health factor the whole debt may be repaid (Aave V3)
LIQUIDATION_GAS = 450_000  # about what a liquidationCall uses on the testbed
SAFETY = 9995 * 10**14  # liquidate only below HF 0.9995: interest accrues until the block

_SET_ANSWER = "setAnswer(int256)"
_SET_ANSWER_SEL = bytes.fromhex(selector(_SET_ANSWER)[2:])
_BORROW_TOPIC = keccak_hex(b"Borrow(address,address,address,uint256,uint8,uint256,uint16)")
_LIQUIDATION_TOPIC = keccak_hex(b"LiquidationCall(address,address,address,uint256,uint256,address,bool)")
_LIQUIDATE = "liquidate(address,address,address,address,uint256,uint256)"
_LIQUIDATE_SEL = bytes.fromhex(selector(_LIQUIDATE)[2:])
_LIQUIDATION_CALL_SEL = bytes.fromhex(selector("liquidationCall(address,address,address,uint256,bool)")[2:])


# -- the market as a liquidator reads it -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reserve:
    """Risk parameters of one listed token (basis points; ``lt_bps = 0``: not a collateral)."""

    token: str
    symbol: str
    decimals: int
    ltv_bps: int
    lt_bps: int
    bonus_bps: int


@dataclass(slots=True)
class Position:
    """One user's balances in raw token units: supplied (aToken) and borrowed (variable debt)."""

    collateral: dict[str, int] = field(default_factory=dict)
    debt: dict[str, int] = field(default_factory=dict)


def health_factor(pos: Position, prices: dict[str, int], reserves: dict[str, Reserve]) -> int:
    """Aave V3's ``healthFactor`` (wad) of ``pos`` at oracle ``prices``; ``MAX_UINT`` without debt.

    Same integer steps as ``GenericLogic.calculateUserAccountData``: per-asset base-currency
    values rounded down, the average liquidation threshold rounded down, ``percentMul`` and
    ``wadDiv`` rounding half up.
    """
    coll = avg_lt = debt = 0
    for tok, bal in pos.collateral.items():
        r = reserves[tok]
        if bal and r.lt_bps:
            v = bal * prices[tok] // 10**r.decimals
            coll += v
            avg_lt += v * r.lt_bps
    for tok, bal in pos.debt.items():
        debt += bal * prices[tok] // 10 ** reserves[tok].decimals
    if debt == 0:
        return MAX_UINT
    if coll == 0:
        return 0
    avg_lt //= coll
    return ((coll * avg_lt + 5_000) // 10_000 * WAD + debt // 2) // debt


def read_reserves(env: Env) -> dict[str, Reserve]:
    """Risk parameters of every reserve, keyed by token address (from the pool's data provider)."""
    aave = _market(env)
    toks = list(aave.symbols)
    sig = "getReserveConfigurationData(address)"
    res = env.chain.call_many([(aave.data_provider, encode_call(sig, t)) for t in toks])
    out: dict[str, Reserve] = {}
    for tok, r in zip(toks, res, strict=True):
        if isinstance(r, RpcError):
            raise r
        dec, ltv, lt, bonus = decode(["uint256"] * 4, r[:128])
        # Aave stores the bonus as 10000 + bonus.
        out[tok] = Reserve(tok, aave.symbols[tok], dec, ltv, lt, max(0, bonus - 10_000))
    return out


def oracle_prices(env: Env) -> dict[str, int]:
    """The Aave oracle's price (USD, 8 decimals) of every reserve, one batched request."""
    aave = _market(env)
    toks = list(aave.symbols)
    res = env.chain.call_many([(aave.oracle, encode_call("getAssetPrice(address)", t)) for t in toks])
    out: dict[str, int] = {}
    for tok, r in zip(toks, res, strict=True):
        if isinstance(r, RpcError):
            raise r
        out[tok] = int.from_bytes(r[:32], "big")
    return out


class AaveBook:
    """Reads shared by the liquidators of one run: reserves (once), borrowers (from ``Borrow`` logs,
    incrementally), positions and oracle prices (once per block)."""

    def __init__(self, aave: AaveMarket) -> None:
        self.aave = aave
        self.reserves: dict[str, Reserve] = {}
        self.borrowers: list[str] = []
        self._known: set[str] = set()
        self._scanned = -1
        self._block = -1
        self._positions: dict[str, Position] = {}
        self._prices: dict[str, int] = {}

    def refresh(self, env: Env) -> None:
        """Bring borrowers, positions and prices to the head (no-op within a block)."""
        head = env.head_number
        if head == self._block:
            return
        if not self.reserves:
            self.reserves = read_reserves(env)
        if head > self._scanned:
            logs = env.chain.rpc(
                "eth_getLogs",
                {
                    "address": self.aave.pool,
                    "fromBlock": hex(self._scanned + 1),
                    "toBlock": hex(head),
                    "topics": [_BORROW_TOPIC],
                },
            )
            for lg in logs:
                user = "0x" + str(lg["topics"][2])[-40:]
                if user not in self._known:
                    self._known.add(user)
                    self.borrowers.append(user)
            self._scanned = head
        toks = list(self.reserves)
        calls = [(self.aave.oracle, encode_call("getAssetPrice(address)", t)) for t in toks]
        # Positions and prices of the same head, in one batch.
        for u in self.borrowers:
            for t in toks:
                calls.append((self.aave.a_tokens[t], encode_call("balanceOf(address)", u)))
                calls.append((self.aave.variable_debt_tokens[t], encode_call("balanceOf(address)", u)))
        res = env.chain.call_many(calls)
        vals = [0 if isinstance(r, RpcError) else int.from_bytes(r[:32], "big") for r in res]
        self._prices = dict(zip(toks, vals[: len(toks)], strict=True))
        self._positions = {}
        k = len(toks)
        for u in self.borrowers:
            pos = Position()
            for t in toks:
                coll, debt = vals[k], vals[k + 1]
                k += 2
                if coll:
                    pos.collateral[t] = coll
                if debt:
                    pos.debt[t] = debt
            self._positions[u] = pos
        self._block = head

    def positions(self, env: Env) -> dict[str, Position]:
        self.refresh(env)
        return self._positions

    def prices(self, env: Env) -> dict[str, int]:
        self.refresh(env)
        return dict(self._prices)


# -- borrowers -------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Profile:
    collateral: str  # symbol
    debt: str  # symbol
    usd: float  # collateral value at entry
    target_hf: float
    open_at: int  # 0: at setup, else blocks after the first simulated block
    opened: bool = False


class Borrower(Agent):
    """A population of Aave borrowers acting as one agent (see the module docstring)."""

    role = "borrower"

    def __init__(
        self,
        name: str,
        seed: int,
        n: int,
        *,
        p_act: float = 0.03,
        late_share: float = 0.3,
        late_within: int = 60,
        usd_median: float = 40_000,
        usd_sigma: float = 1.1,
        usd_cap: float = 1_500_000,
        hf_range: tuple[float, float] = (1.05, 1.6),
    ) -> None:
        super().__init__(name, None, [agent_address(seed, name, i) for i in range(n)], seed)
        self.p_act = p_act
        self.hf_range = hf_range
        self.profiles: dict[str, _Profile] = {}
        lo, hi = hf_range
        for a in self.addresses:
            coll = self.rng.choices(VOLATILE, [0.7, 0.2, 0.1])[0]
            debt = "USDC" if self.rng.random() < 0.6 else "DAI"
            usd = min(usd_cap, math.exp(self.rng.gauss(math.log(usd_median), usd_sigma)))
            hf = lo + (hi - lo) * self.rng.random() ** 2  # most borrowers run close to the edge
            late = self.rng.random() < late_share
            self.profiles[a] = _Profile(coll, debt, usd, hf, self.rng.randint(1, late_within) if late else 0)
        self._first_block: int | None = None
        self.reserves: dict[str, Reserve] = {}

    # Funding: three times the entry collateral (for top-ups) and a 10 % cushion of the debt token
    # (interest), approvals of the pool for both.
    def setup(self, env: Env) -> list[Tx]:
        aave = _market(env)
        w = env.world
        self.reserves = read_reserves(env)
        prices = oracle_prices(env)
        txs: list[Tx] = []
        for a, pr in self.profiles.items():
            coll, debt = w.addr(pr.collateral), w.addr(pr.debt)
            amount = _raw_at(pr.usd, prices[coll], w.tokens[pr.collateral].decimals)
            txs.append(env.mint_tx(a, coll, 3 * amount))
            txs.append(env.mint_tx(a, debt, _raw_at(pr.usd * 0.1, prices[debt], w.tokens[pr.debt].decimals)))
            txs.append(env.approve_tx(a, coll, aave.pool))
            txs.append(env.approve_tx(a, debt, aave.pool))
            if pr.open_at == 0:
                txs.extend(self._open(env, a, pr, prices, None))
                pr.opened = True
        return txs

    def _open(
        self, env: Env, who: str, pr: _Profile, prices: dict[str, int], fees: tuple[int, int] | None
    ) -> list[Tx]:
        """Supply the entry collateral and borrow to the target health factor (kept under the LTV)."""
        aave = _market(env)
        w = env.world
        coll, debt = w.addr(pr.collateral), w.addr(pr.debt)
        res = self.reserves[coll]
        amount = _raw_at(pr.usd, prices[coll], res.decimals)
        value = amount * prices[coll] // 10**res.decimals  # base currency
        borrow_base = min(value * res.lt_bps / 10_000 / pr.target_hf, value * res.ltv_bps / 10_000 * 0.99)
        borrow = int(borrow_base) * 10 ** w.tokens[pr.debt].decimals // prices[debt]
        max_fee, tip = fees if fees is not None else (None, None)
        return [
            Tx(who, aave.pool, aave.supply(coll, amount, who), gas=400_000, max_fee=max_fee, tip=tip),
            Tx(who, aave.pool, aave.borrow(debt, borrow, who), gas=600_000, max_fee=max_fee, tip=tip),
        ]

    def act(self, env: Env, blk: BlockCtx) -> list[Plan]:
        aave = _market(env)
        w = env.world
        if self._first_block is None:
            self._first_block = blk.number
        age = blk.number - self._first_block + 1
        plans: list[Plan] = []
        opening = [a for a, pr in self.profiles.items() if not pr.opened and pr.open_at <= age]
        acting = [a for a, pr in self.profiles.items() if pr.opened and self.rng.random() < self.p_act]
        if not opening and not acting:
            return plans
        prices = oracle_prices(env)
        for a in opening:
            pr = self.profiles[a]
            fees = env.user_fees(self.rng, blk)
            plans.extend(Plan(t, tag=("open", a)) for t in self._open(env, a, pr, prices, fees))
            pr.opened = True
        if not acting:
            return plans
        res = env.chain.call_many(
            [(aave.pool, encode_call("getUserAccountData(address)", a)) for a in acting]
        )
        bal_calls = []
        for a in acting:
            pr = self.profiles[a]
            bal_calls += [(w.addr(pr.collateral), a), (w.addr(pr.debt), a)]
        bals = env.balances(bal_calls)
        for i, (a, r) in enumerate(zip(acting, res, strict=True)):
            if isinstance(r, RpcError):
                continue
            coll_base, debt_base, avail, lt, _, hf = decode(["uint256"] * 6, r)
            pr = self.profiles[a]
            coll, debt = w.addr(pr.collateral), w.addr(pr.debt)
            coll_bal, debt_bal = bals[2 * i], bals[2 * i + 1]
            d_dec, c_dec = w.tokens[pr.debt].decimals, w.tokens[pr.collateral].decimals
            max_fee, tip = env.user_fees(self.rng, blk)
            u = self.rng.random()
            tx: Tx | None = None
            if debt_base and u < 0.3:  # repay part of the debt from the wallet
                want = int(debt_base * self.rng.uniform(0.2, 0.8)) * 10**d_dec // prices[debt]
                amount = min(want, debt_bal)
                if amount > 0:
                    tx = Tx(a, aave.pool, aave.repay(debt, amount, a), gas=500_000, max_fee=max_fee, tip=tip)
            elif u < 0.5:  # top up collateral
                want = int(coll_base * self.rng.uniform(0.1, 0.4)) * 10**c_dec // prices[coll]
                amount = min(want, coll_bal)
                if amount > 0:
                    tx = Tx(a, aave.pool, aave.supply(coll, amount, a), gas=400_000, max_fee=max_fee, tip=tip)
            elif coll_base and lt and hf > pr.target_hf * 1.08 * WAD:  # lever back up to the target
                target = coll_base * lt / 10_000 / pr.target_hf
                extra = int(min(target - debt_base, avail * 0.98)) * 10**d_dec // prices[debt]
                if extra * prices[debt] // 10**d_dec > 100 * PRICE_ONE:
                    tx = Tx(a, aave.pool, aave.borrow(debt, extra, a), gas=600_000, max_fee=max_fee, tip=tip)
            if tx is not None:
                plans.append(Plan(tx, tag=("manage", a)))
        return plans


# -- the oracle ------------------------------------------------------------------------------------
class Oracle(Agent):
    """Reports reference prices to the Aave price feeds (deviation threshold plus heartbeat)."""

    role = "oracle"

    def __init__(
        self, name: str, seed: int, owner: str, *, deviation: float = 0.005, heartbeat: int = 20
    ) -> None:
        super().__init__(name, None, [owner], seed)
        self.owner = owner
        self.deviation = deviation
        self.heartbeat = heartbeat
        self.last_update: dict[str, int] = {}

    def act(self, env: Env, blk: BlockCtx) -> list[Plan]:
        aave = _market(env)
        w = env.world
        feeds = [aave.feeds[w.addr(s)] for s in VOLATILE]
        res = env.chain.call_many([(f, encode_call("latestAnswer()")) for f in feeds])
        plans: list[Plan] = []
        # One fee for all of this block's updates: anvil leaves out a sender's transaction whose
        # max fee is above that of its predecessor by nonce.
        max_fee, tip = env.user_fees(self.rng, blk)
        for sym, feed, r in zip(VOLATILE, feeds, res, strict=True):
            if isinstance(r, RpcError):
                continue
            current = int(decode(["int256"], r)[0])
            target = int(env.market.prices[sym] * PRICE_ONE)
            self.last_update.setdefault(sym, blk.number)
            stale = blk.number - self.last_update[sym] >= self.heartbeat
            if target <= 0 or (abs(target / current - 1) <= self.deviation and not stale):
                continue
            tx = Tx(self.owner, feed, encode_call(_SET_ANSWER, target), gas=100_000, max_fee=max_fee, tip=tip)
            plans.append(Plan(tx, tag=sym))
        return plans

    def settle(self, env: Env, blk: BlockCtx, mined: Mined, plans: list[Plan]) -> list[Truth]:
        for p in plans:
            if mined.ok(p.hash):
                self.last_update[str(p.tag)] = mined.number
            elif p.hash is not None:
                log.info("%s: price update %s for %s failed", self.name, p.hash, p.tag)
        return []


# -- liquidators -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Liq:
    user: str
    collateral: str
    debt: str
    trigger: str | None
    eoa: str
    private: bool


class Liquidator(Agent):
    """A liquidation bot (see the module docstring). With ``use_contract`` it deploys and funds a
    Searcher contract owned by ``funder`` and liquidates through it; otherwise its EOAs hold the
    debt tokens and call the pool themselves."""

    role = "liquidator"
    searcher = True

    def __init__(
        self,
        name: str,
        operator: str,
        seed: int,
        book: AaveBook,
        *,
        n_eoas: int = 2,
        family: str,
        use_contract: bool,
        p_private: float = 0.0,
        inventory_usd: float = 4_000_000,
        bribe_wei: int = 0,
        max_per_block: int = 8,
        min_profit_usd: float = 50.0,
    ) -> None:
        eoas = [agent_address(seed, f"{operator}/eoa", i) for i in range(n_eoas)]
        funder = funder_address(seed, family)
        super().__init__(name, operator, [*eoas, funder], seed)
        self.eoas = eoas
        self.family = family
        self.funder = funder
        self.book = book
        self.use_contract = use_contract
        self.p_private = p_private
        self.inventory_usd = inventory_usd
        self.bribe_wei = bribe_wei
        self.max_per_block = max_per_block
        self.min_profit_usd = min_profit_usd
        self.contract: str | None = None

    def setup(self, env: Env) -> list[Tx]:
        aave = _market(env)
        w = env.world
        stables = [w.addr("USDC"), w.addr("DAI")]
        txs = [Tx(self.funder, e, value=10**18, gas=21_000) for e in self.eoas]  # the funding link
        if self.use_contract:
            self.contract = env.deploy_searcher(self.funder, self.eoas)
            self.addresses.append(self.contract)
            env.chain.set_balance(self.contract, 100 * 10**18)
            for t in stables:
                amt = env.raw(w.token_by_address(t).symbol, self.inventory_usd)
                txs.append(
                    Tx(self.eoas[0], t, encode_call("mint(address,uint256)", self.contract, amt), gas=100_000)
                )
        else:
            for e in self.eoas:
                for t in stables:
                    amt = env.raw(w.token_by_address(t).symbol, self.inventory_usd / len(self.eoas))
                    txs += [env.mint_tx(e, t, amt), env.approve_tx(e, t, aave.pool)]
        return txs

    def labels(self) -> dict[str, dict[str, Any]]:
        return searcher_labels(self, self.eoas, self.contract, self.family, self.funder)

    def _holders(self) -> list[str]:
        return [self.contract] if self.contract is not None else list(self.eoas)

    def react(self, env: Env, blk: BlockCtx, pending: list[Pending]) -> list[Plan]:
        aave = _market(env)
        w = env.world
        feed_token = {f: t for t, f in aave.feeds.items()}
        updates: dict[str, tuple[Pending, int]] = {}  # token -> (the update, new price)
        for p in sorted(pending, key=lambda p: (-p.max_fee, p.seq)):
            if p.to in feed_token and p.data[:4] == _SET_ANSWER_SEL and len(p.data) >= 36:
                (price,) = decode(["int256"], p.data[4:36])
                if price > 0:
                    updates[feed_token[p.to]] = (p, int(price))  # the last to land wins
        taken = _pending_liquidations(pending, aave.pool)
        positions = self.book.positions(env)
        head = self.book.prices(env)
        after = dict(head)
        for tok, (_, price) in updates.items():
            after[tok] = price
        reserves = self.book.reserves

        holders = self._holders()
        stables = [w.addr("USDC"), w.addr("DAI")]
        bals = env.balances([(t, h) for h in holders for t in stables])
        inventory = {
            (h, t): bals[i * len(stables) + j] for i, h in enumerate(holders) for j, t in enumerate(stables)
        }

        # Private or public for the whole block: the builder gets private transactions after the
        # public ones, and a sender's later nonce must not carry a higher max fee (anvil drops it).
        private = self.rng.random() < self.p_private
        plans: list[Plan] = []
        for user in self.book.borrowers:
            if len(plans) >= self.max_per_block:
                break
            pos = positions.get(user)
            if user in taken:  # a competitor's liquidation of this user is already pending
                continue
            if pos is None or not pos.debt or not pos.collateral:
                continue
            hf_head = health_factor(pos, head, reserves)
            hf_new = health_factor(pos, after, reserves)
            if hf_new >= SAFETY and hf_head >= SAFETY:
                continue
            trigger: Pending | None = None
            if hf_head >= SAFETY:  # made liquidatable by pending updates: go right after the last one
                moved = [updates[t][0] for t in pos.collateral if t in updates]
                if not moved:
                    continue
                trigger = min(moved, key=lambda p: (p.max_fee, -p.seq))
            hf = min(hf_new, hf_head)
            debt = max(pos.debt, key=lambda t: pos.debt[t] * after[t] // 10 ** reserves[t].decimals)
            coll = max(
                (t for t in pos.collateral if reserves[t].lt_bps),
                key=lambda t: pos.collateral[t] * after[t] // 10 ** reserves[t].decimals,
            )
            need = pos.debt[debt] if hf < CLOSE_FACTOR_HF else pos.debt[debt] // 2
            holder = max(holders, key=lambda h: inventory.get((h, debt), 0))
            have = inventory.get((holder, debt), 0)
            if have < need // 10 or debt not in stables:
                log.info("%s: inventory too small to liquidate %s", self.name, user)
                continue
            # Bonus on the repaid value (at most the collateral's value) less gas: bots differ in
            # the least they bother with, so small positions are left to the cheaper operator.
            repaid = min(have, need) * after[debt] // 10 ** reserves[debt].decimals
            seized = min(repaid, pos.collateral[coll] * after[coll] // 10 ** reserves[coll].decimals)
            gas_usd = LIQUIDATION_GAS * 2 * blk.base_fee / 1e18 * after[w.weth] / PRICE_ONE
            if seized * reserves[coll].bonus_bps / 10_000 / PRICE_ONE - gas_usd < self.min_profit_usd:
                continue
            cover = MAX_UINT if have >= need * 101 // 100 else have
            inventory[(holder, debt)] = have - min(have, need)
            eoa = holder if self.contract is None else self.eoas[len(plans) % len(self.eoas)]
            if trigger is not None:
                max_fee, tip = trigger.max_fee - 1, min(trigger.tip, trigger.max_fee - 1 - blk.base_fee)
            else:
                max_fee, tip = env.user_fees(self.rng, blk, urgency=3.0)
            if self.contract is not None:
                data = encode_call(_LIQUIDATE, aave.pool, coll, debt, user, cover, self.bribe_wei)
                tx = Tx(eoa, self.contract, data, gas=1_500_000, max_fee=max_fee, tip=tip)
            else:
                data = aave.liquidation_call(coll, debt, user, cover)
                tx = Tx(eoa, aave.pool, data, gas=1_500_000, max_fee=max_fee, tip=tip)
            tag = _Liq(user, coll, debt, trigger.hash if trigger else None, eoa, private)
            plans.append(Plan(tx, private=private, tag=tag))
        # One sender's nonces follow its list order: keep that order the fee order.
        plans.sort(key=lambda p: -(p.tx.max_fee or 0))
        return plans

    def settle(self, env: Env, blk: BlockCtx, mined: Mined, plans: list[Plan]) -> list[Truth]:
        aave = _market(env)
        out: list[Truth] = []
        for p in plans:
            tag = p.tag
            if not isinstance(tag, _Liq) or p.hash is None:
                continue
            if not mined.ok(p.hash):
                log.info("%s: liquidation of %s failed (%s)", self.name, tag.user, p.hash)
                continue
            logs = mined.receipts[p.hash].get("logs") or []
            if not any(
                str(lg["address"]).lower() == aave.pool and lg["topics"][0] == _LIQUIDATION_TOPIC
                for lg in logs
            ):
                continue
            i, t = mined.index(p.hash), mined.index(tag.trigger)
            trigger = (
                tag.trigger if t is not None and i is not None and t < i and mined.ok(tag.trigger) else None
            )
            out.append(
                Truth(
                    kind="liquidation",
                    block_number=mined.number,
                    attacker_txs=[p.hash],
                    victim_txs=[],
                    operator=self.operator or self.name,
                    searcher=tag.eoa,
                    contract=self.contract,
                    details={
                        "user": tag.user,
                        "debt_token": tag.debt,
                        "collateral_token": tag.collateral,
                        "trigger_tx": trigger,
                        "private": tag.private,
                        "pools": [aave.pool],
                    },
                )
            )
        return out


def _pending_liquidations(pending: list[Pending], pool: str) -> set[str]:
    """Users a pending public transaction liquidates: a ``liquidationCall`` to ``pool`` or a Searcher
    contract's ``liquidate`` (every operator runs the same public bytecode)."""
    out: set[str] = set()
    for p in pending:
        sel = p.data[:4]
        try:
            if p.to == pool and sel == _LIQUIDATION_CALL_SEL:
                out.add(str(decode(["address"] * 3, p.data[4:100])[2]).lower())
            elif sel == _LIQUIDATE_SEL:
                out.add(str(decode(["address"] * 4, p.data[4:132])[3]).lower())
        except Exception:  # not the calldata it looks like: not a liquidation
            continue
    return out


# -- helpers and the population --------------------------------------------------------------------
def _market(env: Env) -> AaveMarket:
    if env.aave is None:
        raise RuntimeError("lending agents need the Aave market (Env(..., aave=load_aave(...)))")
    return env.aave


def _raw_at(usd: float, price_1e8: int, decimals: int) -> int:
    """Raw amount worth ``usd`` at an oracle price."""
    return int(usd * PRICE_ONE * 10**decimals) // price_1e8


FAMILIES: dict[str, tuple[str, ...]] = {"alpha": ("jit-a", "liq-a"), "beta": ("liq-b",)}
"""Funding families of this module's and :mod:`mevgraph.sim.agents.liquidity`'s operators: the
family's funding address deploys their Searcher contracts and sends their EOAs their first ETH."""


def funder_address(seed: int, family: str) -> str:
    """The funding address of an operator family (shared by the operators of the family)."""
    return agent_address(seed, f"funder/{family}")


def searcher_labels(
    agent: Agent, eoas: list[str], contract: str | None, family: str, funder: str
) -> dict[str, dict[str, Any]]:
    """Labels of a searcher's EOAs, contract and family funder (the funder's label is the same
    dict whichever agent of the family writes it)."""
    op = agent.operator
    out: dict[str, dict[str, Any]] = {
        e: {"role": "searcher", "operator": op, "agent": agent.name} for e in eoas
    }
    if contract is not None:
        out[contract] = {"role": "searcher_contract", "operator": op, "agent": agent.name}
    out[funder] = {
        "role": "funder",
        "operator": None,
        "agent": f"funder/{family}",
        "funds": sorted(FAMILIES.get(family, (op or agent.name,))),
    }
    return out


def population(env: Env, seed: int, *, borrowers: int = 60) -> list[Agent]:
    """Borrowers, the oracle (the feeds' owner) and two liquidation operators.

    ``liq-a`` liquidates through a Searcher contract funded by family ``alpha`` (whose funder also
    funds the JIT operator of :mod:`mevgraph.sim.agents.liquidity`) and only when it expects 600
    USD or more; ``liq-b`` uses bare EOAs, sends 30 % of its transactions privately, is content
    with 50 USD, and is funded by family ``beta``.
    """
    aave = _market(env)
    feed = next(iter(aave.feeds.values()))
    owner = "0x" + env.chain.call(feed, encode_call("owner()"))[12:32].hex()
    book = AaveBook(aave)
    return [
        Borrower("borrowers", seed, borrowers),
        Oracle("oracle", seed, owner),
        Liquidator(
            "liquidator-a",
            "liq-a",
            seed,
            book,
            family="alpha",
            use_contract=True,
            bribe_wei=2 * 10**15,
            min_profit_usd=600.0,
        ),
        Liquidator("liquidator-b", "liq-b", seed, book, family="beta", use_contract=False, p_private=0.3),
    ]
