"""Insights reports end to end: crafted events into the real topics, reports through the gateway.

The worked example below is a small sales quarter whose funnel, conversion, win rate, cycle
time, quote approvals, CSAT and SLA figures are worked out by hand in the comments; the reports
must show exactly those numbers, unchanged when every event is delivered a second time, and
sales reps see only their own.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import stack

from crm_common.events.contracts import customer as c
from crm_common.events.contracts import engagement as e
from crm_common.events.contracts import quoting as q
from crm_common.events.contracts import servicedesk as s
from tests.e2e.client import eventually, new_tenant
from tests.e2e.insights_support import EventPublisher, gateway, iso, new_id, producer_for

pytestmark = [pytest.mark.e2e]

MARCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday: ISO week 2026-W10
MARCH_FILTER = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
REP_A, REP_B = "rep-a", "rep-b"

FUNNEL = """
query Funnel($filter: ReportFilter) {
  salesFunnel(filter: $filter, bucket: MONTH) {
    stages { stage reached conversionFromPrevious amounts { currency amountMinor } }
    opportunities won lost open winRate averageCycleDays
    trend { period created won lost winRate }
    csv
  }
}
"""
OTHER_REPORTS = """
query Reports($filter: ReportFilter) {
  quoteApprovals(filter: $filter) {
    submitted approvedAutomatically approvedManually rejected pending approvalRate
    automaticShare averageDecisionHours accepted declined csv
  }
  satisfaction(filter: $filter) {
    surveysAnswered dimensions { dimension responses averageScore csat } csv
  }
  slaCompliance(filter: $filter) {
    opened open resolved withinSla compliance breached byPriority { key resolved withinSla }
    csv
  }
  customerGrowth(filter: $filter, bucket: WEEK) {
    total rows { period customerType count } csv
  }
  leaderboard(filter: $filter) {
    owners { rank key won wonAmounts { currency amountMinor } interactions newCustomers }
    teams { rank key won }
    csv
  }
}
"""


@dataclass
class WorkedExample:
    tenant: str
    customer_a: str
    customer_b: str
    publisher: EventPublisher
    events: list[Any] = field(default_factory=list)


def _at(days: float, hours: float = 0) -> datetime:
    return MARCH + timedelta(days=days, hours=hours)


async def _publish_worked_example(pub: EventPublisher, a: str, b: str) -> None:
    """Two customers (A: rep-a/north, B: rep-b/south) and their March."""
    await pub.publish(
        c.CustomerCreated(
            customer_id=a,
            number="CUS20260302001",
            name="A Co",
            status="PENDING_REVIEW",
            owner_id=REP_A,
            team="north",
            created_at=_at(0),
        ),
        a,
    )
    await pub.publish(c.CustomerReviewApproved(customer_id=a, actor_id="m", approved_at=_at(1)), a)
    await pub.publish(
        c.CustomerCreated(
            customer_id=b,
            number="CUS20260310001",
            name="B Co",
            status="PENDING_REVIEW",
            owner_id=REP_B,
            team="south",
            created_at=_at(8),
        ),
        b,
    )
    await pub.publish(
        c.CustomerStatusChanged(
            customer_id=b,
            from_status="PENDING_REVIEW",
            to_status="INTENTION",
            actor_id="m",
            changed_at=_at(9),
        ),
        b,
    )

    async def opportunity(
        opp: str, customer: str, owner: str, team: str, amount: int, path: list[str], end: str
    ) -> None:
        """Created at ``path[0]``, moved one day at a time, then ends WON/LOST/OPEN."""
        created = _at(2)
        await pub.publish(
            q.OpportunityCreated(
                opportunity_id=opp,
                customer_id=customer,
                name=opp,
                stage=path[0],
                owner_id=owner,
                team=team,
                amount_minor=amount,
                currency="CNY",
                probability=10,
                created_at=created,
            ),
            customer,
        )
        for step, (before, after) in enumerate(itertools.pairwise(path), start=1):
            await pub.publish(
                q.OpportunityStageChanged(
                    opportunity_id=opp,
                    customer_id=customer,
                    owner_id=owner,
                    from_stage=before,
                    to_stage=after,
                    probability=10 + 10 * step,
                    amount_minor=amount,
                    currency="CNY",
                    actor_id=owner,
                    changed_at=created + timedelta(days=step),
                ),
                customer,
            )
        if end == "WON":
            days = {"o1": 10, "o3": 20}[opp]
            await pub.publish(
                q.OpportunityWon(
                    opportunity_id=opp,
                    customer_id=customer,
                    owner_id=owner,
                    amount_minor=amount,
                    currency="CNY",
                    actor_id=owner,
                    won_at=created + timedelta(days=days),
                ),
                customer,
            )
        elif end == "LOST":
            await pub.publish(
                q.OpportunityLost(
                    opportunity_id=opp,
                    customer_id=customer,
                    owner_id=owner,
                    loss_reason="price",
                    amount_minor=amount,
                    currency="CNY",
                    actor_id=owner,
                    lost_at=created + timedelta(days=len(path)),
                ),
                customer,
            )

    ic, na, so, qu, ne = "INITIAL_CONTACT", "NEEDS_ANALYSIS", "SOLUTION", "QUOTE", "NEGOTIATION"
    await opportunity("o1", a, REP_A, "north", 10_000, [ic, na, so, qu, ne], "WON")
    await opportunity("o2", a, REP_A, "north", 20_000, [ic, na, so], "LOST")
    await opportunity("o3", b, REP_B, "south", 30_000, [ic, na, so, qu], "WON")  # skips NEGOTIATION
    await opportunity("o4", b, REP_B, "south", 40_000, [ic], "OPEN")
    await opportunity("o5", b, REP_B, "south", 50_000, [na], "LOST")  # created at NEEDS_ANALYSIS
    # Outside the March filter: created in April, won. Counted only without a time filter.
    await pub.publish(
        q.OpportunityCreated(
            opportunity_id="o6",
            customer_id=a,
            name="o6",
            stage=ic,
            owner_id=REP_A,
            team="north",
            amount_minor=99_000,
            currency="CNY",
            probability=10,
            created_at=datetime(2026, 4, 5, tzinfo=UTC),
        ),
        a,
    )

    async def quote(quote_id: str, decision: str | None, hours: int, response: str | None) -> None:
        common = {
            "quote_id": quote_id,
            "quote_number": quote_id.upper(),
            "version": 1,
            "opportunity_id": "o1",
            "customer_id": a,
            "owner_id": REP_A,
            "actor_id": REP_A,
        }
        submitted = _at(5)
        await pub.publish(
            q.QuoteSubmitted(
                **common, at=submitted, total_minor=10_000, currency="CNY", max_discount_bp=500
            ),
            a,
        )
        decided = submitted + timedelta(hours=hours)
        if decision == "MANUAL":
            await pub.publish(q.QuoteApproved(**common, at=decided, automatic=False), a)
        elif decision == "AUTO":
            await pub.publish(q.QuoteApproved(**common, at=decided, automatic=True), a)
        elif decision == "REJECTED":
            await pub.publish(q.QuoteRejected(**common, at=decided, comment="too cheap"), a)
        if response == "ACCEPTED":
            await pub.publish(
                q.QuoteAccepted(
                    quote_id=quote_id,
                    quote_number=quote_id.upper(),
                    version=1,
                    opportunity_id="o1",
                    customer_id=a,
                    owner_id=REP_A,
                    total_minor=10_000,
                    currency="CNY",
                    accepted_at=decided + timedelta(days=1),
                ),
                a,
            )

    await quote("q1", "MANUAL", 2, "ACCEPTED")
    await quote("q2", "AUTO", 0, None)
    await quote("q3", "REJECTED", 4, None)
    await quote("q4", None, 0, None)

    for survey, scores in (
        ("s1", {"quality": 5, "speed": 3, "professionalism": 4}),
        ("s2", {"quality": 4, "speed": 2, "professionalism": 5}),
    ):
        await pub.publish(
            s.SurveyResponded(
                survey_id=survey,
                customer_id=b,
                subject_type="TICKET",
                subject_id="t1",
                scores=scores,
                responded_at=_at(12),
            ),
            b,
        )

    async def ticket(ticket_id: str, priority: str, resolved_in_sla: bool | None) -> None:
        opened = _at(10)
        await pub.publish(
            s.TicketOpened(
                ticket_id=ticket_id,
                customer_id=b,
                category="bug",
                priority=priority,
                opened_by="agent",
                response_due_at=opened + timedelta(hours=1),
                resolution_due_at=opened + timedelta(hours=8),
                opened_at=opened,
            ),
            b,
        )
        if resolved_in_sla is None:
            await pub.publish(
                s.TicketSlaBreached(
                    ticket_id=ticket_id,
                    customer_id=b,
                    priority=priority,
                    kind="RESOLUTION",
                    due_at=opened + timedelta(hours=8),
                    detected_at=opened + timedelta(hours=9),
                ),
                b,
            )
        else:
            await pub.publish(
                s.TicketResolved(
                    ticket_id=ticket_id,
                    customer_id=b,
                    priority=priority,
                    resolved_by="agent",
                    within_sla=resolved_in_sla,
                    opened_at=opened,
                    resolved_at=opened + timedelta(hours=2 if resolved_in_sla else 30),
                ),
                b,
            )

    await ticket("t1", "URGENT", True)
    await ticket("t2", "HIGH", False)
    await ticket("t3", "MEDIUM", None)

    for n in range(2):  # rep-b talks to B twice in March; rep-a does not call A
        await pub.publish(
            e.InteractionLogged(
                interaction_id=new_id("i"),
                customer_id=b,
                kind="PHONE_CALL",
                occurred_at=_at(11, n),
                owner_id=REP_B,
            ),
            b,
        )


# What the March report must say, worked out by hand from the events above.
#   furthest stage reached: o1 WON, o2 SOLUTION, o3 WON (passing NEGOTIATION), o4
#   INITIAL_CONTACT, o5 NEEDS_ANALYSIS (o6 is April: out of range)
#   reached INITIAL_CONTACT  o1 o2 o3 o4 o5 = 5   amount 10+20+30+40+50k = 150,000
#   reached NEEDS_ANALYSIS   o1 o2 o3 o5    = 4   4/5 = 0.8          110,000
#   reached SOLUTION         o1 o2 o3       = 3   3/4 = 0.75          60,000
#   reached QUOTE            o1 o3          = 2   2/3 = 0.6667        40,000
#   reached NEGOTIATION      o1 o3          = 2   2/2 = 1.0           40,000
#   reached WON              o1 o3          = 2   2/2 = 1.0           40,000
#   won 2, lost 2 (o2, o5), open 1 (o4): win rate 2/4 = 0.5; cycle (10 + 20) / 2 = 15 days
EXPECTED_STAGES = [
    ("INITIAL_CONTACT", 5, None, "150000"),
    ("NEEDS_ANALYSIS", 4, 0.8, "110000"),
    ("SOLUTION", 3, 0.75, "60000"),
    ("QUOTE", 2, 0.6667, "40000"),
    ("NEGOTIATION", 2, 1.0, "40000"),
    ("WON", 2, 1.0, "40000"),
]


def _stages(funnel: dict[str, Any]) -> list[tuple[str, int, float | None, str]]:
    return [
        (
            row["stage"],
            row["reached"],
            row["conversionFromPrevious"],
            ";".join(a["amountMinor"] for a in row["amounts"]),
        )
        for row in funnel["stages"]
    ]


@pytest.fixture(scope="module")
async def worked_example(live_stack: stack.StackConfig) -> AsyncIterator[WorkedExample]:
    tenant = new_tenant()
    async with producer_for(live_stack) as producer:
        example = WorkedExample(
            tenant, new_id("cus"), new_id("cus"), EventPublisher(producer, tenant)
        )
        await _publish_worked_example(example.publisher, example.customer_a, example.customer_b)
        analyst = gateway(live_stack, tenant, ["analyst"])

        async def settled() -> dict[str, Any] | None:
            # The last events of each customer's partitions have arrived: o6 (A), t3, calls (B).
            data = (await analyst.execute(FUNNEL, {"filter": None})).ok()["salesFunnel"]
            board = (await analyst.execute(OTHER_REPORTS, {"filter": None})).ok()
            ready = (
                data["opportunities"] == 6
                and board["slaCompliance"]["opened"] == 3
                and board["slaCompliance"]["breached"] == 1
                and sum(o["interactions"] for o in board["leaderboard"]["owners"]) == 2
                and board["quoteApprovals"]["accepted"] == 1
                and board["customerGrowth"]["total"] == 2
            )
            return data if ready else None

        await eventually(settled, timeout_s=60, interval_s=0.3)
        yield example


async def test_worked_example_funnel_and_conversion(
    live_stack: stack.StackConfig, worked_example: WorkedExample
) -> None:
    analyst = gateway(live_stack, worked_example.tenant, ["analyst"])
    funnel = (await analyst.execute(FUNNEL, {"filter": MARCH_FILTER})).ok()["salesFunnel"]
    assert _stages(funnel) == EXPECTED_STAGES
    assert (funnel["opportunities"], funnel["won"], funnel["lost"], funnel["open"]) == (5, 2, 2, 1)
    assert funnel["winRate"] == 0.5
    assert funnel["averageCycleDays"] == 15.0
    assert funnel["trend"] == [
        {"period": "2026-03", "created": 5, "won": 2, "lost": 2, "winRate": 0.5}
    ]
    assert "NEEDS_ANALYSIS,4,110000 CNY,0.8" in funnel["csv"].splitlines()

    # Without the time filter the April opportunity o6 (open, INITIAL_CONTACT) joins in.
    everything = (await analyst.execute(FUNNEL, {"filter": None})).ok()["salesFunnel"]
    assert everything["stages"][0]["reached"] == 6
    assert everything["open"] == 2
    # Filter by owner / team: rep-a has o1 (won) and o2 (lost); team south has o3, o4, o5.
    rep_a = (await analyst.execute(FUNNEL, {"filter": {**MARCH_FILTER, "ownerId": REP_A}})).ok()
    assert [r["reached"] for r in rep_a["salesFunnel"]["stages"]] == [2, 2, 2, 1, 1, 1]
    south = (await analyst.execute(FUNNEL, {"filter": {**MARCH_FILTER, "team": "south"}})).ok()
    assert [r["reached"] for r in south["salesFunnel"]["stages"]] == [3, 2, 1, 1, 1, 1]
    # Customer type is the customer's lifecycle status: B is INTENTION (o3, o4, o5).
    intention = (
        await analyst.execute(FUNNEL, {"filter": {**MARCH_FILTER, "customerType": "INTENTION"}})
    ).ok()
    assert intention["salesFunnel"]["opportunities"] == 3


async def test_worked_example_other_reports(
    live_stack: stack.StackConfig, worked_example: WorkedExample
) -> None:
    manager = gateway(live_stack, worked_example.tenant, ["sales_manager"], team="north")
    data = (await manager.execute(OTHER_REPORTS, {"filter": MARCH_FILTER})).ok()

    # Quotes: q1 manual after 2 h (accepted), q2 automatic, q3 rejected after 4 h, q4 pending.
    quotes = data["quoteApprovals"]
    assert {k: v for k, v in quotes.items() if k != "csv"} == {
        "submitted": 4,
        "approvedAutomatically": 1,
        "approvedManually": 1,
        "rejected": 1,
        "pending": 1,
        "approvalRate": 0.6667,  # 2 approved of 3 decided
        "automaticShare": 0.5,
        "averageDecisionHours": 3.0,  # (2 + 4) / 2, manager decisions only
        "accepted": 1,
        "declined": 0,
    }
    # CSAT: quality 5,4 → avg 4.5, both ≥ 4; speed 3,2 → 2.5, none; professionalism 4,5.
    assert data["satisfaction"]["surveysAnswered"] == 2
    assert data["satisfaction"]["dimensions"] == [
        {"dimension": "professionalism", "responses": 2, "averageScore": 4.5, "csat": 1.0},
        {"dimension": "quality", "responses": 2, "averageScore": 4.5, "csat": 1.0},
        {"dimension": "speed", "responses": 2, "averageScore": 2.5, "csat": 0.0},
    ]
    # SLA: t1 resolved in time, t2 late, t3 still open and breached.
    sla = data["slaCompliance"]
    assert (sla["opened"], sla["open"], sla["resolved"], sla["withinSla"]) == (3, 1, 2, 1)
    assert (sla["compliance"], sla["breached"]) == (0.5, 1)
    assert sla["byPriority"] == [
        {"key": "HIGH", "resolved": 1, "withinSla": 0},
        {"key": "URGENT", "resolved": 1, "withinSla": 1},
    ]
    # Growth by ISO week: A on Mon 2 March (W10, now LEAD), B on 10 March (W11, INTENTION).
    growth = data["customerGrowth"]
    assert growth["rows"] == [
        {"period": "2026-W10", "customerType": "LEAD", "count": 1},
        {"period": "2026-W11", "customerType": "INTENTION", "count": 1},
    ]
    assert growth["csv"].splitlines()[0] == "period,customer_type,region,source,new_customers"
    # Leaderboard: one win each; rep-b ranks first on interactions (2 against 0).
    board = data["leaderboard"]
    assert [(o["rank"], o["key"], o["won"], o["interactions"]) for o in board["owners"]] == [
        (1, REP_B, 1, 2),
        (2, REP_A, 1, 0),
    ]
    assert board["owners"][0]["wonAmounts"] == [{"currency": "CNY", "amountMinor": "30000"}]
    assert [(t["rank"], t["key"], t["won"]) for t in board["teams"]] == [
        (1, "south", 1),
        (2, "north", 1),
    ]


async def test_a_duplicated_event_changes_no_number(
    live_stack: stack.StackConfig, worked_example: WorkedExample
) -> None:
    analyst = gateway(live_stack, worked_example.tenant, ["analyst"])
    before_funnel = (await analyst.execute(FUNNEL, {"filter": None})).ok()
    before_other = (await analyst.execute(OTHER_REPORTS, {"filter": None})).ok()

    pub = worked_example.publisher
    for event in list(pub.sent):  # every event again, same ids: a redelivery
        await pub.send(event)
    # A marker per customer after the duplicates, on the same topic and key (same partition):
    # once it shows, every duplicate before it has been consumed.
    for customer, opp in ((worked_example.customer_a, "m-a"), (worked_example.customer_b, "m-b")):
        await pub.publish(
            q.OpportunityCreated(
                opportunity_id=opp,
                customer_id=customer,
                name="marker",
                stage="INITIAL_CONTACT",
                owner_id="marker",
                amount_minor=0,
                currency="CNY",
                probability=0,
                expected_close_date=date(2030, 1, 1),
                created_at=datetime(2030, 1, 1, tzinfo=UTC),
            ),
            customer,
        )

    async def markers_seen() -> bool:
        data = (await analyst.execute(FUNNEL, {"filter": None})).ok()
        return bool(data["salesFunnel"]["opportunities"] == 8)

    await eventually(markers_seen, timeout_s=60, interval_s=0.3)
    march = {"filter": MARCH_FILTER}
    assert _stages((await analyst.execute(FUNNEL, march)).ok()["salesFunnel"]) == EXPECTED_STAGES
    after_other = (await analyst.execute(OTHER_REPORTS, {"filter": None})).ok()
    board_before = before_other.pop("leaderboard")
    board_after = after_other.pop("leaderboard")
    assert after_other == before_other
    # The markers add an owner "marker" with one open opportunity; nothing else moved.
    assert [o for o in board_after["owners"] if o["key"] != "marker"] == board_before["owners"]
    after_funnel = (await analyst.execute(FUNNEL, {"filter": None})).ok()["salesFunnel"]
    assert after_funnel["won"] == before_funnel["salesFunnel"]["won"]
    assert after_funnel["open"] == before_funnel["salesFunnel"]["open"] + 2  # the markers


async def test_sales_reps_see_only_their_own_numbers(
    live_stack: stack.StackConfig, worked_example: WorkedExample
) -> None:
    tenant = worked_example.tenant
    rep_a = gateway(live_stack, tenant, ["sales_rep"], user_id=REP_A, team="north")
    own = (await rep_a.execute(FUNNEL, {"filter": MARCH_FILTER})).ok()["salesFunnel"]
    assert [r["reached"] for r in own["stages"]] == [2, 2, 2, 1, 1, 1]
    board = (await rep_a.execute(OTHER_REPORTS, {"filter": MARCH_FILTER})).ok()["leaderboard"]
    assert [o["key"] for o in board["owners"]] == [REP_A]

    other = await rep_a.execute(FUNNEL, {"filter": {**MARCH_FILTER, "ownerId": REP_B}})
    assert other.error_codes() == ["FORBIDDEN"]
    agent = gateway(live_stack, tenant, ["service_agent"])
    assert (await agent.execute(FUNNEL, {"filter": None})).error_codes() == ["FORBIDDEN"]
    for roles in (["admin"], ["analyst"], ["sales_manager"], ["service_manager"]):
        reader = gateway(live_stack, tenant, roles)
        funnel = (await reader.execute(FUNNEL, {"filter": MARCH_FILTER})).ok()["salesFunnel"]
        assert _stages(funnel) == EXPECTED_STAGES, roles
    # Another tenant sees none of it.
    stranger = gateway(live_stack, new_tenant(), ["admin"])
    empty = (await stranger.execute(FUNNEL, {"filter": None})).ok()["salesFunnel"]
    assert empty["opportunities"] == 0
    bad = await rep_a.execute(FUNNEL, {"filter": {"from": iso(_at(5)), "to": iso(_at(1))}})
    assert bad.error_codes() == ["BAD_USER_INPUT"]
