"""One customer's whole life, end to end through the gateway, as a sales and service team lives it.

A sales rep registers a lead, the team's sales manager approves it, contacts are added, the
rep's calls and visits are logged and a follow-up is done; two opportunities move through the
pipeline (one is lost, one reaches the quote stage); a discounted quote is approved by the
manager, sent and accepted, which wins the opportunity, makes the customer a ``DEAL`` and opens
a service order; the service team delivers it; the customer answers the satisfaction survey.
Insights' funnel, win rate and CSAT must then show exactly the numbers this test computes from
what it did. Finally the customer goes quiet, churn risk is raised once, and a retention
follow-up appears for the owner.

How time passes. The running stack has no clock of its own to move, and none is added for the
test (no test-only backdoor in production code). The churn model compares the last 30 days of
interactions with the customer's own baseline of the 90 days before. So the rep's history is
logged the way the API allows it for real users: interactions recorded after the fact with an
``occurredAt`` 33-115 days in the past (three a month, the baseline). Everything since then is
real: the only recent interaction is the one logged by completing the follow-up, so the
silence the model sees is the one this test produced. The follow-ups the rep then fails to do
are scheduled a few seconds ahead (the API refuses due times in the past) and really fall
overdue while the test waits; engagement's reminder loop marks them overdue, which wakes
insights' scoring. That, with the silence and the poor survey answer, crosses the threshold.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import stack

from crm_common.clock import utc_now
from crm_common.events.contracts.insights import ChurnRiskRaised
from tests.e2e.client import GraphQLClient, GraphQLResponse, eventually, new_tenant, token_for
from tests.e2e.insights_support import insights_events, iso
from tests.e2e.service_desk_support import desk_url

pytestmark = [pytest.mark.e2e]

# --- what the team does, as numbers the assertions are computed from -----------------------

# The rep's logged history: days ago of each call or visit, all inside the model's baseline
# window (30-120 days ago): 9 touches over 3 months = 3 per 30 days.
HISTORY_DAYS_AGO = (33, 40, 50, 60, 70, 80, 90, 100, 115)
BASELINE_MONTHS = 3
FOLLOW_UPS_DONE = 1  # each completion logs one interaction now: the only recent ones
FOLLOW_UPS_MISSED = 2  # scheduled after delivery, never done
SURVEY_SCORES = {"service_quality": 4, "response_speed": 1, "professionalism": 1}
CHURN_THRESHOLD = 50  # health-v1, services/insights/src/crm_insights/domain/health.py

MAIN_AMOUNT = 12_000_000  # ¥120,000.00 in minor units
ADD_ON_AMOUNT = 3_000_000
QUOTE_QUANTITY = 10
QUOTE_UNIT_PRICE = 1_200_000
QUOTE_DISCOUNT_BP = 1_000  # 10 %: above the default 5 % auto-approval threshold
QUOTE_TAX_BP = 1_300

FUNNEL_STAGES = ("INITIAL_CONTACT", "NEEDS_ANALYSIS", "SOLUTION", "QUOTE", "NEGOTIATION", "WON")
ORDER_STAGES = ("REQUIREMENTS_RESEARCH", "SOLUTION_DESIGN", "BUILD_AND_TEST")

# --- operations -------------------------------------------------------------------------

CUSTOMER_FIELDS = (
    "id number status ownerId team review { approved actorId } contacts { name isPrimary }"
)


def _mutation(name: str, input_type: str, selection: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {selection} }} }}"


CREATE_CUSTOMER = _mutation(
    "createCustomer", "CreateCustomerInput", f"customer {{ {CUSTOMER_FIELDS} }}"
)
APPROVE_CUSTOMER = _mutation(
    "approveCustomer", "ReviewCustomerInput", f"customer {{ {CUSTOMER_FIELDS} }}"
)
CHANGE_STATUS = _mutation(
    "changeCustomerStatus", "ChangeCustomerStatusInput", f"customer {{ {CUSTOMER_FIELDS} }}"
)
ADD_CONTACT = _mutation("addContact", "AddContactInput", "contact { id isPrimary }")
CUSTOMER = f"query($id: ID!) {{ customer(id: $id) {{ {CUSTOMER_FIELDS} }} }}"
STATUS_HISTORY = "query($id: ID!) { customer(id: $id) { history { field after actorId } } }"

LOG_INTERACTION = _mutation(
    "logInteraction", "LogInteractionInput", "interaction { id occurredAt }"
)
FOLLOW_UP_FIELDS = "id status origin priority assigneeId goal dueAt interactionId"
SCHEDULE_FOLLOW_UP = _mutation(
    "scheduleFollowUp", "ScheduleFollowUpInput", f"followUp {{ {FOLLOW_UP_FIELDS} }}"
)
COMPLETE_FOLLOW_UP = _mutation(
    "completeFollowUp",
    "CompleteFollowUpInput",
    f"followUp {{ {FOLLOW_UP_FIELDS} }} interaction {{ id occurredAt }}",
)
CUSTOMER_ENGAGEMENT = f"""
query($id: ID!) {{ customer(id: $id) {{
  interactions(first: 50) {{ totalCount }}
  followUps(first: 50) {{ edges {{ node {{ {FOLLOW_UP_FIELDS} }} }} }}
}} }}"""
MY_FOLLOW_UPS = f"""
query {{ myFollowUps(due: ALL, first: 50) {{
  edges {{ node {{ {FOLLOW_UP_FIELDS} customerId }} }} }} }}
