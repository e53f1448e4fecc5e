"""Issue 18's reports end to end: crafted events into the real topics, reports through the
gateway — churn rate and complaint rate per month, activity effectiveness (registrations →
attendance → follow-ups → opportunities → deals within N days), improvement-task status per
team and CSAT per channel; the same numbers after every event is delivered again, and a sales
rep sees only their own.

The worked example (tenant of its own; October and November 2026):
- customers A, B, C created in October (A, B owned by rep-a, C by rep-b), D in November (rep-a);
  B churns in October, C in November and comes back in November: churn rate October 0/0
  (no customer before it), November 2 of 3 at its start (A, C; B churned) → 1/2 = 0.5.
- tickets: October 1 INCIDENT + 1 COMPLAINT (A), November 2 QUESTION (B, C): complaint rate
  October 0.5, November 0.
- activity X (Nov 2): A, B, C register; A and C attend. A gets a follow-up the next day, an
  opportunity 3 days later, won 10 days later; C's opportunity comes 40 days later.
  withinDays 30 → registered 3, attended 2, followed up 1, opportunities 1, deals 1.
- tasks: support has one OPEN past due and one DONE late; field one CANCELLED.
- surveys: A answered by link (5, 5), B by phone (2, 3).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack

from crm_common.events.contracts import customer as c
from crm_common.events.contracts import engagement as e
from crm_common.events.contracts import quoting as q
from crm_common.events.contracts import servicedesk as s
from tests.e2e.client import eventually, new_tenant
from tests.e2e.insights_support import EventPublisher, gateway, new_id, producer_for

pytestmark = [pytest.mark.e2e]

OCT = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
REPORTS = """
query($filter: ReportFilter, $days: Int!) {
  churnRate(filter: $filter, bucket: MONTH) {
    churned overallRate rows { period customersAtStart churned recovered churnRate } csv
  }
  complaintRate(filter: $filter, bucket: MONTH) {
    tickets complaints complaintRate rows { period tickets complaints complainingCustomers
    complaintRate }
  }
  activityEffectiveness(filter: $filter, withinDays: $days) {
    withinDays activities { activityId title registered attended followedUp opportunities deals
    attendanceRate followUpRate dealRate }
    total { registered attended followedUp opportunities deals }
    csv
  }
  improvementTaskStatus(filter: $filter) {
    teams { team open overdue done cancelled closedLate onTimeRate } total { open done } csv
  }
  csatByChannel(filter: $filter) { channels { channel surveysAnswered scores averageScore csat } }
}
"""


async def _publish(pub: EventPublisher, ids: dict[str, str]) -> None:
    a, b, cc, d = ids["A"], ids["B"], ids["C"], ids["D"]
    for key, owner, at in ((a, "rep-a", OCT), (b, "rep-a", OCT), (cc, "rep-b", OCT)):
        await pub.publish(
            c.CustomerCreated(
                customer_id=key,
                number="CUS20261005001",
                name=key,
                status="LEAD",
                owner_id=owner,
                team="north",
                created_at=at,
            ),
            key,
        )
    await pub.publish(
        c.CustomerCreated(
            customer_id=d,
            number="CUS20261110001",
            name=d,
            status="LEAD",
            owner_id="rep-a",
            created_at=NOV + timedelta(days=8),
        ),
        d,
    )

    async def status(key: str, old: str, new: str, at: datetime) -> None:
        await pub.publish(
            c.CustomerStatusChanged(
                customer_id=key, from_status=old, to_status=new, actor_id="m", changed_at=at
            ),
            key,
        )

    await status(b, "LEAD", "CHURNED", OCT + timedelta(days=10))
    await status(cc, "LEAD", "CHURNED", NOV + timedelta(days=3))
    await status(cc, "CHURNED", "INTENTION", NOV + timedelta(days=20))

    tickets = (
        (a, "INCIDENT", OCT),
        (a, "COMPLAINT", OCT + timedelta(days=1)),
        (b, "QUESTION", NOV),
        (cc, "QUESTION", NOV + timedelta(days=1)),
    )
    for key, category, at in tickets:
        await pub.publish(
            s.TicketOpened(
                ticket_id=new_id("tk"),
                customer_id=key,
                category=category,
                priority="LOW",
                opened_by="agent",
                response_due_at=at + timedelta(days=1),
                resolution_due_at=at + timedelta(days=7),
                opened_at=at,
            ),
            key,
        )

    activity = "act-x"
    for key, attends in ((a, True), (b, False), (cc, True)):
        registration = new_id("reg")
        await pub.publish(
            e.ActivityRegistered(
                activity_id=activity,
                registration_id=registration,
                customer_id=key,
                activity_kind="EXHIBITION",
                title="Hangzhou Expo",
                starts_at=NOV,
                registered_at=OCT,
            ),
            key,
        )
        if attends:
            await pub.publish(
                e.ActivityAttended(
                    activity_id=activity,
                    registration_id=registration,
                    customer_id=key,
                    activity_kind="EXHIBITION",
                    attended_at=NOV,
                ),
                key,
            )
    # A follow-up's scheduling time is its event's own time: set by hand to the day after.
    followup = e.FollowUpScheduled(
        followup_id=new_id("fu"),
        customer_id=a,
        assignee_id="rep-a",
        type="CALL",
        priority="HIGH",
        goal="After the expo",
        due_at=NOV + timedelta(days=3),
        origin="MANUAL",
        created_by="rep-a",
    )
    await pub.send_at(followup, a, NOV + timedelta(days=1))
    for key, opened_after, won_after in ((a, 3, 10), (cc, 40, None)):
        opportunity = new_id("opp")
        await pub.publish(
            q.OpportunityCreated(
                opportunity_id=opportunity,
                customer_id=key,
                name="Deal",
                stage="INITIAL_CONTACT",
                owner_id="rep-a",
                amount_minor=100,
                currency="CNY",
                probability=10,
                created_at=NOV + timedelta(days=opened_after),
            ),
            key,
        )
        if won_after is not None:
            await pub.publish(
                q.OpportunityWon(
                    opportunity_id=opportunity,
                    customer_id=key,
                    owner_id="rep-a",
                    amount_minor=100,
                    currency="CNY",
                    actor_id="rep-a",
                    won_at=NOV + timedelta(days=won_after),
                ),
                key,
            )

    past = datetime.now(UTC) - timedelta(days=1)
    tasks = (
        ("t-open", "support", a, None, past),
        ("t-late", "support", a, ("DONE", True), NOV),
        ("t-cancel", "field", b, ("CANCELLED", False), NOV + timedelta(days=30)),
    )
    for suffix, team, key, closing, due in tasks:
        task_id = new_id(suffix)
        await pub.publish(
            s.ImprovementTaskOpened(
                task_id=task_id,
                customer_id=key,
                team=team,
                owner_id="agent",
                title="Improve",
                source="MANUAL",
                due_at=due,
                opened_by="mgr",
                opened_at=NOV,
            ),
            key,
        )
        if closing is not None:
            await pub.publish(
                s.ImprovementTaskClosed(
                    task_id=task_id,
                    customer_id=key,
                    team=team,
                    owner_id="agent",
                    status=closing[0],
                    due_at=due,
                    overdue=closing[1],
                    actor_id="agent",
                    closed_at=NOV + timedelta(days=2),
                ),
                key,
            )

    for key, scores, channel in ((a, {"q": 5, "r": 5}, "LINK"), (b, {"q": 2, "r": 3}, "PHONE")):
        await pub.publish(
            s.SurveyResponded(
                survey_id=new_id("sv"),
                customer_id=key,
                subject_type="TICKET",
                subject_id=new_id("tk"),
                scores=scores,
                responded_at=NOV,
                channel=channel,
                recorded_by="agent" if channel == "PHONE" else None,
            ),
            key,
        )


def _settled(data: dict[str, Any]) -> bool:
    return (
        data["churnRate"]["churned"] == 2
        and len(data["churnRate"]["rows"]) == 2
        and data["complaintRate"]["tickets"] == 4
        and data["activityEffectiveness"]["total"]["attended"] == 2
        and data["activityEffectiveness"]["total"]["deals"] == 1
        and data["activityEffectiveness"]["total"]["followedUp"] == 1
        and data["improvementTaskStatus"]["total"]["done"] == 1
        and data["improvementTaskStatus"]["total"]["open"] == 1
        and sum(ch["surveysAnswered"] for ch in data["csatByChannel"]["channels"]) == 2
        and data["churnRate"]["rows"][-1]["recovered"] == 1
    )


async def test_service_and_effectiveness_reports(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    ids = {name: new_id("cus") for name in "ABCD"}
    analyst = gateway(live_stack, tenant, ["analyst"])
    # October and November on the tenant's calendar (its zone, the default Asia/Shanghai).
    variables = {"filter": {"fromDate": "2026-10-01", "toDate": "2026-11-30"}}
    async with producer_for(live_stack) as producer:
        pub = EventPublisher(producer, tenant)
        await _publish(pub, ids)

        async def settled() -> dict[str, Any] | None:
            data = (await analyst.execute(REPORTS, {**variables, "days": 30})).ok()
            return data if _settled(data) else None

        data = await eventually(settled, timeout_s=90, interval_s=0.5)

        churn = data["churnRate"]
        assert churn["rows"] == [
            {
                "period": "2026-10",
                "customersAtStart": 0,
                "churned": 1,
                "recovered": 0,
                "churnRate": None,
            },
            {
                "period": "2026-11",
                "customersAtStart": 2,
                "churned": 1,
                "recovered": 1,
                "churnRate": 0.5,
            },
        ]
        assert churn["csv"].startswith("period,customers_at_start,churned")
        complaints = data["complaintRate"]
        assert [(r["period"], r["complaints"], r["complaintRate"]) for r in complaints["rows"]] == [
            ("2026-10", 1, 0.5),
            ("2026-11", 0, 0.0),
        ]
        assert complaints["rows"][0]["complainingCustomers"] == 1
        activity = data["activityEffectiveness"]["activities"][0]
        assert (
            activity["activityId"],
            activity["title"],
            activity["registered"],
            activity["attended"],
            activity["followedUp"],
            activity["opportunities"],
            activity["deals"],
        ) == ("act-x", "Hangzhou Expo", 3, 2, 1, 1, 1)
        assert activity["attendanceRate"] == round(2 / 3, 4)
        wide = (await analyst.execute(REPORTS, {**variables, "days": 60})).ok()
        assert wide["activityEffectiveness"]["total"]["opportunities"] == 2
        bad = await analyst.execute(REPORTS, {**variables, "days": 0})
        assert bad.errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "withinDays"}

        teams = {r["team"]: r for r in data["improvementTaskStatus"]["teams"]}
        assert (teams["support"]["open"], teams["support"]["overdue"]) == (1, 1)
        assert (teams["support"]["done"], teams["support"]["closedLate"]) == (1, 1)
        assert teams["support"]["onTimeRate"] == 0.0
        assert teams["field"]["cancelled"] == 1
        channels = {ch["channel"]: ch for ch in data["csatByChannel"]["channels"]}
        assert (channels["LINK"]["averageScore"], channels["LINK"]["csat"]) == (5.0, 1.0)
        assert (channels["PHONE"]["averageScore"], channels["PHONE"]["csat"]) == (2.5, 0.0)

        # Every event delivered again: no number moves.
        for event in list(pub.sent):
            await pub.send(event)
        marker = new_id("cus")
        await pub.publish(
            c.CustomerCreated(
                customer_id=marker,
                number="CUS20261201001",
                name="marker",
                status="LEAD",
                owner_id="rep-z",
                created_at=datetime(2026, 12, 1, tzinfo=UTC),
            ),
            marker,
        )
        counts = "query { customerCounts { total } }"

        async def marker_seen() -> bool:
            total: int = (await analyst.execute(counts)).ok()["customerCounts"]["total"]
            return total == 5

        await eventually(marker_seen, timeout_s=60, interval_s=0.5)
        again = (await analyst.execute(REPORTS, {**variables, "days": 30})).ok()
        assert again == data

    # A sales rep sees their own customers' numbers only; another owner's are refused.
    rep_b = gateway(live_stack, tenant, ["sales_rep"], user_id="rep-b", team="north")
    own = (await rep_b.execute(REPORTS, {**variables, "days": 30})).ok()
    assert own["activityEffectiveness"]["total"]["registered"] == 1  # C only
    assert own["complaintRate"]["tickets"] == 1
    assert own["improvementTaskStatus"]["total"]["open"] == 0  # tasks are owned by "agent"
    refused = await rep_b.execute(
        REPORTS, {"filter": {**variables["filter"], "ownerId": "rep-a"}, "days": 30}
    )
    assert set(refused.error_codes()) == {"FORBIDDEN"}
    agent = gateway(live_stack, tenant, ["service_agent"])
    denied = await agent.execute(REPORTS, {**variables, "days": 30})
    assert set(denied.error_codes()) == {"FORBIDDEN"}
