"""The gateway in front of three real strawberry subgraphs, over HTTP."""

from __future__ import annotations

import json

import aiohttp

from .conftest import Stack, start_gateway, start_subgraph, stop_subgraph


async def test_root_fields_of_two_subgraphs_in_one_request(fresh: Stack) -> None:
    status, body = await fresh.post("{ customers { id name } interactions { id note } }")
    assert status == 200, body
    assert "errors" not in body
    assert [c["name"] for c in body["data"]["customers"]] == ["Ada Ltd", "Bob GmbH", "Cy SA"]
    assert len(body["data"]["interactions"]) == 4
    assert len(fresh.subgraphs["customer"].operations()) == 1
    assert len(fresh.subgraphs["engagement"].operations()) == 1
    assert fresh.subgraphs["quoting"].operations() == []


async def test_entity_fields_one_batched_deduplicated_call_per_subgraph(fresh: Stack) -> None:
    status, body = await fresh.post("{ interactions { note customer { name quoteTotal } } }")
    assert status == 200, body
    assert "errors" not in body
    rows = body["data"]["interactions"]
    assert rows[0] == {"note": "call", "customer": {"name": "Ada Ltd", "quoteTotal": 200}}
    assert [r["customer"]["name"] for r in rows] == ["Ada Ltd", "Bob GmbH", "Ada Ltd", "Bob GmbH"]
    for name in ("customer", "quoting"):
        calls = fresh.subgraphs[name].entity_calls()
        assert len(calls) == 1, name
        reps = next(v for k, v in calls[0]["variables"].items() if k.startswith("_gw_r"))
        assert reps == [
            {"__typename": "Customer", "id": "c1"},
            {"__typename": "Customer", "id": "c2"},
        ]


async def test_nested_jumps_one_call_per_level(fresh: Stack) -> None:
    query = """
      { customers { name interactions(first: 1) { note customer { name quoteCount } } } }
    """
    status, body = await fresh.post(query)
    assert status == 200, body
    assert "errors" not in body
    first = body["data"]["customers"][0]
    assert first == {
        "name": "Ada Ltd",
        "interactions": [{"note": "call", "customer": {"name": "Ada Ltd", "quoteCount": 2}}],
    }
    assert body["data"]["customers"][2]["interactions"] == []
    assert len(fresh.subgraphs["customer"].operations()) == 2  # root + one level-2 _entities
    assert len(fresh.subgraphs["engagement"].entity_calls()) == 1
    assert len(fresh.subgraphs["quoting"].entity_calls()) == 1


async def test_aliases_fragments_variables_skip_include(fresh: Stack) -> None:
    query = """
      query Q($id: ID!, $withQuotes: Boolean!) {
        who: customer(id: $id) { ...Basics total: quoteTotal @include(if: $withQuotes) }
        again: customer(id: $id) { ... on Customer { id } tier @skip(if: true) }
      }
      fragment Basics on Customer { id label: name __typename }
    """
    status, body = await fresh.post(query, {"id": "c2", "withQuotes": True})
    assert status == 200, body
    assert body["data"] == {
        "who": {"id": "c2", "label": "Bob GmbH", "__typename": "Customer", "total": 200},
        "again": {"id": "c2"},
    }
    root_call = fresh.subgraphs["customer"].operations()[0]
    assert root_call["variables"] == {"id": "c2"}  # only the variables the subgraph uses
    assert "@skip" not in root_call["query"] and "tier" not in root_call["query"]

    fresh.reset()
    status, body = await fresh.post(query, {"id": "c2", "withQuotes": False})
    assert body["data"]["who"] == {"id": "c2", "label": "Bob GmbH", "__typename": "Customer"}
    assert fresh.subgraphs["quoting"].operations() == []


async def test_requires_sends_required_fields_in_representations(fresh: Stack) -> None:
    status, body = await fresh.post("{ customers { id discount } }")
    assert status == 200, body
    assert [c["discount"] for c in body["data"]["customers"]] == [15, 5, 15]
    call = fresh.subgraphs["quoting"].entity_calls()[0]
    reps = next(v for k, v in call["variables"].items() if k.startswith("_gw_r"))
    assert reps[0] == {"__typename": "Customer", "id": "c1", "tier": "GOLD"}


async def test_entity_from_non_owner_root(fresh: Stack) -> None:
    status, body = await fresh.post("{ quotes { id customer { name discount } } }")
    assert status == 200, body
    assert body["data"] == {"quotes": [{"id": "q1", "customer": {"name": "Cy SA", "discount": 15}}]}


async def test_mutation_then_entity_fields(fresh: Stack) -> None:
    status, body = await fresh.post(
        'mutation { a: renameCustomer(id: "c3", name: "Cy2") { name quoteCount }'
        ' b: renameCustomer(id: "c3", name: "Cy SA") { name } }'
    )
    assert status == 200, body
    assert body["data"] == {"a": {"name": "Cy2", "quoteCount": 2}, "b": {"name": "Cy SA"}}


async def test_subgraph_error_passes_through_with_path_and_code(fresh: Stack) -> None:
    status, body = await fresh.post("{ boom interactions { id } }")
    assert status == 200
    assert body["data"]["boom"] is None
    assert len(body["data"]["interactions"]) == 4
    assert body["errors"] == [
        {"message": "Customer not found", "path": ["boom"], "extensions": {"code": "NOT_FOUND"}}
    ]


