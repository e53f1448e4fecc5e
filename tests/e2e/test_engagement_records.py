"""Engagement records through the gateway: interactions, follow-ups, cadence, activities.

Covers editing within the grace period then append-only corrections, listing per customer /
owner / period, the federated `Customer.lastInteractionAt` and `interactions`, completing a
follow-up (which logs an interaction), cadence proposals with a tenant override, activities
with registration and attendance, role permissions and analysts' masked contact details.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import stack

from tests.e2e.client import new_tenant
from tests.e2e.engagement_support import client, known_customer, log

pytestmark = [pytest.mark.e2e]

EDIT = """mutation($input: EditInteractionInput!) {
  editInteraction(input: $input) { interaction { content editedAt } } }"""
CORRECT = """mutation($input: CorrectInteractionInput!) {
  correctInteraction(input: $input) { interaction { content corrections { text authorId } } } }"""
LOG_ONLY = """mutation($i: LogInteractionInput!) {
  logInteraction(input: $i) { interaction { id } } }"""
SCHEDULE = """mutation($i: ScheduleFollowUpInput!) {
  scheduleFollowUp(input: $i) { followUp { id } } }"""
COMPLETE_ONLY = """mutation($i: CompleteFollowUpInput!) {
  completeFollowUp(input: $i) { followUp { id } } }"""
CREATE_ACTIVITY = """mutation($i: CreateActivityInput!) {
  createActivity(input: $i) { activity { id kind } } }"""
MINE = """query($due: DueWindow!) {
  myFollowUps(due: $due) { totalCount edges { node { id } } } }"""
SETTINGS = """mutation($input: UpdateEngagementSettingsInput!) {
  updateEngagementSettings(input: $input) { settings { highIntervalDays editGraceMinutes } } }"""


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_interactions_edit_correct_list_and_federated_fields(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    alice = client(live_stack, tenant, ["sales_rep"], user_id="alice")
    bob = client(live_stack, tenant, ["sales_rep"], user_id="bob")
    admin = client(live_stack, tenant, ["admin"], user_id="root")
    analyst = client(live_stack, tenant, ["analyst"], user_id="ana")
    first = await known_customer(alice, "Suzhou Silk Works")
    second = await known_customer(alice, "Ningbo Port Supplies")

    week_ago = datetime.now(UTC) - timedelta(days=7)
    logged = await log(
        alice,
        first,
        kind="VISIT",
        content="site visit",
        occurredAt=iso(week_ago),
        feedback="likes the demo",
        objections="price",
        nextSteps="send quote",
        participants=[
            {"kind": "USER", "name": "Alice", "refId": "alice"},
            {
                "kind": "CONTACT",
                "name": "Mr. Wang",
                "refId": "c-1",
                "email": "wang@silk.cn",
                "phone": "+86 138 0000 1234",
            },
        ],
        attachments=[{"fileId": "f-1", "name": "minutes.pdf", "contentType": "application/pdf"}],
    )
    interaction = logged["interaction"]
    assert interaction["participants"][1]["email"] == "wang@silk.cn"
    assert logged["proposedFollowUp"]["priority"] == "MEDIUM"
    assert logged["proposedFollowUp"]["intervalDays"] == 14
    await log(alice, first, content="follow-up call")
    await log(alice, second, kind="EMAIL", content="brochure sent")

    # Within the grace period the author edits; nobody else may.
    edited = (
        await alice.execute(EDIT, {"input": {"id": interaction["id"], "content": "site visit, 3h"}})
    ).ok()
    assert edited["editInteraction"]["interaction"]["content"] == "site visit, 3h"
    assert edited["editInteraction"]["interaction"]["editedAt"] is not None
    refused = await bob.execute(EDIT, {"input": {"id": interaction["id"], "content": "x"}})
    assert refused.error_codes() == ["NOT_FOUND"]  # bob does not even see alice's customer

    # After the grace period (the admin sets it to 0): no edits, only appended corrections.
    (await admin.execute(SETTINGS, {"input": {"editGraceMinutes": 0}})).ok()
    late = await alice.execute(EDIT, {"input": {"id": interaction["id"], "content": "rewrite"}})
    assert late.error_codes() == ["CONFLICT"]
    corrected = (
        await alice.execute(CORRECT, {"input": {"id": interaction["id"], "text": "it was 2h"}})
    ).ok()
    body = corrected["correctInteraction"]["interaction"]
    assert body["content"] == "site visit, 3h"
    assert body["corrections"] == [{"text": "it was 2h", "authorId": "alice"}]

    # Lists: per customer, per owner, per period.
    listing = """query($f: InteractionFilter) { interactions(filter: $f, first: 50) {
      totalCount edges { node { content customerId } } } }"""
    per_customer = (await alice.execute(listing, {"f": {"customerId": first}})).ok()
    assert per_customer["interactions"]["totalCount"] == 2
    per_owner = (await admin.execute(listing, {"f": {"ownerId": "alice"}})).ok()
    assert per_owner["interactions"]["totalCount"] == 3
    recent = (
        await alice.execute(
            listing, {"f": {"occurredFrom": iso(datetime.now(UTC) - timedelta(days=1))}}
        )
    ).ok()
    assert recent["interactions"]["totalCount"] == 2
    assert (await bob.execute(listing, {"f": {}})).ok()["interactions"]["totalCount"] == 0

    # Federation: several customers in one query; the analyst sees contact details masked.
    query = """query($a: ID!, $b: ID!) {
      a: customer(id: $a) { name lastInteractionAt interactions(first: 1) { totalCount
          pageInfo { hasNextPage } edges { node { participants { email phone } } } } }
      b: customer(id: $b) { name lastInteractionAt interactions(first: 1) { totalCount } } }"""
    seen = (await alice.execute(query, {"a": first, "b": second})).ok()
    assert seen["a"]["interactions"]["totalCount"] == 2
    assert seen["a"]["interactions"]["pageInfo"]["hasNextPage"] is True
    assert seen["b"]["interactions"]["totalCount"] == 1
    assert seen["a"]["lastInteractionAt"] is not None and seen["b"]["lastInteractionAt"] is not None
    masked = (
        await analyst.execute(
            "query($id: ID!) { interaction(id: $id) { participants { email phone } } }",
            {"id": interaction["id"]},
        )
    ).ok()["interaction"]["participants"][1]
    assert masked["email"] == "w***@silk.cn"
    assert masked["phone"].endswith("1234") and "138" not in masked["phone"]

    # Bad input is named and stores nothing; analysts and service agents do not write.
    bad = await alice.execute(
        LOG_ONLY,
        {
            "i": {
                "customerId": first,
                "kind": "CHAT",
                "content": "x",
                "participants": [{"kind": "CONTACT", "name": "X", "email": "not-an-email"}],
            }
        },
    )
    assert bad.error_codes() == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"]["field"] == "input.participants"
    denied = await analyst.execute(
        LOG_ONLY, {"i": {"customerId": first, "kind": "CHAT", "content": "hello"}}
    )
    assert denied.error_codes() == ["FORBIDDEN"]
    assert denied.errors[0]["extensions"]["permission"] == "engagement:log"
    # Service agents log their service calls with any customer (issue 18.3).
    agent = client(live_stack, tenant, ["service_agent"])
    (
        await agent.execute(
            LOG_ONLY, {"i": {"customerId": first, "kind": "CHAT", "content": "fixed it"}}
        )
    ).ok()
    after = (await alice.execute(listing, {"f": {"customerId": first}})).ok()
    assert after["interactions"]["totalCount"] == 3


async def test_follow_ups_cadence_and_completion(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep")
    admin = client(live_stack, tenant, ["admin"], user_id="root")
    customer = await known_customer(rep, "Xiamen Tea Traders")

    priority = """mutation($i: SetCustomerPriorityInput!) { setCustomerPriority(input: $i) {
      priority proposedFollowUp { intervalDays dueAt } } }"""
    high = (await rep.execute(priority, {"i": {"customerId": customer, "priority": "HIGH"}})).ok()
    assert high["setCustomerPriority"]["proposedFollowUp"]["intervalDays"] == 7
    (await admin.execute(SETTINGS, {"input": {"highIntervalDays": 3}})).ok()
    logged = await log(rep, customer, content="kick-off")
    proposal = logged["proposedFollowUp"]
    assert proposal["intervalDays"] == 3
    occurred = datetime.fromisoformat(logged["interaction"]["occurredAt"].replace("Z", "+00:00"))
    proposed_due = datetime.fromisoformat(proposal["dueAt"].replace("Z", "+00:00"))
    assert proposed_due == occurred + timedelta(days=3)

    created = (
        await rep.execute(
            """mutation($i: ScheduleProposedFollowUpInput!) { scheduleProposedFollowUp(input: $i) {
          followUp { id dueAt priority status origin assigneeId } } }""",
            {"i": {"customerId": customer}},
        )
    ).ok()["scheduleProposedFollowUp"]["followUp"]
    assert created["priority"] == "HIGH" and created["origin"] == "CADENCE"
    assert created["dueAt"] == proposal["dueAt"] and created["assigneeId"] == "rep"

    soon = (
        await rep.execute(
            SCHEDULE,
            {
                "i": {
                    "customerId": customer,
                    "type": "VISIT",
                    "goal": "demo",
                    "dueAt": iso(datetime.now(UTC) + timedelta(minutes=30)),
                    "priority": "LOW",
                }
            },
        )
    ).ok()["scheduleFollowUp"]["followUp"]
    mine = MINE
    # The default reminder lead is 60 minutes: the visit in 30 minutes is due already.
    due_now = (await rep.execute(mine, {"due": "DUE"})).ok()["myFollowUps"]
    assert [e["node"]["id"] for e in due_now["edges"]] == [soon["id"]]
    assert (await rep.execute(mine, {"due": "ALL"})).ok()["myFollowUps"]["totalCount"] == 2

    done = (
        await rep.execute(
            """mutation($i: CompleteFollowUpInput!) { completeFollowUp(input: $i) {
          followUp { status outcome interactionId } interaction { id kind followUpId } } }""",
            {"i": {"id": soon["id"], "outcome": "they will pilot in March"}},
        )
    ).ok()["completeFollowUp"]
    assert done["followUp"]["status"] == "DONE"
    assert done["interaction"]["kind"] == "VISIT"
    assert done["interaction"]["followUpId"] == soon["id"]
    assert done["followUp"]["interactionId"] == done["interaction"]["id"]
    again = await rep.execute(
        COMPLETE_ONLY,
        {"i": {"id": soon["id"], "outcome": "twice"}},
    )
    assert again.error_codes() == ["CONFLICT"]
    assert (await rep.execute(mine, {"due": "ALL"})).ok()["myFollowUps"]["totalCount"] == 1
    past = await rep.execute(
        SCHEDULE,
        {
            "i": {
                "customerId": customer,
                "type": "CHAT",
                "goal": "late",
                "dueAt": iso(datetime.now(UTC) - timedelta(days=2)),
            }
        },
    )
    assert past.error_codes() == ["BAD_USER_INPUT"]
    assert past.errors[0]["extensions"]["field"] == "input.dueAt"


async def test_activities_registrations_and_attendance(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep")
    analyst = client(live_stack, tenant, ["analyst"])
    customer = await known_customer(rep, "Qingdao Brewing Partners")
    activity = (
        await rep.execute(
            CREATE_ACTIVITY,
            {
                "i": {
                    "kind": "WEBINAR",
                    "title": "Spring product webinar",
                    "startsAt": iso(datetime.now(UTC) - timedelta(minutes=5)),
                }
            },
        )
    ).ok()["createActivity"]["activity"]
    register = """mutation($i: RegisterForActivityInput!) { registerForActivity(input: $i) {
      registration { id attended contact { name email } } } }"""
    contact = {"kind": "CONTACT", "name": "Ms. Li", "refId": "c-9", "email": "li@brew.cn"}
    registration = (
        await rep.execute(
            register,
            {"i": {"activityId": activity["id"], "customerId": customer, "contact": contact}},
        )
    ).ok()["registerForActivity"]["registration"]
    assert registration["attended"] is None
    duplicate = await rep.execute(
        register, {"i": {"activityId": activity["id"], "customerId": customer, "contact": contact}}
    )
    assert duplicate.error_codes() == ["CONFLICT"]
    attended = (
        await rep.execute(
            """mutation($i: RecordAttendanceInput!) { recordAttendance(input: $i) {
          registration { attended attendanceRecordedAt } } }""",
            {"i": {"id": registration["id"]}},
        )
    ).ok()["recordAttendance"]["registration"]
    assert attended["attended"] is True
    query = """query($id: ID!) { customer(id: $id) { activities(first: 10) { totalCount
      edges { node { attended contact { email } activity { title kind } } } } } }"""
    seen = (await rep.execute(query, {"id": customer})).ok()["customer"]["activities"]
    assert seen["totalCount"] == 1
    node = seen["edges"][0]["node"]
    assert node["activity"] == {"title": "Spring product webinar", "kind": "WEBINAR"}
    assert node["contact"]["email"] == "li@brew.cn"
    masked = (await analyst.execute(query, {"id": customer})).ok()["customer"]["activities"]
    assert masked["edges"][0]["node"]["contact"]["email"] == "l***@brew.cn"
