"""HTTP endpoints for files (GraphQL carries no bytes here):

- ``POST /files?kind=CONTRACT&customerId=<id>&filename=<name>`` with the raw bytes as the body
  and their MIME type as ``Content-Type`` → ``201 {"id", "filename", "contentType", "size"}``;
- ``GET /files/<id>`` → the bytes, with ``Content-Type`` and ``Content-Disposition``.

Both need the bearer token and are authorised like the customer the file belongs to. Errors are
JSON ``{"errors": [{"message", "extensions": {"code"}}]}`` with the usual codes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from crm_common.app import graphql_error_response
from crm_common.auth import AuthError, Principal, TokenVerifier
from crm_common.errors import BadUserInput, CrmError, ErrorCode
from crm_customer.domain.files import MAX_TABLE_BYTES, FileKind

_STATUS = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.BAD_USER_INPUT: 400,
    ErrorCode.CONFLICT: 409,
}


def _crm_error(exc: CrmError) -> web.Response:
    body = {"errors": [{"message": exc.message, "extensions": exc.extensions()}]}
    return web.json_response(body, status=_STATUS.get(exc.code, 500))


async def _read_limited(request: web.Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BadUserInput(f"files are at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def register_file_routes(app: web.Application, services: Any, verifier: TokenVerifier) -> None:
    async def principal_of(request: web.Request) -> Principal | web.Response:
        try:
            verified = await verifier.verify_header_async(request.headers.get("Authorization"))
        except AuthError as exc:
            return graphql_error_response(401, str(exc), "UNAUTHENTICATED")
        # The roles' permissions in the tenant, as every GraphQL request (crm_common.app).
        authorized: Principal = await services.zones.authorize(verified)
        return authorized

    async def upload(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        if isinstance(principal, web.Response):
            return principal
        try:
            try:
                kind = FileKind(request.query.get("kind", ""))
            except ValueError as exc:
                raise BadUserInput(
                    "kind must be one of " + ", ".join(FileKind), field="kind"
                ) from exc
            data = await _read_limited(request, MAX_TABLE_BYTES)
            stored = await services.files(principal).upload(
                kind,
                request.query.get("filename", ""),
                request.content_type,
                data,
                request.query.get("customerId"),
            )
        except CrmError as exc:
            return _crm_error(exc)
        body = {
            "id": stored.id,
            "filename": stored.filename,
            "contentType": stored.content_type,
            "size": stored.size,
            "kind": stored.kind.value,
        }
        return web.json_response(body, status=201)

    async def download(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        if isinstance(principal, web.Response):
            return principal
        try:
            stored, data = await services.files(principal).download(request.match_info["id"])
        except CrmError as exc:
            return _crm_error(exc)
        disposition = f"attachment; filename*=UTF-8''{quote(stored.filename)}"
        return web.Response(
            body=data,
            content_type=stored.content_type,
            headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
        )

    app.router.add_post("/files", upload)
    app.router.add_get("/files/{id}", download)
