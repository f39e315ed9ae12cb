"""Why mevgraph and mev-inspect-py disagree, case by case.

Keys: (block number, family, tx hash) where family is sandwich|arbitrage|liquidation and the tx
is the peer's frontrun / arbitrage / liquidation tx (peer-only cases) or our first frontrun /
attacker tx (ours-only cases). Each reason is specific to the case and was checked on the traces
(``benchmarks/swaps_vs_peer.py -v`` shows the swap-level differences behind them).
"""

REASONS: dict[tuple[int, str, str], str] = {
    (12483198, "arbitrage", "0xd5639f59fb23547826bcd9a2a99905d3f748454776fd4d679c724283de1dbb81"): (
        "a real loop WETH -> DAI (Uniswap V2) -> USDT (Curve 3pool, called through helper contract "
        "0x2393c3...) -> WETH for +1.398 WETH; the helper is the Curve leg's sender/recipient, which "
        "breaks the peer's rule that each swap's recipient is the next swap's sender. We close loops "
        "on token flow, so we find it."
    ),
    (13234998, "arbitrage", "0xd02b3e5286e7f474e59ba7f71c921812ac2f1bfd469feaa803d5ee66b1c9aa56"): (
        "WETH -> 0x1f3f9d (Sushiswap pair 0x4441eb30) -> WETH (Uniswap V2 pair 0x48a91882), right "
        "after a trigger on the same pools (so reported as a backrun). The peer decodes only the second "
        "leg: the first pair's swap call carries junk in the unused upper bytes of its address "
        "argument, which the peer's strict ABI decoding rejects while the pair itself accepts it."
    ),
    (13302365, "arbitrage", "0xa3d8c446de81db9c63b8654329a09c4aee174ce329a55a4e24b999b0691e1f86"): (
        "a 5-leg loop WETH -> USDC (Uniswap V3) -> 0x0391d2 (Uniswap V2) -> 0x1f573d -> 0x1559fa "
        "(two Bancor conversions) -> WETH (Sushiswap); the peer has no Bancor decoder, sees a broken "
        "route and reports nothing."
    ),
    (13666312, "arbitrage", "0xa043976d736ec8dc930c0556dffd0a86a4bfc80bf98fb7995c791fb4dc488b5d"): (
        "WETH -> USDC on Uniswap V3 pool 0x88e6a0c2, then USDC -> 35 WETH by filling a 0x limit order "
        "(the exact 0x swap of the peer's own test): a closed WETH loop. The peer's arbitrage search "
        "chains swaps by recipient == next sender, and the 0x fill's recipient is the exchange proxy, "
        "so the peer never closes the loop."
    ),
    (15049646, "arbitrage", "0x79fa828c222c3b21c002c7939d8cd613e7476c90bba26622da6790ed05d59ba2"): (
        "USDC -> WETH (Uniswap V3 0x88e6a0c2) paid from inside the swap callback, where the bot "
        "swaps WETH -> 0x2a2550 (Uniswap V2) -> USDC (Uniswap V3 0x43b86799): a nested, flash-swap "
        "loop. The peer decodes only the V2 leg (its V3 classifier finds no input transfer before "
        "the nested swaps), so it sees no loop."
    ),
    (15049646, "arbitrage", "0x438fb9e5a9fa80524661a9f8292fe238cf74e6397717ef277bbccb8e8c337558"): (
        "USDT -> WETH -> 0xfa14fa -> USDT over three Uniswap V3 pools, each paid from inside the "
        "previous pool's swap callback; the peer decodes none of the three nested V3 swaps."
    ),
    (15049646, "arbitrage", "0x29fca501f654200b2fbf861e92cf0e0687c3cc455d2f95eadd22f0a91800baaf"): (
        "USDC -> WETH on Uniswap V3 0x88e6a0c2, paid from inside the callback by WETH -> 0xba9d41 -> "
        "USDC over two Uniswap V2 pairs: the peer decodes the two V2 legs but not the outer V3 swap, "
        "so its route never returns to USDC."
    ),
}
