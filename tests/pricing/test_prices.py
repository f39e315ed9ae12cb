"""USD prices derived on-chain from a block's own swaps, static and chained sources."""

from __future__ import annotations

import pytest

from mevgraph.core.actions import ActionSource, Swap
from mevgraph.core.types import ETH, Address, TxHash
from mevgraph.graph import PropertyGraph
from mevgraph.pricing.sources import ChainedSource, OnChainPrices, StaticPrices

from ..conftest import decoded_fixture

E18 = 10**18
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
DAI = "0x6b175474e89094c44da98b954eedeac495271d0f"
TOK = "0x1f9840a85d5af5bf1d1762f925bdaddc4201f984"  # UNI, 18 decimals


def _swap(
    tin: str, ain: int, tout: str, aout: int, block: int = 100, reserves: tuple[int, int] | None = None
) -> Swap:
    return Swap(
        chain_id=1,
        block_number=block,
        tx_hash=TxHash("0x" + "ab" * 32),
        tx_index=0,
        protocol="uniswap_v2",
        source=ActionSource.LOG,
        log_index=0,
        pool=Address("0x" + "22" * 20),
        sender=Address("0x" + "11" * 20),
        recipient=Address("0x" + "11" * 20),
        token_in=Address(tin),
        amount_in=ain,
        token_out=Address(tout),
        amount_out=aout,
        reserves_after=reserves,
    )


def _prices(*swaps: Swap) -> OnChainPrices:
    by: dict[tuple[int, int], list[Swap]] = {}
    for s in swaps:
        by.setdefault((1, s.block_number), []).append(s)
    return OnChainPrices.from_swaps(by)


def test_eth_price_from_stablecoin_swaps() -> None:
    p = _prices(_swap(WETH, 2 * E18, USDC, 4_000 * 10**6), _swap(DAI, 2010 * E18, WETH, E18))
    eth = p.usd_per_unit(1, ETH, 100)
    assert eth is not None and eth * E18 == pytest.approx(2000, rel=0.01)
    assert p.usd_per_unit(1, WETH, 100) == eth
    assert p.usd_per_unit(1, USDC, 100) == pytest.approx(1e-6)
    assert p.usd_per_unit(1, DAI, 100) == pytest.approx(1e-18)