async def test_typename_and_introspection_answered_locally(fresh: Stack) -> None:
    status, body = await fresh.post('{ __typename __type(name: "Customer") { name } }')
    assert status == 200, body
    assert body["data"] == {"__typename": "Query", "__type": {"name": "Customer"}}
    assert all(s.operations() == [] for s in fresh.subgraphs.values())
    status, body = await fresh.post("{ __schema { types { name } } }")
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert "Customer" in names and "_Any" not in names and "_Service" not in names


async def test_limits(fresh: Stack) -> None:
    status, body = await fresh.post(
        "{ customers { interactions { customer { interactions { customer { interactions "
        "{ customer { name } } } } } } } }"
    )
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "maximum depth of 6" in body["errors"][0]["message"]
    status, body = await fresh.post(
        "{ a: customers { id } b: customers { id } c: boom d: boom e: boom }"
    )
    assert status == 400
    assert "maximum of 4" in body["errors"][0]["message"]
    assert "GATEWAY_MAX_ALIASES" in body["errors"][0]["message"]
    assert all(s.operations() == [] for s in fresh.subgraphs.values())


async def test_validation_and_variable_errors(fresh: Stack) -> None:
    status, body = await fresh.post("{ customers { nope } }")
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    status, body = await fresh.post("query ($id: ID!) { customer(id: $id) { id } }", {})
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    status, body = await fresh.post("{ customers { id ")
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_auth_is_required_and_forwarded(fresh: Stack) -> None:
    status, body = await fresh.post("{ customers { id } }", token=None)
    assert status == 401
    assert body == {
        "errors": [{"message": "Missing bearer token", "extensions": {"code": "UNAUTHENTICATED"}}]
    }
    status, body = await fresh.post("{ customers { id } }", token="not-a-jwt")
    assert status == 401
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert all(s.operations() == [] for s in fresh.subgraphs.values())
    await fresh.post("{ customers { id } }")
    # the subgraph middleware only records requests carrying a bearer token


async def test_http_errors(fresh: Stack) -> None:
    auth = {"Authorization": f"Bearer {fresh.token}"}
    url = fresh.gateway_url
    async with fresh.session.post(url, data="{ customers { id } }", headers=auth) as resp:
        assert resp.status == 415
        body = await resp.json()
        assert body["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    headers = {**auth, "Content-Type": "application/json"}
    async with fresh.session.post(url, data="{not json", headers=headers) as resp:
        assert resp.status == 400
        assert (await resp.json())["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    big = json.dumps({"query": "{ customers { id } }", "pad": "x" * (1_100_000)})
    async with fresh.session.post(url, data=big, headers=headers) as resp:
        assert resp.status == 413
        assert (await resp.json())["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_graphiql_and_health(fresh: Stack) -> None:
    base = fresh.gateway_url.removesuffix("/graphql")
    async with fresh.session.get(fresh.gateway_url, headers={"Accept": "text/html"}) as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "/graphiql/static/graphiql.min.js" in page and "Bearer <paste token>" in page
    assert "unpkg" not in page and "cdn" not in page.lower()
    for asset in ("graphiql.min.js", "graphiql.min.css", "react.production.min.js"):
        async with fresh.session.get(f"{base}/graphiql/static/{asset}") as resp:
            assert resp.status == 200, asset
    async with fresh.session.get(f"{base}/healthz") as resp:
        assert resp.status == 200
    async with fresh.session.get(f"{base}/readyz") as resp:
        assert resp.status == 200
    headers = {"Authorization": f"Bearer {fresh.token}"}
    async with fresh.session.get(
        fresh.gateway_url, params={"query": "{ customers { id } }"}, headers=headers
    ) as resp:
        assert resp.status == 200
        assert len((await resp.json())["data"]["customers"]) == 3


async def test_subgraph_down_gives_partial_data_and_errors(stack: Stack) -> None:
    """Own gateway + subgraphs so stopping one does not disturb the shared stack."""
    from .conftest import Subgraph, customer_schema, engagement_schema, make_token, quoting_schema

    subs = {
        "customer": Subgraph("customer", customer_schema),
        "engagement": Subgraph("engagement", engagement_schema),
        "quoting": Subgraph("quoting", quoting_schema),
    }
    for sub in subs.values():
        await start_subgraph(sub)
    runner, _app, url = await start_gateway(subs)
    try:
        await stop_subgraph(subs["quoting"])
        headers = {"Authorization": f"Bearer {make_token()}"}
        query = (
            '{ customer(id: "c1") { name quoteCount } customers { name quoteTotal } '
            "interactions { id } quotes { id } }"
        )
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json={"query": query}, headers=headers) as resp,
        ):
            assert resp.status == 200
            body = await resp.json()
        data = body["data"]
        assert data["customer"] is None  # quoteCount is Int!: null propagates to customer
        assert data["customers"][0] == {"name": "Ada Ltd", "quoteTotal": None}
        assert len(data["interactions"]) == 4
        assert data["quotes"] is None
        by_path = {tuple(e["path"]): e for e in body["errors"]}
        assert ("customer", "quoteCount") in by_path
        assert ("customers", 0, "quoteTotal") in by_path
        assert ("quotes",) in by_path
        for error in body["errors"]:
            assert error["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
            assert "Traceback" not in error["message"] and "127.0.0.1" not in error["message"]
    finally:
        await runner.cleanup()
        for sub in subs.values():
            await stop_subgraph(sub)
