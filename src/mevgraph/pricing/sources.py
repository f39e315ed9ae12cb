"""USD prices per raw token unit, derived on-chain from the blocks' own swaps.

A :class:`PriceSource` answers ``usd_per_unit(chain_id, token, block_number)``: USD per *raw base
unit* (so ``amount × price`` is USD without knowing the token's decimals), or None -- and then
``why_unpriced`` says why. Sources:

:class:`OnChainPrices` (``from_graph``), per block:
    1. **WETH in USD** from the block's WETH↔stablecoin swaps (USDC/USDT 6 decimals, DAI 18 --
       known constants, so raw ratios suffice): volume-weighted median (weight = WETH leg) per
       stablecoin; the ETH price is the weighted median over these three, rejected outside
       [$10, $100,000]. Without such a swap, a token traded both against WETH and against a
       stablecoin in the block bridges the two (WETH→WBTC, WBTC→USDT). ETH == WETH.
    2. **Stablecoins** (the three above plus BUSD, TUSD, sUSD, USDP, GUSD, LUSD, FRAX) are
       $1 × 10^-decimals, unless their own implied ETH price deviates more than 5 % from the
       primary ones' (a depeg): then they are priced like any token.
    3. **Other tokens** in wei per raw unit from swaps against WETH (then, second hop, against
       any token priced in step 3 or a stablecoin): volume-weighted median, a swap counting only
       if its priced leg is worth ≥ 0.001 ETH, and a token priced by one swap only if that swap
       is worth ≥ 0.1 ETH (a single dust trade on a thin pool says nothing). Swaps on pools whose
       known reserves hold < 1 ETH of the priced leg are ignored as thin.
    4. Fallback to the nearest *earlier* block of the same chain in the graph, at most
       ``MAX_FALLBACK_BLOCKS`` (~1 week on mainnet) back; never a later block.

:class:`StaticPrices`: fixed prices (tests, or a user's own feed). :class:`ChainedSource`: the
first source that has a price wins; reasons are joined.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from mevgraph.core.actions import Swap
from mevgraph.core.types import ETH

if TYPE_CHECKING:
    from mevgraph.graph.tables import PropertyGraph

__all__ = [
    "PriceSource",
    "StaticPrices",
    "ChainedSource",
    "OnChainPrices",
    "WETH",
    "STABLECOINS",
    "PRIMARY_STABLES",
    "ETH_USD_RANGE",
]

WETH: dict[int, str] = {1: "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"}
"""Wrapped native token per chain."""

STABLECOINS: dict[int, dict[str, int]] = {
    1: {
        "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48": 6,  # USDC
        "0xdac17f958d2ee523a2206206994597c13d831ec7": 6,  # USDT
        "0x6b175474e89094c44da98b954eedeac495271d0f": 18,  # DAI
        "0x4fabb145d64652a948d72533023f6e7a623c7c53": 18,  # BUSD
        "0x0000000000085d4780b73119b644ae5ecd22b376": 18,  # TUSD
        "0x57ab1ec28d129707052df4df418d58a2d46d5f51": 18,  # sUSD
        "0x8e870d67f660d95d5be530380d0ec0bd388289e1": 18,  # USDP (PAX)
        "0x056fd409e1d7a124bd7017459dfea2f387b6d5cd": 2,  # GUSD
        "0x5f98805a4e8be255a32880fdec7f6728c6568ba0": 18,  # LUSD
        "0x853d955acef822db058eb8505911ed77f175b99e": 18,  # FRAX
    }
}
"""USD stablecoins per chain and their decimals (constants of the token contracts)."""

PRIMARY_STABLES: dict[int, frozenset[str]] = {
    1: frozenset(
        {
            "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
            "0xdac17f958d2ee523a2206206994597c13d831ec7",
            "0x6b175474e89094c44da98b954eedeac495271d0f",
        }
    )
}
"""The deep stablecoins that set ETH/USD; the others are only checked against it for a depeg."""

ETH_USD_RANGE = (10.0, 100_000.0)
DUST_WEI = 10**15  # a swap's priced leg below 0.001 ETH is ignored
SINGLE_SWAP_MIN_WEI = 10**17  # a token priced by one swap only needs >= 0.1 ETH of it
THIN_POOL_WEI = 10**18  # pools holding < 1 ETH of the priced leg are ignored
DEPEG_TOLERANCE = 0.05
MAX_FALLBACK_BLOCKS = 50_000  # ~1 week of mainnet blocks: older prices are not used


class PriceSource(Protocol):
    """USD per raw base unit of ``token`` at ``block_number``; None with a reason when unknown."""

    def usd_per_unit(self, chain_id: int, token: str, block_number: int) -> float | None: ...

    def why_unpriced(self, chain_id: int, token: str, block_number: int) -> str: ...


@dataclass(frozen=True, slots=True)
class StaticPrices:
    """Fixed USD prices per raw unit, keyed by ``(chain_id, token)``; same at every block."""

    prices: Mapping[tuple[int, str], float]

    @classmethod
    def per_token(cls, chain_id: int, usd_and_decimals: Mapping[str, tuple[float, int]]) -> StaticPrices:
        """From USD per whole token and the token's decimals, e.g. ``{WETH: (2000.0, 18)}``."""
        return cls({(chain_id, t.lower()): usd / 10**dec for t, (usd, dec) in usd_and_decimals.items()})

    def usd_per_unit(self, chain_id: int, token: str, block_number: int) -> float | None:
        p = self.prices.get((chain_id, token))
        if p is None and token == ETH:
            p = self.prices.get((chain_id, WETH.get(chain_id, "")))
        return p

    def why_unpriced(self, chain_id: int, token: str, block_number: int) -> str:
        return f"no static price for {token}"


