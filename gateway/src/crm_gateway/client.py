"""HTTP calls to subgraphs over one shared, pooled `aiohttp.ClientSession`.

Transport problems become `SubgraphFailure` with a client-safe message; the details go to the
log only. ``traceparent`` is added by the OpenTelemetry aiohttp-client instrumentation.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)

UNAVAILABLE = "SUBGRAPH_UNAVAILABLE"


class SubgraphFailure(Exception):
    """A subgraph request produced no usable GraphQL response."""

    def __init__(self, message: str, code: str = UNAVAILABLE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class SubgraphClient:
    """Posts GraphQL requests to subgraphs, forwarding the caller's Authorization header."""

    def __init__(self, session: aiohttp.ClientSession, timeout_s: float) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def request(
        self,
        subgraph: str,
        url: str,
        query: str,
        variables: dict[str, Any],
        authorization: str | None,
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        try:
            async with self._session.post(
                url, data=orjson.dumps(payload), headers=headers, timeout=self._timeout
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as exc:
            log.warning("subgraph %s timed out", subgraph)
            raise SubgraphFailure(f"Subgraph '{subgraph}' did not answer in time") from exc
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("subgraph %s unreachable: %s", subgraph, exc)
            raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable") from exc
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
            log.warning("subgraph %s answered HTTP %s without a GraphQL body", subgraph, status)
            raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable")
        return body