"""

OPPORTUNITY_FIELDS = "id stage amount { amountMinor currency } stageHistory { toStage }"
CREATE_OPPORTUNITY = _mutation(
    "createOpportunity", "CreateOpportunityInput", f"opportunity {{ {OPPORTUNITY_FIELDS} }}"
)
MOVE_OPPORTUNITY = _mutation(
    "moveOpportunity", "MoveOpportunityInput", f"opportunity {{ {OPPORTUNITY_FIELDS} }}"
)
OPPORTUNITY = f"query($id: ID!) {{ opportunity(id: $id) {{ {OPPORTUNITY_FIELDS} }} }}"
QUOTE_FIELDS = (
    "id number version status total { amountMinor currency } approval { decision actorId }"
)
CREATE_QUOTE = _mutation("createQuote", "CreateQuoteInput", f"quote {{ {QUOTE_FIELDS} }}")
SUBMIT_QUOTE = _mutation("submitQuote", "QuoteIdInput", f"quote {{ {QUOTE_FIELDS} }}")
APPROVE_QUOTE = _mutation("approveQuote", "DecideQuoteInput", f"quote {{ {QUOTE_FIELDS} }}")
SEND_QUOTE = _mutation("sendQuote", "QuoteIdInput", f"quote {{ {QUOTE_FIELDS} }}")
RESPOND_TO_QUOTE = _mutation("respondToQuote", "RespondToQuoteInput", f"quote {{ {QUOTE_FIELDS} }}")

ORDER_FIELDS = "id status currentStage quoteId quoteNumber ownerId amount { amountMinor currency }"
CUSTOMER_SERVICE = f"""
query($id: ID!) {{ customer(id: $id) {{
  serviceOrders(first: 5) {{ edges {{ node {{ {ORDER_FIELDS} }} }} }}
  surveys(first: 5) {{ edges {{ node {{ id subjectType subjectId status }} }} }}
}} }}"""
ADVANCE_ORDER = _mutation(
    "advanceServiceOrder", "AdvanceServiceOrderInput", f"serviceOrder {{ {ORDER_FIELDS} }}"
)
ADD_DELIVERABLE = _mutation(
    "addDeliverable", "AddDeliverableInput", f"serviceOrder {{ {ORDER_FIELDS} }}"
)
ISSUE_SURVEY_LINK = _mutation("issueSurveyLink", "IssueSurveyLinkInput", "token")

FUNNEL = """
query { salesFunnel(bucket: MONTH) {
  stages { stage reached conversionFromPrevious amounts { currency amountMinor } }
  opportunities won lost open winRate averageCycleDays
  trend { period created won lost winRate }
} }"""
SATISFACTION = """
query { satisfaction { surveysAnswered dimensions { dimension responses averageScore csat } } }
"""
HEALTH = """
query($id: ID!) { customer(id: $id) { health {
  churnRisk churnWarning computedAt drivers { model name points detail } } } }"""


# --- helpers -----------------------------------------------------------------------------


async def _ok(client: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    return (await client.execute(query, variables)).ok()


async def _do(client: GraphQLClient, query: str, **input: Any) -> Any:
    """Run a mutation with ``input`` and return its payload."""
    data = await _ok(client, query, {"input": input})
    return next(iter(data.values()))


async def _settles_to(
    probe: Callable[[], Awaitable[object]], expected: object, timeout_s: float = 60
) -> None:
    """Poll until ``probe`` returns ``expected`` (read models catch up); show the last value."""
    seen: list[object] = []

    async def matches() -> bool:
        seen.append(await probe())
        return seen[-1] == expected

    try:
        await eventually(matches, timeout_s=timeout_s, interval_s=0.3)
    except AssertionError:
        assert seen[-1] == expected  # the difference, readable
        raise


async def _until_known(attempt: Callable[[], Awaitable[Any]]) -> Any:
    """Retry a call that is NOT_FOUND until the customer's created event has arrived."""

    async def try_once() -> Any:
        response = await attempt()
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None
        return response.ok()

    return await eventually(try_once, timeout_s=60, interval_s=0.2)


