"""Persisted queries: Apollo's automatic persisted queries (APQ) and a production allow-list.

APQ: a client sends ``extensions.persistedQuery = {version: 1, sha256Hash}``. Without the
query text, the hash is looked up (in the allow-list file, then in a bounded LRU per worker
process); unknown → ``PERSISTED_QUERY_NOT_FOUND`` (HTTP 200, message ``PersistedQueryNotFound``,
which Apollo clients answer by resending hash + query). With the query text, the hash is
verified and the pair registered.

Allow-list mode (``GATEWAY_ALLOW_LIST`` with ``GATEWAY_PERSISTED_QUERIES_FILE``, a JSON object
``{sha256: query}``): only operations of that file run — named by hash, or sent as the same
document (same text, or the same after normalisation: whitespace, commas, comments); anything
else is answered 400 ``PERSISTED_QUERY_NOT_ALLOWED`` and APQ registration is off.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

from graphql import GraphQLError, parse, print_ast

from crm_gateway.edge.response import GatewayResponse, request_error

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalized(query: str, max_tokens: int) -> str | None:
    try:
        return print_ast(parse(query, no_location=True, max_tokens=max_tokens))
    except GraphQLError:
        return None


def load_manifest(path: Path) -> dict[str, str]:
    """Read ``{hash: query}``; raises ValueError on a malformed file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"GATEWAY_PERSISTED_QUERIES_FILE {path}: {exc}") from exc
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ValueError(
            f"GATEWAY_PERSISTED_QUERIES_FILE {path}: expected a JSON object of strings"
        )
    return dict(raw)


class PersistedQueries:
    """Resolves the query text of a request (APQ + allow-list); one instance per worker."""

    def __init__(
        self,
        *,
        apq: bool = True,
        cache_size: int = 1000,
        manifest: dict[str, str] | None = None,
        allow_list: bool = False,
        max_tokens: int = 20_000,
    ) -> None:
        if allow_list and manifest is None:
            raise ValueError("GATEWAY_ALLOW_LIST=true needs GATEWAY_PERSISTED_QUERIES_FILE")
        self._apq = apq
        self._cache_size = cache_size
        self._cache: OrderedDict[str, str] = OrderedDict()
        # Listed operations by their key in the file and by their own sha256.
        self._manifest = {sha256_hex(q): q for q in (manifest or {}).values()} | dict(
            manifest or {}
        )
        self._allow_list = allow_list
        self._max_tokens = max_tokens
        self._allowed_hashes = set(self._manifest)
        self._allowed_documents = {
            n for q in self._manifest.values() if (n := _normalized(q, max_tokens)) is not None
        }

    def __len__(self) -> int:
        return len(self._cache)

    def resolve(self, query: Any, extensions: Any) -> str | GatewayResponse | None:
        """The query text to run, an error response, or None when the request has neither."""
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            if not isinstance(query, str):
                return None
            if self._allow_list and not self._allowed(query):
                return self._not_allowed()
            return query
        if not self._apq and not self._allow_list:
            return request_error(
                400, "Persisted queries are disabled (GATEWAY_APQ).", NOT_SUPPORTED, limit="apq"
            )
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            return request_error(
                400, "Unsupported persistedQuery version (expected 1).", NOT_SUPPORTED
            )
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not digest:
            return request_error(400, "persistedQuery.sha256Hash must be a string.", "BAD_REQUEST")
        digest = digest.lower()
        if isinstance(query, str):
            if sha256_hex(query) != digest:
                return request_error(400, "The sha256Hash does not match the query.", HASH_MISMATCH)
            if self._allow_list:
                return query if self._allowed(query) else self._not_allowed()
            self._remember(digest, query)
            return query
        known = self._manifest.get(digest)
        if known is not None:
            return known
        if self._allow_list:
            return self._not_allowed()
        cached = self._cache.get(digest)
        if cached is None:
            return request_error(200, "PersistedQueryNotFound", NOT_FOUND)
        self._cache.move_to_end(digest)
        return cached

    def _remember(self, digest: str, query: str) -> None:
        self._cache[digest] = query
        self._cache.move_to_end(digest)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _allowed(self, query: str) -> bool:
        if sha256_hex(query) in self._allowed_hashes:
            return True
        normalized = _normalized(query, self._max_tokens)
        return normalized is not None and normalized in self._allowed_documents

    @staticmethod
    def _not_allowed() -> GatewayResponse:
        return request_error(
            400,
            "This operation is not in the gateway's allow-list (GATEWAY_ALLOW_LIST).",
            NOT_ALLOWED,
            limit="allow_list",
        )
