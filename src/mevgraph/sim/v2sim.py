"""Exact replay of pending Uniswap-V2 router swaps, as a searcher predicts the next block.

A searcher that sees a victim in the mempool must know the pool's reserves *at the victim's
position in the block*, not at the last block: other pending swaps with higher fees land first.
:func:`predicted_order` gives the node's order (max fee per gas, descending; arrival order among
equals -- the anvil ``--order fees`` rule, see docs/TESTBED.md), :func:`decode_router_swap` reads
a Router02 call, and :class:`V2Book` replays swaps on exact integer reserves (Uniswap V2's
``getAmountOut`` with its 0.3 % fee), saying which would revert on their minimum output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from mevgraph.pricing.amm import get_amount_out
from mevgraph.sim.abi import decode
from mevgraph.sim.agents.base import Pending

__all__ = [
    "RouterSwap",
    "V2Book",
    "decode_router_swap",
    "predicted_order",
    "ROUTER_SWAPS",
]


@dataclass(frozen=True, slots=True)
class RouterSwap:
    """A decoded Router02 exact-input swap: ``amount_in`` of ``path[0]`` for >= ``min_out``."""

    router: str
    path: tuple[str, ...]
    amount_in: int
    min_out: int
    recipient: str
    eth_in: bool
    eth_out: bool


# selector -> (arg types, eth_in, eth_out); only exact-input variants are replayed.
ROUTER_SWAPS: dict[str, tuple[list[str], bool, bool]] = {
    "38ed1739": (
        ["uint256", "uint256", "address[]", "address", "uint256"],
        False,
        False,
    ),  # swapExactTokensForTokens
    "7ff36ab5": (["uint256", "address[]", "address", "uint256"], True, False),  # swapExactETHForTokens
    "18cbafe5": (
        ["uint256", "uint256", "address[]", "address", "uint256"],
        False,
        True,
    ),  # swapExactTokensForETH
}


def decode_router_swap(p: Pending, routers: Iterable[str]) -> RouterSwap | None:
    """The exact-input swap in ``p`` when it calls one of ``routers``, else None."""
    if p.to is None or p.to not in routers or len(p.data) < 4:
        return None
    spec = ROUTER_SWAPS.get(p.data[:4].hex())
    if spec is None:
        return None
    types, eth_in, eth_out = spec
    try:
        args = decode(types, p.data[4:])
    except Exception:  # malformed calldata: the router would revert too
        return None
    if eth_in:
        min_out, path, to, _ = args
        a_in = p.value
    else:
        a_in, min_out, path, to, _ = args
    return RouterSwap(
        p.to, tuple(a.lower() for a in path), int(a_in), int(min_out), str(to).lower(), eth_in, eth_out
    )


def predicted_order(pending: Sequence[Pending]) -> list[Pending]:
    """The order the node will mine ``pending`` in: max fee desc, then arrival."""
    return sorted(pending, key=lambda p: (-p.max_fee, p.seq))


class V2Book:
    """Exact reserves of V2 pairs, updated by replayed swaps.

    ``pair_of(router, token_a, token_b)`` names the pair a router would use (None if none).
    ``reserves[pair] = (token0, r0, r1)``.
    """

    def __init__(
        self,
        reserves: dict[str, tuple[str, int, int]],
        pair_of: Callable[[str, str, str], str | None],
    ) -> None:
        self.reserves = dict(reserves)
        self.pair_of = pair_of

    def copy(self) -> V2Book:
        return V2Book(self.reserves, self.pair_of)

    def quote(self, pair: str, token_in: str, a_in: int) -> int:
        t0, r0, r1 = self.reserves[pair]
        return get_amount_out(a_in, r0, r1) if token_in == t0 else get_amount_out(a_in, r1, r0)

    def swap(self, pair: str, token_in: str, a_in: int) -> int:
        """Apply one exact-input swap on ``pair``; returns the output amount."""
        t0, r0, r1 = self.reserves[pair]
        if token_in == t0:
            out = get_amount_out(a_in, r0, r1)
            self.reserves[pair] = (t0, r0 + a_in, r1 - out)
        else:
            out = get_amount_out(a_in, r1, r0)
            self.reserves[pair] = (t0, r0 - out, r1 + a_in)
        return out

    def pairs_of(self, s: RouterSwap) -> list[str] | None:
        out = []
        for a, b in pairwise(s.path):
            p = self.pair_of(s.router, a, b)
            if p is None or p not in self.reserves:
                return None
            out.append(p)
        return out

    def quote_route(self, s: RouterSwap) -> int | None:
        """What ``s`` would receive now (None if a hop has no known pair)."""
        pairs = self.pairs_of(s)
        if pairs is None:
            return None
        amt = s.amount_in
        for pair, tok in zip(pairs, s.path, strict=False):
            amt = self.quote(pair, tok, amt)
        return amt

    def apply(self, s: RouterSwap) -> bool:
        """Replay ``s``: True and reserves updated, or False (it would revert: min out not met)."""
        out = self.quote_route(s)
        if out is None or out < s.min_out or out <= 0:
            return False
        pairs = self.pairs_of(s)
        assert pairs is not None
        amt = s.amount_in
        for pair, tok in zip(pairs, s.path, strict=False):
            amt = self.swap(pair, tok, amt)
        return True
