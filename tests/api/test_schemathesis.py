"""Property-based requests from the app's own OpenAPI document (schemathesis, ASGI transport).

Every generated request -- valid and invalid parameters alike -- must get a non-5xx answer whose
status code, content type and body the document declares. Runs against the real embedded store
and the real PostgreSQL with a valid read key; the cache is off so every request reaches the
store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mevgraph.api import create_app
from mevgraph.store import SqlStore

from ..conftest import _databases
from . import filled_store

MAX_EXAMPLES = 40
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def api_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, block_names: list[str]
) -> Iterator[SqlStore]:
    """The real blocks in each backend: PostgreSQL's list pages take their own path (rows as
    JSON kept by the database, read on the event loop)."""
    if request.param == "embedded":
        st = filled_store(tmp_path_factory.mktemp("schema_store"), block_names)
        yield st
        st.close()
        return
    with _databases("mevgraph_s_") as make:
        st = filled_store(make(), block_names)
        yield st
        st.close()


@pytest.fixture(scope="module")
def api_key(api_store: SqlStore) -> str:
    return api_store.create_api_key(["read"])


@pytest.fixture(scope="module")
def api_schema(api_store: SqlStore) -> Any:
    app = create_app(api_store, rate_limit_per_minute=10**9, cache_ttl_s=0)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


PATHS = [
    "/v1/mev/opportunities",
    "/v1/mev/opportunities/{id}",
    "/v1/mev/bots",
    "/v1/mev/bots/{address}",
    "/v1/mev/leakage",
    "/v1/health",
]


def test_document_lists_every_operation(api_schema: Any) -> None:
    ops = [r.ok() for r in api_schema.get_all_operations()]
    ops = [op for op in ops if not op.path.startswith("/v1/alerts")]  # in tests/api/test_webhooks.py
    assert sorted(op.path for op in ops) == sorted(PATHS)
    assert {op.method.upper() for op in ops} == {"GET"}


# schemathesis' pytest integration (``schema.parametrize``) does not run under pytest 9, so each
# operation's strategy is driven by hypothesis directly.
@pytest.mark.parametrize(
    ("path", "mode"),
    [(p, GenerationMode.POSITIVE) for p in PATHS]
    # health takes no parameter, so it has no invalid request
    + [(p, GenerationMode.NEGATIVE) for p in PATHS if p != "/v1/health"],
    ids=lambda v: v.value if isinstance(v, GenerationMode) else v,
)
def test_no_server_error_and_responses_conform(api_schema: Any, api_key: str, path: str, mode: Any) -> None:
    strategy = api_schema[path]["GET"].as_strategy(generation_mode=mode)

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers={"X-API-Key": api_key}, checks=CHECKS)

    run()
