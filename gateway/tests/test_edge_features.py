"""Edge features through a real gateway over HTTP: APQ and the allow-list, the cost limit,
rate limits, the header allow-list, /metrics and the query-plan debug header.

The subgraphs are the small strawberry ones of ``conftest``, served by a recording app that
keeps every request's headers, so a test can see exactly what reached a subgraph.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from strawberry.aiohttp.views import GraphQLView

from crm_common.auth import issue_dev_token
from crm_gateway.edge.persisted import sha256_hex

from .conftest import SECRET, customer_schema, engagement_schema, start_gateway

LISTED = "query Listed { customers { id } }"


@dataclass
class HeaderRecorder:
    """A subgraph that remembers the headers of every operation it serves."""

    name: str
    schema: Any
    url: str = ""
    runner: web.AppRunner | None = None
    headers: list[dict[str, str]] = field(default_factory=list)


async def _start(sub: HeaderRecorder) -> None:
    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = json.loads(await request.read())
        if "_service" not in body.get("query", ""):
            sub.headers.append({k.lower(): v for k, v in request.headers.items()})
        return await handler(request)

    app = web.Application(middlewares=[record])
    app.router.add_route("*", "/graphql", GraphQLView(schema=sub.schema))
    sub.runner = web.AppRunner(app)
    await sub.runner.setup()
    await web.TCPSite(sub.runner, "127.0.0.1", 0).start()
    sub.url = f"http://127.0.0.1:{sub.runner.addresses[0][1]}/graphql"


@dataclass
class Edge:
    url: str
    session: aiohttp.ClientSession
    subgraphs: dict[str, HeaderRecorder]

    async def post(
        self,
        payload: Any,
        *,
        tenant: str = "t-edge",
        user: str = "u1",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        token = issue_dev_token(SECRET, tenant=tenant, roles=["admin"], user_id=user)
        all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        async with self.session.post(self.url, json=payload, headers=all_headers) as resp:
            return resp.status, await resp.json(), resp.headers

    async def get(self, params: dict[str, str], **kwargs: Any) -> tuple[int, Any]:
        token = issue_dev_token(SECRET, tenant="t-get", roles=["admin"], user_id="u1")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        async with self.session.get(self.url, params=params, headers=headers) as resp:
            return resp.status, await resp.json()


async def _gateway(subs: dict[str, HeaderRecorder], **settings: Any) -> tuple[web.AppRunner, str]:
    runner, _app, url = await start_gateway(subs, **settings)  # type: ignore[arg-type]
    return runner, url


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The allow-list file: one listed operation."""
    path = tmp_path_factory.mktemp("edge") / "persisted.json"
    path.write_text(json.dumps({sha256_hex(LISTED): LISTED}), encoding="utf-8")
    return path


@pytest_asyncio.fixture(scope="module")
async def edge(manifest: Path) -> AsyncIterator[tuple[Edge, Edge]]:
    """A development gateway with small cost and rate limits, and a production one with an
    allow-list file; both in front of the same two recording subgraphs."""
    subs = {
        "customer": HeaderRecorder("customer", customer_schema),
        "engagement": HeaderRecorder("engagement", engagement_schema),
    }
    for sub in subs.values():
        await _start(sub)
    dev_runner, dev_url = await _gateway(
        subs,
        max_cost=50,
        cost_default_list_size=10,  # the numbers below assume 10 items per unsized list
        rate_limit_user_rps=0.5,
        rate_limit_user_burst=3,
        rate_limit_tenant_rps=0.5,
        rate_limit_tenant_burst=5,
    )
    prod_runner, prod_url = await _gateway(
        subs, env="production", allow_list=True, persisted_queries_file=manifest
    )
    async with aiohttp.ClientSession() as session:
        yield Edge(dev_url, session, subs), Edge(prod_url, session, subs)
    await dev_runner.cleanup()
    await prod_runner.cleanup()
    for sub in subs.values():
        assert sub.runner is not None
        await sub.runner.cleanup()


