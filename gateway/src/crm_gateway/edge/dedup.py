"""Incoming request deduplication: identical concurrent queries share one execution.

Two operations are identical when everything that can change their answer is equal: the
normalised document, the operation name, the variables, the caller's ``Authorization`` header
(its identity and claims: two users never share, nor one user with two tokens), the headers
forwarded to the subgraphs (``GATEWAY_PROPAGATE_HEADERS``: ``accept-language``, ...) and
whether the query plan was asked for. The first caller runs the operation in a task; callers
that arrive while it runs wait for the same task and get the same response. Nothing is kept
once it finishes (not a cache); a caller that goes away does not cancel the others' run (the
run is cancelled once every caller has gone).

Only queries are shared, never mutations (each one must run) nor subscriptions (streams).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

import orjson

T = TypeVar("T")


def request_key(
    document: str,
    operation_name: str | None,
    variables: Mapping[str, Any],
    authorization: str | None,
    forwarded: Mapping[str, str],
    *extra: Hashable,
) -> tuple[Hashable, ...]:
    """The identity of an operation for sharing (see the module docstring)."""
    try:
        values = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS) if variables else b""
    except TypeError:  # e.g. an integer beyond 64 bits: JSON text of Python's own encoder
        values = json.dumps(variables, sort_keys=True, default=repr).encode()
    return (
        document,
        operation_name,
        values,
        authorization,
        tuple(sorted((name.lower(), value) for name, value in forwarded.items())),
        *extra,
    )


class InflightGroup(Generic[T]):
    """Runs one call per key at a time; concurrent callers with the same key share it."""

    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Future[T]] = {}
        self._waiters: dict[Hashable, int] = {}
        self.shared = 0  # callers that joined a call already in flight (for tests and metrics)

    def __len__(self) -> int:
        return len(self._inflight)

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The call's result and whether this caller joined another caller's call."""
        task = self._inflight.get(key)
        joined = task is not None
        if task is None:
            task = asyncio.ensure_future(call())
            self._inflight[key] = task
            self._waiters[key] = 0
            task.add_done_callback(lambda done: self._forget(key, done))
        else:
            self.shared += 1
        self._waiters[key] += 1
        try:
            # shield: a caller that goes away must not cancel the run the others wait for...
            return await asyncio.shield(task), joined
        except asyncio.CancelledError:
            # ...but once every caller has gone, nobody needs it.
            if self._inflight.get(key) is task:
                self._waiters[key] -= 1
                if self._waiters[key] == 0:
                    task.cancel()
            raise

    def _forget(self, key: Hashable, task: asyncio.Future[T]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
            del self._waiters[key]
