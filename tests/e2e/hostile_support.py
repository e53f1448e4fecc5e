"""Shared checks for the bad-input tests: nothing internal may reach a client."""

from __future__ import annotations

import re
from typing import Any

import stack

# Things that only a leaked exception, stack trace or internal detail would put in a body.
LEAK_MARKERS = [
    "Traceback",
    'File "',
    "site-packages",
    "/work/",
    '.py"',
    ".py:",
    "crm_common",
    "crm_gateway",
    "crm_customer",
    "crm_engagement",
    "crm_quoting",
    "crm_service_desk",
    "crm_insights",
    "pymongo",
    "bson",
    "aiohttp",
    "orjson",
    "RecursionError",
    "KeyError",
    "TypeError",
    "AttributeError",
    "ValueError",
    "IndexError",
    "OperationFailure",
    "maximum recursion depth",
]
_LEAK = re.compile("|".join(re.escape(m) for m in LEAK_MARKERS))


def leaks(text: str) -> list[str]:
    """The internal markers found in a response body (empty when clean)."""
    return sorted(set(_LEAK.findall(text)))


def subgraph_url(config: stack.StackConfig, name: str) -> str:
    component = next(c for c in stack.SERVICES if c.name == name)
    return f"{config.service_url(component)}/graphql"


def error_codes(body: Any) -> list[str]:
    """extensions.code of every GraphQL error in a body (a batch answer: of each entry)."""
    items = body if isinstance(body, list) else [body]
    codes: list[str] = []
    for item in items:
        if isinstance(item, dict):
            codes += [
                (e.get("extensions") or {}).get("code", "<none>") for e in item.get("errors") or []
            ]
    return codes
