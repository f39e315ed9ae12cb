"""Known routers, aggregators and settlement contracts, per chain.

A router executes trades *for* its caller: when a transaction goes to one of these, the trader is
the transaction's sender, never the router, so detectors must not take the router for a searcher
contract (two users of the 1inch router are not "the same contract"). Sources: the contracts'
own deployments as documented by each project; the list is data, extend it per chain.
"""

from __future__ import annotations

from mevgraph.core.types import Address

__all__ = ["ROUTERS", "is_router", "router_name"]

_MAINNET: dict[str, str] = {
    "0xf164fc0ec4e93095b804a4795bbe1e041497b92a": "Uniswap V2 Router01",
    "0x7a250d5630b4cf539739df2c5dacb4c659f2488d": "Uniswap V2 Router02",
    "0xd9e1ce17f2641f24ae83637ab66a2cca9c378b9f": "Sushiswap Router",
    "0xe592427a0aece92de3edee1f18e0157c05861564": "Uniswap V3 SwapRouter",
    "0x68b3465833fb72a70ecdf485e0e4c7bd8665fc45": "Uniswap V3 SwapRouter02",
    "0xef1c6e67703c7bd7107eed8303fbe6ec2554bf6b": "Uniswap Universal Router (v1)",
    "0x3fc91a3afd70395cd496c647d5a6cc9d4b2b7fad": "Uniswap Universal Router",
    "0x66a9893cc07d91d95644aedd05d03f95e1dba8af": "Uniswap Universal Router v4",
    "0x11111254369792b2ca5d084ab5eea397ca8fa48b": "1inch v1",
    "0x111111125434b319222cdbf8c261674adb56f3ae": "1inch v2",
    "0x11111112542d85b3ef69ae05771c2dccff4faa26": "1inch v3",
    "0x1111111254fb6c44bac0bed2854e76f90643097d": "1inch v4",
    "0x1111111254eeb25477b68fb85ed929f73a960582": "1inch v5",
    "0x111111125421ca6dc452d289314280a0f8842a65": "1inch v6",
    "0xdef1c0ded9bec7f1a1670819833240f027b25eff": "0x Exchange Proxy",
    "0xdef171fe48cf0115b1d80b88dc8eab59176fee57": "ParaSwap v5 Augustus",
    "0x1bd435f3c054b6e901b7b108a0ab7617c808677b": "ParaSwap v4 Augustus",
    "0x6a000f20005980200259b80c5102003040001068": "ParaSwap v6 Augustus",
    "0x9aab3f75489902f3a48495025729a0af77d4b11e": "KyberSwap Meta Aggregation Router",
    "0x6131b5fae19ea4f9d964eac0408e4408b66337b5": "KyberSwap Meta Aggregation Router v2",
    "0x818e6fecd516ecc3849daf6845e3ec868087b755": "Kyber Network Proxy",
    "0x881d40237659c251811cec9c364ef91dc08d300c": "MetaMask Swap Router",
    "0x9008d19f58aabd9ed0d60971565aa8510560ab41": "CoW Protocol GPv2Settlement",
    "0xa356867fdcea8e71aeaf87805808803806231fdc": "DODO V2 Proxy",
    "0xa2398842f37465f89540430bdc00219fa9e4d28a": "DODO Route Proxy",
    "0x2f9ec37d6ccfff1cab21733bdadede11c823ccb0": "Bancor Network",
    "0x3e66b66fd1d0b02fda6c811da9e0547970db2f21": "Balancer V1 Exchange Proxy",
    "0x99a58482bd75cbab83b27ec03ca68ff489b5788f": "Curve Router (registry exchange)",
    "0x81c46feca27b31f3adc2b91ee4be9717d1cd3dd7": "Curve Exchange",
    "0xf0d4c12a5768d806021f80a262b4d39d26c58b8d": "Curve Router NG",
    "0xd7f1dd5d49206349cae8b585fcb0ce3d96f1696f": "Zerion Router",
    "0x00000000009726632680fb29d3f7a9734e3010e2": "Rainbow Router",
    "0xf2e4209afa4c3c9eaa3fb8e12eed25d8f328171c": "Slingshot",
    "0x1111111254760f7ab3f16433eea9304126dcd199": "1inch Limit Order Protocol",
    "0x74de5d4fcbf63e00296fd95d33236b9794016631": "MetaMask Swap Spender",
    "0xe66b31678d6c16e9ebf358268a790b763c133750": "0x Coinbase Wallet Proxy",
    "0x00000000000000adc04c56bf30ac9d3c0aaf14dc": "Seaport 1.5",
    "0x7d2768de32b0b80b7a3454c06bdac94a69ddc7a9": "Aave V2 Lending Pool",
    "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2": "Aave V3 Pool",
    "0xba12222222228d8ba445958a75a0704d566bf2c8": "Balancer V2 Vault",
}

ROUTERS: dict[int, dict[str, str]] = {1: _MAINNET}


def is_router(chain_id: int, address: Address | str | None) -> bool:
    """True when ``address`` is a known router/aggregator/venue that trades for its caller."""
    return address is not None and address in ROUTERS.get(chain_id, {})


def router_name(chain_id: int, address: Address | str | None) -> str | None:
    if address is None:
        return None
    return ROUTERS.get(chain_id, {}).get(address)
