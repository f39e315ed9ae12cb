"""Hypothesis properties of the arbitrage detector on synthetic token loops.

- a random closed loop (random tokens and pools, each leg optionally split over parallel pools)
  is detected, with every swap of the loop;
- along a detected loop every non-profit token balances (inflow == outflow within 1 %);
- adding unrelated swaps in other transactions never changes the findings.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mevgraph.detection import arbitrage
from mevgraph.detection.arbitrage import TOLERANCE_PPM
from mevgraph.graph import PropertyGraph

from .test_arbitrage import block_of, swap, tx

TOKENS = [f"0x{i:040x}" for i in range(1, 13)]


@st.composite
def loops(draw: st.DrawFn) -> tuple[list, int]:
    """A closed loop over 2..6 distinct tokens; each leg split over 1..3 pools; positive gain."""
    n = draw(st.integers(2, 6))
    tokens = draw(st.permutations(TOKENS).map(lambda p: p[:n]))
    start = draw(st.integers(10**6, 10**24))
    gain_ppm = draw(st.integers(1, 200_000))
    swaps, pos, amount = [], 0, start
    for leg in range(n):
        t_in, t_out = tokens[leg], tokens[(leg + 1) % n]
        parts = draw(st.integers(1, 3))
        weights = draw(st.lists(st.integers(1, 100), min_size=parts, max_size=parts))
        out_total = (
            start * (1_000_000 + gain_ppm) // 1_000_000 if leg == n - 1 else draw(st.integers(10**3, 10**24))
        )
        ins = [amount * w // sum(weights) for w in weights]
        ins[-1] += amount - sum(ins)
        outs = [out_total * w // sum(weights) for w in weights]
        outs[-1] += out_total - sum(outs)
        for k in range(parts):
            swaps.append(swap("0xarb", 5, (pos,), t_in, ins[k], t_out, outs[k], f"0xpool{leg}_{k}"))
            pos += 1
        amount = out_total
    return swaps, n


def _detect(actions: list, extra_txs: list | None = None) -> list:
    txs = [tx("0xarb", 5, "0xeoa", "0xbotc"), *(extra_txs or [])]
    return arbitrage.DETECTOR.detect(
        PropertyGraph.build([block_of(sorted(txs, key=lambda m: m.index), actions)])
    )


_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(loops())
def test_synthetic_loop_detected_with_all_swaps(loop: tuple[list, int]) -> None:
    swaps, _ = loop
    [c] = _detect(swaps)
    assert len(c.action_ids) == len(swaps)
    assert c.details["loop_profit"] > 0


@_SETTINGS
@given(loops())
def test_detected_loop_balances_except_profit_token(loop: tuple[list, int]) -> None:
    swaps, _ = loop
    [c] = _detect(swaps)
    produced: dict[str, int] = {}
    consumed: dict[str, int] = {}
    for i in c.details["swaps"]:
        s = swaps[i]
        produced[s.token_out] = produced.get(s.token_out, 0) + s.amount_out
        consumed[s.token_in] = consumed.get(s.token_in, 0) + s.amount_in
    for t in produced.keys() | consumed.keys():
        if t == c.details["profit_token"]:
            assert produced[t] - consumed[t] == c.details["loop_profit"]
            continue
        p, q = produced.get(t, 0), consumed.get(t, 0)
        assert abs(p - q) * 1_000_000 <= TOLERANCE_PPM * max(p, q)


@st.composite
def noise(draw: st.DrawFn) -> tuple[list, list]:
    """1..6 unrelated txs (other senders) with 1..3 random swaps each, before and after the arb."""
    txs, actions = [], []
    indices = draw(st.lists(st.integers(0, 20).filter(lambda i: i != 5), min_size=1, max_size=6, unique=True))
    for i in indices:
        h = f"0xn{i}"
        txs.append(tx(h, i, f"0xuser{i}", "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"))
        for k in range(draw(st.integers(1, 3))):
            a, b = draw(st.permutations(TOKENS).map(lambda p: p[:2]))
            actions.append(
                swap(
                    h,
                    i,
                    (k,),
                    a,
                    draw(st.integers(1, 10**20)),
                    b,
                    draw(st.integers(1, 10**20)),
                    f"0xq{i}_{k}",
                )
            )
    return txs, actions


def _key(cands: list) -> list:
    return [
        (c.attacker_txs, c.kind, c.status, c.pools, c.details["profit_token"], c.details["loop_profit"])
        for c in cands
    ]


@_SETTINGS
@given(loops(), noise())
def test_unrelated_swaps_in_other_txs_do_not_change_findings(
    loop: tuple[list, int], extra: tuple[list, list]
) -> None:
    swaps, _ = loop
    extra_txs, extra_actions = extra
    base = _key(_detect(swaps))
    # Noise swaps with a loop of their own inside one tx could be an arbitrage of that tx: compare
    # only the findings of the arbitrage tx.
    with_noise = [k for k in _key(_detect(swaps + extra_actions, extra_txs)) if k[0] == ("0xarb",)]
    assert with_noise == base
