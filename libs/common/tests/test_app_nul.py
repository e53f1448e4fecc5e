"""NUL characters are refused before they reach the store (PostgreSQL's jsonb cannot hold them)."""

from __future__ import annotations

import json

import pytest

from crm_common.app import _has_nul


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        ({"query": "mutation", "variables": {"input": {"name": "\u0000 Null Co"}}}, True),
        ({"query": 'mutation { create(name: "a\\u0000b") { id } }'}, True),
        ({"query": 'mutation { create(name: "a\\U0000b") { id } }'}, True),
        ({"query": "q", "variables": {"name": "\ud7ff\u202e fine"}}, False),
        ({"query": "q", "variables": {"name": "\u00001"[1:]}}, False),
    ],
)
def test_nul_is_found(payload: dict[str, object], refused: bool) -> None:
    assert _has_nul(json.dumps(payload).encode()) is refused
