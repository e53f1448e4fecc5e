"""The request pipeline, independent of HTTP: parse, limit, validate, plan (cached), execute."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSyntaxError,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
    print_ast,
    validate,
    visit,
)
from graphql.execution.values import get_variable_values
from graphql.language import DirectiveNode, Visitor
from opentelemetry import trace

from crm_gateway.edge.cost import actual_cost, estimate_cost
from crm_gateway.edge.dedup import InflightGroup, request_key
from crm_gateway.edge.limits import LIMIT_CODE, check_limits, uses_introspection
from crm_gateway.edge.response import GatewayResponse, request_error
from crm_gateway.federation.execution.client import SubgraphClient
from crm_gateway.federation.execution.context import FORWARDED_HEADERS
from crm_gateway.federation.execution.executor import ExecutionState, Executor, subgraph_error
from crm_gateway.federation.execution.upstream import UpstreamClosed, UpstreamSubscriber
from crm_gateway.federation.planning.builder import Planner
from crm_gateway.federation.planning.plan import PlanningError, QueryPlan
from crm_gateway.federation.planning.view import describe_plan
from crm_gateway.federation.shaping.compiled import Fallback, Shaper, compile_shaper
from crm_gateway.federation.shaping.fallback import shape_response
from crm_gateway.federation.supergraph.model import Supergraph
from crm_gateway.metrics import OPERATION_LATENCY, OPERATIONS, REQUESTS_SHARED, operation_label

log = logging.getLogger(__name__)
tracer = trace.get_tracer("crm_gateway")

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small LRU map (plans and parsed documents)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(slots=True)
class _Document:
    """A parsed document with its validation outcome and the @skip/@include variables."""

    document: DocumentNode
    errors: list[GraphQLError] | None
    fragments: dict[str, FragmentDefinitionNode]
    condition_variables: tuple[str, ...]
    normalized: str


class _ConditionVariables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_directive(self, node: DirectiveNode, *_args: Any) -> None:
        if node.name.value in ("skip", "include"):
            for arg in node.arguments or ():
                if isinstance(arg.value, VariableNode):
                    self.names.add(arg.value.name.value)


@dataclass(slots=True)
class _Seen:
    """What `Gateway.execute` learnt about the operation, for its metrics labels."""

    name: str | None = None
    type: str = "unknown"


def _errors(status: int, errors: list[GraphQLError], code: str) -> GatewayResponse:
    out = []
    for error in errors:
        formatted = error.formatted
        extensions = dict(formatted.get("extensions") or {})
        extensions.setdefault("code", code)
        formatted["extensions"] = extensions
        out.append(formatted)
    return GatewayResponse(status, {"errors": out})


class Gateway:
    """Serves GraphQL requests against one composed supergraph."""

    def __init__(
        self,
        supergraph: Supergraph,
        client: SubgraphClient,
        *,
        max_depth: int = 12,
        max_aliases: int = 30,
        max_tokens: int = 20_000,
        cache_size: int = 1000,
        max_root_fields: int | None = None,
        request_timeout_s: float | None = None,
        introspection: bool = True,
        mask_errors: bool = False,
        max_cost: int | None = None,
        cost_default_list_size: int = 5,
        cost_record: Path | None = None,
        upstream: UpstreamSubscriber | None = None,
        dedup_requests: bool = False,
    ) -> None:
        self.supergraph = supergraph
        self.upstream = upstream
        self.mask_errors = mask_errors
        self.schema = supergraph.api_schema
        self.planner = Planner(supergraph)
        self.executor = Executor(supergraph, client, mask_errors=mask_errors)
        self.max_root_fields = max_root_fields
        self.request_timeout_s = request_timeout_s
        self.introspection = introspection
        self.max_depth = max_depth
        self.max_aliases = max_aliases
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        self.cost_default_list_size = cost_default_list_size
        # Calibration (GATEWAY_COST_RECORD): one JSON line per executed operation.
        self.cost_record = cost_record
        self._documents: LRU[str, _Document] = LRU(cache_size)
        self._plans: LRU[tuple[Any, ...], QueryPlan] = LRU(cache_size)
        # Compiled response shapers per plan key; None = this operation needs graphql-core.
        self._shapers: LRU[tuple[Any, ...], tuple[Shaper | None]] = LRU(cache_size)
        self._costs: LRU[tuple[Any, ...], int] = LRU(cache_size)
        # Identical concurrent queries share one execution (`edge/dedup.py`); None = off.
        self.inflight: InflightGroup[GatewayResponse] | None = (
            InflightGroup() if dedup_requests else None
        )

    def _document(self, query: str) -> _Document | GatewayResponse:
        cached = self._documents.get(query)
        if cached is not None:
            return cached
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLSyntaxError as exc:
            return _errors(400, [exc], "GRAPHQL_PARSE_FAILED")
        visitor = _ConditionVariables()
        visit(document, visitor)
        entry = _Document(
            document=document,
            errors=None,
            fragments={
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            },
            condition_variables=tuple(sorted(visitor.names)),
            normalized=print_ast(document),
        )
        self._documents.put(query, entry)
        return entry

    @staticmethod
    def _operation(
        document: DocumentNode, operation_name: str | None
    ) -> OperationDefinitionNode | GatewayResponse:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name:
            for op in operations:
                if op.name is not None and op.name.value == operation_name:
                    return op
            return request_error(
                400, f"Unknown operation named '{operation_name}'.", "GRAPHQL_VALIDATION_FAILED"
            )
        if len(operations) == 1:
            return operations[0]
        return request_error(
            400,
            "Must provide operation name if query contains multiple operations.",
            "GRAPHQL_VALIDATION_FAILED",
        )

    async def execute(
        self,
        query: Any,
        variables: Any,
        operation_name: Any,
        authorization: str | None,
        *,
        allow_mutation: bool = True,
        include_plan: bool = False,
    ) -> GatewayResponse:
        """Run one operation; ``include_plan`` adds ``extensions.queryPlan`` (debugging)."""
        started = time.perf_counter()
        seen = _Seen()
        response = await self._execute(
            query, variables, operation_name, authorization, allow_mutation, include_plan, seen
        )
        # Metrics per operation: the name only once it named a real operation of the document.
        name = operation_label(seen.name)
        OPERATIONS.labels(name, seen.type, str(response.status)).inc()
        OPERATION_LATENCY.labels(name, seen.type).observe(time.perf_counter() - started)
        return response

    async def _execute(
        self,
        query: Any,
        variables: Any,
        operation_name: Any,
        authorization: str | None,
        allow_mutation: bool,
        include_plan: bool,
        seen: _Seen,
    ) -> GatewayResponse:
        prepared = self._prepare(query, variables, operation_name, allow_mutation, seen)
        if isinstance(prepared, GatewayResponse):
            return prepared
        doc, operation, variables, coerced = prepared
        if operation.operation == OperationType.SUBSCRIPTION:
            return request_error(
                400,
                "Subscriptions run over WebSocket (graphql-transport-ws) or Server-Sent Events "
                "(Accept: text/event-stream) on /graphql.",
                "BAD_REQUEST",
            )

        def run() -> Awaitable[GatewayResponse]:
            return self._bounded(
                doc, operation, operation_name, variables, coerced, authorization, include_plan
            )

        if self.inflight is None or operation.operation != OperationType.QUERY:
            return await run()
        key = request_key(
            doc.normalized,
            operation_name,
            variables,
            authorization,
            FORWARDED_HEADERS.get({}),
            include_plan,
        )
        response, shared = await self.inflight.run(key, run)
        if shared:
            REQUESTS_SHARED.inc()
        return response

    async def _bounded(
        self,
        doc: _Document,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        variables: dict[str, Any],
        coerced: dict[str, Any],
        authorization: str | None,
        include_plan: bool,
    ) -> GatewayResponse:
        """Plan and run within the request time budget (504 past it)."""
        if self.request_timeout_s is None:
            return await self._plan_and_run(
                doc, operation, operation_name, variables, coerced, authorization, include_plan
            )
        try:
            async with asyncio.timeout(self.request_timeout_s):
                return await self._plan_and_run(
                    doc, operation, operation_name, variables, coerced, authorization, include_plan
                )
        except TimeoutError:
            log.warning("operation %r exceeded %ss", operation_name, self.request_timeout_s)
            return request_error(
                504,
                f"The operation did not finish within {self.request_timeout_s:g} s "
                "(GATEWAY_REQUEST_TIMEOUT_S)",
                "GATEWAY_TIMEOUT",
                limit="request_timeout_s",
            )

    def _prepare(
        self,
        query: Any,
        variables: Any,
        operation_name: Any,
        allow_mutation: bool,
        seen: _Seen,
    ) -> (
        tuple[_Document, OperationDefinitionNode, dict[str, Any], dict[str, Any]] | GatewayResponse
    ):
        """Parse, pick the operation, limits, validation and variables (every transport)."""
        if not isinstance(query, str) or not query.strip():
            return request_error(400, "The request has no 'query' string.", "BAD_REQUEST")
        if variables is None:
            variables = {}
        if not isinstance(variables, dict):
            return request_error(400, "'variables' must be a JSON object.", "BAD_REQUEST")
        if operation_name is not None and not isinstance(operation_name, str):
            return request_error(400, "'operationName' must be a string.", "BAD_REQUEST")
        with tracer.start_as_current_span("graphql.parse"):
            doc = self._document(query)
        if isinstance(doc, GatewayResponse):
            return doc
        operation = self._operation(doc.document, operation_name)
        if isinstance(operation, GatewayResponse):
            return operation
        seen.type = operation.operation.value
        seen.name = operation.name.value if operation.name is not None else None
        if operation.operation == OperationType.MUTATION and not allow_mutation:
            return request_error(405, "Mutations must be sent with POST.", "BAD_REQUEST")
        with tracer.start_as_current_span("graphql.validate"):
            coerced = self._validate(doc, operation, variables)
        if isinstance(coerced, GatewayResponse):
            return coerced
        return doc, operation, variables, coerced

    def _validate(
        self, doc: _Document, operation: OperationDefinitionNode, variables: dict[str, Any]
    ) -> dict[str, Any] | GatewayResponse:
        """Limits, introspection switch, schema validation and variable coercion."""
        limit_errors = check_limits(
            operation,
            doc.fragments,
            max_depth=self.max_depth,
            max_aliases=self.max_aliases,
            max_root_fields=self.max_root_fields,
        )
        if limit_errors:
            return _errors(400, limit_errors, LIMIT_CODE)
        if not self.introspection and uses_introspection(operation.selection_set, doc.fragments):
            return request_error(
                400,
                "Introspection is disabled on this gateway (GATEWAY_INTROSPECTION).",
                LIMIT_CODE,
                limit="introspection",
            )
        if self.max_cost is not None:
            # Before validation: the estimate is linear in the document (fragments memoised),
            # graphql-core's validation is not (a fragment bomb costs it 100s of ms).
            cost = self._cost(doc, operation, variables)
            if cost > self.max_cost:
                return request_error(
                    400,
                    f"The operation's estimated cost {cost} exceeds the maximum of "
                    f"{self.max_cost} (GATEWAY_MAX_COST); ask for smaller pages.",
                    "COST_LIMIT_EXCEEDED",
                    limit="max_cost",
                    cost=cost,
                    maxCost=self.max_cost,
                )
        if doc.errors is None:
            doc.errors = validate(self.schema, doc.document)
        if doc.errors:
            return _errors(400, doc.errors, LIMIT_CODE)
        coerced = get_variable_values(
            self.schema, operation.variable_definitions or (), variables, max_errors=20
        )
        if isinstance(coerced, list):
            return _errors(400, coerced, "BAD_USER_INPUT")
        return coerced

    def _cost(
        self, doc: _Document, operation: OperationDefinitionNode, variables: dict[str, Any]
    ) -> int:
        """The estimate, cached: it depends only on the document and the Int variables
        (as sent, else their defaults; the document is not validated yet)."""
        ints = _int_variables(operation, variables)
        name = operation.name.value if operation.name is not None else None
        key = (doc.normalized, name, tuple(sorted(ints.items())))
        cost = self._costs.get(key)
        if cost is None:
            cost = estimate_cost(
                self.schema,
                operation,
                doc.fragments,
                ints,
                default_list_size=self.cost_default_list_size,
            )
            self._costs.put(key, cost)
        return cost

    async def _plan_and_run(
        self,
        doc: _Document,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        variables: dict[str, Any],
        coerced: dict[str, Any],
        authorization: str | None,
        include_plan: bool = False,
    ) -> GatewayResponse:
        planned = self._plan(doc, operation, operation_name, coerced)
        if isinstance(planned, GatewayResponse):
            return planned
        plan_key, plan = planned
        with tracer.start_as_current_span("graphql.execute") as span:
            span.set_attribute("graphql.operation.type", operation.operation.value)
            if operation_name:
                span.set_attribute("graphql.operation.name", operation_name)
            state = await self.executor.run(plan, variables, authorization)
            body = self._shape(plan_key, doc, operation, operation_name, variables, coerced, state)
        if self.cost_record is not None:
            self._record_cost(doc, operation, variables, plan, body)
        if include_plan:
            extensions = body.setdefault("extensions", {})
            extensions["queryPlan"] = describe_plan(plan)
        return GatewayResponse(200, body)

    def _record_cost(
        self,
        doc: _Document,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
        plan: QueryPlan,
        body: dict[str, Any],
    ) -> None:
        """Estimate against actual work, for `gateway/tools/cost_calibration.py --record`."""
        assert self.cost_record is not None
        entry = {
            "operation": operation.name.value if operation.name is not None else None,
            "type": operation.operation.value,
            "estimate": self._cost(doc, operation, variables),
            "actual": actual_cost(body.get("data")),
            "bytes": len(orjson.dumps(body)),
            "requests": sum(
                len({f.subgraph for f in stage}) for phase in plan.phases for stage in phase.stages
            ),
            "document": " ".join(doc.normalized.split())[:200],
        }
        with self.cost_record.open("ab") as out:
            out.write(orjson.dumps(entry) + b"\n")

    def _plan(
        self,
        doc: _Document,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        coerced: dict[str, Any],
    ) -> tuple[tuple[Any, ...], QueryPlan] | GatewayResponse:
        plan_key = (
            doc.normalized,
            operation_name,
            tuple(_hashable(coerced.get(v)) for v in doc.condition_variables),
        )
        with tracer.start_as_current_span("graphql.plan") as span:
            plan = self._plans.get(plan_key)
            span.set_attribute("graphql.plan.cached", plan is not None)
            if plan is None:
                try:
                    plan = self.planner.plan(operation, doc.fragments, coerced)
                except PlanningError as exc:
                    log.warning("query planning failed: %s", exc)
                    return request_error(
                        500, "The gateway could not plan this operation.", "QUERY_PLANNING_FAILED"
                    )
                self._plans.put(plan_key, plan)
        return plan_key, plan

    # -- subscriptions ----------------------------------------------------------------------

    async def stream(
        self,
        query: Any,
        variables: Any,
        operation_name: Any,
        authorization: str | None,
        forwarded: Mapping[str, str],
        *,
        allow_mutation: bool = True,
    ) -> GatewayResponse | AsyncGenerator[dict[str, Any], None]:
        """A subscription's shaped events, or the answer of a query/mutation (or a refusal).

        The same checks as `execute` (limits, validation, cost). A `GatewayResponse` whose
        body has ``data`` is a result to send once; without ``data`` the operation was refused.
        The iterator ends after an error event when the subgraph subscription fails.
        """
        seen = _Seen()
        prepared = self._prepare(query, variables, operation_name, allow_mutation, seen)
        if isinstance(prepared, GatewayResponse):
            name = operation_label(seen.name)
            OPERATIONS.labels(name, seen.type, str(prepared.status)).inc()
            return prepared
        doc, operation, variables, coerced = prepared
        if operation.operation != OperationType.SUBSCRIPTION:
            return await self.execute(
                query, variables, operation_name, authorization, allow_mutation=allow_mutation
            )
        OPERATIONS.labels(operation_label(seen.name), seen.type, "200").inc()
        planned = self._plan(doc, operation, operation_name, coerced)
        if isinstance(planned, GatewayResponse):
            return planned
        plan_key, plan = planned
        if self.upstream is None:
            return request_error(503, "Subscriptions are not available.", "SERVICE_UNAVAILABLE")
        return self._events(
            plan_key,
            plan,
            doc,
            operation,
            operation_name,
            variables,
            coerced,
            authorization,
            forwarded,
            self.upstream,
        )

    async def _events(
        self,
        plan_key: tuple[Any, ...],
        plan: QueryPlan,
        doc: _Document,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        variables: dict[str, Any],
        coerced: dict[str, Any],
        authorization: str | None,
        forwarded: Mapping[str, str],
        upstream: UpstreamSubscriber,
    ) -> AsyncGenerator[dict[str, Any], None]:
        root = plan.phases[0].stages[0][0]
        document = plan.document("subscription", [root])
        root_vars = {name: variables[name] for name in root.variables if name in variables}
        url = self.supergraph.subgraphs[root.subgraph].url
        source = upstream.subscribe(
            root.subgraph, url, document, root_vars, authorization, forwarded
        )
        try:
            async for body in source:
                state = ExecutionState(interface_object_paths=plan.interface_object_paths)
                self.executor.merge_root(root, body, state)
                if len(plan.phases[0].stages) > 1:
                    # Each `_entities` fetch is bounded by GATEWAY_SUBGRAPH_TIMEOUT_S (and the
                    # retries); a timeout per event on top cost a seventh of an event's work.
                    await self.executor.run_after_root(plan, variables, authorization, state)
                yield self._shape(
                    plan_key, doc, operation, operation_name, variables, coerced, state
                )
        except UpstreamClosed as exc:
            errors = [subgraph_error(e, None, self.mask_errors) for e in exc.errors] or [
                {
                    "message": "The subscription ended with an error",
                    "extensions": {"code": "SUBGRAPH_UNAVAILABLE"},
                }
            ]
            yield {"errors": errors, "data": None}
        finally:
            await source.aclose()

    def _shape(
        self,
        plan_key: tuple[Any, ...],
        doc: _Document,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        variables: dict[str, Any],
        coerced: dict[str, Any],
        state: ExecutionState,
    ) -> dict[str, Any]:
        """The compiled shaper when it applies, else (or on any surprise) graphql-core."""
        if not state.errors:
            cached = self._shapers.get(plan_key)
            if cached is None:
                cached = (compile_shaper(self.schema, operation, doc.fragments, coerced),)
                self._shapers.put(plan_key, cached)
            shaper = cached[0]
            if shaper is not None:
                try:
                    return {"data": shaper(state.data)}
                except Fallback:
                    pass
        return shape_response(self.schema, doc.document, operation_name, variables, state)


def _hashable(value: Any) -> Any:
    return value if isinstance(value, bool | None) else repr(value)


def _int_variables(operation: OperationDefinitionNode, variables: dict[str, Any]) -> dict[str, int]:
    """Integer values of the variables as sent, or of their default values (what coercion
    would give an ``Int`` variable), for the cost estimate before validation."""
    out: dict[str, int] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        value = variables.get(name)
        if value is None and isinstance(definition.default_value, IntValueNode):
            value = int(definition.default_value.value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if type(value) is int:
            out[name] = value
    return out
