"""Handler registry: dispatch from (selector | topic0) to a protocol handler in O(1).

Each protocol module in :mod:`mevgraph.decode.protocols` registers its handlers here at import
time::

    @REGISTRY.trace("uniswap_v2", "swap(uint256,uint256,address,bytes)")
    def swap_from_trace(ctx: TraceContext, i: int) -> list[Action]: ...

    @REGISTRY.log("uniswap_v2", "Swap(address,uint256,uint256,uint256,uint256,address)")
    def swap_from_log(ctx: LogContext, i: int) -> list[Action]: ...

A key (selector or topic0) can be registered once only: a second registration raises
:class:`DuplicateRegistration` naming both owners, so two protocols can never silently fight
over the same calldata. Protocols that share a selector (e.g. Aave V1/V2/V3
``liquidationCall``) register one handler that tells versions apart by contract address.

Handlers run in two phases per transaction: phase 0 produces balance movements (transfers,
wraps); phase 1 (everything else) may read them through ``ctx.transfers``.
Handlers return a (possibly empty) list of actions and may raise any exception on malformed
input: the decoder turns it into a logged skip of that frame, never a failed block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mevgraph.decode.abi import selector as _selector
from mevgraph.decode.abi import topic as _topic

if TYPE_CHECKING:
    from mevgraph.core.actions import Action
    from mevgraph.decode.context import LogContext, TraceContext

__all__ = ["Registry", "DuplicateRegistration", "Handler", "REGISTRY"]

TraceHandler = Callable[["TraceContext", int], Sequence["Action"]]
LogHandler = Callable[["LogContext", int], Sequence["Action"]]


class DuplicateRegistration(KeyError):
    """A selector or topic was registered twice."""


@dataclass(frozen=True, slots=True)
class Handler:
    protocol: str
    key: str
    signature: str
    phase: int
    fn: Callable[..., Sequence[Any]]


class Registry:
    """Two dicts keyed by 4-byte selector and by topic0, plus a value-transfer hook list."""

    def __init__(self) -> None:
        self.traces: dict[str, Handler] = {}
        self.logs: dict[str, Handler] = {}
        # Handlers for frames independent of calldata (plain ETH value, selfdestruct), by phase.
        self.value_hooks: list[Handler] = []
        self.protocols: set[str] = set()

    @staticmethod
    def _key(sig_or_key: str, make: Callable[[str], str]) -> tuple[str, str]:
        if sig_or_key.startswith("0x"):
            return sig_or_key.lower(), sig_or_key
        return make(sig_or_key), sig_or_key

    def _add(self, table: dict[str, Handler], h: Handler) -> None:
        old = table.get(h.key)
        if old is not None:
            raise DuplicateRegistration(
                f"{h.key} ({h.signature}) registered by {h.protocol!r}, already owned by "
                f"{old.protocol!r} ({old.signature})"
            )
        table[h.key] = h
        self.protocols.add(h.protocol)

    def trace(
        self, protocol: str, signature: str, *, phase: int = 1
    ) -> Callable[[TraceHandler], TraceHandler]:
        """Register a trace handler for a function signature (or a raw ``0x`` selector)."""

        def deco(fn: TraceHandler) -> TraceHandler:
            key, sig = self._key(signature, _selector)
            self._add(self.traces, Handler(protocol, key, sig, phase, fn))
            return fn

        return deco

    def log(self, protocol: str, signature: str, *, phase: int = 1) -> Callable[[LogHandler], LogHandler]:
        """Register a log handler for an event signature (or a raw ``0x`` topic0)."""

        def deco(fn: LogHandler) -> LogHandler:
            key, sig = self._key(signature, _topic)
            self._add(self.logs, Handler(protocol, key, sig, phase, fn))
            return fn

        return deco

    def value_hook(self, protocol: str, *, phase: int = 0) -> Callable[[TraceHandler], TraceHandler]:
        """Register a handler called for every frame that moves ETH or self-destructs."""

        def deco(fn: TraceHandler) -> TraceHandler:
            name = f"{protocol}:{fn.__name__}"
            if any(h.signature == name for h in self.value_hooks):
                raise DuplicateRegistration(f"value hook {name} registered twice")
            self.value_hooks.append(Handler(protocol, "value", name, phase, fn))
            self.protocols.add(protocol)
            return fn

        return deco


REGISTRY = Registry()
"""The default registry every built-in protocol module registers into."""
