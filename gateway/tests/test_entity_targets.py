"""Entity fetches find their objects below their feeders' answers, once per path and stage run.

The executor checks every collection against a walk from the root in all gateway tests
(`Executor.verify_targets`, set in conftest); this pins down the plan facts it relies on, on the
public benchmark's deep query.
"""

from __future__ import annotations

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from crm_gateway.federation.execution.executor import ExecutionState, Executor
from crm_gateway.federation.planning.builder import Planner
from crm_gateway.federation.planning.plan import Feeder, Fetch, QueryPlan
from crm_gateway.federation.supergraph.file import parse_supergraph

from .cost_corpus import BENCH_QUERY, BENCH_SUPERGRAPH
from .federation_kit import JOIN_HEADER


def _plan() -> QueryPlan:
    document = parse(BENCH_QUERY)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return Planner(parse_supergraph(JOIN_HEADER + BENCH_SUPERGRAPH)).plan(operation, fragments, {})


def _fetches(plan: QueryPlan) -> list[Fetch]:
    return [f for phase in plan.phases for stage in phase.stages for f in stage]


def test_deep_entity_fetches_are_fed_by_the_fetch_that_selected_their_path() -> None:
    plan = _plan()
    by_path: dict[tuple[str, ...], list[Fetch]] = {}
    for fetch in _fetches(plan):
        if fetch.is_root:
            assert plan.feeders(fetch) is None  # never walked for
        else:
            by_path.setdefault(fetch.path, []).append(fetch)
    users_reviews = next(f for f in _fetches(plan) if f.path == ("users",))
    deep = ("users", "reviews", "product", "reviews", "author", "reviews", "product")
    # The reviews subgraph's answer for the users holds the whole nested path: only the part
    # below `users` is walked, from the objects that answer was merged into.
    for fetch in by_path[deep]:
        assert plan.feeders(fetch) == (Feeder(users_reviews.id, deep[1:]),)
    # Several fetches at one path (other subgraphs, or the @requires stage after it) share the
    # objects collected for the first, as no fetch in between adds objects there.
    assert len(by_path[deep]) >= 2
    first = min(plan.position(f) for f in by_path[deep])
    assert all(plan.fed_before(f, first) for f in by_path[deep])
    # ... but not the objects collected before their feeder ran.
    assert not plan.fed_before(by_path[deep][0], plan.position(users_reviews))


def test_an_entity_error_is_reported_at_every_path_of_its_representation() -> None:
    # Collections carry no paths; an error in an _entities answer finds them when it happens.
    shared = {"__typename": "Product", "upc": "1"}  # one object reached by two paths
    other = {"__typename": "Product", "upc": "2"}
    data = {
        "users": [
            {"reviews": [{"product": shared}, {"product": other}]},
            {"reviews": [{"product": shared}]},
        ]
    }
    state = ExecutionState(data=data)
    fetch = Fetch(id=3, subgraph="inventory", stage=1, path=("users", "reviews", "product"))
    targets = [[shared, shared], [other]]  # representation 0 (found twice), representation 1
    raw = {"message": "boom", "path": ["e3", 0, "inStock"], "extensions": {"code": "X"}}
    paths: dict[tuple[str, ...], object] = {}
    Executor._entity_error(raw, {"e3": (fetch, targets)}, state, False, paths)
    assert [e["path"] for e in state.errors] == [
        ["users", 0, "reviews", 0, "product", "inStock"],
        ["users", 1, "reviews", 0, "product", "inStock"],
    ]
    # A second error of the same answer reuses the walk (one per fetch path, not per error).
    other_error = {"message": "gone", "path": ["e3", 1], "extensions": {"code": "Y"}}
    Executor._entity_error(other_error, {"e3": (fetch, targets)}, state, False, paths)
    assert list(paths) == [fetch.path]
    assert state.errors[-1]["path"] == ["users", 0, "reviews", 1, "product"]
    assert state.errors[0]["extensions"] == {"code": "X"}
