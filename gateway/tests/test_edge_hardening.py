"""Edge hardening: root-field, batch and time limits, production switches, error masking.

A gateway in production mode sits in front of the customer subgraph and a small "edge"
subgraph whose fields are slow or crash with internal details in their message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest_asyncio
import strawberry

from .conftest import Stack, Subgraph, customer_schema, start_gateway, start_subgraph, stop_subgraph

SECRET_DETAIL = "connection string mongodb://admin:hunter2@db"


@strawberry.type
class EdgeQuery:
    @strawberry.field
    async def slow(self) -> str:
        await asyncio.sleep(2)
        return "late"

    @strawberry.field
    def crash(self) -> str | None:
        raise RuntimeError(SECRET_DETAIL)


edge_schema = strawberry.federation.Schema(query=EdgeQuery)


@pytest_asyncio.fixture(scope="module")
async def prod(stack: Stack) -> AsyncIterator[Stack]:
    """Production settings, two root fields at most, batches of two, a 0.5 s budget."""
    subs = {
        "customer": Subgraph("customer", customer_schema),
        "edge": Subgraph("edge", edge_schema),
    }
    for sub in subs.values():
        await start_subgraph(sub)
    runner, app, url = await start_gateway(
        subs,
        env="production",
        max_root_fields=2,
        batching=True,
        max_batch_size=2,
        request_timeout_s=0.5,
    )
    yield Stack(subs, url, stack.session, app, stack.token)
    await runner.cleanup()
    for sub in subs.values():
        await stop_subgraph(sub)


async def _post_raw(stack: Stack, payload: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with stack.session.post(stack.gateway_url, json=payload, headers=headers) as resp:
        return resp.status, await resp.json()


def _only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


async def test_root_field_limit_counts_fragments_not_typename(prod: Stack) -> None:
    status, body = await prod.post('{ __typename customers { id } customer(id: "c1") { id } }')
    assert status == 200 and "errors" not in body, body
    status, body = await prod.post(
        '{ customers { id } ...More } fragment More on Query { customer(id: "c1") { id } '
        'other: customer(id: "c2") { id } }'
    )
    assert status == 400
    error = _only_error(body)
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED", "limit": "max_root_fields"}
    assert "3 root fields" in error["message"] and "GATEWAY_MAX_ROOT_FIELDS" in error["message"]


async def test_batches_refused_by_default(fresh: Stack) -> None:
    status, body = await _post_raw(fresh, [{"query": "{ customers { id } }"}])
    assert status == 400
    assert _only_error(body)["extensions"] == {"code": "BATCHING_DISABLED", "limit": "batching"}
    assert fresh.subgraphs["customer"].operations() == []


async def test_batches_run_each_operation_and_are_capped(prod: Stack) -> None:
    status, body = await _post_raw(
        prod,
        [
            {"query": '{ customer(id: "c2") { name } }'},
            {
                "query": "query Q($id: ID!) { customer(id: $id) { name } }",
                "variables": {"id": "c1"},
            },
        ],
    )
    assert status == 200
    assert body == [
        {"data": {"customer": {"name": "Bob GmbH"}}},
        {"data": {"customer": {"name": "Ada Ltd"}}},
    ]
    status, body = await _post_raw(prod, [{"query": "{ customers { id } }"}] * 3)
    assert status == 400
    error = _only_error(body)
    assert error["extensions"] == {"code": "BATCH_TOO_LARGE", "limit": "max_batch_size"}
    assert "GATEWAY_MAX_BATCH_SIZE" in error["message"]


async def test_request_timeout_gives_gateway_timeout(prod: Stack) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, body = await prod.post("{ slow }")
    assert loop.time() - started < 1.5
    assert status == 504
    error = _only_error(body)
    assert error["extensions"] == {"code": "GATEWAY_TIMEOUT", "limit": "request_timeout_s"}


async def test_production_masks_internal_subgraph_errors(prod: Stack, caplog: Any) -> None:
    status, body = await prod.post('{ crash customer(id: "c1") { name } }')
    assert status == 200
    assert body["data"] == {"crash": None, "customer": {"name": "Ada Ltd"}}
    error = _only_error(body)
    assert error["message"] == "Internal server error"
    assert error["path"] == ["crash"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert SECRET_DETAIL not in str(body)
    # Client-facing codes keep their message.
    status, body = await prod.post("{ boom }")
    assert status == 200
    error = _only_error(body)
    assert error["message"] == "Customer not found"
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert SECRET_DETAIL in caplog.text  # the original stays in the logs


async def test_development_keeps_subgraph_messages() -> None:
    subs = {"edge": Subgraph("edge", edge_schema)}
    await start_subgraph(subs["edge"])
    runner, app, url = await start_gateway(subs)
    try:
        async with aiohttp.ClientSession() as session:
            dev = Stack(subs, url, session, app, _token())
            status, body = await dev.post("{ crash }")
            assert status == 200
            assert _only_error(body)["message"] == SECRET_DETAIL
            status, body = await dev.post("{ __schema { queryType { name } } }")
            assert status == 200 and body["data"]["__schema"]["queryType"]["name"] == "Query"
    finally:
        await runner.cleanup()
        await stop_subgraph(subs["edge"])


async def test_production_turns_off_introspection_and_graphiql(prod: Stack) -> None:
    status, body = await prod.post(
        '{ ...F } fragment F on Query { __type(name: "Customer") { name } }'
    )
    assert status == 400
    assert _only_error(body)["extensions"] == {
        "code": "GRAPHQL_VALIDATION_FAILED",
        "limit": "introspection",
    }
    status, body = await prod.post("{ __typename }")
    assert status == 200 and body["data"] == {"__typename": "Query"}
    async with prod.session.get(prod.gateway_url, headers={"Accept": "text/html"}) as resp:
        assert resp.status == 404
        assert "GATEWAY_GRAPHIQL" in (await resp.json())["errors"][0]["message"]
    base = prod.gateway_url.removesuffix("/graphql")
    async with prod.session.get(f"{base}/graphiql/static/graphiql.min.js") as resp:
        assert resp.status == 404


async def test_production_switches_can_be_turned_back_on(prod: Stack) -> None:
    subs = {"customer": prod.subgraphs["customer"]}
    runner, app, url = await start_gateway(
        subs, env="production", introspection=True, graphiql=True
    )
    try:
        stack = Stack(subs, url, prod.session, app, prod.token)
        status, body = await stack.post('{ __type(name: "Customer") { name } }')
        assert status == 200 and body["data"] == {"__type": {"name": "Customer"}}
        async with stack.session.get(url, headers={"Accept": "text/html"}) as resp:
            assert resp.status == 200
            assert "graphiql.min.js" in await resp.text()
    finally:
        await runner.cleanup()


def _token() -> str:
    from .conftest import make_token

    return make_token()