def _expected_funnel(
    furthest: list[str], amounts: list[int], outcomes: list[str], period: str
) -> dict[str, Any]:
    """The funnel the team's opportunities make: one reaches a stage if it got there or later."""
    stages: list[dict[str, Any]] = []
    previous: int | None = None
    for index, stage in enumerate(FUNNEL_STAGES):
        reached = [
            a for f, a in zip(furthest, amounts, strict=True) if FUNNEL_STAGES.index(f) >= index
        ]
        stages.append(
            {
                "stage": stage,
                "reached": len(reached),
                "conversionFromPrevious": None if previous is None else len(reached) / previous,
                "amounts": [{"currency": "CNY", "amountMinor": str(sum(reached))}],
            }
        )
        previous = len(reached)
    won, lost = outcomes.count("WON"), outcomes.count("LOST")
    return {
        "stages": stages,
        "opportunities": len(outcomes),
        "won": won,
        "lost": lost,
        "open": len(outcomes) - won - lost,
        "winRate": won / (won + lost),
        "averageCycleDays": 0.0,  # created and won within this test
        "trend": [
            {
                "period": period,
                "created": len(outcomes),
                "won": won,
                "lost": lost,
                "winRate": won / (won + lost),
            }
        ],
    }


# --- the test ----------------------------------------------------------------------------