def _code(body: dict[str, Any]) -> str:
    assert len(body["errors"]) == 1, body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_apq_register_then_run_by_hash_over_post_and_get(edge: tuple[Edge, Edge]) -> None:
    dev, _prod = edge
    query = "query Apq { customers { id } }"
    ext = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
    tenant = "t-apq"
    status, body, _ = await dev.post({"extensions": ext}, tenant=tenant)
    assert status == 200 and _code(body) == "PERSISTED_QUERY_NOT_FOUND"
    assert body["errors"][0]["message"] == "PersistedQueryNotFound"
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    status, body, _ = await dev.post({"query": query, "extensions": wrong}, tenant=tenant)
    assert status == 400 and _code(body) == "PERSISTED_QUERY_HASH_MISMATCH"
    status, body, _ = await dev.post({"query": query, "extensions": ext}, tenant=tenant)
    assert status == 200 and len(body["data"]["customers"]) == 3, body
    status, body, _ = await dev.post({"extensions": ext}, tenant=tenant, user="u2")
    assert status == 200 and len(body["data"]["customers"]) == 3, body
    status, body = await dev.get({"extensions": json.dumps(ext)})
    assert status == 200 and len(body["data"]["customers"]) == 3, body


async def test_allow_list_runs_only_listed_operations(edge: tuple[Edge, Edge]) -> None:
    _dev, prod = edge
    by_hash = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(LISTED)}}}
    status, body, _ = await prod.post(by_hash)
    assert status == 200 and len(body["data"]["customers"]) == 3, body
    same_document = "query Listed {\n  customers {\n    id\n  }\n}"
    status, body, _ = await prod.post({"query": same_document})
    assert status == 200 and "errors" not in body, body
    for payload in (
        {"query": "{ customers { id name } }"},
        {
            "query": "{ customers { name } }",
            "extensions": {
                "persistedQuery": {
                    "version": 1,
                    "sha256Hash": sha256_hex("{ customers { name } }"),
                }
            },
        },
    ):
        status, body, _ = await prod.post(payload)
        assert status == 400 and _code(body) == "PERSISTED_QUERY_NOT_ALLOWED", body
        assert body["errors"][0]["extensions"]["limit"] == "allow_list"


async def test_cost_limit_rejects_with_cost_and_limit(edge: tuple[Edge, Edge]) -> None:
    dev, _prod = edge
    cheap = "{ customers { id name } }"  # 1 + 10 × 2 = 21
    status, body, _ = await dev.post({"query": cheap}, tenant="t-cost")
    assert status == 200 and "errors" not in body, body
    costly = "{ customers { id interactions(first: 2) { id note } } }"  # 1 + 10 × (1 + 1 + 2 × 2)
    status, body, _ = await dev.post({"query": costly}, tenant="t-cost", user="u2")
    assert status == 400 and _code(body) == "COST_LIMIT_EXCEEDED", body
    extensions = body["errors"][0]["extensions"]
    assert (extensions["cost"], extensions["maxCost"], extensions["limit"]) == (61, 50, "max_cost")
    assert "GATEWAY_MAX_COST" in body["errors"][0]["message"]
    # the same document costs what its variables make it (the estimate cache keys on them)
    sized = "query($n: Int) { customers { id interactions(first: $n) { id note } } }"
    status, body, _ = await dev.post({"query": sized, "variables": {"n": 1}}, tenant="t-cost2")
    assert status == 200 and "errors" not in body, body  # 1 + 10 × (1 + 1 + 1 × 2) = 41
    status, body, _ = await dev.post({"query": sized, "variables": {"n": 2}}, tenant="t-cost2")
    assert status == 400 and body["errors"][0]["extensions"]["cost"] == 61, body


