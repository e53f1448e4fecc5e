"""The default cost limit against real operations (calibration table: gateway README,
"Estimated cost"; measured with `gateway/tools/cost_calibration.py`).

No timing here: how fast hostile operations are refused is measured by the tool; these tests
only check that they are refused by the cost limit, before graphql-core validation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from graphql import (
    FragmentDefinitionNode,
    OperationDefinitionNode,
    build_schema,
    graphql_sync,
    parse,
)

from crm_gateway.edge.cost import actual_cost, estimate_cost
from crm_gateway.edge.response import GatewayResponse
from crm_gateway.federation.execution.client import SubgraphClient
from crm_gateway.federation.supergraph.file import parse_supergraph
from crm_gateway.gateway import Gateway
from crm_gateway.settings import GatewaySettings

from .cost_corpus import (
    BENCH_QUERY,
    BENCH_SDL,
    bench_root,
    fragment_bomb,
    nested_lists,
    wide_aliases,
)

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = GatewaySettings()


def _estimate(schema: Any, text: str, size: int) -> int:
    document = parse(text)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return estimate_cost(schema, operation, fragments, {}, default_list_size=size)


def test_benchmark_query_is_admitted_and_still_overestimated() -> None:
    schema = build_schema(BENCH_SDL)
    result = graphql_sync(schema, BENCH_QUERY, bench_root())
    assert not result.errors
    actual = actual_cost(result.data)
    estimate = _estimate(schema, BENCH_QUERY, SETTINGS.cost_default_list_size)
    # The documented assumption (5 items per list without `first`) stays above the real
    # sizes (2-4 items), and the limit admits the query with room to spare.
    assert actual < estimate
    assert estimate * 2 <= SETTINGS.max_cost
    # The former default (10 items) put it at 100k: refused although its answer is 87 KB.
    assert _estimate(schema, BENCH_QUERY, 10) > SETTINGS.max_cost


def test_argument_default_sizes_the_list() -> None:
    schema = build_schema(BENCH_SDL)
    # topProducts(first: Int = 5): 1 + 5 × 1, whatever the default list size.
    assert _estimate(schema, "{ topProducts { upc } }", 50) == 1 + 5
    assert _estimate(schema, "{ topProducts(first: 2) { upc } }", 50) == 1 + 2
    assert _estimate(schema, "{ users { id } }", 7) == 1 + 7


def test_actual_cost_is_the_estimate_with_real_list_lengths() -> None:
    data = {"users": [{"id": "1", "__typename": "User", "reviews": [{"id": "r"}] * 3}] * 2}
    # users 1 + 2 × (id 1 + reviews (1 + 3 × 1))
    assert actual_cost(data) == 1 + 2 * (1 + 1 + 3)


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[Gateway]:
    supergraph = parse_supergraph((ROOT / "supergraph.graphql").read_text(encoding="utf-8"))
    async with aiohttp.ClientSession() as session:
        yield Gateway(
            supergraph,
            SubgraphClient(session, 1.0),
            max_depth=SETTINGS.max_depth,
            max_aliases=SETTINGS.max_aliases,
            max_tokens=SETTINGS.max_tokens,
            max_root_fields=SETTINGS.max_root_fields,
            max_cost=SETTINGS.max_cost,
            cost_default_list_size=SETTINGS.cost_default_list_size,
        )


@pytest.mark.parametrize(
    "query",
    [fragment_bomb(), nested_lists(10), wide_aliases()],
    ids=["fragment-bomb", "10-deep-nested-list", "aliased-pages"],
)
async def test_hostile_operations_are_refused_by_the_cost_limit(
    gateway: Gateway, query: str
) -> None:
    response = await gateway.execute(query, None, None, None)
    assert isinstance(response, GatewayResponse)
    assert response.status == 400
    error = response.body["errors"][0]
    assert error["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert error["extensions"]["cost"] > SETTINGS.max_cost


async def test_cost_is_checked_before_validation(gateway: Gateway) -> None:
    """An expensive document is refused for its cost even if it is also invalid (validation
    of a fragment bomb alone costs graphql-core far more than the estimate)."""
    query = fragment_bomb().replace("{ name ...F1", "{ noSuchField name ...F1")
    response = await gateway.execute(query, None, None, None)
    assert isinstance(response, GatewayResponse)
    assert response.body["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"


async def test_variables_and_their_defaults_size_lists_before_validation(
    gateway: Gateway,
) -> None:
    query = "query($n: Int = 5000) { customers(first: $n) { edges { node { contacts { id } } } } }"
    response = await gateway.execute(query, None, None, None)
    assert response.body["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    response = await gateway.execute(query, {"n": 4000.0}, None, None)
    assert response.body["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
