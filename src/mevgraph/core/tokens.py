"""Well-known tokens per chain: symbol and decimals, for display and price anchoring.

Only tokens whose decimals are needed without an RPC call belong here (stablecoins anchor USD
prices; WETH anchors ETH). Everything else is shown by address and kept in raw units.
"""

from __future__ import annotations

from mevgraph.core.types import ETH

__all__ = ["TokenInfo", "KNOWN_TOKENS", "token_info", "format_amount"]

from dataclasses import dataclass


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
        "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599": TokenInfo("WBTC", 8),
        "0x514910771af9ca656af840dff83e8264ecf986ca": TokenInfo("LINK", 18),
        "0x1f9840a85d5af5bf1d1762f925bdaddc4201f984": TokenInfo("UNI", 18),
        "0x7fc66500c84a76ad7e9c93437bfc5ac33e2ddae9": TokenInfo("AAVE", 18),
    },
}


def token_info(chain_id: int, token: str) -> TokenInfo | None:
    return KNOWN_TOKENS.get(chain_id, {}).get(token)


def format_amount(chain_id: int, token: str, amount: int) -> str:
    """Human-readable amount: ``"0.0500 WETH"`` for known tokens, raw units otherwise."""
    info = token_info(chain_id, token)
    if info is None:
        return f"{amount} {token[:8]}…"
    return f"{amount / 10**info.decimals:,.4f} {info.symbol}"