@pytest.mark.federation_peer
async def test_lead_to_deal_to_delivery_to_churn_warning(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()

    def person(user_id: str, role: str, team: str | None = None) -> GraphQLClient:
        token = token_for(live_stack.var_dir, tenant, [role], user_id=user_id, team=team)
        return GraphQLClient(live_stack.gateway_url, token)

    rep = person("rep-lin", "sales_rep", "east")
    manager = person("mgr-zhou", "sales_manager", "east")
    agent = person("agent-wu", "service_agent")
    analyst = person("analyst-qian", "analyst")

    # 1. A lead is registered and reviewed: the team's sales manager approves it.
    name = f"Ningbo Harbour Logistics {uuid.uuid4().hex[:6]}"
    customer = (await _do(rep, CREATE_CUSTOMER, name=name, industry="logistics"))["customer"]
    customer_id = customer["id"]
    assert (customer["status"], customer["ownerId"], customer["team"]) == (
        "PENDING_REVIEW",
        "rep-lin",
        "east",
    )
    customer = (await _do(manager, APPROVE_CUSTOMER, id=customer_id, comment="verified"))[
        "customer"
    ]
    assert customer["status"] == "LEAD"
    assert customer["review"] == {"approved": True, "actorId": "mgr-zhou"}

    # 2. Contacts: the first becomes the primary one.
    for contact in (
        {
            "name": "Chen Jie",
            "title": "COO",
            "decisionRole": "DECISION_MAKER",
            "phone": "13800138001",
        },
        {"name": "Li Na", "title": "IT lead", "email": "li.na@harbour.example"},
    ):
        await _do(rep, ADD_CONTACT, customerId=customer_id, contact=contact)
    contacts = (await _ok(rep, CUSTOMER, {"id": customer_id}))["customer"]["contacts"]
    assert [(c["name"], c["isPrimary"]) for c in contacts] == [
        ("Chen Jie", True),
        ("Li Na", False),
    ]

    # 3. Interactions: the rep records the last quarter's calls and visits after the fact.
    started = utc_now()
    for n, days_ago in enumerate(HISTORY_DAYS_AGO):
        occurred_at = started - timedelta(days=days_ago)
        visit = {
            "customerId": customer_id,
            "kind": "VISIT" if n % 3 == 0 else "PHONE_CALL",
            "content": f"touch {n + 1}: logistics tracking needs",
            "occurredAt": iso(occurred_at),
        }

        def log_visit(visit: dict[str, Any] = visit) -> Awaitable[GraphQLResponse]:
            return rep.execute(LOG_INTERACTION, {"input": visit})

        logged = (await _until_known(log_visit))["logInteraction"]["interaction"]
        # Kept as recorded, not "now".
        assert datetime.fromisoformat(logged["occurredAt"]) == occurred_at

    # ... and a follow-up is planned and done (its outcome is logged as an interaction, now).
    for n in range(FOLLOW_UPS_DONE):
        planned = (
            await _do(
                rep,
                SCHEDULE_FOLLOW_UP,
                customerId=customer_id,
                type="MEETING",
                dueAt=iso(started + timedelta(days=2)),
                goal=f"Present the tracking proposal ({n + 1})",
                priority="HIGH",
            )
        )["followUp"]
        done = await _do(rep, COMPLETE_FOLLOW_UP, id=planned["id"], outcome="proposal welcomed")
        assert done["followUp"]["status"] == "DONE"
        assert done["followUp"]["interactionId"] == done["interaction"]["id"]
    customer = (
        await _do(rep, CHANGE_STATUS, id=customer_id, status="INTENTION", reason="wants a quote")
    )["customer"]
    assert customer["status"] == "INTENTION"

    # 4. The pipeline: an add-on opportunity is lost, the main one reaches the quote stage.
    async def open_opportunity(title: str, amount: int) -> dict[str, Any]:
        variables = {
            "input": {
                "customerId": customer_id,
                "name": title,
                "amount": {"amountMinor": str(amount), "currency": "CNY"},
                "expectedCloseDate": (started + timedelta(days=45)).date().isoformat(),
            }
        }
        # Quoting, too, learns the customer from its created event.
        data = await _until_known(lambda: rep.execute(CREATE_OPPORTUNITY, variables))
        opportunity: dict[str, Any] = data["createOpportunity"]["opportunity"]
        return opportunity

    main = await open_opportunity("Fleet tracking platform", MAIN_AMOUNT)
    add_on = await open_opportunity("Warehouse scanners", ADD_ON_AMOUNT)
    for stage in ("NEEDS_ANALYSIS", "SOLUTION", "QUOTE"):
        moved = (await _do(rep, MOVE_OPPORTUNITY, id=main["id"], stage=stage))["opportunity"]
        assert moved["stage"] == stage
    await _do(rep, MOVE_OPPORTUNITY, id=add_on["id"], stage="NEEDS_ANALYSIS")
    lost = (
        await _do(rep, MOVE_OPPORTUNITY, id=add_on["id"], stage="LOST", lossReason="budget frozen")
    )["opportunity"]
    assert lost["stage"] == "LOST"

    # 5. A quote: 10 % discount needs the manager; approved, sent, accepted by the customer.
    quote = (
        await _do(
            rep,
            CREATE_QUOTE,
            opportunityId=main["id"],
            currency="CNY",
            validUntil=(started + timedelta(days=30)).date().isoformat(),
            lines=[
                {
                    "description": "Tracking platform licence, per truck group",
                    "unit": "group",
                    "quantity": str(QUOTE_QUANTITY),
                    "unitPriceMinor": str(QUOTE_UNIT_PRICE),
                    "discountBp": QUOTE_DISCOUNT_BP,
                    "taxRateBp": QUOTE_TAX_BP,
                }
            ],
        )
    )["quote"]
    net = QUOTE_QUANTITY * QUOTE_UNIT_PRICE * (10_000 - QUOTE_DISCOUNT_BP) // 10_000
    total = net + net * QUOTE_TAX_BP // 10_000  # both exact: no rounding in these numbers
    assert quote["total"] == {"amountMinor": str(total), "currency": "CNY"}
    submitted = (await _do(rep, SUBMIT_QUOTE, id=quote["id"]))["quote"]
    assert submitted["status"] == "PENDING_APPROVAL"
    approved = (await _do(manager, APPROVE_QUOTE, id=quote["id"], comment="ok for a 2-year deal"))[
        "quote"
    ]
    assert approved["status"] == "APPROVED"
    assert approved["approval"] == {"decision": "APPROVED", "actorId": "mgr-zhou"}
    assert (await _do(rep, SEND_QUOTE, id=quote["id"]))["quote"]["status"] == "SENT"
    accepted = (
        await _do(rep, RESPOND_TO_QUOTE, id=quote["id"], response="ACCEPT", comment="signed")
    )["quote"]
    assert accepted["status"] == "ACCEPTED"
    won = (await _ok(rep, OPPORTUNITY, {"id": main["id"]}))["opportunity"]
    assert won["stage"] == "WON"
    assert won["amount"] == {"amountMinor": str(MAIN_AMOUNT), "currency": "CNY"}

    # 6. The customer becomes a deal (customer service reacts to quote_accepted) ...
    async def status() -> str:
        found = (await _ok(rep, CUSTOMER, {"id": customer_id}))["customer"]
        return str(found["status"])

    await _settles_to(status, "DEAL")
    history = (await _ok(rep, STATUS_HISTORY, {"id": customer_id}))["customer"]["history"]
    status_changes = [(h["after"], h["actorId"]) for h in history if h["field"] == "status"]
    assert list(reversed(status_changes)) == [  # newest first
        ('"LEAD"', "mgr-zhou"),
        ('"INTENTION"', "rep-lin"),
        ('"DEAL"', "system:quoting"),
    ]

    # ... and a service order opens from the accepted quote (service desk reacts too).
    async def service_order() -> dict[str, Any] | None:
        found = (await _ok(agent, CUSTOMER_SERVICE, {"id": customer_id}))["customer"]
        edges = found["serviceOrders"]["edges"]
        return edges[0]["node"] if edges else None

    order = await eventually(service_order, timeout_s=60, interval_s=0.3)
    assert (order["quoteId"], order["quoteNumber"], order["ownerId"]) == (
        quote["id"],
        quote["number"],
        "rep-lin",
    )
    assert order["amount"] == accepted["total"]
    assert order["status"] == "OPEN"

    # 7. Delivery: every stage worked, acceptance signed, order delivered.
    for stage in ORDER_STAGES:
        order = (await _do(agent, ADVANCE_ORDER, orderId=order["id"]))["serviceOrder"]
        assert order["currentStage"] == stage
    order = (await _do(agent, ADVANCE_ORDER, orderId=order["id"]))["serviceOrder"]
    assert order["currentStage"] == "ACCEPTANCE_AND_DELIVERY"
    await _do(
        agent,
        ADD_DELIVERABLE,
        orderId=order["id"],
        stage="ACCEPTANCE_AND_DELIVERY",
        name="Signed acceptance report",
        kind="LINK",
        reference="https://files.harbour.example/acceptance.pdf",
    )
    order = (await _do(agent, ADVANCE_ORDER, orderId=order["id"]))["serviceOrder"]
    assert order["status"] == "DELIVERED"

    # 8. The survey sent after delivery is answered by the customer (public endpoint, no login).
    async def survey() -> dict[str, Any] | None:
        found = (await _ok(rep, CUSTOMER_SERVICE, {"id": customer_id}))["customer"]
        edges = found["surveys"]["edges"]
        return edges[0]["node"] if edges else None

    sent = await eventually(survey, timeout_s=60, interval_s=0.3)
    assert (sent["subjectType"], sent["subjectId"], sent["status"]) == (
        "SERVICE_ORDER",
        order["id"],
        "SENT",
    )
    token = (await _do(agent, ISSUE_SURVEY_LINK, surveyId=sent["id"]))["token"]
    async with httpx.AsyncClient(timeout=10) as customer_browser:
        answer = await customer_browser.post(
            f"{desk_url(live_stack)}/surveys/respond",
            json={"token": token, "scores": SURVEY_SCORES, "comment": "slow to respond"},
        )
    assert answer.status_code == 200, answer.text

    # 9. Insights shows exactly those numbers.
    furthest = ["WON", "NEEDS_ANALYSIS"]  # main won (it passed QUOTE), add-on lost after NA
    expected_funnel = _expected_funnel(
        furthest, [MAIN_AMOUNT, ADD_ON_AMOUNT], ["WON", "LOST"], period=started.strftime("%Y-%m")
    )

    async def funnel() -> Any:
        return (await _ok(analyst, FUNNEL))["salesFunnel"]

    await _settles_to(funnel, expected_funnel)

    expected_dimensions = [
        {
            "dimension": dimension,
            "responses": 1,
            "averageScore": float(score),
            "csat": 1.0 if score >= 4 else 0.0,  # CSAT: share of answers scoring 4 or 5
        }
        for dimension, score in sorted(SURVEY_SCORES.items())
    ]

    async def satisfaction() -> Any:
        return (await _ok(analyst, SATISFACTION))["satisfaction"]

    await _settles_to(satisfaction, {"surveysAnswered": 1, "dimensions": expected_dimensions})
    # None of it exists for another tenant's analyst.
    outsider = GraphQLClient(
        live_stack.gateway_url, token_for(live_stack.var_dir, new_tenant(), ["analyst"])
    )
    assert (await _ok(outsider, FUNNEL))["salesFunnel"]["opportunities"] == 0
    assert (await _ok(outsider, CUSTOMER, {"id": customer_id}))["customer"] is None

    # Health so far: history, one recent touch and a poor survey — a risk, not yet a warning.
    baseline = len(HISTORY_DAYS_AGO) / BASELINE_MONTHS
    interaction_drop = round(30 * (1 - FOLLOW_UPS_DONE / baseline))
    average_score = sum(SURVEY_SCORES.values()) / len(SURVEY_SCORES)
    low_satisfaction = 15 if average_score <= 2 else 8 if average_score < 3 else 0
    before = interaction_drop + low_satisfaction
    assert before < CHURN_THRESHOLD

    async def churn_drivers() -> dict[str, int] | None:
        health = (await _ok(rep, HEALTH, {"id": customer_id}))["customer"]["health"]
        if health is None:
            return None
        return {d["name"]: d["points"] for d in health["drivers"] if d["model"] == "churn"}

    quiet_drivers = {
        "interaction_drop": interaction_drop,
        "overdue_followups": 0,
        "open_urgent_tickets": 0,
        "low_satisfaction": low_satisfaction,
        "stalled_opportunities": 0,
    }
    await _settles_to(churn_drivers, quiet_drivers)
    health = (await _ok(rep, HEALTH, {"id": customer_id}))["customer"]["health"]
    assert (health["churnRisk"], health["churnWarning"]) == (before, False)

    # 10. Interactions stop: the rep plans check-ins and never does them. They fall due within
    # seconds (real time passing) and become overdue.
    for n in range(FOLLOW_UPS_MISSED):
        await _do(
            rep,
            SCHEDULE_FOLLOW_UP,
            customerId=customer_id,
            type="PHONE_CALL",
            dueAt=iso(utc_now() + timedelta(seconds=2)),
            goal=f"Post-delivery check-in {n + 1}",
            priority="MEDIUM",
        )
    overdue_points = min(20, 10 * FOLLOW_UPS_MISSED)
    raised_score = before + overdue_points
    assert raised_score >= CHURN_THRESHOLD
    await _settles_to(churn_drivers, {**quiet_drivers, "overdue_followups": overdue_points})
    health = (await _ok(rep, HEALTH, {"id": customer_id}))["customer"]["health"]
    assert (health["churnRisk"], health["churnWarning"]) == (raised_score, True)

    # Churn risk is raised once, naming the owner and the drivers.
    async def raised_events() -> list[ChurnRiskRaised] | None:
        events = [
            ev.parse()
            for ev in await insights_events(live_stack, tenant)
            if ev.type == ChurnRiskRaised.event_type
        ]
        found = [ev for ev in events if isinstance(ev, ChurnRiskRaised)]
        return found or None

    raised = await eventually(raised_events, timeout_s=30, interval_s=0.5)
    assert len(raised) == 1
    assert (raised[0].customer_id, raised[0].owner_id, raised[0].score) == (
        customer_id,
        "rep-lin",
        raised_score,
    )
    assert raised[0].drivers == ["interaction_drop", "overdue_followups", "low_satisfaction"]

    # 11. Engagement opens a retention follow-up for the owner: it is on the rep's own list.
    async def retention() -> list[dict[str, Any]] | None:
        mine = (await _ok(rep, MY_FOLLOW_UPS))["myFollowUps"]["edges"]
        found = [e["node"] for e in mine if e["node"]["origin"] == "CHURN_RISK"]
        return found or None

    tasks = await eventually(retention, timeout_s=60, interval_s=0.3)
    assert len(tasks) == 1
    task = tasks[0]
    assert (task["customerId"], task["assigneeId"], task["priority"], task["status"]) == (
        customer_id,
        "rep-lin",
        "HIGH",
        "OPEN",
    )
    assert str(raised_score) in task["goal"]

    # The whole story is on the record: history, the done follow-up's touch, nothing else.
    engagement = (await _ok(rep, CUSTOMER_ENGAGEMENT, {"id": customer_id}))["customer"]
    assert engagement["interactions"]["totalCount"] == len(HISTORY_DAYS_AGO) + FOLLOW_UPS_DONE
    statuses = sorted(e["node"]["status"] for e in engagement["followUps"]["edges"])
    assert statuses.count("DONE") == FOLLOW_UPS_DONE
    assert statuses.count("OVERDUE") == FOLLOW_UPS_MISSED
