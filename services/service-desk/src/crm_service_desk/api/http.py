"""Public survey endpoints: a customer answers with the link's token, without a CRM login.

    GET  /surveys/respond?token=...   the questions (dimensions) of the survey
    POST /surveys/respond             {"token": "...", "scores": {"service_quality": 5, ...},
                                       "comment": "..."}

Answers: 200 ``{"status": "RESPONDED"}``; 400 ``BAD_USER_INPUT`` (with ``field``) for a bad
body or score; 404 ``NOT_FOUND`` for an unknown (forged) token; 409 ``CONFLICT`` for a token
that was already used. The errors have the same shape as GraphQL errors.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from crm_common.errors import CrmError, ErrorCode
from crm_service_desk.service.surveys import PublicSurveyService

RESPOND_PATH = "/surveys/respond"
_STATUS = {
    ErrorCode.BAD_USER_INPUT: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.FORBIDDEN: 403,
}


def _error(exc: CrmError) -> web.Response:
    body = {"errors": [{"message": exc.message, "extensions": exc.extensions()}]}
    return web.json_response(body, status=_STATUS.get(exc.code, 500))


def _bad_body(message: str) -> web.Response:
    body = {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]}
    return web.json_response(body, status=400)


def add_survey_routes(app: web.Application, service: PublicSurveyService) -> None:
    async def form(request: web.Request) -> web.Response:
        try:
            survey = await service.form(request.query.get("token"))
        except CrmError as exc:
            return _error(exc)
        return web.json_response(
            {
                "subjectType": survey.subject_type.value,
                "dimensions": [{"key": d.key, "label": d.label} for d in survey.dimensions],
                "scale": {"min": 1, "max": 5},
            }
        )

    async def respond(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _bad_body("send application/json")
        try:
            payload: Any = json.loads(await request.read())
        except ValueError:
            return _bad_body("the body is not JSON")
        if not isinstance(payload, dict):
            return _bad_body("the body must be a JSON object")
        try:
            await service.respond(
                payload.get("token"), payload.get("scores"), payload.get("comment")
            )
        except CrmError as exc:
            return _error(exc)
        return web.json_response({"status": "RESPONDED"})

    app.router.add_get(RESPOND_PATH, form)
    app.router.add_post(RESPOND_PATH, respond)
