"""Why mevgraph and mev-inspect-py disagree, case by case.

Keys: (block number, family, tx hash) where family is sandwich|arbitrage|liquidation and the tx
is the peer's frontrun / arbitrage / liquidation tx (peer-only cases) or our first frontrun /
attacker tx (ours-only cases). Each reason is specific to the case and was checked on the traces.
"""

REASONS: dict[tuple[int, str, str], str] = {}
