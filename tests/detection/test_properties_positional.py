"""Hypothesis properties of the sandwich detector over synthetic blocks.

A block holds planted sandwiches (distinct attackers and pools; one or more fronts, victims and
backs each; "Big Mac" fronts interleaved with victims; attackers that are a bot contract or an EOA
calling the pool) merged in any interleaving, plus unrelated traffic (one-off senders through a
router, on other pools) inserted anywhere. Properties:

(a) findings are unchanged when unrelated txs are added and shuffled (tx_index renumbered);
(b) in every finding every front precedes every back and every victim lies between the first
    front and the first back;
(c) every planted sandwich is found, with exactly its fronts, victims and backs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mevgraph.detection.sandwich import DETECTOR
from tests.detection.test_sandwich import (
    ROUTER,
    USDC,
    WETH,
    addr,
    decoded,
    graph_of,
    sandwich_is_well_formed,
    swap,
    tx,
)

BN = 5000
DAI = "0x6b175474e89094c44da98b954eedeac495271d0f"
NOISE_POOLS = (addr(0xA001), addr(0xA002), addr(0xA003))
AMOUNT = st.integers(min_value=1, max_value=10**24)


@dataclass(frozen=True)
class TxSpec:
    hash: str
    from_: str
    to: str
    swaps: tuple[tuple[str, str, int, str, int], ...]  # (pool, token_in, amount_in, token_out, amount_out)


@dataclass(frozen=True)
class Planted:
    txs: tuple[TxSpec, ...]  # in block order
    fronts: tuple[str, ...]
    victims: tuple[str, ...]
    backs: tuple[str, ...]


def _hash(tag: int) -> str:
    return f"0x{tag:064x}"


@st.composite
def planted(draw: st.DrawFn, k: int) -> Planted:
    pool = addr(0xB000 + k)
    eoa, bot = addr(0xE000 + k), addr(0xC000 + k)
    direct = draw(st.booleans())  # the attacker EOA calls the pool itself
    to = pool if direct else bot
    x, y = draw(st.sampled_from([(WETH, USDC), (USDC, WETH)]))
    n_f = draw(st.integers(1, 3))
    n_v = draw(st.integers(1, 5))
    n_b = draw(st.integers(1, 2))
    tag = 10_000 * (k + 1)
    fronts = []
    bought = 0
    for i in range(n_f):
        a_in, a_out = draw(AMOUNT), draw(AMOUNT)
        bought += a_out
        fronts.append(TxSpec(_hash(tag + i), eoa, to, ((pool, x, a_in, y, a_out),)))
    victims = [
        TxSpec(
            _hash(tag + 100 + i),
            addr(0xD0000 + 100 * k + i),
            ROUTER,
            ((pool, x, draw(AMOUNT), y, draw(AMOUNT)),),
        )
        for i in range(n_v)
    ]
    # backs sell exactly what the fronts bought, split over n_b txs
    cuts = sorted(draw(st.lists(st.integers(0, bought), min_size=n_b - 1, max_size=n_b - 1)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, bought], strict=True)]
    backs = [
        TxSpec(_hash(tag + 200 + i), eoa, to, ((pool, y, parts[i], x, draw(AMOUNT)),)) for i in range(n_b)
    ]
    rest = fronts[1:] + victims
    draw(st.randoms(use_true_random=False)).shuffle(rest)
    order = [fronts[0], *rest, *backs]
    return Planted(
        txs=tuple(order),
        fronts=tuple(t.hash for t in order if t in fronts),
        victims=tuple(t.hash for t in order if t in victims),
        backs=tuple(t.hash for t in backs),
    )


@st.composite
def noise(draw: st.DrawFn) -> list[TxSpec]:
    out = []
    for i in range(draw(st.integers(0, 12))):
        swaps = []
        for _ in range(draw(st.integers(1, 2))):
            t_in, t_out = draw(st.sampled_from([(WETH, USDC), (USDC, WETH), (WETH, DAI), (DAI, WETH)]))
            pool = draw(st.sampled_from(NOISE_POOLS))
            swaps.append((pool, t_in, draw(AMOUNT), t_out, draw(AMOUNT)))
        out.append(TxSpec(_hash(900_000 + i), addr(0xF0000 + i), ROUTER, tuple(swaps)))
    return out


def _merge(seqs: list[list[TxSpec]], rnd: random.Random) -> list[TxSpec]:
    """A random interleaving that keeps each sequence's own order."""
    seqs = [list(s) for s in seqs if s]
    out: list[TxSpec] = []
    while seqs:
        s = rnd.choice(seqs)
        out.append(s.pop(0))
        if not s:
            seqs.remove(s)
    return out


def _block(specs: list[TxSpec]):
    txs, acts = [], []
    for i, t in enumerate(specs):
        txs.append(tx(BN, i, t.from_, t.to, hash_=t.hash))
        for j, (pool, t_in, a_in, t_out, a_out) in enumerate(t.swaps):
            acts.append(swap(BN, i, pool, t_in, a_in, t_out, a_out, ta=(j,), hash_=t.hash))
    return graph_of(decoded(BN, txs, acts))


def _summary(cands) -> set:
    return {(c.frontrun_txs, c.victim_txs, c.backrun_txs, c.pools, c.searcher, c.contract) for c in cands}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sandwiches=st.integers(1, 3).flatmap(lambda n: st.tuples(*[planted(k) for k in range(n)])),
    extra=noise(),
    rnd=st.randoms(use_true_random=False),
)
def test_planted_sandwiches_found_and_stable_under_unrelated_traffic(sandwiches, extra, rnd) -> None:
    base_specs = _merge([list(p.txs) for p in sandwiches], rnd)
    base = _block(base_specs)
    found = DETECTOR.detect(base)

    # (c) every planted sandwich is found exactly
    got = {(c.frontrun_txs, c.victim_txs, c.backrun_txs) for c in found}
    for p in sandwiches:
        assert (p.fronts, p.victims, p.backs) in got
    assert len(found) == len(sandwiches)

    # (b) order invariant
    for c in found:
        sandwich_is_well_formed(base, c)

    # (a) unrelated traffic, shuffled among itself and spread anywhere, changes nothing
    shuffled = list(extra)
    rnd.shuffle(shuffled)
    noisy = _block(_merge([base_specs, shuffled], rnd))
    noisy_found = DETECTOR.detect(noisy)
    assert _summary(noisy_found) == _summary(found)
    for c in noisy_found:
        sandwich_is_well_formed(noisy, c)
