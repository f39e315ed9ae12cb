"""Pool identity and per-transaction token-flow helpers shared by the DEX decoders.

**Pool identity.** Uniswap V2 pairs and V3 pools (and their forks) are deployed with CREATE2 by a
factory, so a pool's address is a pure function of its factory, its tokens (and V3 fee) and the
factory's init-code hash::

    address = keccak(0xff ++ factory ++ salt ++ init_code_hash)[12:]
    V2 salt = keccak(token0 ++ token1)                       (packed, 20 bytes each)
    V3 salt = keccak(abi.encode(token0, token1, uint24 fee))  (three 32-byte words)

Recomputing the address for every known factory tells which DEX a pool belongs to without any
RPC call (a fork with its own factory gets its own name, an unknown factory is a "fork"), and for
V3 it also gives the fee tier. Results are cached per pool: these facts never change.

**Token flows.** A swap frame rarely says which token it received: Uniswap V2 pairs are paid
*before* ``swap`` is called, by an ERC20 ``transfer``/``transferFrom`` whose recipient is the pair.
:func:`frame_token_transfers` indexes those calls once per transaction (one pass over the frames,
selector comparison only) so that every decoder can ask "what came into this pool since frame
``j``"; :func:`log_token_transfers` does the same for ERC20 ``Transfer`` events in logs-only mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from mevgraph.core.types import Address
from mevgraph.decode.abi import keccak_hex
from mevgraph.decode.context import LogContext, TraceContext

__all__ = [
    "V2Factory",
    "V2_FACTORIES",
    "V3_FACTORIES",
    "V3_FEES",
    "create2_address",
    "v2_pair_address",
    "v3_pool_address",
    "identify_v2",
    "identify_v3",
    "register_v2_factory",
    "register_v3_factory",
    "sort_tokens",
    "TokenMove",
    "frame_token_transfers",
    "own_calls",
    "log_token_transfers",
    "remember_pool_tokens",
    "pool_tokens",
    "clear_pool_caches",
    "SEL_TRANSFER",
    "SEL_TRANSFER_FROM",
    "SEL_BALANCE_OF",
    "TOPIC_TRANSFER",
]

SEL_TRANSFER = "0xa9059cbb"  # transfer(address,uint256)
SEL_TRANSFER_FROM = "0x23b872dd"  # transferFrom(address,address,uint256)
SEL_BALANCE_OF = "0x70a08231"  # balanceOf(address)
TOPIC_TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


@dataclass(frozen=True, slots=True)
class V2Factory:
    """A constant-product factory: pairs it deploys are named ``protocol`` and charge ``fee_ppm``."""

    protocol: str
    factory: str
    init_code_hash: str
    fee_ppm: int


# Factory addresses and init-code hashes as published by each project (and cross-checked against
# pairs seen in real blocks, see tests/decode/test_dex_decoders.py).
V2_FACTORIES: dict[int, tuple[V2Factory, ...]] = {
    1: (
        V2Factory(
            "uniswap_v2",
            "0x5c69bee701ef814a2b6a3edd4b1652cb9cc5aa6f",
            "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f",
            3000,
        ),
        V2Factory(
            "sushiswap",
            "0xc0aee478e3658e2610c5f7a4a2e1777ce9e4f2ac",
            "0xe18a34eb0e04b04f7a0ac29a6e80748dca96319b42c54d679cb821dca90c6303",
            3000,
        ),
        V2Factory(
            "shibaswap",
            "0x115934131916c8b277dd010ee02de363c09d037c",
            "0x65d1a3b1e46c6e4f1be1ad5f99ef14dc488ae0549dc97db9b30afe2241ce1c7a",
            3000,
        ),
        V2Factory(
            "pancakeswap_v2",
            "0x1097053fd2ea711dad45caccc45eff7548fcb362",
            "0x57224589c67f3f30a6b0d7a1b54cf3153ab84563bc609ef41dfb34f8b2974d2d",
            2500,
        ),
    ),
}

# (protocol, factory/deployer, init-code hash); Uniswap V3's canonical deployment.
V3_FACTORIES: dict[int, tuple[tuple[str, str, str], ...]] = {
    1: (
        (
            "uniswap_v3",
            "0x1f98431c8ad98523631ae4a59f267346ea31f984",
            "0xe34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54",
        ),
    ),
}
V3_FEES: tuple[int, ...] = (100, 500, 3000, 10000)


def create2_address(deployer: str, salt: str, init_code_hash: str) -> Address:
    """CREATE2 address from ``0x`` hex inputs.

    >>> create2_address("0x" + "00" * 20, "0x" + "00" * 32, "0x" + "00" * 32)[:10]
    '0xffc4f52f'
    """
    data = bytes.fromhex("ff" + deployer[2:] + salt[2:] + init_code_hash[2:])
    return Address("0x" + keccak_hex(data)[-40:])


def sort_tokens(a: str, b: str) -> tuple[str, str]:
    """Uniswap orders a pair's tokens by numeric address value (lowercase hex sorts the same)."""
    return (a, b) if a < b else (b, a)


