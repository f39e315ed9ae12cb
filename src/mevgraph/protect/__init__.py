"""User protection: what a pending swap risks before it lands (price impact, sandwich exposure).

See :mod:`mevgraph.protect.exposure`.
"""
