"""Per-request context the subgraph client reads: the headers forwarded to the subgraphs.

The HTTP edge sets it once per request (the allow-list is `crm_gateway.edge.headers`); tasks
started with ``asyncio.gather`` inherit it, so every subgraph call of the request sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar

FORWARDED_HEADERS: ContextVar[Mapping[str, str]] = ContextVar("forwarded_headers")