@dataclass(frozen=True, slots=True)
class ChainedSource:
    """The first of ``sources`` that prices a token wins."""

    sources: Sequence[PriceSource]

    def usd_per_unit(self, chain_id: int, token: str, block_number: int) -> float | None:
        for s in self.sources:
            p = s.usd_per_unit(chain_id, token, block_number)
            if p is not None:
                return p
        return None

    def why_unpriced(self, chain_id: int, token: str, block_number: int) -> str:
        return "; ".join(s.why_unpriced(chain_id, token, block_number) for s in self.sources)


def _wmedian(samples: list[tuple[float, float]]) -> float:
    """Weighted median of (value, weight) pairs."""
    samples.sort()
    half = sum(w for _, w in samples) / 2
    acc = 0.0
    for v, w in samples:
        acc += w
        if acc >= half:
            return v
    return samples[-1][0]


@dataclass(slots=True)
class _BlockPrices:
    eth_usd: float | None
    wei_per_unit: dict[str, float]  # excludes WETH/ETH and stablecoins at peg
    depegged: set[str]


@dataclass(slots=True)
class OnChainPrices:
    """Prices per (chain, block) derived from swaps; see the module docstring."""

    blocks: dict[tuple[int, int], _BlockPrices] = field(default_factory=dict)
    _numbers: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def from_graph(cls, graph: PropertyGraph) -> OnChainPrices:
        by_block: dict[tuple[int, int], list[Swap]] = {}
        for d in graph.decoded:
            key = (d.block.chain_id, d.block.number)
            lst = by_block.setdefault(key, [])
            lst.extend(a for a in d.actions if isinstance(a, Swap))
        return cls.from_swaps(by_block)

    @classmethod
    def from_swaps(cls, by_block: Mapping[tuple[int, int], Iterable[Swap]]) -> OnChainPrices:
        out = cls()
        for (chain, number), swaps in by_block.items():
            out.blocks[(chain, number)] = _derive(chain, list(swaps))
            out._numbers.setdefault(chain, []).append(number)
        for nums in out._numbers.values():
            nums.sort()
        return out

    def _earlier(self, chain_id: int, block_number: int) -> Iterable[_BlockPrices]:
        """This block's prices, then earlier blocks', nearest first."""
        nums = self._numbers.get(chain_id, [])
        for j in range(bisect.bisect_right(nums, block_number) - 1, -1, -1):
            if nums[j] < block_number - MAX_FALLBACK_BLOCKS:
                return
            yield self.blocks[(chain_id, nums[j])]

    def _lookup(self, chain_id: int, token: str, block_number: int) -> float | None:
        eth_usd = next((b.eth_usd for b in self._earlier(chain_id, block_number) if b.eth_usd), None)
        if token in (ETH, WETH.get(chain_id)):
            return eth_usd / 1e18 if eth_usd is not None else None
        dec = STABLECOINS.get(chain_id, {}).get(token)
        for b in self._earlier(chain_id, block_number):
            if dec is not None and token not in b.depegged:
                return 10.0**-dec
            w = b.wei_per_unit.get(token)
            if w is not None:
                return w * eth_usd / 1e18 if eth_usd is not None else None
        return None

    def usd_per_unit(self, chain_id: int, token: str, block_number: int) -> float | None:
        return self._lookup(chain_id, token, block_number)

    def why_unpriced(self, chain_id: int, token: str, block_number: int) -> str:
        if chain_id not in WETH:
            return f"no on-chain price for {token} in block {block_number} (chain {chain_id} has no WETH/stablecoin table)"
        bp = self.blocks.get((chain_id, block_number))
        if (
            bp is not None
            and bp.eth_usd is None
            and not any(b.eth_usd for (c, n), b in self.blocks.items() if c == chain_id and n < block_number)
        ):
            return f"no on-chain price for {token} in block {block_number} (no usable WETH/stablecoin swap)"
        return f"no on-chain price for {token} in block {block_number}"


