"""Pure logic of the edge features: cost estimate, token buckets, persisted queries, headers.

The cost test also runs the estimate over every GraphQL operation the e2e suite and the seed
script send (read from their source, validated against the committed ``supergraph.graphql``)
to show the default ``GATEWAY_MAX_COST`` leaves them ample room.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    build_schema,
    parse,
    validate,
)

from crm_gateway.edge.cost import estimate_cost
from crm_gateway.edge.headers import parse_allow_list, select_headers
from crm_gateway.edge.persisted import (
    HASH_MISMATCH,
    NOT_ALLOWED,
    NOT_FOUND,
    PersistedQueries,
    load_manifest,
    sha256_hex,
)
from crm_gateway.edge.rate_limit import RateLimiter, TokenBuckets
from crm_gateway.edge.response import GatewayResponse
from crm_gateway.federation.supergraph.file import parse_supergraph
from crm_gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]

SCHEMA = build_schema(
    """
    type Query { customers(first: Int): CustomerConnection! tags: [String!]! me: User }
    type CustomerConnection { edges: [Edge!]! totalCount: Int! }
    type Edge { node: Customer! }
    type Customer { id: ID! name: String! contacts: [Contact!]! }
    type Contact { id: ID! name: String! }
    type User { id: ID! friends(limit: Int): [User!]! }
    """
)


def _cost(query: str, variables: dict[str, object] | None = None, default: int = 10) -> int:
    document = parse(query)
    assert not validate(SCHEMA, document)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return estimate_cost(SCHEMA, operation, fragments, variables or {}, default_list_size=default)


def test_cost_counts_fields_and_multiplies_lists() -> None:
    assert _cost("{ __typename me { id } }") == 2
    assert _cost("{ tags }") == 1  # a list of scalars is one field
    # connection sized by `first`: 1 (customers) + 1 (edges) + 50 × (1 node + 2 fields)
    assert _cost("{ customers(first: 50) { edges { node { id name } } } }") == 1 + 1 + 50 * 3
    # unsized nested list: default size 10 for contacts
    nested = "{ customers(first: 5) { edges { node { contacts { id name } } } } }"
    assert _cost(nested) == 1 + 1 + 5 * (1 + 1 + 10 * 2)
    assert _cost(nested, default=2) == 1 + 1 + 5 * (1 + 1 + 2 * 2)


def test_cost_reads_variables_and_fragments() -> None:
    query = """query($n: Int) { me { ...F } } fragment F on User { friends(limit: $n) { id } }"""
    assert _cost(query, {"n": 7}) == 1 + 1 + 7 * 1
    assert _cost(query, {}) == 1 + 1 + 10 * 1  # unset variable: default list size
    deep = "{ me { friends(limit: 100) { friends(limit: 100) { id } } } }"
    assert _cost(deep) == 1 + 1 + 100 * (1 + 100 * 1)


def _client_operations() -> list[tuple[str, str]]:
    """(source file, document) for each constant GraphQL operation in tests/e2e and seed.py,
    plus the paginated queries the seed's ``all_nodes`` builds from its call sites."""
    files = [*sorted((ROOT / "tests" / "e2e").glob("*.py")), ROOT / "scripts" / "seed.py"]
    found: list[tuple[str, str]] = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if "{" in node.value:
                    found.append((path.name, node.value))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "all_nodes"
                and all(isinstance(a, ast.Constant) for a in node.args)
            ):
                field, selection, *rest = [a.value for a in node.args]  # type: ignore[attr-defined]
                args = rest[0] if rest else ""
                found.append(
                    (
                        path.name,
                        f"query($after: String) {{ {field}({args} first: 200, after: $after) "
                        f"{{ edges {{ node {{ {selection} }} }} "
                        f"pageInfo {{ hasNextPage endCursor }} }} }}",
                    )
                )
    return found


def test_default_max_cost_leaves_room_for_every_e2e_and_seed_query() -> None:
    supergraph = parse_supergraph((ROOT / "supergraph.graphql").read_text(encoding="utf-8"))
    schema = supergraph.api_schema
    settings = GatewaySettings()
    costs: list[tuple[int, str]] = []
    for source, text in _client_operations():
        try:
            document = parse(text)
        except GraphQLError:
            continue  # not GraphQL (JSON, messages, ...)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if not operations or validate(schema, document):
            continue  # deliberately invalid documents (hostile-input tests) never get costed
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        for operation in operations:
            cost = estimate_cost(
                schema,
                operation,
                fragments,
                {},
                default_list_size=settings.cost_default_list_size,
            )
            costs.append((cost, f"{source}: {text[:60]!r}"))
    assert len(costs) >= 100, "the e2e corpus was not found"
    worst = max(costs)
    # At least 4x headroom: the real clients' heaviest query stays far below the limit.
    assert worst[0] * 4 <= settings.max_cost, worst


