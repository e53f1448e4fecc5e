"""Issue 18 in the service desk, through the gateway: surveys answered by phone (电话回访),
improvement tasks (改进任务) opened from a low answer, a complaint or a manager, worked, closed
and announced overdue once, and the customer profile's service records (summary + timeline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stack

from tests.e2e.client import eventually, new_tenant
from tests.e2e.service_desk_support import (
    SET_DEPARTMENT,
    DeskEvents,
    client,
    create_customer,
    desk_url,
    open_ticket_when_known,
    publish,
)
from tests.e2e.test_service_desk_surveys import CUSTOMER_SURVEYS, ISSUE_LINK, _resolved_ticket

pytestmark = [pytest.mark.e2e]

TASK_FIELDS = """
id title source sourceId customerId team ownerId status dueAt overdue overdueAnnouncedAt
openedBy closedAt closureNote history { action actorId note }
"""
RECORD_BY_PHONE = """
mutation($input: RecordSurveyByPhoneInput!) {
  recordSurveyByPhone(input: $input) {
    survey { id status channel recordedBy comment scores { dimension score } }
  }
}
"""
CSAT_BY = """
query($customerId: ID, $channel: SurveyChannel) {
  csat(customerId: $customerId, channel: $channel) { dimension responses averageScore }
}
"""
TASKS = f"""
query($filter: ImprovementTaskFilter) {{
  improvementTasks(filter: $filter, first: 20) {{ totalCount edges {{ node {{ {TASK_FIELDS} }} }} }}
}}
"""
TASK = f"query($id: ID!) {{ improvementTask(id: $id) {{ {TASK_FIELDS} }} }}"
CREATE_TASK = f"""
mutation($input: CreateImprovementTaskInput!) {{
  createImprovementTask(input: $input) {{ task {{ {TASK_FIELDS} }} }}
}}
"""
UPDATE_TASK = f"""
mutation($input: UpdateImprovementTaskInput!) {{
  updateImprovementTask(input: $input) {{ task {{ {TASK_FIELDS} }} }}
}}
"""
CLOSE_TASK = f"""
mutation($input: CloseImprovementTaskInput!) {{
  closeImprovementTask(input: $input) {{ task {{ {TASK_FIELDS} }} }}
}}
"""
INBOX = "query { notifications(first: 20) { edges { node { kind recordType recordId } } } }"
PROFILE = """
query($id: ID!) {
  customer(id: $id) {
    serviceSummary {
      tickets openTickets complaints serviceOrders openServiceOrders surveysAnswered
      lastSurveyAverage lastSurveyAt lastSurveyChannel openImprovementTasks lastServiceAt
    }
    improvementTasks(first: 5) { totalCount edges { node { id source } } }
    timeline(first: 50, types: ["crm.servicedesk.ticket_opened",
                                "crm.servicedesk.survey_responded",
                                "crm.servicedesk.improvement_task_opened"]) {
      edges { node { type service data } }
    }
  }
}
"""


def _nodes(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in data["improvementTasks"]["edges"]]


async def test_a_phone_answer_counts_by_channel_and_a_low_one_opens_one_task(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-1")
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1")
    manager = client(live_stack, tenant, ["service_manager"], user_id="lead-1", team="support")
    customer_id = await create_customer(rep, "Phone Survey Co")
    ticket_id = await _resolved_ticket(live_stack, tenant, customer_id)
    # The department gets its lead now: the task of the low answer goes to them.
    (await admin.execute(SET_DEPARTMENT, {"input": {"name": "support", "leadId": "lead-1"}})).ok()

    async def sent() -> dict[str, Any] | None:
        edges = (await rep.execute(CUSTOMER_SURVEYS, {"id": customer_id})).ok()["customer"][
            "surveys"
        ]["edges"]
        return edges[0]["node"] if edges else None

    survey = await eventually(sent)
    link = (await agent.execute(ISSUE_LINK, {"input": {"surveyId": survey["id"]}})).ok()
    token = link["issueSurveyLink"]["token"]
    scores = [
        {"dimension": "service_quality", "score": 2},
        {"dimension": "response_speed", "score": 4},
        {"dimension": "professionalism", "score": 5},
    ]

    # Bad input: a dimension twice, an unknown one, a score out of range; nothing is stored.
    twice = await agent.execute(
        RECORD_BY_PHONE,
        {"input": {"surveyId": survey["id"], "scores": [*scores, scores[0]]}},
    )
    assert twice.error_codes() == ["BAD_USER_INPUT"]
    assert twice.errors[0]["extensions"]["field"] == "input.scores.3.dimension"
    out_of_range = await agent.execute(
        RECORD_BY_PHONE,
        {
            "input": {
                "surveyId": survey["id"],
                "scores": [*scores[:2], {"dimension": "professionalism", "score": 6}],
            }
        },
    )
    assert out_of_range.errors[0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "scores.professionalism",
    }
    assert (
        await rep.execute(RECORD_BY_PHONE, {"input": {"surveyId": survey["id"], "scores": scores}})
    ).error_codes() == ["FORBIDDEN"]

    recorded = (
        await agent.execute(
            RECORD_BY_PHONE,
            {"input": {"surveyId": survey["id"], "scores": scores, "comment": "Slow fix"}},
        )
    ).ok()["recordSurveyByPhone"]["survey"]
    assert (recorded["status"], recorded["channel"], recorded["recordedBy"]) == (
        "RESPONDED",
        "PHONE",
        "agent-1",
    )
    again = await agent.execute(
        RECORD_BY_PHONE, {"input": {"surveyId": survey["id"], "scores": scores}}
    )
    assert again.error_codes() == ["CONFLICT"]
    async with httpx.AsyncClient(timeout=10) as anonymous:  # the link is answered now
        late = await anonymous.post(
            f"{desk_url(live_stack)}/surveys/respond",
            json={"token": token, "scores": {s["dimension"]: s["score"] for s in scores}},
        )
        assert late.status_code == 409

    phone = (await manager.execute(CSAT_BY, {"customerId": customer_id, "channel": "PHONE"})).ok()[
        "csat"
    ]
    assert {r["dimension"]: r["responses"] for r in phone} == {
        "professionalism": 1,
        "response_speed": 1,
        "service_quality": 1,
    }
    by_link = (await manager.execute(CSAT_BY, {"customerId": customer_id, "channel": "LINK"})).ok()
    assert by_link["csat"] == []

    # The low answer (service_quality 2) opens one task for the department's lead.
    async def survey_task() -> dict[str, Any] | None:
        data = (await manager.execute(TASKS, {"filter": {"source": "SURVEY"}})).ok()
        return _nodes(data)[0] if _nodes(data) else None

    task = await eventually(survey_task)
    assert (task["sourceId"], task["customerId"], task["team"], task["ownerId"]) == (
        survey["id"],
        customer_id,
        "support",
        "lead-1",
    )
    assert task["status"] == "OPEN" and "service_quality 2/5" in task["title"]

    async with DeskEvents(live_stack, tenant) as events:
        responded = await events.wait_for("survey_responded", 1)
        assert responded[0].data["channel"] == "PHONE"
        assert responded[0].data["recorded_by"] == "agent-1"
        # A redelivered answer (same event again) opens no second task.
        await publish(live_stack, [responded[0]])
        opened = await events.wait_for("improvement_task_opened", 1)
        assert opened[0].data["source"] == "SURVEY" and opened[0].data["source_id"] == survey["id"]
    total = (await manager.execute(TASKS, {"filter": {"source": "SURVEY"}})).ok()
    assert total["improvementTasks"]["totalCount"] == 1

    # The profile: summary and timeline show the service records.
    async def profile() -> dict[str, Any] | None:
        data = (await rep.execute(PROFILE, {"id": customer_id})).ok()["customer"]
        types = {n["node"]["type"] for n in data["timeline"]["edges"]}
        return data if "crm.servicedesk.improvement_task_opened" in types else None

    seen = await eventually(profile)
    summary = seen["serviceSummary"]
    assert (summary["tickets"], summary["openTickets"], summary["surveysAnswered"]) == (1, 0, 1)
    assert summary["lastSurveyAverage"] == round(11 / 3, 2)
    assert summary["lastSurveyChannel"] == "PHONE"
    assert summary["openImprovementTasks"] == 1
    assert seen["improvementTasks"]["totalCount"] == 1
    opened_entry = next(
        n["node"]
        for n in seen["timeline"]["edges"]
        if n["node"]["type"] == "crm.servicedesk.ticket_opened"
    )
    assert opened_entry["service"] == "servicedesk"
    assert opened_entry["data"]["title"] == "Printer jams"
    assert opened_entry["data"]["ticket_id"] == ticket_id


async def test_improvement_tasks_from_complaints_and_managers_with_permissions(
    live_stack: stack.StackConfig,
) -> None:
    tenant, other_tenant = new_tenant(), new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    for name, lead in (("support", "lead-1"), ("field", None)):
        (await admin.execute(SET_DEPARTMENT, {"input": {"name": name, "leadId": lead}})).ok()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-1")
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1")
    owner = client(live_stack, tenant, ["service_agent"], user_id="agent-2")
    manager = client(live_stack, tenant, ["service_manager"], user_id="lead-1", team="support")
    field_manager = client(live_stack, tenant, ["service_manager"], user_id="lead-2", team="field")
    customer_id = await create_customer(rep, "Complaining Co")

    # A complaint ticket opens a task for its department's lead.
    ticket = await open_ticket_when_known(
        agent,
        customerId=customer_id,
        title="Engineer never came",
        category="COMPLAINT",
        department="support",
    )

    async def complaint_task() -> dict[str, Any] | None:
        data = (await manager.execute(TASKS, {"filter": {"source": "TICKET"}})).ok()
        return _nodes(data)[0] if _nodes(data) else None

    from_ticket = await eventually(complaint_task)
    assert (from_ticket["sourceId"], from_ticket["ownerId"], from_ticket["team"]) == (
        ticket["id"],
        "lead-1",
        "support",
    )
    assert from_ticket["title"] == "Complaint: Engineer never came"

    due = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    new_task = {"title": "Train dispatchers", "ownerId": "agent-2", "dueAt": due}
    refused = await agent.execute(CREATE_TASK, {"input": new_task})
    assert refused.error_codes() == ["FORBIDDEN"]
    blank = await manager.execute(CREATE_TASK, {"input": {**new_task, "title": "  "}})
    assert blank.errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.title"}
    other_team = await manager.execute(CREATE_TASK, {"input": {**new_task, "team": "field"}})
    assert other_team.error_codes() == ["FORBIDDEN"]
    created = (
        await manager.execute(CREATE_TASK, {"input": {**new_task, "customerId": customer_id}})
    ).ok()["createImprovementTask"]["task"]
    assert (created["source"], created["team"], created["status"], created["openedBy"]) == (
        "MANUAL",
        "support",
        "OPEN",
        "lead-1",
    )
    task_id = created["id"]

    # The owner starts it; another agent may not; the owner may not reassign.
    start = {"taskId": task_id, "status": "IN_PROGRESS"}
    assert (await agent.execute(UPDATE_TASK, {"input": start})).error_codes() == ["FORBIDDEN"]
    reassign = await owner.execute(UPDATE_TASK, {"input": {"taskId": task_id, "ownerId": "x"}})
    assert reassign.error_codes() == ["FORBIDDEN"]
    started = (await owner.execute(UPDATE_TASK, {"input": start})).ok()
    assert started["updateImprovementTask"]["task"]["status"] == "IN_PROGRESS"
    done_status = await owner.execute(UPDATE_TASK, {"input": {"taskId": task_id, "status": "DONE"}})
    assert done_status.errors[0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "input.status",
    }
    # Another team's manager does not see it; another tenant does not either.
    assert (await field_manager.execute(TASK, {"id": task_id})).ok()["improvementTask"] is None
    stranger = client(live_stack, other_tenant, ["admin"])
    assert (await stranger.execute(TASK, {"id": task_id})).ok()["improvementTask"] is None
    assert (await stranger.execute(TASKS, {})).ok()["improvementTasks"]["totalCount"] == 0

    no_note = await owner.execute(
        CLOSE_TASK, {"input": {"taskId": task_id, "outcome": "DONE", "note": " "}}
    )
    assert no_note.errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.note"}
    closed = (
        await owner.execute(
            CLOSE_TASK,
            {"input": {"taskId": task_id, "outcome": "DONE", "note": "Dispatch retrained"}},
        )
    ).ok()["closeImprovementTask"]["task"]
    assert (closed["status"], closed["closureNote"], closed["overdue"]) == (
        "DONE",
        "Dispatch retrained",
        False,
    )
    assert [h["action"] for h in closed["history"]] == ["OPENED", "STARTED", "DONE"]
    listed = (
        await manager.execute(TASKS, {"filter": {"status": ["DONE"], "ownerId": "agent-2"}})
    ).ok()
    assert [n["id"] for n in _nodes(listed)] == [task_id]

    # A task past due is announced overdue once.
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    late = (
        await admin.execute(
            CREATE_TASK,
            {"input": {"title": "Call back", "ownerId": "agent-2", "dueAt": past, "team": "field"}},
        )
    ).ok()["createImprovementTask"]["task"]
    assert late["overdue"] is True

    async def announced() -> dict[str, Any] | None:
        found = (await admin.execute(TASK, {"id": late["id"]})).ok()["improvementTask"]
        return found if found["overdueAnnouncedAt"] else None

    flagged = await eventually(announced, timeout_s=60)
    assert [h["action"] for h in flagged["history"]] == ["OPENED", "OVERDUE"]
    overdue = (await admin.execute(TASKS, {"filter": {"overdue": True}})).ok()
    assert late["id"] in {n["id"] for n in _nodes(overdue)}

    # The owner hears of it in their inbox (engagement builds notifications from the events).
    async def notified() -> set[str] | None:
        data = (await owner.execute(INBOX)).ok()["notifications"]["edges"]
        kinds = {edge["node"]["kind"] for edge in data}
        wanted = {"IMPROVEMENT_TASK_ASSIGNED", "IMPROVEMENT_TASK_OVERDUE"}
        return kinds if wanted <= kinds else None

    await eventually(notified, timeout_s=60)
    async with DeskEvents(live_stack, tenant) as events:
        await events.wait_for("improvement_task_overdue", 1)
        await events.wait_for("improvement_task_closed", 1)
        assert len(events.of_type("improvement_task_overdue")) == 1
        assert len(events.of_type("improvement_task_opened")) == 3