@dataclass(frozen=True, slots=True)
class _Limits:
    """Liquidity thresholds in the quote unit (wei or USD)."""

    dust: float
    single_min: float
    thin_pool: float


_WEI_LIMITS = _Limits(DUST_WEI, SINGLE_SWAP_MIN_WEI, THIN_POOL_WEI)
_USD_LIMITS = _Limits(2.0, 200.0, 2_000.0)


def _quote(swaps: Sequence[Swap], known: Mapping[str, float], lim: _Limits) -> dict[str, tuple[float, float]]:
    """One hop: price (in ``known``'s unit) and volume of every token traded against a known one."""
    samples: dict[str, list[tuple[float, float]]] = {}
    tok: str
    for s in swaps:
        if s.amount_in <= 0 or s.amount_out <= 0:
            continue
        pin, pout = known.get(s.token_in), known.get(s.token_out)
        if pin is not None and pout is None:
            tok, amt, leg, qp, side = s.token_out, s.amount_out, s.amount_in * pin, pin, 0
        elif pout is not None and pin is None:
            tok, amt, leg, qp, side = s.token_in, s.amount_in, s.amount_out * pout, pout, 1
        else:
            continue
        if leg < lim.dust:
            continue
        # reserves_after is (token_in, token_out); the quote token's reserve must not be thin.
        if s.reserves_after is not None and s.reserves_after[side] * qp < lim.thin_pool:
            continue
        samples.setdefault(tok, []).append((leg / amt, leg))
    out: dict[str, tuple[float, float]] = {}
    for tok, smp in samples.items():
        vol = sum(w for _, w in smp)
        if len(smp) == 1 and vol < lim.single_min:
            continue
        out[tok] = (_wmedian(smp), vol)
    return out


def _derive(chain: int, swaps: list[Swap]) -> _BlockPrices:
    weth = WETH.get(chain)
    stables = STABLECOINS.get(chain, {})
    if weth is None:
        return _BlockPrices(None, {}, set())
    lo, hi = ETH_USD_RANGE
    # Step 1: ETH/USD per stablecoin from its wei price; fallback through a token priced both in
    # WETH and in stablecoins in this block (e.g. WETH->WBTC and WBTC->USDT).
    hop1 = _quote(swaps, {weth: 1.0}, _WEI_LIMITS)
    primary = PRIMARY_STABLES.get(chain, frozenset())
    estimates: dict[str, tuple[float, float]] = {}
    for st, dec in stables.items():
        if st in hop1:
            wei_p, vol = hop1[st]
            est = 10.0**-dec * 1e18 / wei_p
            if lo <= est <= hi:
                estimates[st] = (est, vol)
    main = [e for st, e in estimates.items() if st in primary]
    eth_usd = _wmedian(main) if main else None
    if eth_usd is None:
        in_usd = _quote(swaps, {st: 10.0**-dec for st, dec in stables.items()}, _USD_LIMITS)
        cross = [
            (in_usd[t][0] / hop1[t][0] * 1e18, min(in_usd[t][1], hop1[t][1] * 2_000 / 1e18))
            for t in hop1.keys() & in_usd.keys()
        ]
        cross = [(e, w) for e, w in cross if lo <= e <= hi]
        eth_usd = _wmedian(cross) if cross else None
    # Step 2: stablecoins at peg unless their own ETH price disagrees with the others' (depeg).
    # Without an ETH price here, token prices in wei still serve with an earlier block's ETH price.
    depegged: set[str] = set()
    known: dict[str, float] = {weth: 1.0}
    if eth_usd is not None:
        # A primary stablecoin is judged only when another primary one gives a second opinion.
        depegged = {
            st
            for st, (est, _) in estimates.items()
            if (st not in primary or len(main) > 1) and abs(est / eth_usd - 1) > DEPEG_TOLERANCE
        }
        known.update({st: 10.0**-dec * 1e18 / eth_usd for st, dec in stables.items() if st not in depegged})
    # Step 3: tokens against WETH or a pegged stablecoin, then one more hop.
    derived: dict[str, float] = {}
    for _hop in range(2):
        new = {t: p for t, (p, _) in _quote(swaps, known, _WEI_LIMITS).items()}
        if not new:
            break
        derived.update(new)
        known.update(new)
    return _BlockPrices(eth_usd, derived, depegged)
