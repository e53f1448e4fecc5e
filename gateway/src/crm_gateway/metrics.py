"""Prometheus metrics of the gateway (served on ``/metrics``, one registry per worker).

Operation names come from clients, so the number of distinct names per process is capped
(``OTHER`` after that) and long names are cut: a client cannot blow up the registry.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
MAX_OPERATION_NAMES = 500
MAX_LABEL_LENGTH = 64
ANONYMOUS = "(anonymous)"
OTHER = "(other)"

OPERATIONS = Counter(
    "crm_gateway_operations_total",
    "GraphQL operations served by the gateway",
    ["operation_name", "operation_type", "status"],
)
OPERATION_LATENCY = Histogram(
    "crm_gateway_operation_duration_seconds",
    "Time to answer one GraphQL operation (parse to response)",
    ["operation_name", "operation_type"],
    buckets=LATENCY_BUCKETS,
)
REQUESTS_SHARED = Counter(
    "crm_gateway_requests_deduplicated_total",
    "Incoming queries answered by an identical query already in flight (GATEWAY_DEDUP_REQUESTS)",
)
SUBGRAPH_FETCHES = Counter(
    "crm_gateway_subgraph_fetches_total",
    "Requests to subgraphs (retries included in one fetch)",
    ["subgraph", "outcome"],
)
SUBGRAPH_REPLICAS_HEALTHY = Gauge(
    "crm_gateway_subgraph_replicas_healthy",
    "Replicas of a subgraph the gateway balances over (crm_gateway.federation.execution.balancer)",
    ["subgraph"],
)
SUBGRAPH_FAILOVERS = Counter(
    "crm_gateway_subgraph_failovers_total",
    "Subgraph requests sent to another replica after a connection failure",
    ["subgraph"],
)
SUBGRAPH_LATENCY = Histogram(
    "crm_gateway_subgraph_fetch_duration_seconds",
    "Latency of one subgraph fetch, retries included",
    ["subgraph"],
    buckets=LATENCY_BUCKETS,
)
ERRORS = Counter(
    "crm_gateway_errors_total", "Errors in gateway responses, by extensions.code", ["code"]
)
RATE_LIMITED = Counter(
    "crm_gateway_rate_limited_total", "Requests refused by a rate limit", ["limit"]
)
SUBSCRIPTIONS_ACTIVE = Gauge(
    "crm_gateway_subscriptions_active",
    "Client subscriptions open on this worker (each holds one subgraph subscription)",
    ["transport"],
)
SUBSCRIPTION_EVENTS = Counter(
    "crm_gateway_subscription_events_total",
    "Subscription events sent to clients (after entity resolution)",
    ["transport"],
)

_known_names: set[str] = set()
_known_codes: set[str] = set()


def operation_label(name: str | None) -> str:
    """A bounded label for a client-chosen operation name."""
    if not name:
        return ANONYMOUS
    name = name[:MAX_LABEL_LENGTH]
    if name in _known_names:
        return name
    if len(_known_names) >= MAX_OPERATION_NAMES:
        return OTHER
    _known_names.add(name)
    return name


def record_errors(body: Any) -> None:
    """Count the ``extensions.code`` of every error in a response body (or list of bodies)."""
    bodies = body if isinstance(body, list) else [body]
    for one in bodies:
        if not isinstance(one, dict):
            continue
        for error in one.get("errors") or ():
            extensions = error.get("extensions") if isinstance(error, dict) else None
            code = extensions.get("code") if isinstance(extensions, dict) else None
            ERRORS.labels(_code_label(code)).inc()


def _code_label(code: Any) -> str:
    if not isinstance(code, str) or not code:
        return "UNKNOWN"
    label: str = code[:MAX_LABEL_LENGTH]
    if label in _known_codes:
        return label
    if len(_known_codes) >= MAX_OPERATION_NAMES:
        return OTHER
    _known_codes.add(label)
    return label
