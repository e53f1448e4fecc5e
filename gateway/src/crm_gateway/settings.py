"""Gateway settings, read from the environment (pydantic-settings).

JWT settings come from `crm_common.settings.AuthSettings` so the gateway verifies tokens
exactly like the subgraphs do. Gateway-specific values use the ``GATEWAY_`` names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from crm_common.settings import AuthSettings

DEFAULT_SUBGRAPHS = ",".join(
    f"{name}=http://127.0.0.1:{port}/graphql"
    for name, port in (
        ("customer", 4001),
        ("engagement", 4002),
        ("quoting", 4003),
        ("service-desk", 4004),
        ("insights", 4005),
    )
)


_SUBGRAPH_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _env(name: str, field: str) -> AliasChoices:
    return AliasChoices(name, field)


class GatewaySettings(AuthSettings):
    """Everything the gateway process needs; constructor keywords use the field names."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    host: str = Field(default="127.0.0.1", validation_alias=_env("GATEWAY_HOST", "host"))
    port: int = Field(default=4000, validation_alias=_env("GATEWAY_PORT", "port"))
    subgraphs: str = Field(
        default=DEFAULT_SUBGRAPHS,
        validation_alias=_env("GATEWAY_SUBGRAPHS", "subgraphs"),
        description="comma-separated name=url pairs; several replicas of one subgraph: "
        "name=url1,url2 (or the name repeated), balanced by federation.execution.balancer",
    )
    supergraph_file: Path | None = Field(
        default=None, validation_alias=_env("SUPERGRAPH_FILE", "supergraph_file")
    )
    max_depth: int = Field(default=12, validation_alias=_env("GATEWAY_MAX_DEPTH", "max_depth"))
    max_aliases: int = Field(
        default=30, validation_alias=_env("GATEWAY_MAX_ALIASES", "max_aliases")
    )
    max_body_bytes: int = Field(
        default=1_048_576, validation_alias=_env("GATEWAY_MAX_BODY_BYTES", "max_body_bytes")
    )
    max_tokens: int = Field(
        default=20_000, validation_alias=_env("GATEWAY_MAX_TOKENS", "max_tokens")
    )
    subgraph_timeout_s: float = Field(
        default=30.0, validation_alias=_env("GATEWAY_SUBGRAPH_TIMEOUT_S", "subgraph_timeout_s")
    )
    subgraph_connect_timeout_s: float = Field(
        default=3.0,
        gt=0,
        validation_alias=_env("GATEWAY_SUBGRAPH_CONNECT_TIMEOUT_S", "subgraph_connect_timeout_s"),
        description="subgraphs with several replicas: a connect slower than this fails over",
    )
    replica_probe_interval_s: float = Field(
        default=2.0,
        gt=0,
        validation_alias=_env("GATEWAY_REPLICA_PROBE_INTERVAL_S", "replica_probe_interval_s"),
        description="how often each replica's /readyz is probed (ejected ones: with backoff)",
    )
    sdl_wait_s: float = Field(
        default=120.0, validation_alias=_env("GATEWAY_SDL_WAIT_S", "sdl_wait_s")
    )
    plan_cache_size: int = Field(
        default=1000, validation_alias=_env("GATEWAY_PLAN_CACHE_SIZE", "plan_cache_size")
    )
    pool_size: int = Field(default=100, validation_alias=_env("GATEWAY_POOL_SIZE", "pool_size"))
    log_level: str = Field(default="INFO", validation_alias=_env("LOG_LEVEL", "log_level"))
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        validation_alias=_env("GATEWAY_WORKERS", "workers"),
        description="processes sharing the port (SO_REUSEPORT)",
    )
    auth: bool = Field(
        default=True,
        validation_alias=_env("GATEWAY_AUTH", "auth"),
        description="verify the JWT at the edge; off only for conformance runs",
    )
    allow_insecure: bool = Field(
        default=False,
        validation_alias=_env("GATEWAY_ALLOW_INSECURE", "allow_insecure"),
        description="must be set as well to run with GATEWAY_AUTH=off",
    )

    max_root_fields: int = Field(
        default=20, validation_alias=_env("GATEWAY_MAX_ROOT_FIELDS", "max_root_fields")
    )
    batching: bool = Field(
        default=False,
        validation_alias=_env("GATEWAY_BATCHING", "batching"),
        description="accept a JSON array of operations in one POST",
    )
    max_batch_size: int = Field(
        default=10, ge=1, validation_alias=_env("GATEWAY_MAX_BATCH_SIZE", "max_batch_size")
    )
    request_timeout_s: float = Field(
        default=60.0, validation_alias=_env("GATEWAY_REQUEST_TIMEOUT_S", "request_timeout_s")
    )
    subgraph_retries: int = Field(
        default=2,
        ge=0,
        le=5,
        validation_alias=_env("GATEWAY_SUBGRAPH_RETRIES", "subgraph_retries"),
        description="extra attempts for queries after a connection error (never mutations)",
    )
    retry_backoff_s: float = Field(
        default=0.05, validation_alias=_env("GATEWAY_RETRY_BACKOFF_S", "retry_backoff_s")
    )
    breaker_threshold: int = Field(
        default=5,
        ge=1,
        validation_alias=_env("GATEWAY_BREAKER_THRESHOLD", "breaker_threshold"),
        description="consecutive failures of one subgraph that open its circuit",
    )
    breaker_open_s: float = Field(
        default=10.0, validation_alias=_env("GATEWAY_BREAKER_OPEN_S", "breaker_open_s")
    )
    dedup_inflight: bool = Field(
        default=True,
        validation_alias=_env("GATEWAY_DEDUP_INFLIGHT", "dedup_inflight"),
        description="identical query fetches in flight at once share one subgraph request",
    )
    dedup_requests: bool = Field(
        default=True,
        validation_alias=_env("GATEWAY_DEDUP_REQUESTS", "dedup_requests"),
        description="identical concurrent incoming queries (same document, variables, "
        "operation name, Authorization and forwarded headers) share one execution",
    )
    env: Literal["development", "production"] = Field(
        default="development", validation_alias=_env("GATEWAY_ENV", "env")
    )
    introspection: bool | None = Field(
        default=None,
        validation_alias=_env("GATEWAY_INTROSPECTION", "introspection"),
        description="default: on in development, off in production",
    )
    graphiql: bool | None = Field(
        default=None,
        validation_alias=_env("GATEWAY_GRAPHIQL", "graphiql"),
        description="default: on in development, off in production",
    )

    # -- edge hardening (README "Edge") --------------------------------------------------------
    apq: bool = Field(
        default=True,
        validation_alias=_env("GATEWAY_APQ", "apq"),
        description="automatic persisted queries (Apollo APQ protocol)",
    )
    apq_cache_size: int = Field(
        default=1000, ge=1, validation_alias=_env("GATEWAY_APQ_CACHE_SIZE", "apq_cache_size")
    )
    persisted_queries_file: Path | None = Field(
        default=None,
        validation_alias=_env("GATEWAY_PERSISTED_QUERIES_FILE", "persisted_queries_file"),
        description="JSON object {sha256: query} of known operations",
    )
    allow_list: bool = Field(
        default=False,
        validation_alias=_env("GATEWAY_ALLOW_LIST", "allow_list"),
        description="run only the operations of GATEWAY_PERSISTED_QUERIES_FILE",
    )
    max_cost: int = Field(
        default=20_000,
        ge=1,
        validation_alias=_env("GATEWAY_MAX_COST", "max_cost"),
        description="estimated cost limit of one operation (crm_gateway.edge.cost)",
    )
    cost_default_list_size: int = Field(
        default=5,
        ge=1,
        validation_alias=_env("GATEWAY_COST_DEFAULT_LIST_SIZE", "cost_default_list_size"),
        description="assumed length of a list field without first/last/limit",
    )
    cost_record: Path | None = Field(
        default=None,
        validation_alias=_env("GATEWAY_COST_RECORD", "cost_record"),
        description="calibration: append estimate vs actual work of each operation (JSON lines)",
    )
    rate_limit_user_rps: float | None = Field(
        default=None,
        ge=0,
        validation_alias=_env("GATEWAY_RATE_LIMIT_USER_RPS", "rate_limit_user_rps"),
        description="requests/s per user and tenant; 0 = off (default: off in development, "
        "50 in production)",
    )
    rate_limit_user_burst: float | None = Field(
        default=None,
        ge=0,
        validation_alias=_env("GATEWAY_RATE_LIMIT_USER_BURST", "rate_limit_user_burst"),
        description="default: twice the rate",
    )
    rate_limit_tenant_rps: float | None = Field(
        default=None,
        ge=0,
        validation_alias=_env("GATEWAY_RATE_LIMIT_TENANT_RPS", "rate_limit_tenant_rps"),
        description="requests/s per tenant; 0 = off (default: off in development, 500 in "
        "production)",
    )
    rate_limit_tenant_burst: float | None = Field(
        default=None,
        ge=0,
        validation_alias=_env("GATEWAY_RATE_LIMIT_TENANT_BURST", "rate_limit_tenant_burst"),
        description="default: twice the rate",
    )
    propagate_headers: str = Field(
        default="authorization,accept-language,x-request-id",
        validation_alias=_env("GATEWAY_PROPAGATE_HEADERS", "propagate_headers"),
        description="client headers forwarded to subgraphs (traceparent/tracestate always)",
    )
    query_plan: bool | None = Field(
        default=None,
        validation_alias=_env("GATEWAY_QUERY_PLAN", "query_plan"),
        description="honour the X-Gateway-Plan debug header; default: on in development, "
        "off in production",
    )

    # -- subscriptions (crm_gateway.http.realtime) -----------------------------------------------
    max_subscriptions_per_connection: int = Field(
        default=50,
        ge=1,
        validation_alias=_env(
            "GATEWAY_MAX_SUBSCRIPTIONS_PER_CONNECTION", "max_subscriptions_per_connection"
        ),
        description="operations running at once on one graphql-transport-ws connection",
    )
    ws_init_timeout_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias=_env("GATEWAY_WS_INIT_TIMEOUT_S", "ws_init_timeout_s"),
        description="a WebSocket without connection_init by then is closed (4408)",
    )
    ws_ping_interval_s: float = Field(
        default=15.0,
        gt=0,
        validation_alias=_env("GATEWAY_WS_PING_INTERVAL_S", "ws_ping_interval_s"),
        description="graphql-transport-ws ping messages (and WebSocket ping frames) interval",
    )
    sse_heartbeat_s: float = Field(
        default=15.0,
        gt=0,
        validation_alias=_env("GATEWAY_SSE_HEARTBEAT_S", "sse_heartbeat_s"),
        description="an SSE comment line this often keeps idle streams open through proxies",
    )

    @property
    def production(self) -> bool:
        return self.env == "production"

    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else not self.production

    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.production

    def query_plan_enabled(self) -> bool:
        return self.query_plan if self.query_plan is not None else not self.production

    def rate_limits(self) -> tuple[float, float, float, float]:
        """(user rps, user burst, tenant rps, tenant burst); unset values by environment."""
        user = self.rate_limit_user_rps
        if user is None:
            user = 50.0 if self.production else 0.0
        tenant = self.rate_limit_tenant_rps
        if tenant is None:
            tenant = 500.0 if self.production else 0.0
        user_burst = self.rate_limit_user_burst or 2 * user
        tenant_burst = self.rate_limit_tenant_burst or 2 * tenant
        return user, user_burst, tenant, tenant_burst

    def check_safe(self) -> None:
        """Refuse settings that would silently open the gateway (raises ValueError)."""
        if self.allow_list and self.persisted_queries_file is None:
            raise ValueError("GATEWAY_ALLOW_LIST=true needs GATEWAY_PERSISTED_QUERIES_FILE")
        if self.auth:
            return
        if not self.allow_insecure:
            raise ValueError("GATEWAY_AUTH=off needs GATEWAY_ALLOW_INSECURE=true as well")
        if self.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("GATEWAY_AUTH=off is only allowed on a loopback GATEWAY_HOST")

    def subgraph_urls(self) -> dict[str, str]:
        """The first URL of each subgraph, in order (order = tie-break order)."""
        return {name: urls[0] for name, urls in self.subgraph_replicas().items()}

    def subgraph_replicas(self) -> dict[str, list[str]]:
        """Parse ``name=url[,url...],name=url`` into ``{name: [url, ...]}`` (ordered).

        An item without ``name=`` is one more replica of the subgraph before it; a name given
        again adds its URL to that subgraph (``customer=u1,customer=u2`` = ``customer=u1,u2``).
        """
        result: dict[str, list[str]] = {}
        current: str | None = None
        for item in self.subgraphs.split(","):
            item = item.strip()
            if not item:
                continue
            name, sep, url = item.partition("=")
            name, url = name.strip(), url.strip()
            if sep and _SUBGRAPH_NAME.fullmatch(name):
                if not url:
                    raise ValueError(f"GATEWAY_SUBGRAPHS entry {item!r} is not name=url")
                current = name
            elif current is not None and "://" in item:
                url = item  # another replica of `current` (its query may hold a '=')
            else:
                raise ValueError(f"GATEWAY_SUBGRAPHS entry {item!r} is not name=url")
            urls = result.setdefault(current, [])
            if url not in urls:
                urls.append(url)
        return result
