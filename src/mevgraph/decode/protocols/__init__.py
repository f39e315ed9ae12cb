"""Built-in protocol decoders; importing this package registers them all.

One module per protocol. Each registers its trace and log handlers into
:data:`mevgraph.decode.registry.REGISTRY` at import time.
"""

from mevgraph.decode.protocols import (  # noqa: F401
    aave,
    balancer,
    bancor,
    compound,
    curve,
    erc20,
    eth,
    flashloans,
    uniswap_v2,
    uniswap_v3,
    weth,
    zerox,
)
