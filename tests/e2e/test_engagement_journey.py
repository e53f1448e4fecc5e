"""Issue 17, engagement's share, through the gateway: a call logged for a customer created a
moment ago (waits for the copy, or CUSTOMER_NOT_READY), customers by activity attendance (the
event follow-up list, customer fields resolved by the customer service), and follow-up
participants (they see it, are reminded, may be added and removed)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack

from tests.e2e.client import GraphQLClient, eventually, new_tenant
from tests.e2e.engagement_support import CREATE_CUSTOMER, client, known_customer

pytestmark = [pytest.mark.e2e]

LOG = """mutation($i: LogInteractionInput!) {
  logInteraction(input: $i) { interaction { id customerId occurredAt createdAt } } }"""
CREATE_ACTIVITY = """mutation($i: CreateActivityInput!) {
  createActivity(input: $i) { activity { id } } }"""
REGISTER = """mutation($i: RegisterForActivityInput!) {
  registerForActivity(input: $i) { registration { id } } }"""
ATTEND = """mutation($i: RecordAttendanceInput!) {
  recordAttendance(input: $i) { registration { attended } } }"""
BY_ACTIVITY = """query($f: ActivityAttendanceFilter!, $first: Int, $after: String) {
  customersByActivity(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id name } } } }"""
SCHEDULE = """mutation($i: ScheduleFollowUpInput!) {
  scheduleFollowUp(input: $i) { followUp { id participantIds } } }"""
PARTICIPANTS = """mutation($i: ChangeFollowUpParticipantsInput!) {
  changeFollowUpParticipants(input: $i) { followUp { id participantIds } } }"""
FOLLOW_UP = "query($id: ID!) { followUp(id: $id) { id assigneeId participantIds } }"
JOINED = """query { myFollowUps(participating: true) { totalCount edges { node { id } } } }"""
INBOX = """query { notifications(first: 20) { edges { node {
  kind recordType recordId customerId body } } } }"""


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_a_call_for_a_customer_created_a_moment_ago(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rita")
    created = (await rep.execute(CREATE_CUSTOMER, {"input": {"name": "Just Made Ltd"}})).ok()
    customer_id = created["createCustomer"]["customer"]["id"]
    # At once, no polling: the write waits for the customer copy instead of "not found".
    started = time.monotonic()
    answer = await rep.execute(
        LOG, {"i": {"customerId": customer_id, "kind": "PHONE_CALL", "content": "hello"}}
    )
    took = time.monotonic() - started
    if answer.error_codes() == ["CUSTOMER_NOT_READY"]:  # only if the event took > 2.5 s
        assert answer.errors[0]["extensions"]["retryable"] is True
    else:
        assert answer.ok()["logInteraction"]["interaction"]["customerId"] == customer_id
    assert took < 10

    # An id no customer has (yet): bounded wait, then the clear retryable answer.
    ghost = str(uuid.uuid4())
    started = time.monotonic()
    refused = await rep.execute(
        LOG, {"i": {"customerId": ghost, "kind": "PHONE_CALL", "content": "hello"}}
    )
    assert 2.0 <= time.monotonic() - started < 10
    assert refused.error_codes() == ["CUSTOMER_NOT_READY"]
    error = refused.errors[0]
    assert error["extensions"]["retryable"] is True
    assert error["extensions"]["field"] == "input.customerId"
    assert f"customer {ghost} is still being set up" in error["message"]
    assert "retry in a moment" in error["message"]
    # Not a UUID: not a customer being set up, so "not found" at once.
    assert (
        await rep.execute(LOG, {"i": {"customerId": "nope", "kind": "EMAIL", "content": "x"}})
    ).error_codes() == ["NOT_FOUND"]


async def _register(
    gql: GraphQLClient, activity_id: str, customer_id: str, attended: bool | None
) -> None:
    variables = {"i": {"activityId": activity_id, "customerId": customer_id}}
    reg = await gql.execute(REGISTER, variables)
    registration_id = reg.ok()["registerForActivity"]["registration"]["id"]
    if attended is not None:
        done = await gql.execute(ATTEND, {"i": {"id": registration_id, "attended": attended}})
        assert done.ok()["recordAttendance"]["registration"]["attended"] is attended


async def _by_activity(gql: GraphQLClient, f: dict[str, Any], **page: Any) -> dict[str, Any]:
    data: dict[str, Any] = (await gql.execute(BY_ACTIVITY, {"f": f, **page})).ok()
    result: dict[str, Any] = data["customersByActivity"]
    return result


async def test_customers_by_activity_attendance(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    alice = client(live_stack, tenant, ["sales_rep"], user_id="alice", team="east")
    bob = client(live_stack, tenant, ["sales_rep"], user_id="bob", team="east")
    boss = client(live_stack, tenant, ["sales_manager"], user_id="mia", team="east")
    a1 = await known_customer(alice, "Expo Visitor One")
    a2 = await known_customer(alice, "Expo Visitor Two")
    a3 = await known_customer(alice, "Expo No Show")
    b1 = await known_customer(bob, "Bob's Webinar Guest")
    past = iso(datetime.now(UTC) - timedelta(hours=2))
    expo = (
        await alice.execute(
            CREATE_ACTIVITY, {"i": {"kind": "EXHIBITION", "title": "Canton Fair", "startsAt": past}}
        )
    ).ok()["createActivity"]["activity"]["id"]
    webinar = (
        await bob.execute(
            CREATE_ACTIVITY, {"i": {"kind": "WEBINAR", "title": "Upgrade 5.0", "startsAt": past}}
        )
    ).ok()["createActivity"]["activity"]["id"]
    await _register(alice, expo, a1, True)
    await _register(alice, expo, a2, None)
    await _register(alice, expo, a3, False)
    await _register(bob, webinar, b1, True)
    await _register(alice, webinar, a1, True)

    everyone = await _by_activity(alice, {"activityId": expo})
    assert everyone["totalCount"] == 3
    assert {e["node"]["id"] for e in everyone["edges"]} == {a1, a2, a3}
    # The customer's name comes from the customer service through the gateway.
    names = {e["node"]["name"] for e in everyone["edges"]}
    assert names == {"Expo Visitor One", "Expo Visitor Two", "Expo No Show"}
    attended = await _by_activity(alice, {"activityId": expo, "attendance": "ATTENDED"})
    assert [e["node"]["id"] for e in attended["edges"]] == [a1]
    no_show = await _by_activity(alice, {"activityId": expo, "attendance": "NO_SHOW"})
    assert [e["node"]["id"] for e in no_show["edges"]] == [a3]
    pending = await _by_activity(alice, {"activityId": expo, "attendance": "PENDING"})
    assert [e["node"]["id"] for e in pending["edges"]] == [a2]

    # Pages of one customer each, in id order, none twice.
    seen: list[str] = []
    after: str | None = None
    while True:
        page = await _by_activity(alice, {"activityId": expo}, first=1, after=after)
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted([a1, a2, a3])

    # By kind, scoped by visibility: a rep sees own customers, the manager the team's.
    mine = await _by_activity(alice, {"activityKind": "WEBINAR", "attendance": "ATTENDED"})
    assert [e["node"]["id"] for e in mine["edges"]] == [a1]
    team = await _by_activity(boss, {"activityKind": "WEBINAR", "attendance": "ATTENDED"})
    assert {e["node"]["id"] for e in team["edges"]} == {a1, b1}
    assert team["totalCount"] == 2  # a1 registered once for the webinar, counted once

    both = await alice.execute(BY_ACTIVITY, {"f": {"activityId": expo, "activityKind": "EVENT"}})
    assert both.error_codes() == ["BAD_USER_INPUT"]
    other = client(live_stack, new_tenant(), ["admin"], user_id="root")
    assert (await _by_activity(other, {"activityId": expo}))["totalCount"] == 0


async def test_follow_up_participants_see_it_and_are_reminded(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    alice = client(live_stack, tenant, ["sales_rep"], user_id="alice", team="east")
    carol = client(live_stack, tenant, ["sales_rep"], user_id="carol", team="west")
    dave = client(live_stack, tenant, ["sales_rep"], user_id="dave", team="west")
    customer = await known_customer(alice, "Joint Visit Co")
    soon = iso(datetime.now(UTC) + timedelta(minutes=30))  # reminder lead 60 min: due at once
    scheduled = await alice.execute(
        SCHEDULE,
        {"i": {"customerId": customer, "type": "VISIT", "dueAt": soon, "goal": "Joint visit",
               "participantIds": ["carol", "carol", "alice"]}},
    )  # fmt: skip
    task = scheduled.ok()["scheduleFollowUp"]["followUp"]
    assert task["participantIds"] == ["carol"]  # deduplicated, the assignee left out

    # Carol does not see the customer, but sees the follow-up she joined, and is reminded.
    seen = (await carol.execute(FOLLOW_UP, {"id": task["id"]})).ok()["followUp"]
    assert seen["assigneeId"] == "alice"
    joined = (await carol.execute(JOINED)).ok()["myFollowUps"]
    assert [e["node"]["id"] for e in joined["edges"]] == [task["id"]]
    assert (await dave.execute(FOLLOW_UP, {"id": task["id"]})).ok()["followUp"] is None

    async def reminded(gql: GraphQLClient) -> list[dict[str, Any]] | None:
        edges = (await gql.execute(INBOX)).ok()["notifications"]["edges"]
        hits = [e["node"] for e in edges if e["node"]["recordId"] == task["id"]]
        return hits or None

    carols = await eventually(lambda: reminded(carol), timeout_s=60)
    assert carols[0]["kind"] == "FOLLOWUP_DUE" and carols[0]["customerId"] is None
    alices = await eventually(lambda: reminded(alice), timeout_s=60)
    assert alices[0]["customerId"] == customer
    assert await reminded(dave) is None

    # Add dave, remove carol: carol no longer sees it, dave does.
    changed = await alice.execute(
        PARTICIPANTS, {"i": {"id": task["id"], "add": ["dave"], "remove": ["carol"]}}
    )
    assert changed.ok()["changeFollowUpParticipants"]["followUp"]["participantIds"] == ["dave"]
    assert (await carol.execute(FOLLOW_UP, {"id": task["id"]})).ok()["followUp"] is None
    assert (await dave.execute(FOLLOW_UP, {"id": task["id"]})).ok()["followUp"] is not None
    # A participant may not change the task; bad ids are refused with the field named.
    assert (
        await dave.execute(PARTICIPANTS, {"i": {"id": task["id"], "add": ["erin"]}})
    ).error_codes() == ["FORBIDDEN"]
    bad = await alice.execute(PARTICIPANTS, {"i": {"id": task["id"], "add": ["two words"]}})
    assert bad.error_codes() == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"]["field"] == "input.add"


APPROVE = (
    """mutation($i: ReviewCustomerInput!) { approveCustomer(input: $i) { customer { id } } }"""
)
CHANGE_STATUS = """mutation($i: ChangeCustomerStatusInput!) {
  changeCustomerStatus(input: $i) { customer { id status } } }"""
CARE_SETTINGS = """mutation($i: UpdateCarePlanSettingsInput!) {
  updateCarePlanSettings(input: $i) { settings { weeklyIntervalDays firstPhaseDays
    laterIntervalDays horizonDays enabled } } }"""
CUSTOMER_FOLLOW_UPS = """query($id: ID!) { customer(id: $id) { followUps(first: 50) {
  totalCount edges { node { id dueAt origin type assigneeId status goal } } } } }"""
COMPLETE = """mutation($i: CompleteFollowUpInput!) {
  completeFollowUp(input: $i) { followUp { status } interaction { id content } } }"""
ASSIGN_OWNER = """mutation($input: AssignCustomerOwnerInput!) {
  assignCustomerOwner(input: $input) { customer { id ownerId } } }"""
PLAN_TOUCHES = """mutation($i: PlanTouchesInput!) {
  planTouches(input: $i) { campaignId kind customers created } }"""
TIMELINESS = """query($p: PeriodInput!) { entryTimeliness(period: $p) { reps { repId
  entriesOnTime entriesLate contactsOnTime contactsLate contactsMissing contactsPending } } }"""


async def _deal(rep: GraphQLClient, manager: GraphQLClient, name: str) -> str:
    customer = await known_customer(rep, name)
    (await manager.execute(APPROVE, {"i": {"id": customer, "comment": "ok"}})).ok()
    for status in ("INTENTION", "DEAL"):
        moved = await rep.execute(CHANGE_STATUS, {"i": {"id": customer, "status": status}})
        assert moved.ok()["changeCustomerStatus"]["customer"]["status"] == status
    return customer


async def _care_visits(gql: GraphQLClient, customer: str, n: int) -> list[dict[str, Any]]:
    async def visits() -> list[dict[str, Any]] | None:
        data = (await gql.execute(CUSTOMER_FOLLOW_UPS, {"id": customer})).ok()
        found = [
            e["node"]
            for e in data["customer"]["followUps"]["edges"]
            if e["node"]["origin"] == "CARE_PLAN"
        ]
        return found if len(found) >= n else None

    return await eventually(visits, timeout_s=60)


def _offsets(visits: list[dict[str, Any]]) -> list[int]:
    due = sorted(datetime.fromisoformat(v["dueAt"].replace("Z", "+00:00")) for v in visits)
    return [round((d - due[0]).total_seconds() / 86_400) for d in due]


async def test_care_plan_after_a_deal_and_touches_per_segment(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rita", team="north")
    manager = client(live_stack, tenant, ["sales_manager"], user_id="mona", team="north")
    south = client(live_stack, tenant, ["sales_manager"], user_id="sam", team="south")
    admin = client(live_stack, tenant, ["admin"], user_id="root")

    # The default plan: weekly in the first month, then quarterly, a year ahead.
    first = await _deal(rep, manager, "Care Deal One")
    visits = await _care_visits(rep, first, 7)
    assert len(visits) == 7
    assert _offsets(visits) == [0, 7, 14, 21, 114, 205, 296]
    assert {(v["type"], v["assigneeId"], v["status"]) for v in visits} == {
        ("VISIT", "rita", "OPEN")
    }
    mine = (await rep.execute("{ myFollowUps(first: 50) { totalCount } }")).ok()
    assert mine["myFollowUps"]["totalCount"] >= 7

    # Tenant-configurable (admin only): a 30-day horizon with visits every 14 days after.
    refused = await manager.execute(CARE_SETTINGS, {"i": {"horizonDays": 30}})
    assert refused.error_codes() == ["FORBIDDEN"]
    bad = await admin.execute(CARE_SETTINGS, {"i": {"horizonDays": 5}})
    assert bad.error_codes() == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"]["field"] == "input.horizonDays"
    settings = await admin.execute(
        CARE_SETTINGS, {"i": {"horizonDays": 30, "laterIntervalDays": 14}}
    )
    assert settings.ok()["updateCarePlanSettings"]["settings"]["horizonDays"] == 30
    second = await _deal(rep, manager, "Care Deal Two")
    round_one = await _care_visits(rep, second, 4)
    assert _offsets(round_one) == [0, 7, 14, 21]
    # Finishing the last visit of the round makes the next round (days 44 and 58).
    last = max(round_one, key=lambda v: v["dueAt"])
    done = await rep.execute(COMPLETE, {"i": {"id": last["id"], "outcome": "all good"}})
    assert done.ok()["completeFollowUp"]["followUp"]["status"] == "DONE"
    both = await _care_visits(rep, second, 6)
    assert _offsets(both) == [0, 7, 14, 21, 37, 51]
    # The first plan kept its own settings.
    assert len(await _care_visits(rep, first, 7)) == 7

    # Holiday care for the segment "deals": one follow-up per customer for its owner.
    soon = iso(datetime.now(UTC) + timedelta(days=2))
    touch = {"kind": "HOLIDAY_CARE", "title": "Spring Festival", "message": "新春快乐",
             "dueAt": soon, "segment": {"statuses": ["DEAL"]}}  # fmt: skip
    planned = (await manager.execute(PLAN_TOUCHES, {"i": touch})).ok()["planTouches"]
    assert (planned["kind"], planned["customers"], planned["created"]) == ("HOLIDAY_CARE", 2, 2)
    other_team = await south.execute(
        PLAN_TOUCHES, {"i": {**touch, "segment": {"teams": ["north"]}}}
    )
    assert other_team.error_codes() == ["FORBIDDEN"]
    assert (await rep.execute(PLAN_TOUCHES, {"i": touch})).error_codes() == ["FORBIDDEN"]
    data = (await rep.execute(CUSTOMER_FOLLOW_UPS, {"id": first})).ok()
    greetings = [
        e["node"]
        for e in data["customer"]["followUps"]["edges"]
        if e["node"]["origin"] == "HOLIDAY_CARE"
    ]
    assert len(greetings) == 1 and "新春快乐" in greetings[0]["goal"]
    # Done: recorded as an interaction.
    recorded = await rep.execute(COMPLETE, {"i": {"id": greetings[0]["id"], "outcome": "sent"}})
    assert (
        "Holiday care: Spring Festival"
        in (recorded.ok()["completeFollowUp"]["interaction"]["content"])
    )
    news = {**touch, "kind": "CONTENT_PUSH", "title": "Release 5.0 notes",
            "segment": {"statuses": ["DEAL"], "customerTypes": ["NO_SUCH_TYPE"]}}  # fmt: skip
    assert (await admin.execute(PLAN_TOUCHES, {"i": news})).ok()["planTouches"]["customers"] == 0

    # The customer changes hands: its open care visits (and the plan's next rounds) go to the
    # new owner; the old owner's list no longer holds them.
    handover = {"id": first, "ownerId": "ron", "team": "north", "reason": "handover"}
    (await manager.execute(ASSIGN_OWNER, {"input": handover})).ok()

    async def handed_over() -> list[dict[str, Any]] | None:
        visits = await _care_visits(manager, first, 7)
        return visits if {v["assigneeId"] for v in visits} == {"ron"} else None

    moved = await eventually(handed_over, timeout_s=60)
    assert len(moved) == 7 and {v["status"] for v in moved} == {"OPEN"}


async def test_the_24_hour_rules_per_rep(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rita = client(live_stack, tenant, ["sales_rep"], user_id="rita", team="north")
    nick = client(live_stack, tenant, ["sales_rep"], user_id="nick", team="north")
    mona = client(live_stack, tenant, ["sales_manager"], user_id="mona", team="north")
    now = datetime.now(UTC)
    bare = await known_customer(rita, "No Contact Yet Co")
    with_contact = (
        await rita.execute(
            CREATE_CUSTOMER,
            {"input": {"name": "Contact Given Co", "contacts": [{"name": "Mr. Zhao"}]}},
        )
    ).ok()["createCustomer"]["customer"]["id"]
    # Three days after the fact: a late entry; and the first touch of a customer that still
    # has no contact two days past the 24 h.
    late = await rita.execute(
        LOG,
        {"i": {"customerId": bare, "kind": "VISIT", "content": "visit",
               "occurredAt": iso(now - timedelta(days=3))}},
    )  # fmt: skip
    assert late.ok()["logInteraction"]["interaction"]["customerId"] == bare
    on_time = await rita.execute(
        LOG, {"i": {"customerId": with_contact, "kind": "PHONE_CALL", "content": "call"}}
    )
    assert on_time.ok()
    nicks = await known_customer(nick, "Nick's Co")
    (await nick.execute(LOG, {"i": {"customerId": nicks, "kind": "EMAIL", "content": "hi"}})).ok()
    entered = (
        await rita.execute(
            "query($id: ID!) { interaction(id: $id) { enteredLate createdAt occurredAt } }",
            {"id": late.ok()["logInteraction"]["interaction"]["id"]},
        )
    ).ok()["interaction"]
    assert entered["enteredLate"] is True

    period = {"from": iso(now - timedelta(days=7)), "to": iso(now + timedelta(minutes=10))}

    async def rows(gql: GraphQLClient) -> dict[str, dict[str, Any]]:
        data = (await gql.execute(TIMELINESS, {"p": period})).ok()
        return {r["repId"]: r for r in data["entryTimeliness"]["reps"]}

    async def settled() -> dict[str, dict[str, Any]] | None:
        found = await rows(mona)
        rita_row = found.get("rita")
        ready = rita_row is not None and rita_row["contactsOnTime"] == 1 and "nick" in found
        return found if ready else None

    team = await eventually(settled, timeout_s=60)
    assert team["rita"] == {"repId": "rita", "entriesOnTime": 1, "entriesLate": 1,
                            "contactsOnTime": 1, "contactsLate": 0, "contactsMissing": 1,
                            "contactsPending": 0}  # fmt: skip
    assert team["nick"]["entriesOnTime"] == 1 and team["nick"]["contactsPending"] == 1
    # A rep sees their own row only; another tenant sees nothing of this one.
    assert set(await rows(rita)) == {"rita"}
    assert set(await rows(nick)) == {"nick"}
    stranger = client(live_stack, new_tenant(), ["admin"], user_id="root")
    assert await rows(stranger) == {}
    bad = await mona.execute(TIMELINESS, {"p": {"from": period["to"], "to": period["from"]}})
    assert bad.error_codes() == ["BAD_USER_INPUT"]


VISIT = "query($id: ID!) { followUp(id: $id) { id status outcome } }"
CARE_FOLLOW_UPS = """query($id: ID!) { customer(id: $id) { followUps(first: 50) {
  edges { node { id dueAt origin status outcome } } } } }"""


async def test_a_churned_customer_s_care_plan_is_withdrawn(live_stack: stack.StackConfig) -> None:
    """Deal -> plan -> churn: the unfinished visits are cancelled with a reason the owner
    reads, the finished one and a follow-up of another origin stay; a deal again later
    starts a new plan."""
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rita", team="north")
    manager = client(live_stack, tenant, ["sales_manager"], user_id="mona", team="north")
    customer = await _deal(rep, manager, "Care Deal Lost")
    visits = sorted(await _care_visits(rep, customer, 7), key=lambda v: v["dueAt"])
    done = await rep.execute(COMPLETE, {"i": {"id": visits[0]["id"], "outcome": "met"}})
    assert done.ok()["completeFollowUp"]["followUp"]["status"] == "DONE"
    soon = iso(datetime.now(UTC) + timedelta(days=3))
    manual = await rep.execute(
        SCHEDULE,
        {
            "i": {
                "customerId": customer,
                "type": "PHONE_CALL",
                "dueAt": soon,
                "goal": "renewal call",
            }
        },
    )
    manual_id = manual.ok()["scheduleFollowUp"]["followUp"]["id"]

    lost = {"id": customer, "status": "CHURNED", "reason": "went to a competitor"}
    moved = await rep.execute(CHANGE_STATUS, {"i": lost})
    assert moved.ok()["changeCustomerStatus"]["customer"]["status"] == "CHURNED"

    async def follow_ups() -> list[dict[str, Any]]:
        data = (await rep.execute(CARE_FOLLOW_UPS, {"id": customer})).ok()
        return [e["node"] for e in data["customer"]["followUps"]["edges"]]

    async def withdrawn() -> list[dict[str, Any]] | None:
        found = await follow_ups()
        care = [f for f in found if f["origin"] == "CARE_PLAN"]
        return found if sum(f["status"] == "CANCELLED" for f in care) == 6 else None

    after = await eventually(withdrawn, timeout_s=60)
    care = {f["id"]: f for f in after if f["origin"] == "CARE_PLAN"}
    assert care[visits[0]["id"]]["status"] == "DONE" and care[visits[0]["id"]]["outcome"] == "met"
    assert {care[v["id"]]["outcome"] for v in visits[1:]} == {"customer churned"}
    assert {f["status"] for f in after if f["id"] == manual_id} == {"OPEN"}
    mine = (await rep.execute("{ myFollowUps(first: 50) { edges { node { id } } } }")).ok()
    assert {e["node"]["id"] for e in mine["myFollowUps"]["edges"]} == {manual_id}

    # A deal again later: a new plan (a new deal event), seven new open visits.
    for status in ("INTENTION", "DEAL"):
        again = await rep.execute(CHANGE_STATUS, {"i": {"id": customer, "status": status}})
        assert again.ok()["changeCustomerStatus"]["customer"]["status"] == status

    async def new_plan() -> list[dict[str, Any]] | None:
        found = [f for f in await follow_ups() if f["origin"] == "CARE_PLAN"]
        fresh = [f for f in found if f["status"] == "OPEN"]
        return fresh if len(fresh) == 7 else None

    fresh = await eventually(new_plan, timeout_s=60)
    assert {f["id"] for f in fresh}.isdisjoint(care)

    # A deleted customer's care is withdrawn the same way (its visits, still the owner's).
    gone = await _deal(rep, manager, "Care Deal Deleted")
    gone_visits = await _care_visits(rep, gone, 7)
    deleted = await manager.execute(
        "mutation($i: DeleteCustomerInput!) { deleteCustomer(input: $i) { customer { id } } }",
        {"i": {"id": gone, "reason": "duplicate entry"}},
    )
    deleted.ok()

    async def visits_withdrawn() -> set[tuple[str, str]] | None:
        states = set()
        for visit in gone_visits:
            data = (await rep.execute(VISIT, {"id": visit["id"]})).ok()["followUp"]
            states.add((data["status"], data["outcome"]))
        return states if states == {("CANCELLED", "customer deleted")} else None

    await eventually(visits_withdrawn, timeout_s=60)


CAMPAIGNS = """query($first: Int, $after: String) { touchCampaigns(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { id kind title type dueAt plannedBy plannedAt customers
    segment { teams regions industries tags }
    progress { planned open overdue done cancelled } } } } }"""
TOUCH_FOLLOW_UPS = """query($id: ID!) { customer(id: $id) { followUps(first: 20) {
  edges { node { id origin campaignId } } } } }"""


async def _profiled(rep: GraphQLClient, name: str, profile: dict[str, Any]) -> str:
    """A customer with a profile whose copy has reached engagement."""
    data = (await rep.execute(CREATE_CUSTOMER, {"input": {"name": name, **profile}})).ok()
    customer: str = data["createCustomer"]["customer"]["id"]

    async def known() -> bool:
        response = await rep.execute(
            "query($id: ID!) { proposedFollowUp(customerId: $id) { priority } }", {"id": customer}
        )
        return not response.errors

    await eventually(known)
    return customer


async def test_touch_segments_by_region_industry_tags_and_the_campaign_list(
    live_stack: stack.StackConfig,
) -> None:
    """Segments select by province (any spelling), industry and tags from the customer copy;
    every planning is a campaign, listed newest first with its progress (done, open, ...)
    for who may plan: an admin the tenant's, a manager their team's; a rep may not."""
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rita", team="north")
    manager = client(live_stack, tenant, ["sales_manager"], user_id="mona", team="north")
    south = client(live_stack, tenant, ["sales_manager"], user_id="sam", team="south")
    admin = client(live_stack, tenant, ["admin"], user_id="root")
    zhejiang = await _profiled(
        rep, "Hangzhou Gears",
        {"industry": "制造业", "region": {"province": "浙江"}, "tags": ["vip"]},
    )  # fmt: skip
    guangdong = await _profiled(
        rep, "Shenzhen Shops",
        {"industry": "零售", "region": {"province": "guangdong"}, "tags": ["expo", "new"]},
    )  # fmt: skip
    await _profiled(rep, "Plain Co", {})

    soon = iso(datetime.now(UTC) + timedelta(days=2))
    base = {"kind": "HOLIDAY_CARE", "title": "Mid-Autumn", "dueAt": soon}

    async def plan(gql: GraphQLClient, segment: dict[str, Any], **more: Any) -> dict[str, Any]:
        result = await gql.execute(PLAN_TOUCHES, {"i": {**base, **more, "segment": segment}})
        return dict(result.ok()["planTouches"])

    by_region = await plan(manager, {"regions": ["Zhejiang Province"]})
    assert (by_region["customers"], by_region["created"]) == (1, 1)
    by_industry = await plan(
        manager, {"industries": ["零售", "制造业"]}, kind="CONTENT_PUSH", title="Release 5.0",
        type="EMAIL",
    )  # fmt: skip
    assert by_industry["customers"] == 2
    by_tag = await plan(admin, {"tags": ["expo", "none-such"]}, title="Expo invitation")
    assert by_tag["customers"] == 1
    assert (await plan(admin, {"regions": ["广东省"], "tags": ["vip"]}))["customers"] == 0
    bad = await admin.execute(PLAN_TOUCHES, {"i": {**base, "segment": {"regions": ["Atlantis"]}}})
    assert bad.error_codes() == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"]["field"] == "input.segment.regions"

    # Each follow-up names its campaign; finishing them moves the campaign's progress.
    def touches_of(data: dict[str, Any], campaign: str) -> list[str]:
        edges = data["customer"]["followUps"]["edges"]
        return [e["node"]["id"] for e in edges if e["node"]["campaignId"] == campaign]

    zhejiang_touches = (await rep.execute(TOUCH_FOLLOW_UPS, {"id": zhejiang})).ok()
    (greeting,) = touches_of(zhejiang_touches, by_region["campaignId"])
    done = await rep.execute(COMPLETE, {"i": {"id": greeting, "outcome": "called"}})
    assert done.ok()["completeFollowUp"]["followUp"]["status"] == "DONE"
    guangdong_touches = (await rep.execute(TOUCH_FOLLOW_UPS, {"id": guangdong})).ok()
    (push,) = touches_of(guangdong_touches, by_industry["campaignId"])
    cancel = "mutation($i: CancelFollowUpInput!) { cancelFollowUp(input: $i) { followUp { id } } }"
    (await rep.execute(cancel, {"i": {"id": push}})).ok()

    # The admin sees the tenant's four campaigns, newest first, in pages.
    first = (await admin.execute(CAMPAIGNS, {"first": 3})).ok()["touchCampaigns"]
    assert first["totalCount"] == 4 and first["pageInfo"]["hasNextPage"]
    after = {"first": 3, "after": first["pageInfo"]["endCursor"]}
    rest = (await admin.execute(CAMPAIGNS, after)).ok()["touchCampaigns"]
    campaigns = [e["node"] for e in (*first["edges"], *rest["edges"])]
    assert [c["id"] for c in campaigns][::-1][:3] == [
        by_region["campaignId"], by_industry["campaignId"], by_tag["campaignId"],
    ]  # fmt: skip
    assert [c["plannedAt"] for c in campaigns] == sorted(
        (c["plannedAt"] for c in campaigns), reverse=True
    )
    found = {c["id"]: c for c in campaigns}
    region = found[by_region["campaignId"]]
    assert region["segment"] == {"teams": ["north"], "regions": ["浙江省"], "industries": [],
                                 "tags": []}  # fmt: skip
    assert (region["kind"], region["plannedBy"], region["customers"]) == ("HOLIDAY_CARE", "mona", 1)
    assert region["progress"] == {"planned": 1, "open": 0, "overdue": 0, "done": 1,
                                  "cancelled": 0}  # fmt: skip
    industry = found[by_industry["campaignId"]]
    assert (industry["kind"], industry["type"]) == ("CONTENT_PUSH", "EMAIL")
    assert industry["progress"] == {"planned": 2, "open": 1, "overdue": 0, "done": 0,
                                    "cancelled": 1}  # fmt: skip

    # A manager sees their team's campaigns; another team's manager none; a rep may not.
    mine = (await manager.execute(CAMPAIGNS, {"first": 10})).ok()["touchCampaigns"]
    assert {e["node"]["id"] for e in mine["edges"]} == {
        by_region["campaignId"],
        by_industry["campaignId"],
    }
    assert (await south.execute(CAMPAIGNS, {})).ok()["touchCampaigns"]["totalCount"] == 0
    assert (await rep.execute(CAMPAIGNS, {})).error_codes() == ["FORBIDDEN"]
