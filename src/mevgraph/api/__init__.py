"""mevgraph.api: the REST API over a store (``create_app``) and its cache invalidation hook.

After storing blocks, call ``invalidate_cache(redis_url)`` (the same Redis URL the API uses, or
None for an API in this process) so cached list answers are recomputed; entries also expire
after a few seconds.
"""

from mevgraph.api.app import create_app
from mevgraph.api.cache import invalidate_cache

__all__ = ["create_app", "invalidate_cache"]