def v2_pair_address(factory: str, token0: str, token1: str, init_code_hash: str) -> Address:
    salt = keccak_hex(bytes.fromhex(token0[2:] + token1[2:]))
    return create2_address(factory, salt, init_code_hash)


def v3_pool_address(deployer: str, token0: str, token1: str, fee: int, init_code_hash: str) -> Address:
    salt = keccak_hex(bytes.fromhex(token0[2:].rjust(64, "0") + token1[2:].rjust(64, "0") + f"{fee:064x}"))
    return create2_address(deployer, salt, init_code_hash)


def register_v2_factory(
    chain_id: int, protocol: str, factory: str, init_code_hash: str, fee_ppm: int
) -> None:
    """Name the pairs of one more V2-style factory on ``chain_id`` (e.g. a local testbed's own
    deployment, :meth:`mevgraph.sim.world.World.register_protocols`).

    Registering the same facts again is a no-op; the same factory with different facts raises
    ``ValueError``. Affects this process only.
    """
    new = V2Factory(protocol, factory.lower(), init_code_hash.lower(), fee_ppm)
    known = V2_FACTORIES.get(chain_id, ())
    for f in known:
        if f.factory == new.factory:
            if f != new:
                raise ValueError(f"V2 factory {new.factory} on chain {chain_id} already registered as {f}")
            return
    V2_FACTORIES[chain_id] = (*known, new)
    identify_v2.cache_clear()


def register_v3_factory(chain_id: int, protocol: str, factory: str, init_code_hash: str) -> None:
    """Like :func:`register_v2_factory`, for a Uniswap V3-style factory (fee tiers :data:`V3_FEES`)."""
    new = (protocol, factory.lower(), init_code_hash.lower())
    known = V3_FACTORIES.get(chain_id, ())
    for f in known:
        if f[1] == new[1]:
            if f != new:
                raise ValueError(f"V3 factory {new[1]} on chain {chain_id} already registered as {f}")
            return
    V3_FACTORIES[chain_id] = (*known, new)
    identify_v3.cache_clear()


@lru_cache(maxsize=65536)
def identify_v2(chain_id: int, pool: str, token0: str, token1: str) -> tuple[str, int | None]:
    """``(protocol, fee_ppm)`` of a V2-style pair; ``("uniswap_v2_fork", None)`` if no factory fits."""
    for f in V2_FACTORIES.get(chain_id, ()):
        if v2_pair_address(f.factory, token0, token1, f.init_code_hash) == pool:
            return f.protocol, f.fee_ppm
    return "uniswap_v2_fork", None


@lru_cache(maxsize=65536)
def identify_v3(chain_id: int, pool: str, token0: str, token1: str) -> tuple[str, int | None]:
    """``(protocol, fee_ppm)`` of a V3-style pool; ``("uniswap_v3_fork", None)`` if unverified."""
    for protocol, deployer, init_hash in V3_FACTORIES.get(chain_id, ()):
        for fee in V3_FEES:
            if v3_pool_address(deployer, token0, token1, fee, init_hash) == pool:
                return protocol, fee
    return "uniswap_v3_fork", None


# Tokens of pools learnt from frames that reveal them (swaps, collects); a V3 ``burn`` frame has no
# token calls at all, so it relies on this. Bounded: cleared when it grows past the limit.
_POOL_TOKENS: dict[tuple[int, str], tuple[str, str]] = {}
_POOL_TOKENS_MAX = 200_000


def remember_pool_tokens(chain_id: int, pool: str, token0: str, token1: str) -> None:
    if len(_POOL_TOKENS) >= _POOL_TOKENS_MAX:
        _POOL_TOKENS.clear()
    _POOL_TOKENS[(chain_id, pool)] = (token0, token1)


