"""Well-known tokens per chain: symbol and decimals, for display and price anchoring.

Only tokens whose decimals are needed without an RPC call belong here (stablecoins anchor USD
prices; WETH anchors ETH). Everything else is shown by address and kept in raw units.
"""

from __future__ import annotations

from dataclasses import dataclass

from mevgraph.core.types import ETH

__all__ = ["TokenInfo", "KNOWN_TOKENS", "WETH", "token_info", "stablecoins", "format_amount"]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    symbol: str
    decimals: int
    usd_stable: bool = False


KNOWN_TOKENS: dict[int, dict[str, TokenInfo]] = {
    1: {
        ETH: TokenInfo("ETH", 18),
        "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2": TokenInfo("WETH", 18),
        "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48": TokenInfo("USDC", 6, True),
        "0xdac17f958d2ee523a2206206994597c13d831ec7": TokenInfo("USDT", 6, True),
        "0x6b175474e89094c44da98b954eedeac495271d0f": TokenInfo("DAI", 18, True),
        "0x0000000000085d4780b73119b644ae5ecd22b376": TokenInfo("TUSD", 18, True),
        "0x4fabb145d64652a948d72533023f6e7a623c7c53": TokenInfo("BUSD", 18, True),
        "0x8e870d67f660d95d5be530380d0ec0bd388289e1": TokenInfo("USDP", 18, True),
        "0x956f47f50a910163d8bf957cf5846d573e7f87ca": TokenInfo("FEI", 18, True),
        "0x853d955acef822db058eb8505911ed77f175b99e": TokenInfo("FRAX", 18, True),
        "0xbc6da0fe9ad5f3b0d58160288917aa56653660e9": TokenInfo("alUSD", 18, True),
        "0x57ab1ec28d129707052df4df418d58a2d46d5f51": TokenInfo("sUSD", 18, True),
        "0x5f98805a4e8be255a32880fdec7f6728c6568ba0": TokenInfo("LUSD", 18, True),
        "0x674c6ad92fd080e4004b2312b45f796a192d27a0": TokenInfo("USDN", 18, True),
        "0x99d8a9c45b2eca8864373a26d1459e3dff1e17f3": TokenInfo("MIM", 18, True),
        "0x2a8e1e676ec238d8a992307b495b45b3feaa5e86": TokenInfo("OUSD", 18, True),
        "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599": TokenInfo("WBTC", 8),
        "0x514910771af9ca656af840dff83e8264ecf986ca": TokenInfo("LINK", 18),
        "0x1f9840a85d5af5bf1d1762f925bdaddc4201f984": TokenInfo("UNI", 18),
        "0x7fc66500c84a76ad7e9c93437bfc5ac33e2ddae9": TokenInfo("AAVE", 18),
    },
}


WETH: dict[int, str] = {1: "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"}
"""Wrapped native token per chain."""


def stablecoins(chain_id: int) -> dict[str, TokenInfo]:
    """USD stablecoins of ``chain_id`` (address -> info)."""
    return {a: i for a, i in KNOWN_TOKENS.get(chain_id, {}).items() if i.usd_stable}


def token_info(chain_id: int, token: str) -> TokenInfo | None:
    return KNOWN_TOKENS.get(chain_id, {}).get(token)


def format_amount(chain_id: int, token: str, amount: int) -> str:
    """Human-readable amount: ``"0.0500 WETH"`` for known tokens, raw units otherwise."""
    info = token_info(chain_id, token)
    if info is None:
        return f"{amount} {token[:8]}…"
    return f"{amount / 10**info.decimals:,.4f} {info.symbol}"
