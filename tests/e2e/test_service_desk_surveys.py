"""Surveys end to end: sent when a ticket is resolved (with the tenant's template), answered
once through the public endpoint with a single-use token and no login, CSAT per dimension."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import stack

from tests.e2e.client import eventually, new_tenant
from tests.e2e.service_desk_support import (
    ASSIGN_TICKET,
    CHANGE_STATUS,
    SET_DEPARTMENT,
    DeskEvents,
    client,
    create_customer,
    desk_url,
    open_ticket_when_known,
    ticket_op,
)

pytestmark = [pytest.mark.e2e]

CREATE_TEMPLATE = """
mutation($input: CreateSurveyTemplateInput!) {
  createSurveyTemplate(input: $input) { template { id name subject dimensions { key label } } }
}
"""
CUSTOMER_SURVEYS = """
query($id: ID!) {
  customer(id: $id) {
    surveys(first: 5) { edges { node {
      id subjectType subjectId templateId status dimensions { key } scores { dimension score }
      comment respondedAt
    } } }
  }
}
"""
ISSUE_LINK = """
mutation($input: IssueSurveyLinkInput!) {
  issueSurveyLink(input: $input) { token responseUrl survey { id status } }
}
"""
CSAT = """
query($customerId: ID) { csat(customerId: $customerId) {
  dimension responses averageScore csatPercent } }
"""


async def _resolved_ticket(config: stack.StackConfig, tenant: str, customer_id: str) -> str:
    admin = client(config, tenant, ["admin"])
    agent = client(config, tenant, ["service_agent"], user_id="agent-1")
    (await admin.execute(SET_DEPARTMENT, {"input": {"name": "support"}})).ok()
    ticket = await open_ticket_when_known(agent, customerId=customer_id, title="Printer jams")
    await ticket_op(
        agent,
        ASSIGN_TICKET,
        "assignTicket",
        ticketId=ticket["id"],
        department="support",
        assigneeId="agent-1",
    )
    for status in ("IN_PROGRESS", "RESOLVED"):
        await ticket_op(
            agent, CHANGE_STATUS, "changeTicketStatus", ticketId=ticket["id"], status=status
        )
    ticket_id: str = ticket["id"]
    return ticket_id


async def test_survey_token_works_once_without_login_and_forgeries_are_refused(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    manager = client(live_stack, tenant, ["service_manager"], user_id="mgr", team="support")
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1")
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-1")
    template = (
        await manager.execute(
            CREATE_TEMPLATE,
            {
                "input": {
                    "name": "Ticket follow-up",
                    "subject": "TICKET",
                    "dimensions": [
                        {"key": "response_speed", "label": "Response speed"},
                        {"key": "professionalism", "label": "Professionalism"},
                    ],
                }
            },
        )
    ).ok()["createSurveyTemplate"]["template"]
    customer_id = await create_customer(rep, "Survey Respondent Ltd")
    ticket_id = await _resolved_ticket(live_stack, tenant, customer_id)

    async def sent() -> dict[str, Any] | None:
        data = (await rep.execute(CUSTOMER_SURVEYS, {"id": customer_id})).ok()
        edges = data["customer"]["surveys"]["edges"]
        return edges[0]["node"] if edges else None

    survey = await eventually(sent)
    assert (survey["subjectType"], survey["subjectId"], survey["status"]) == (
        "TICKET",
        ticket_id,
        "SENT",
    )
    assert survey["templateId"] == template["id"]
    assert [d["key"] for d in survey["dimensions"]] == ["response_speed", "professionalism"]

    # Staff issue a link (shown once); issuing again retires the previous token.
    first = (await agent.execute(ISSUE_LINK, {"input": {"surveyId": survey["id"]}})).ok()
    link = (await agent.execute(ISSUE_LINK, {"input": {"surveyId": survey["id"]}})).ok()
    old_token = first["issueSurveyLink"]["token"]
    token = link["issueSurveyLink"]["token"]
    assert token != old_token and len(token) >= 43
    assert link["issueSurveyLink"]["responseUrl"].endswith(f"/surveys/respond?token={token}")
    not_staff = await rep.execute(ISSUE_LINK, {"input": {"surveyId": survey["id"]}})
    assert not_staff.error_codes() == ["FORBIDDEN"]

    respond_url = f"{desk_url(live_stack)}/surveys/respond"
    answer = {"response_speed": 5, "professionalism": 3}
    async with httpx.AsyncClient(timeout=10) as anonymous:  # no Authorization header at all
        form = await anonymous.get(respond_url, params={"token": token})
        assert form.status_code == 200
        assert [d["key"] for d in form.json()["dimensions"]] == [
            "response_speed",
            "professionalism",
        ]

        bad = await anonymous.post(
            respond_url, json={"token": token, "scores": {**answer, "professionalism": 9}}
        )
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "scores.professionalism",
        }
        forged = await anonymous.post(
            respond_url, json={"token": token[:-4] + "AAAA", "scores": answer}
        )
        assert forged.status_code == 404
        assert forged.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        retired = await anonymous.post(respond_url, json={"token": old_token, "scores": answer})
        assert retired.status_code == 404

        # Two answers race with the same token: exactly one is taken.
        racing = await asyncio.gather(
            *(
                anonymous.post(
                    respond_url, json={"token": token, "scores": answer, "comment": " Quick fix! "}
                )
                for _ in range(2)
            )
        )
        assert sorted(r.status_code for r in racing) == [200, 409], [r.text for r in racing]
        again = await anonymous.post(respond_url, json={"token": token, "scores": answer})
        assert again.status_code == 409
        assert again.json()["errors"][0]["extensions"]["code"] == "CONFLICT"

    answered = await sent()
    assert answered is not None
    assert answered["status"] == "RESPONDED"
    assert {s["dimension"]: s["score"] for s in answered["scores"]} == answer
    assert answered["comment"] == "Quick fix!"
    used = await agent.execute(ISSUE_LINK, {"input": {"surveyId": survey["id"]}})
    assert used.error_codes() == ["CONFLICT"]

    csat = (await manager.execute(CSAT, {"customerId": customer_id})).ok()["csat"]
    assert csat == [
        {"dimension": "professionalism", "responses": 1, "averageScore": 3.0, "csatPercent": 0.0},
        {"dimension": "response_speed", "responses": 1, "averageScore": 5.0, "csatPercent": 100.0},
    ]
    async with DeskEvents(live_stack, tenant) as events:
        responded = await events.wait_for("survey_responded", 1)
    assert responded[0].data["scores"] == answer
    assert "comment" not in responded[0].data  # customers' free text stays in the service
