"""Executing a `QueryPlan`: subgraph requests, merging, and shaping the client response.

Fetched data is merged into one raw tree (it may hold extra key fields). The final response is
produced by running the client operation with graphql-core over that tree: this gives the
requested field order, ``__typename``, introspection, and spec-conform null propagation. A
failed fetch leaves `FieldFailure` markers where its fields would be, so the error surfaces at
exactly those paths.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry import trace

from crm_gateway.federation.execution.client import SubgraphClient, SubgraphFailure
from crm_gateway.federation.planning.plan import (
    REPRESENTATIONS_VAR,
    Fetch,
    QueryPlan,
    RepField,
)
from crm_gateway.federation.supergraph.model import INTERFACE, UNION, Supergraph

log = logging.getLogger(__name__)
tracer = trace.get_tracer("crm_gateway")

Path = tuple[str | int, ...]
NON_NULL_MESSAGE = "Cannot return null for non-nullable field"


@dataclass(frozen=True, slots=True)
class FieldFailure:
    """Stands in for a field whose fetch failed; raising it reports the error at its path."""

    message: str
    code: str
    # Further client-safe extensions from the subgraph (e.g. the offending input `field`).
    details: tuple[tuple[str, Any], ...] = ()

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, **dict(self.details)}


# An object of the merged tree that an entity fetch is made for. Its response path is only
# needed for an error and is found then (`_paths_at`): the walks that run for every fetch
# build no paths and allocate nothing but the list of objects.
Obj = dict[str, Any]


@dataclass(slots=True)
class ExecutionState:
    data: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    interface_object_paths: frozenset[tuple[str, ...]] = frozenset()
    # Per fetch id: the objects its answer was merged into (the root fetches: the root), in
    # tree order; later entity fetches collect their objects below these (`_targets_of`).
    merged_into: dict[int, list[Obj]] = field(default_factory=dict)
    # Per entity-fetch path: the stage position it was collected at and the objects found
    # then; fetches at the same path reuse them while no fetch added objects there since.
    collected: dict[tuple[str, ...], tuple[int, list[Obj]]] = field(default_factory=dict)


def _error(message: str, code: str, path: Path | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"message": message}
    if path is not None:
        out["path"] = list(path)
    out["extensions"] = {"code": code}
    return out


# Codes whose messages are meant for clients; other subgraph messages are masked in production.
CLIENT_FACING_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "BAD_USER_INPUT",
        "CONFLICT",
        "GRAPHQL_VALIDATION_FAILED",
        "SERVICE_UNAVAILABLE",
    }
)
MASKED_MESSAGE = "Internal server error"


def _tracing() -> bool:
    """Whether a real tracer provider is installed (spans are recorded for someone)."""
    return not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )


@functools.lru_cache(maxsize=4096)
def _document_hash(document: str) -> str:
    """sha256 of a subgraph document (plans reuse their documents, so this is cached)."""
    return hashlib.sha256(document.encode()).hexdigest()


def subgraph_error(raw: Any, path: Path | None, mask: bool = False) -> dict[str, Any]:
    """A subgraph error made client-safe: its message and code, our path, no locations.

    With ``mask``, errors whose code is not client-facing keep only their code; the original
    message is logged.
    """
    if not isinstance(raw, dict):
        return _error("Subgraph error", "INTERNAL_SERVER_ERROR", path)
    message = raw.get("message")
    extensions = raw.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    if mask and code not in CLIENT_FACING_CODES:
        log.error("masked subgraph error (code %s) at %s: %s", code, path, message)
        # Kept on the trace too: the span of the operation being executed gets the details.
        trace.get_current_span().add_event(
            "graphql.masked_error",
            {
                "graphql.error.code": str(code),
                "graphql.error.message": str(message),
                "graphql.error.path": str(list(path) if path else []),
            },
        )
        return _error(
            MASKED_MESSAGE, code if isinstance(code, str) else "INTERNAL_SERVER_ERROR", path
        )
    out: dict[str, Any] = {"message": message if isinstance(message, str) else "Subgraph error"}
    if path is not None:
        out["path"] = list(path)
    ext: dict[str, Any] = {"code": code if isinstance(code, str) else "INTERNAL_SERVER_ERROR"}
    if isinstance(extensions, dict):
        for k, v in extensions.items():
            if k not in ("exception", "stacktrace", "code"):
                ext[k] = v
    out["extensions"] = ext
    return out


def _first_failure(body: dict[str, Any], subgraph: str, mask: bool) -> FieldFailure:
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        err = subgraph_error(errors[0], None, mask)
        extensions = err["extensions"]
        details = tuple((k, v) for k, v in extensions.items() if k != "code")
        return FieldFailure(err["message"], extensions["code"], details)
    return FieldFailure(f"Subgraph '{subgraph}' returned no data", "SUBGRAPH_UNAVAILABLE")


def deep_merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    """Merge a subgraph result into the raw tree (objects field-wise, lists item-wise)."""
    for key, value in source.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            deep_merge(current, value)
        elif isinstance(current, list) and isinstance(value, list) and len(current) == len(value):
            _merge_lists(current, value)
        elif current is None or isinstance(current, FieldFailure) or key not in target:
            target[key] = value


def _merge_lists(current: list[Any], value: list[Any]) -> None:
    for i, (a, b) in enumerate(zip(current, value, strict=True)):
        if isinstance(a, dict) and isinstance(b, dict):
            deep_merge(a, b)
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            _merge_lists(a, b)
        elif a is None:
            current[i] = b


def _collect(value: Any, path: tuple[str, ...]) -> list[Obj]:
    """Objects at a response path, lists flattened, in tree order (once per path to them)."""
    found: list[Obj] = []
    _collect_into(found, value, path, 0)
    return found


def _collect_into(found: list[Obj], value: Any, path: tuple[str, ...], i: int) -> None:
    # A plain recursive walk (no generators): it runs for every entity of every fetch.
    if type(value) is list:
        for item in value:
            _collect_into(found, item, path, i)
    elif type(value) is dict:
        if i == len(path):
            found.append(value)
        else:
            _collect_into(found, value.get(path[i]), path, i + 1)


def _paths_into(
    found: list[tuple[Obj, Path]], value: Any, path: tuple[str, ...], i: int, at: Path
) -> None:
    if type(value) is list:
        for index, item in enumerate(value):
            _paths_into(found, item, path, i, (*at, index))
    elif type(value) is dict:
        if i == len(path):
            found.append((value, at))
        else:
            _paths_into(found, value.get(path[i]), path, i + 1, (*at, path[i]))


def _paths_at(
    data: Obj, path: tuple[str, ...], objs: list[Obj], index: dict[tuple[str, ...], Any]
) -> list[Path]:
    """The response paths of ``objs`` (objects at ``path``), in tree order (for errors).

    ``index`` keeps, per path, each object's (position, path) pairs from one walk, so that an
    answer with many errors walks the tree once per fetch, not once per error.
    """
    by_obj: dict[int, list[tuple[int, Path]]] | None = index.get(path)
    if by_obj is None:
        found: list[tuple[Obj, Path]] = []
        _paths_into(found, data, path, 0, ())
        by_obj = index[path] = {}
        for position, (obj, at) in enumerate(found):
            by_obj.setdefault(id(obj), []).append((position, at))
    pairs = [pair for key in dict.fromkeys(map(id, objs)) for pair in by_obj.get(key, ())]
    return [at for _position, at in sorted(pairs, key=lambda pair: pair[0])]


def _check_targets(found: list[Obj], walked: list[Obj], fetch: Fetch) -> None:
    if sorted(map(id, found)) != sorted(map(id, walked)):
        raise AssertionError(
            f"fetch {fetch.id} at {fetch.path}: incremental collection found {len(found)} "
            f"objects, a walk from the root {len(walked)} (or other ones)"
        )


def _representation(obj: dict[str, Any], spec: list[RepField] | tuple[RepField, ...]) -> Any:
    rep: dict[str, Any] = {}
    for rf in spec:
        value = obj.get(rf.key)
        if rf.optional and rf.key not in obj:
            continue
        if value is None or isinstance(value, FieldFailure):
            return None
        if rf.sub is not None:
            if isinstance(value, list):
                items = [_representation(v, rf.sub) for v in value]
                if any(v is None for v in items):
                    return None
                value = items
            else:
                value = _representation(value, rf.sub)
                if value is None:
                    return None
        rep[rf.name] = value
    return rep


def _targets_of(plan: QueryPlan, fetch: Fetch, state: ExecutionState) -> list[Obj]:
    """The objects at an entity fetch's path, in tree order.

    Collected below the objects its feeder's answer was merged into (only the rest of the path
    is walked, `QueryPlan.feeders`), once for all the fetches at that path while no fetch put
    new objects there (`QueryPlan.fed_before`); from the root when the plan names no feeder or
    several (shareable fields: an object must not be found twice). The list is shared: read
    it, never change it.
    """
    cached = state.collected.get(fetch.path)
    if cached is not None and plan.fed_before(fetch, cached[0]):
        return cached[1]
    feeders = plan.feeders(fetch)
    if feeders is None or len(feeders) > 1:
        found = _collect(state.data, fetch.path)
    else:
        found = []
        rest = feeders[0].rest
        for parent in state.merged_into.get(feeders[0].fetch_id, ()):
            _collect_into(found, parent, rest, 0)
    if feeders is not None:
        state.collected[fetch.path] = (plan.position(fetch), found)
    return found


class Executor:
    """Runs plans against subgraphs; stateless across requests."""

    # Tests: also walk from the root and check the incremental collection found the same
    # objects, each as often as that walk does (`_targets_of`).
    verify_targets = False

    def __init__(
        self, supergraph: Supergraph, client: SubgraphClient, *, mask_errors: bool = False
    ) -> None:
        self._supergraph = supergraph
        self._client = client
        self._abstract = frozenset(
            name for name, t in supergraph.types.items() if t.kind in (INTERFACE, UNION)
        )
        self._mask = mask_errors

    async def run(
        self, plan: QueryPlan, variables: dict[str, Any], authorization: str | None
    ) -> ExecutionState:
        state = ExecutionState(interface_object_paths=plan.interface_object_paths)
        for phase in plan.phases:
            for stage in phase.stages:
                groups: dict[str, list[Fetch]] = {}
                for fetch in stage:
                    groups.setdefault(fetch.subgraph, []).append(fetch)
                calls = [
                    self._run_group(plan, phase.operation, fetches, variables, authorization, state)
                    for fetches in groups.values()
                ]
                if len(calls) == 1:
                    await calls[0]
                else:
                    await asyncio.gather(*calls)
        return state

    async def run_after_root(
        self,
        plan: QueryPlan,
        variables: dict[str, Any],
        authorization: str | None,
        state: ExecutionState,
    ) -> None:
        """The stages after the root one (a subscription event: its ``_entities`` fetches)."""
        phase = plan.phases[0]
        for stage in phase.stages[1:]:
            groups: dict[str, list[Fetch]] = {}
            for fetch in stage:
                groups.setdefault(fetch.subgraph, []).append(fetch)
            calls = [
                self._run_group(plan, "query", fetches, variables, authorization, state)
                for fetches in groups.values()
            ]
            if len(calls) == 1:
                await calls[0]
            else:
                await asyncio.gather(*calls)

    async def _request(
        self,
        subgraph: str,
        document: str,
        variables: dict[str, Any],
        authorization: str | None,
        operation: str,
        operation_name: str | None,
    ) -> dict[str, Any]:
        url = self._supergraph.subgraphs[subgraph].url
        if not _tracing():
            # No exporter installed (crm_common.tracing): the span would be a no-op that costs
            # a fifth of a subscription event's work; the client's traceparent is still
            # forwarded as it came (crm_gateway.edge.headers).
            return await self._client.request(
                subgraph, url, document, variables, authorization, retry=operation == "query"
            )
        attributes = {
            "graphql.subgraph.name": subgraph,
            "graphql.operation.type": operation,
            "graphql.document.hash": _document_hash(document),
        }
        if operation_name:
            attributes["graphql.operation.name"] = operation_name
        # The aiohttp client span (one per attempt) becomes a child of this one.
        with tracer.start_as_current_span("graphql.fetch", attributes=attributes):
            return await self._client.request(
                subgraph, url, document, variables, authorization, retry=operation == "query"
            )

    async def _run_group(
        self,
        plan: QueryPlan,
        operation: str,
        fetches: list[Fetch],
        variables: dict[str, Any],
        authorization: str | None,
        state: ExecutionState,
    ) -> None:
        subgraph = fetches[0].subgraph
        if fetches[0].is_root:
            await self._run_root(plan, operation, fetches[0], variables, authorization, state)
            return
        # Entity fetches: gather deduplicated representations per fetch.
        active: list[tuple[Fetch, list[Any], list[list[Obj]]]] = []
        for fetch in fetches:
            reps: list[Any] = []
            targets: list[list[Obj]] = []
            index: dict[bytes, int] = {}
            merged: list[Obj] = []
            candidates = _targets_of(plan, fetch, state)
            if self.verify_targets:
                _check_targets(candidates, _collect(state.data, fetch.path), fetch)
            for target in candidates:
                found = fetch.part_for(target.get("__typename"))
                if found is None:
                    continue
                entity_type, part = found
                rep = _representation(target, part.rep)
                if rep is None:
                    continue
                rep["__typename"] = entity_type  # an interface name for @interfaceObject
                dedup_key = orjson.dumps(rep, option=orjson.OPT_SORT_KEYS)
                i = index.get(dedup_key)
                if i is None:
                    i = index[dedup_key] = len(reps)
                    reps.append(rep)
                    targets.append([])
                targets[i].append(target)
                merged.append(target)
            if reps:
                active.append((fetch, reps, targets))
                state.merged_into[fetch.id] = merged
        if not active:
            return
        document = plan.document("query", [a[0] for a in active])
        request_vars: dict[str, Any] = {}
        for fetch, reps, _targets in active:
            request_vars[f"{REPRESENTATIONS_VAR}{fetch.id}"] = reps
            for name in fetch.variables:
                if name in variables:
                    request_vars[name] = variables[name]
        try:
            body = await self._request(
                subgraph, document, request_vars, authorization, "query", plan.operation_name
            )
        except SubgraphFailure as exc:
            failure = FieldFailure(exc.message, exc.code)
            for fetch, _reps, targets in active:
                self._fail_entities(fetch, targets, failure)
            return
        data = body.get("data")
        if not isinstance(data, dict):
            failure = _first_failure(body, subgraph, self._mask)
            for fetch, _reps, targets in active:
                self._fail_entities(fetch, targets, failure)
            return
        alias_targets = {f"e{fetch.id}": (fetch, targets) for fetch, _reps, targets in active}
        for fetch, _reps, targets in active:
            results = data.get(f"e{fetch.id}")
            if not isinstance(results, list):
                continue
            for result, group in zip(results, targets, strict=False):
                if isinstance(result, dict):
                    for target in group:
                        self._merge_entity(target, result)
        paths: dict[tuple[str, ...], Any] = {}
        for raw in body.get("errors") or ():
            self._entity_error(raw, alias_targets, state, self._mask, paths)

    def _merge_entity(self, obj: dict[str, Any], result: dict[str, Any]) -> None:
        """Merge an ``_entities`` answer; a concrete __typename replaces an interface name."""
        typename = result.get("__typename")
        if typename is not None and typename != obj.get("__typename"):
            if typename in self._abstract:
                # An @interfaceObject subgraph answers the interface name: keep what we know.
                result = {k: v for k, v in result.items() if k != "__typename"}
            elif obj.get("__typename") in self._abstract:
                obj["__typename"] = typename
        deep_merge(obj, result)

    @staticmethod
    def _entity_error(
        raw: Any,
        alias_targets: dict[str, tuple[Fetch, list[list[Obj]]]],
        state: ExecutionState,
        mask: bool,
        paths: dict[tuple[str, ...], Any],
    ) -> None:
        path = raw.get("path") if isinstance(raw, dict) else None
        if (
            isinstance(path, list)
            and len(path) >= 2
            and path[0] in alias_targets
            and isinstance(path[1], int)
            and 0 <= path[1] < len(alias_targets[path[0]][1])
        ):
            fetch, targets = alias_targets[path[0]]
            for at in _paths_at(state.data, fetch.path, targets[path[1]], paths):
                state.errors.append(subgraph_error(raw, (*at, *path[2:]), mask))
        else:
            state.errors.append(subgraph_error(raw, None, mask))

    @staticmethod
    def _fail_entities(fetch: Fetch, targets: list[list[Obj]], failure: FieldFailure) -> None:
        for group in targets:
            for target in group:
                found = fetch.part_for(target.get("__typename"))
                if found is None:
                    continue
                part = found[1]
                for key in part.selection.fields:
                    if key not in target:
                        target[key] = failure

    async def _run_root(
        self,
        plan: QueryPlan,
        operation: str,
        fetch: Fetch,
        variables: dict[str, Any],
        authorization: str | None,
        state: ExecutionState,
    ) -> None:
        assert fetch.root is not None
        document = plan.document(operation, [fetch])
        request_vars = {name: variables[name] for name in fetch.variables if name in variables}
        try:
            body = await self._request(
                fetch.subgraph,
                document,
                request_vars,
                authorization,
                operation,
                plan.operation_name,
            )
        except SubgraphFailure as exc:
            failure = FieldFailure(exc.message, exc.code)
            for key in fetch.root.fields:
                state.data.setdefault(key, failure)
            return
        self.merge_root(fetch, body, state)

    def merge_root(self, fetch: Fetch, body: dict[str, Any], state: ExecutionState) -> None:
        """Merge a root fetch's answer (or one subscription event) into ``state``."""
        assert fetch.root is not None
        data = body.get("data")
        if not isinstance(data, dict):
            failure = _first_failure(body, fetch.subgraph, self._mask)
            for key in fetch.root.fields:
                state.data.setdefault(key, failure)
            return
        deep_merge(state.data, data)
        state.merged_into[fetch.id] = [state.data]
        for raw in body.get("errors") or ():
            path = raw.get("path") if isinstance(raw, dict) else None
            state.errors.append(
                subgraph_error(raw, tuple(path) if isinstance(path, list) else None, self._mask)
            )