async def test_rate_limits_per_user_and_per_tenant(edge: tuple[Edge, Edge]) -> None:
    dev, _prod = edge
    query = {"query": "{ __typename }"}
    for _ in range(3):  # user burst 3
        status, body, _ = await dev.post(query, tenant="t-rate", user="alice")
        assert status == 200, body
    status, body, headers = await dev.post(query, tenant="t-rate", user="alice")
    assert status == 429 and _code(body) == "RATE_LIMITED", body
    assert body["errors"][0]["extensions"]["limit"] == "rate_limit_user_rps"
    assert int(headers["Retry-After"]) >= 1
    # another user of the tenant has its own bucket, until the tenant's burst (5) is spent
    for _ in range(2):
        status, body, _ = await dev.post(query, tenant="t-rate", user="bob")
        assert status == 200, body
    status, body, headers = await dev.post(query, tenant="t-rate", user="carol")
    assert status == 429 and body["errors"][0]["extensions"]["limit"] == "rate_limit_tenant_rps"
    assert "GATEWAY_RATE_LIMIT_TENANT_RPS" in body["errors"][0]["message"]
    assert "Retry-After" in headers
    status, body, _ = await dev.post(query, tenant="t-other", user="alice")
    assert status == 200, body


async def test_only_allow_listed_headers_reach_subgraphs(edge: tuple[Edge, Edge]) -> None:
    dev, _prod = edge
    for sub in dev.subgraphs.values():
        sub.headers.clear()
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    status, body, _ = await dev.post(
        {"query": '{ customer(id: "c1") { id interactions { id } } }'},
        tenant="t-headers",
        headers={
            "X-Request-Id": "req-42",
            "Accept-Language": "zh-CN",
            "X-Internal-Secret": "do-not-forward",
            "Cookie": "session=abc",
            "traceparent": traceparent,
        },
    )
    assert status == 200 and "errors" not in body, body
    received = [h for sub in dev.subgraphs.values() for h in sub.headers]
    assert len(received) == 2  # root fetch + one _entities fetch
    for headers in received:
        assert headers["x-request-id"] == "req-42"
        assert headers["accept-language"] == "zh-CN"
        assert headers["authorization"].startswith("Bearer ")
        assert headers["traceparent"].split("-")[1] == traceparent.split("-")[1]
        assert "x-internal-secret" not in headers
        assert "cookie" not in headers


async def test_query_plan_header_in_development_only(edge: tuple[Edge, Edge]) -> None:
    dev, prod = edge
    query = '{ customer(id: "c1") { name interactions { note } } }'
    status, body, _ = await dev.post(
        {"query": query}, tenant="t-plan", headers={"X-Gateway-Plan": "true"}
    )
    assert status == 200 and body["data"]["customer"]["interactions"], body
    plan = body["extensions"]["queryPlan"]
    stages = plan["phases"][0]["stages"]
    assert [[(r["subgraph"], r["kind"]) for r in stage] for stage in stages] == [
        [("customer", "root")],
        [("engagement", "entities")],
    ]
    assert "_entities" in stages[1][0]["document"]
    assert stages[1][0]["entityTypes"] == ["Customer"]
    status, body, _ = await dev.post({"query": query}, tenant="t-plan")
    assert "extensions" not in body  # only on request
    status, body, _ = await prod.post(
        {"query": LISTED}, tenant="t-plan", headers={"X-Gateway-Plan": "true"}
    )
    assert status == 200 and "extensions" not in body, body


async def test_metrics_per_operation_subgraph_and_error_code(edge: tuple[Edge, Edge]) -> None:
    dev, _prod = edge
    await dev.post({"query": "query Named { customers { id } }"}, tenant="t-metrics")
    await dev.post({"query": "{ nope }"}, tenant="t-metrics", user="u2")
    async with dev.session.get(dev.url.replace("/graphql", "/metrics")) as resp:
        assert resp.status == 200
        text = await resp.text()
    assert (
        'crm_gateway_operations_total{operation_name="Named",operation_type="query",'
        'status="200"}' in text
    )
    assert 'crm_gateway_operation_duration_seconds_count{operation_name="Named"' in text
    assert 'crm_gateway_subgraph_fetches_total{outcome="success",subgraph="customer"}' in text
    assert 'crm_gateway_subgraph_fetch_duration_seconds_count{subgraph="customer"}' in text
    assert 'crm_gateway_errors_total{code="GRAPHQL_VALIDATION_FAILED"}' in text
    assert 'crm_http_requests_total{path="/graphql",service="gateway",status="200"}' in text