def test_token_buckets_refill_and_limit_both_user_and_tenant() -> None:
    now = [0.0]
    user = TokenBuckets(1.0, 2.0, clock=lambda: now[0])
    tenant = TokenBuckets(2.0, 3.0, clock=lambda: now[0])
    limiter = RateLimiter(user, tenant)
    assert limiter.admit("t1", "alice") is None
    assert limiter.admit("t1", "alice") is None
    rejected = limiter.admit("t1", "alice")
    assert rejected is not None and rejected.limit == "rate_limit_user_rps"
    assert rejected.retry_after_s == 1
    assert limiter.admit("t1", "bob") is None  # tenant still has its third token
    rejected = limiter.admit("t1", "carol")
    assert rejected is not None and rejected.limit == "rate_limit_tenant_rps"
    assert limiter.admit("t2", "alice") is None  # same user id, other tenant: its own bucket
    now[0] = 1.0  # one second refills one user token and two tenant tokens
    assert limiter.admit("t1", "alice") is None
    assert limiter.admit("t1", "alice") is not None


def test_rate_limits_default_off_in_development_on_in_production() -> None:
    assert GatewaySettings().rate_limits() == (0.0, 0.0, 0.0, 0.0)
    assert GatewaySettings(env="production").rate_limits() == (50.0, 100.0, 500.0, 1000.0)
    explicit = GatewaySettings(rate_limit_user_rps=5, rate_limit_user_burst=7)
    assert explicit.rate_limits()[:2] == (5.0, 7.0)


def _code(result: str | GatewayResponse | None) -> str:
    assert isinstance(result, GatewayResponse), result
    code: str = result.body["errors"][0]["extensions"]["code"]
    return code


def test_apq_registers_after_verifying_the_hash_and_evicts_lru() -> None:
    store = PersistedQueries(cache_size=2)
    query = "{ me { id } }"
    digest = sha256_hex(query)
    ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    assert _code(store.resolve(None, ext)) == NOT_FOUND
    assert _code(store.resolve("{ tags }", ext)) == HASH_MISMATCH
    assert store.resolve(query, ext) == query
    assert store.resolve(None, ext) == query
    for other in ("{ a }", "{ b }"):
        store.resolve(other, {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(other)}})
    assert len(store) == 2
    assert _code(store.resolve(None, ext)) == NOT_FOUND  # evicted (least recently used)
    with pytest.raises(ValueError, match="GATEWAY_PERSISTED_QUERIES_FILE"):
        PersistedQueries(allow_list=True)


def test_allow_list_accepts_listed_documents_only() -> None:
    listed = "query Me { me { id } }"
    store = PersistedQueries(manifest={"my-id": listed}, allow_list=True)
    assert store.resolve(None, {"persistedQuery": {"version": 1, "sha256Hash": "my-id"}}) == listed
    by_hash = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(listed)}}
    assert store.resolve(None, by_hash) == listed
    reformatted = "query Me {\n  me {\n    id\n  }\n}"
    assert store.resolve(reformatted, None) == reformatted
    assert _code(store.resolve("{ me { id } }", None)) == NOT_ALLOWED
    other = "{ tags }"
    ext = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(other)}}
    assert _code(store.resolve(other, ext)) == NOT_ALLOWED  # no registration in allow-list mode
    assert _code(store.resolve(None, ext)) == NOT_ALLOWED


def test_header_allow_list_keeps_trace_headers_and_drops_transport_headers() -> None:
    allowed = parse_allow_list(" Accept-Language ,x-request-id,content-type,Authorization")
    assert allowed == {
        "accept-language",
        "x-request-id",
        "authorization",
        "traceparent",
        "tracestate",
    }
    from multidict import CIMultiDict

    incoming = CIMultiDict(
        {"Accept-Language": "zh-CN", "X-Secret": "s", "Traceparent": "00-abc", "Authorization": "B"}
    )
    assert select_headers(incoming, allowed) == {
        "accept-language": "zh-CN",
        "traceparent": "00-abc",
    }


def test_allow_list_without_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="GATEWAY_PERSISTED_QUERIES_FILE"):
        GatewaySettings(allow_list=True).check_safe()
    manifest = tmp_path / "persisted.json"
    manifest.write_text('{"h": 1}', encoding="utf-8")
    with pytest.raises(ValueError, match="JSON object of strings"):
        load_manifest(manifest)


def test_cost_of_a_fragment_bomb_is_computed_quickly() -> None:
    levels = 40  # 2**40 field visits without memoisation
    fragments = " ".join(
        f"fragment F{i} on User {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    query = f"{{ me {{ ...F0 }} }} {fragments} fragment F{levels} on User {{ id }}"
    started = time.perf_counter()
    cost = _cost(query)
    assert time.perf_counter() - started < 1.0
    assert cost == 1 + 2**levels  # each doubling spread counts (the limit rejects it)