def test_token_priced_through_weth_volume_weighted_median() -> None:
    p = _prices(
        _swap(WETH, 10 * E18, USDC, 20_000 * 10**6),
        _swap(WETH, 5 * E18, TOK, 1000 * E18),  # 0.005 ETH/UNI, big
        _swap(TOK, 100 * E18, WETH, E18 // 100),  # 0.0001 ETH/UNI, small: outvoted
        _swap(WETH, 3 * E18, TOK, 600 * E18),  # 0.005
    )
    uni = p.usd_per_unit(1, TOK, 100)
    assert uni is not None and uni * E18 == pytest.approx(10.0, rel=0.01)


def test_dust_and_single_small_swap_are_ignored() -> None:
    p = _prices(_swap(WETH, 10 * E18, USDC, 20_000 * 10**6), _swap(WETH, E18 // 20, TOK, 10 * E18))
    assert p.usd_per_unit(1, TOK, 100) is None
    assert p.why_unpriced(1, TOK, 100) == f"no on-chain price for {TOK} in block 100"


def test_thin_pool_is_ignored() -> None:
    thin = _swap(WETH, E18, TOK, 100 * E18, reserves=(E18 // 2, 50 * E18))
    p = _prices(_swap(WETH, 10 * E18, USDC, 20_000 * 10**6), thin)
    assert p.usd_per_unit(1, TOK, 100) is None


def test_eth_price_outside_sanity_range_rejected() -> None:
    p = _prices(_swap(WETH, E18, USDC, 10**6 * 10**6))  # $1M per ETH
    assert p.usd_per_unit(1, ETH, 100) is None
    assert "no usable WETH/stablecoin swap" in p.why_unpriced(1, ETH, 100)


def test_depegged_stablecoin_priced_from_its_swaps() -> None:
    p = _prices(
        _swap(WETH, 10 * E18, USDC, 20_000 * 10**6),
        _swap(WETH, 10 * E18, DAI, 20_100 * E18),
        _swap(WETH, 10 * E18, USDT, 30_000 * 10**6),  # USDT at $0.67: depegged
    )
    usdt = p.usd_per_unit(1, USDT, 100)
    assert usdt is not None and usdt * 10**6 == pytest.approx(0.67, rel=0.02)
    assert p.usd_per_unit(1, USDC, 100) == pytest.approx(1e-6)


def test_fallback_to_nearest_earlier_block() -> None:
    p = _prices(
        _swap(WETH, E18, USDC, 1_000 * 10**6, block=90),
        _swap(WETH, E18, USDC, 3_000 * 10**6, block=95),
        _swap(WETH, E18, TOK, 100 * E18, block=100),
    )
    eth = p.usd_per_unit(1, ETH, 100)
    assert eth is not None and eth * E18 == pytest.approx(3000)
    tok = p.usd_per_unit(1, TOK, 100)
    assert tok is not None and tok * E18 == pytest.approx(30)
    assert p.usd_per_unit(1, ETH, 80) is None  # never from a later block
    assert p.usd_per_unit(10, ETH, 100) is None
    assert "chain 10" in p.why_unpriced(10, ETH, 100)


def test_static_and_chained_sources() -> None:
    static = StaticPrices.per_token(1, {WETH: (2500.0, 18), TOK: (7.0, 18)})
    assert static.usd_per_unit(1, ETH, 1) == pytest.approx(2500 / E18)  # ETH == WETH
    onchain = _prices(_swap(WETH, E18, USDC, 3_000 * 10**6))
    chained = ChainedSource([onchain, static])
    assert chained.usd_per_unit(1, ETH, 100) == pytest.approx(3000 / E18)
    assert chained.usd_per_unit(1, TOK, 100) == pytest.approx(7 / E18)
    assert chained.usd_per_unit(1, "0x" + "99" * 20, 100) is None
    assert "no static price" in chained.why_unpriced(1, "0x" + "99" * 20, 100)


def test_real_blocks_eth_price_in_plausible_range(block_names: list[str]) -> None:
    """ETH/USD derived from the blocks' own swaps: July 2021 ≈ $2,000–2,400, Jun 2022 ≈ $1,100."""
    expected = {"12775690": (1900, 2600), "12914944": (2000, 2600), "15049646": (900, 1400)}
    for name, (lo, hi) in expected.items():
        d = decoded_fixture(name)
        p = OnChainPrices.from_graph(PropertyGraph.build([d]))
        eth = p.usd_per_unit(1, ETH, d.number)
        assert eth is not None, p.why_unpriced(1, ETH, d.number)
        assert lo <= eth * E18 <= hi, (name, eth * E18)


def test_real_block_without_stablecoin_swaps_is_unpriced_with_reason(block_names: list[str]) -> None:
    """Block 13404932 has WETH swaps but none against USDC/USDT/DAI: no ETH price, said so."""
    d = decoded_fixture("13404932")
    p = OnChainPrices.from_graph(PropertyGraph.build([d]))
    assert p.usd_per_unit(1, ETH, d.number) is None
    assert "no usable WETH/stablecoin swap" in p.why_unpriced(1, WETH, d.number)


def test_eth_price_through_a_cross_token_when_no_direct_stable_swap() -> None:
    """WETH->TOK and TOK->USDT in one block (no WETH/stable swap) still give ETH/USD."""
    p = _prices(_swap(WETH, 2 * E18, TOK, 400 * E18), _swap(TOK, 400 * E18, USDT, 4_000 * 10**6))
    eth = p.usd_per_unit(1, ETH, 100)
    assert eth is not None and eth * E18 == pytest.approx(2000, rel=0.01)


def test_fallback_is_bounded_in_age() -> None:
    p = _prices(
        _swap(WETH, E18, USDC, 3_000 * 10**6, block=100), _swap(WETH, E18, TOK, 100 * E18, block=200_000)
    )
    assert p.usd_per_unit(1, ETH, 40_000) is not None
    assert p.usd_per_unit(1, ETH, 200_000) is None
