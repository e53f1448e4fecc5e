"""Which client request headers reach the subgraphs (an allow-list).

The handler selects the headers once per request and stores them in a context variable
(`federation.execution.context.FORWARDED_HEADERS`); `SubgraphClient` adds them to every
subgraph call of that request (tasks started with ``asyncio.gather`` inherit the context).
``traceparent``/``tracestate`` always pass (the OpenTelemetry client instrumentation, when
active, replaces them with the gateway's own span); ``Authorization`` always passes as well,
because the subgraphs verify the token themselves. Transport headers are never copied,
whatever the setting says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

ALWAYS = frozenset({"traceparent", "tracestate"})
# Headers that describe the client's own connection or body, not the request's meaning.
NEVER = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "accept",
        "accept-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "expect",
    }
)


def parse_allow_list(setting: str) -> frozenset[str]:
    """``a, B ,c`` → lower-case names plus the trace headers, minus transport headers."""
    names = {name.strip().lower() for name in setting.split(",") if name.strip()}
    return frozenset((names | ALWAYS) - NEVER)


def select_headers(headers: Mapping[str, str], allowed: Iterable[str]) -> dict[str, str]:
    """The allowed headers present in ``headers`` (case-insensitive lookup)."""
    out: dict[str, str] = {}
    for name in allowed:
        value = headers.get(name)
        if value is not None and name != "authorization":  # sent by the client explicitly
            out[name] = value
    return out
