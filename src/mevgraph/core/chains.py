"""Chain profiles: what the decoder and the detectors must know about a chain that is not in the
built-in tables (a local testbed, an L2 fork): its wrapped native token, tokens with decimals and
which are USD stablecoins, routers (never searchers), V2/V3 factories (to name pools by CREATE2)
and lending pools.

A profile is a JSON file (``chain.json``, written by ``mevgraph sim run`` next to its blocks)::

    {"chain_id": 1337, "name": "mevgraph testbed", "weth": "0x…",
     "tokens": [{"address": "0x…", "symbol": "USDC", "decimals": 6, "usd_stable": true}, …],
     "routers": {"0x…": "uniswap Router02", …},
     "v2_factories": [{"protocol": "uniswap_v2", "factory": "0x…", "init_code_hash": "0x…", "fee_ppm": 3000}],
     "v3_factories": [{"protocol": "uniswap_v3", "factory": "0x…", "init_code_hash": "0x…"}],
     "lending_pools": {"0x…": "aave_v3"}}

:func:`apply` registers it into this process's tables (idempotent); :data:`ENV_VAR` lists profile
files (``os.pathsep``-separated) that :func:`apply_from_env` applies, so worker processes started by
``spawn`` see the same profiles as their parent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["ENV_VAR", "apply", "apply_file", "apply_from_env", "find_profile", "PROFILE_NAME"]

ENV_VAR = "MEVGRAPH_CHAIN_PROFILES"
PROFILE_NAME = "chain.json"


def apply(profile: dict[str, Any]) -> int:
    """Register ``profile``; returns its chain id."""
    from mevgraph.core.tokens import KNOWN_TOKENS, WETH, TokenInfo
    from mevgraph.decode import labels, pools
    from mevgraph.decode.protocols import aave
    from mevgraph.pricing import sources as prices

    cid = int(profile["chain_id"])
    toks = KNOWN_TOKENS.setdefault(cid, {})
    for t in profile.get("tokens", ()):
        toks[str(t["address"]).lower()] = TokenInfo(
            str(t["symbol"]), int(t["decimals"]), bool(t.get("usd_stable", False))
        )
    if profile.get("weth"):
        WETH[cid] = prices.WETH[cid] = str(profile["weth"]).lower()
    stables = {
        str(t["address"]).lower(): int(t["decimals"])
        for t in profile.get("tokens", ())
        if t.get("usd_stable")
    }
    if stables:
        prices.STABLECOINS.setdefault(cid, {}).update(stables)
        # The profile's stablecoins all anchor ETH/USD (a chain profile lists only deep ones).
        prices.PRIMARY_STABLES[cid] = frozenset(prices.PRIMARY_STABLES.get(cid, frozenset()) | stables.keys())
    routers = labels.ROUTERS.setdefault(cid, {})
    for addr, name in (profile.get("routers") or {}).items():
        routers[str(addr).lower()] = str(name)
    for f in profile.get("v2_factories", ()):
        pools.register_v2_factory(
            cid, f["protocol"], f["factory"], f["init_code_hash"], int(f.get("fee_ppm", 3000))
        )
    for f in profile.get("v3_factories", ()):
        pools.register_v3_factory(cid, f["protocol"], f["factory"], f["init_code_hash"])
    lend = aave.POOLS.setdefault(cid, {})
    for addr, proto in (profile.get("lending_pools") or {}).items():
        lend[str(addr).lower()] = str(proto)
    return cid


def apply_file(path: Path, *, export: bool = True) -> int:
    """Apply the profile in ``path``; with ``export`` also list it in :data:`ENV_VAR` for workers."""
    cid = apply(json.loads(Path(path).read_text()))
    if export:
        known = [p for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
        p = str(Path(path).resolve())
        if p not in known:
            os.environ[ENV_VAR] = os.pathsep.join([*known, p])
    return cid


def apply_from_env() -> None:
    for p in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if p:
            apply_file(Path(p), export=False)


def find_profile(path: Path) -> Path | None:
    """``chain.json`` beside ``path`` (a block file or directory) or one level up, if any."""
    p = Path(path)
    for d in (p if p.is_dir() else p.parent, (p if p.is_dir() else p.parent).parent):
        cand = d / PROFILE_NAME
        if cand.is_file():
            return cand
    return None
