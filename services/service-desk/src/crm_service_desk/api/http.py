"""Public survey endpoints: a customer answers with the link's token, without a CRM login.

    GET  /surveys/respond?token=...   the questions (dimensions) of the survey
    POST /surveys/respond             {"token": "...", "scores": {"service_quality": 5, ...},
                                       "comment": "..."}

A browser (``Accept: text/html``, i.e. the customer clicking the e-mailed link) gets the same
as a small HTML form instead, which posts back form-encoded and gets an HTML answer; no
script, the token travels in a hidden field.

Answers: 200 ``{"status": "RESPONDED"}``; 400 ``BAD_USER_INPUT`` (with ``field``) for a bad
body or score; 404 ``NOT_FOUND`` for an unknown (forged) token; 409 ``CONFLICT`` for a token
that was already used. The errors have the same shape as GraphQL errors.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import parse_qs

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


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}}
fieldset{{border:0;padding:0;margin:0 0 1rem}}label{{margin-right:.8rem}}
textarea{{width:100%;height:5rem}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""
_HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=_PAGE.format(title=escape(title), body=body),
        status=status,
        content_type="text/html",
        headers=_HTML_HEADERS,
    )


def _html_error(exc: CrmError) -> web.Response:
    messages = {
        ErrorCode.NOT_FOUND: "This survey link is not valid.",
        ErrorCode.CONFLICT: "This survey has been answered already. Thank you!",
    }
    text = messages.get(exc.code, exc.message)
    return _page("Survey", f"<p>{escape(text)}</p>", _STATUS.get(exc.code, 500))


def add_survey_routes(app: web.Application, service: PublicSurveyService) -> None:
    async def form(request: web.Request) -> web.Response:
        try:
            survey = await service.form(request.query.get("token"))
        except CrmError as exc:
            return _html_error(exc) if _wants_html(request) else _error(exc)
        if _wants_html(request):
            token = escape(request.query.get("token") or "")
            fields = "".join(
                f"<fieldset><legend>{escape(d.label)}</legend>"
                + "".join(
                    f'<label><input type="radio" name="score.{escape(d.key)}" value="{n}" '
                    f"required> {n}</label>"
                    for n in range(1, 6)
                )
                + "</fieldset>"
                for d in survey.dimensions
            )
            body = (
                "<p>How did we do? 1 = poor, 5 = excellent.</p>"
                f'<form method="post"><input type="hidden" name="token" value="{token}">'
                f"{fields}<p><label for=c>Comment (optional)</label>"
                '<textarea id=c name="comment" maxlength="2000"></textarea></p>'
                '<button type="submit">Send</button></form>'
            )
            return _page("Your feedback", body)
        return web.json_response(
            {
                "subjectType": survey.subject_type.value,
                "dimensions": [{"key": d.key, "label": d.label} for d in survey.dimensions],
                "scale": {"min": 1, "max": 5},
            }
        )

    async def respond(request: web.Request) -> web.Response:
        if request.content_type == "application/x-www-form-urlencoded":
            return await respond_form(request)
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

    async def respond_form(request: web.Request) -> web.Response:
        """The HTML form's post: ``token``, ``score.<dimension>``, ``comment``."""
        fields = parse_qs((await request.read()).decode("utf-8", "replace"), max_num_fields=50)
        scores: dict[str, Any] = {}
        for name, values in fields.items():
            if name.startswith("score.") and values:
                value = values[0]
                scores[name.removeprefix("score.")] = int(value) if value.isdigit() else value
        comment = (fields.get("comment") or [""])[0].strip() or None
        try:
            token = next(iter(fields.get("token") or []), None)
            await service.respond(token, scores, comment)
        except CrmError as exc:
            return _html_error(exc)
        return _page("Thank you", "<p>Your answer has been recorded. Thank you!</p>")

    app.router.add_get(RESPOND_PATH, form)
    app.router.add_post(RESPOND_PATH, respond)
