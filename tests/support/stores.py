"""Scratch databases and lowered list limits for tests against the real store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.limits import list_limits
from crm_common.mongo import Document, create_client


@asynccontextmanager
async def scratch_database(
    mongodb_uri: str, app_name: str
) -> AsyncIterator[AsyncDatabase[Document]]:
    """A fresh database (``crm_test_*``), dropped afterwards."""
    client = create_client(mongodb_uri, app_name)
    database = client[f"crm_test_{uuid.uuid4().hex[:8]}"]
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()


@contextmanager
def lowered_limits(monkeypatch: pytest.MonkeyPatch, **settings: str) -> Iterator[None]:
    """`crm_common.limits` read with these ``CRM_MAX_...`` values, restored afterwards."""
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    list_limits.cache_clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        list_limits.cache_clear()
