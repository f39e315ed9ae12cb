"""Contract artifacts (ABI + creation bytecode) for the testbed.

Two sources, both local and pinned:

* :func:`npm_artifact` -- real protocol bytecode shipped inside the npm packages of
  ``package.json`` (Uniswap V2/V3, WETH9, Aave). The paths are relative to ``node_modules``; the
  ones the world uses are the ``*_ARTIFACT`` constants below.
* :func:`own_artifact` -- the repository's own contracts (``contracts/*.sol``), compiled by
  ``make setup`` into ``build/contracts/<Name>.json``.

Loads are cached: an artifact file is parsed once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from mevgraph.sim.node import ROOT

__all__ = [
    "Artifact",
    "ArtifactMissing",
    "NODE_MODULES",
    "OWN_BUILD",
    "npm_artifact",
    "own_artifact",
    "V2_FACTORY_ARTIFACT",
    "V2_PAIR_ARTIFACT",
    "V2_ROUTER_ARTIFACT",
    "WETH9_ARTIFACT",
    "V3_FACTORY_ARTIFACT",
    "V3_POOL_ARTIFACT",
    "V3_SWAP_ROUTER_ARTIFACT",
    "V3_POSITION_MANAGER_ARTIFACT",
    "V3_QUOTER_V2_ARTIFACT",
]

NODE_MODULES = ROOT / "node_modules"
OWN_BUILD = ROOT / "build" / "contracts"
SETUP_HINT = "run `make setup` (npm ci + `node contracts/build.mjs`)"

V2_FACTORY_ARTIFACT = "@uniswap/v2-core/build/UniswapV2Factory.json"
V2_PAIR_ARTIFACT = "@uniswap/v2-core/build/UniswapV2Pair.json"
V2_ROUTER_ARTIFACT = "@uniswap/v2-periphery/build/UniswapV2Router02.json"
WETH9_ARTIFACT = "canonical-weth/build/contracts/WETH9.json"
V3_FACTORY_ARTIFACT = "@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json"
V3_POOL_ARTIFACT = "@uniswap/v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json"
_V3P = "@uniswap/v3-periphery/artifacts/contracts"
V3_SWAP_ROUTER_ARTIFACT = f"{_V3P}/SwapRouter.sol/SwapRouter.json"
V3_POSITION_MANAGER_ARTIFACT = f"{_V3P}/NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
V3_QUOTER_V2_ARTIFACT = f"{_V3P}/lens/QuoterV2.sol/QuoterV2.json"


class ArtifactMissing(FileNotFoundError):
    """An artifact file is not there: the npm packages or own contracts are not installed/built."""


@dataclass(frozen=True, slots=True)
class Artifact:
    """A contract's ABI and *creation* bytecode (constructor arguments are appended to it)."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes


def _read(path: Path, name: str) -> Artifact:
    try:
        obj = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ArtifactMissing(f"{name}: {path} not found; {SETUP_HINT}") from None
    code = obj.get("bytecode")
    if isinstance(code, dict):  # solc standard-json shape: {"object": "..."}
        code = code.get("object")
    if not isinstance(code, str) or not code.removeprefix("0x"):
        raise ValueError(f"{name}: {path} has no creation bytecode")
    code = code.removeprefix("0x")
    if "__" in code:
        # Unlinked library placeholders (Aave logic libraries): the caller must link first.
        raise ValueError(f"{name}: bytecode has unlinked library references; link before deploying")
    return Artifact(name, tuple(obj.get("abi") or ()), bytes.fromhex(code))


@cache
def npm_artifact(rel_path: str) -> Artifact:
    """The artifact at ``node_modules/<rel_path>`` (e.g. :data:`V2_FACTORY_ARTIFACT`).

    Raises:
        ArtifactMissing: the npm packages are not installed.
    """
    return _read(NODE_MODULES / rel_path, Path(rel_path).stem)


@cache
def own_artifact(name: str) -> Artifact:
    """The repository's own contract ``name`` from ``build/contracts/<name>.json``.

    Raises:
        ArtifactMissing: the contracts were not compiled (``make setup``).
    """
    return _read(OWN_BUILD / f"{name}.json", name)