def pool_tokens(chain_id: int, pool: str) -> tuple[str, str] | None:
    return _POOL_TOKENS.get((chain_id, pool))


def clear_pool_caches() -> None:
    """Forget every learnt pool fact (e.g. before decoding another chain's data in-process)."""
    _POOL_TOKENS.clear()
    identify_v2.cache_clear()
    identify_v3.cache_clear()


@dataclass(frozen=True, slots=True)
class TokenMove:
    """An ERC20 movement seen in a trace frame or a log.

    For frames ``pos`` is the frame's index and ``end`` the index of its last descendant: a
    token credits the recipient when its call *completes*, and a fee-on-transfer token may run a
    whole swap inside its own ``transferFrom`` (tx 0xdb57297aa32d05d49747db4aea419b43c58f85594f606326214a6d02147a949d:
    the inner swap at [0, 1, 3] happens before the outer transfer at [0] pays the same pair).
    For logs both are the log's position in the transaction's log list. ``reverted`` marks a
    frame inside a reverted call: it counts only for a swap decoded "as attempted" (itself inside
    a reverted call), never for one that took effect.
    """

    pos: int
    end: int
    token: str
    from_: str
    to: str
    amount: int
    reverted: bool = False


def own_calls(ctx: TraceContext, i: int) -> list[int]:
    r"""Frames that the contract of frame ``i`` itself makes: its children, looking through
    ``delegatecall``\s (a proxied pool runs its code in a delegatecall child, tx
    0x0fe21e34cdd5af86c63e4a83e0ee8b67e8644defb563a55e1c70bd6284f8b7fa frame [1, 5, 2, 0])."""
    frames = ctx.frames
    out: list[int] = []
    stack = list(reversed(ctx.children[i]))
    while stack:
        c = stack.pop()
        if frames[c].call_type == "delegatecall":
            stack.extend(reversed(ctx.children[c]))
        else:
            out.append(c)
    return out


def frame_token_transfers(ctx: TraceContext) -> list[TokenMove]:
    """ERC20 ``transfer``/``transferFrom`` calls of the transaction, in execution order.

    Only ``call`` frames count: a proxied token (USDC) shows the same calldata again in a
    ``delegatecall`` child, which must not be counted twice. Cached in ``ctx.cache``.
    """
    cached = ctx.cache.get("pools.frame_transfers")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    out: list[TokenMove] = []
    frames = ctx.frames
    n = len(frames)
    reverted = ctx.reverted
    for i, fr in enumerate(frames):
        inp = fr.input
        sel = inp[:10]
        if sel == SEL_TRANSFER:
            if len(inp) < 138 or fr.call_type != "call" or fr.to is None:
                continue
            src, dst, amount = fr.from_ or "", "0x" + inp[34:74], int(inp[74:138], 16)
        elif sel == SEL_TRANSFER_FROM:
            if len(inp) < 202 or fr.call_type != "call" or fr.to is None:
                continue
            src, dst, amount = "0x" + inp[34:74], "0x" + inp[98:138], int(inp[138:202], 16)
        else:
            continue
        end = i
        if fr.subtraces:
            ta = fr.trace_address
            k = len(ta)
            while end + 1 < n and frames[end + 1].trace_address[:k] == ta:
                end += 1
        out.append(TokenMove(i, end, fr.to, src, dst, amount, reverted[i]))
    ctx.cache["pools.frame_transfers"] = out
    return out


def log_token_transfers(ctx: LogContext) -> list[TokenMove]:
    """ERC20 ``Transfer(address indexed,address indexed,uint256)`` events of the transaction.

    ERC721 ``Transfer`` shares topic0 but indexes the token id (4 topics, no data): skipped.
    """
    cached = ctx.cache.get("pools.log_transfers")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    out: list[TokenMove] = []
    for k, lg in enumerate(ctx.logs):
        t = lg.topics
        if len(t) != 3 or t[0] != TOPIC_TRANSFER or len(lg.data) < 66:
            continue
        out.append(TokenMove(k, k, lg.address, "0x" + t[1][-40:], "0x" + t[2][-40:], int(lg.data[2:66], 16)))
    ctx.cache["pools.log_transfers"] = out
    return out
