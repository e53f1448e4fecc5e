"""Seed the demo tenant through the public GraphQL gateway (`make seed`).

Everything is generated from a seeded random generator, so the same seed gives the same
customers (moved along their lifecycle), contacts, interactions, follow-ups, opportunities,
quotes, tickets (some resolved), survey responses (about a third recorded by phone), activity
registrations, improvement tasks (low answers and complaints open theirs; three by hand) and
customer files (one in ten customers: qualification, a renamed contract, a deleted draft, a
deliverable the service desk uploaded); some profiles lack an address or size (data
completeness, 待补充) and some have a budget (value tiers A/B). Every write goes through the
gateway (the real validation, permissions and events), except the survey answers customers give
themselves: they answer without a CRM login on the service desk's public endpoint, so the seeder
posts those to the service desk directly (``--desk-url``). Re-running is idempotent: existing
records are looked up first (customers by name, interactions by content, follow-ups by goal,
opportunities by name, quotes by opportunity, tickets by title, surveys by ticket, activities by
title, registrations by customer, improvement tasks by title) and only what is missing is
created or moved forward, so an
interrupted run can simply be repeated.

EXPIRED quotes cannot be made through the API: ``validUntil`` may not lie in the past and the
expiry job only expires SENT quotes whose ``validUntil`` is before today. The "EXPIRED" plans
are therefore sent quotes valid until today, which the job expires once the day is over.

    uv run python scripts/seed.py [--url http://127.0.0.1:4000/graphql] [--customers 100]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from crm_common.auth import issue_dev_token, load_or_create_dev_secret

REPO = Path(__file__).resolve().parent.parent
DEFAULT_URL = "http://127.0.0.1:4000/graphql"
# The service desk's public survey endpoint (not routed through the gateway).
DEFAULT_DESK_URL = "http://127.0.0.1:4004"
SEEDER_USER = "demo-seeder"
# Quotes are never approved by their owner: a second admin decides.
APPROVER_USER = "demo-approver"
PAGE = 200
# Engagement and service desk learn about new customers from events: wait this long at most.
REPLICA_WAIT_S = 60.0

INDUSTRIES = [
    "Manufacturing",
    "Retail",
    "Healthcare",
    "Education",
    "Logistics",
    "Finance",
    "Energy",
    "Software",
    "Hospitality",
    "Construction",
]
REGIONS = [
    ("Zhejiang", "Hangzhou"),
    ("Zhejiang", "Ningbo"),
    ("Jiangsu", "Nanjing"),
    ("Jiangsu", "Suzhou"),
    ("Guangdong", "Shenzhen"),
    ("Guangdong", "Guangzhou"),
    ("Beijing", "Beijing"),
    ("Shanghai", "Shanghai"),
    ("Sichuan", "Chengdu"),
    ("Hubei", "Wuhan"),
]
# Chinese company names (chosen by index, not drawn: the other draws stay as they were).
CN_PLACES = ["杭州西湖", "重庆", "上海浦东", "深圳南山", "成都", "苏州工业园"]
CN_TRADES = ["茶叶", "精密机械", "智能科技", "医疗器械", "物流", "新材料"]

NAME_PARTS = (
    [
        "Aurora",
        "Summit",
        "Jade",
        "Harbor",
        "Golden",
        "Silver",
        "Pioneer",
        "Lotus",
        "Crane",
        "Orchid",
    ],
    [
        "Tech",
        "Trading",
        "Works",
        "Systems",
        "Foods",
        "Logistics",
        "Health",
        "Energy",
        "Labs",
        "Group",
    ],
)
FIRST_NAMES = ["Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu"]
GIVEN_NAMES = ["Wei", "Fang", "Min", "Jing", "Lei", "Yan", "Tao", "Hui", "Jun", "Xin"]
TITLES = ["CEO", "CTO", "Purchasing Manager", "IT Director", "Operations Lead"]
DECISION_ROLES = ["DECISION_MAKER", "INFLUENCER", "TECHNICAL_EVALUATOR", "USER", "GATEKEEPER"]
SOURCES = ["WEBSITE", "EXHIBITION", "SALES_VISIT", "REFERRAL", "ADS"]
INTERACTION_KINDS = ["PHONE_CALL", "VISIT", "EMAIL", "MEETING", "CHAT"]
TOPICS = [
    "introduced the product line",
    "discussed pricing and volumes",
    "walked through the technical requirements",
    "reviewed the pilot results",
    "answered questions on support levels",
]
STAGES = ["INITIAL_CONTACT", "NEEDS_ANALYSIS", "SOLUTION", "QUOTE", "NEGOTIATION", "WON"]
OPPORTUNITY_TARGETS = [*STAGES, "LOST"]
ASSESSMENTS: list[tuple[str, str, str | None]] = [
    ("HIGH", "PROACTIVE", "采购委员会已立项，预算已批 (budget approved)"),
    ("HIGH", "RESPONSIVE", "等待技术评估结果 (technical review pending)"),
    ("MEDIUM", "RESPONSIVE", "客户在比较两家供应商 (comparing two vendors)"),
    ("MEDIUM", "SILENT", None),
    ("LOW", "SILENT", None),
    ("LOW", "RESPONSIVE", "需求与产品不匹配 (need does not fit the product)"),
]
QUOTE_TARGETS = [
    "DRAFT",
    "PENDING_APPROVAL",
    "APPROVED",
    "REJECTED",
    "SENT",
    "ACCEPTED",
    "NEGOTIATING",
    "DECLINED",
    "EXPIRED",  # sent, valid until today: the expiry job expires it after midnight
]
# The lifecycle after approval (LEAD); an accepted quote moves the customer to DEAL by event.
LIFECYCLE = ["LEAD", "INTENTION", "DEAL"]
LIFECYCLE_TARGETS = [*LIFECYCLE, "CHURNED"]
SUPPORT_DEPARTMENT = "support"
# The demo tenant's time zone, set explicitly (the default too) so the setting and its audit
# entry show; every date it shows or a number embeds is local to it.
DEMO_TIME_ZONE = "Asia/Shanghai"
# (kind, title, starts in how many days)
ACTIVITIES = [
    ("WEBINAR", "Demo webinar: what is new in CRM Cloud", 7),
    ("EXHIBITION", "Demo exhibition: Smart Industry Expo", 21),
    ("TRAINING", "Demo training: admin basics", -14),
]
PAST_ACTIVITY = ACTIVITIES[2][1]
# A colleague who joins the demo's high-priority follow-ups (sees them, is reminded too).
DEMO_PARTICIPANT = "demo-colleague"
HOLIDAY_TOUCH = "Demo holiday care: Spring Festival greetings"
TICKET_CATEGORIES = ["INCIDENT", "QUESTION", "COMPLAINT", "CHANGE_REQUEST", "MAINTENANCE"]
TICKET_PRIORITIES = ["URGENT", "HIGH", "MEDIUM", "LOW"]
SOLUTION = {"name": "Demo CRM Cloud", "kind": "STANDARD_PRODUCT", "description": "CRM seats"}
CATALOGUE = [
    {"code": "DEMO-SEAT", "name": "CRM seat licence", "unit": "seat", "minor": "199999"},
    {"code": "DEMO-ONBOARDING", "name": "Onboarding day", "unit": "day", "minor": "480000"},
]


# ---------------------------------------------------------------- the plan (pure, seeded)


@dataclass
class OpportunityPlan:
    name: str
    amount_minor: int
    target_stage: str
    quote_status: str | None  # only for opportunities that reach the QUOTE stage
    # Stage assessment of an opportunity left open: (fit, engagement, decision progress).
    # LOW fit puts its customer into the observation period (观察期), HIGH + PROACTIVE makes
    # it INTENSIVE (docs/architecture.md, "Stage assessment and the observation period").
    assessment: tuple[str, str, str | None] | None = None


@dataclass
class CustomerPlan:
    name: str
    create_input: dict[str, Any]
    interactions: list[dict[str, Any]] = field(default_factory=list)
    follow_ups: list[dict[str, Any]] = field(default_factory=list)
    opportunities: list[OpportunityPlan] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    lifecycle: str = "LEAD"
    # Ticket title -> the scores the customer gives in the survey (None: resolved, no answer).
    resolved_tickets: dict[str, list[int] | None] = field(default_factory=dict)
    activity: str | None = None  # title of the activity the customer registers for
    # Files on the customer (name, kind); the first CONTRACT is renamed, recategorised and a
    # draft deleted, so the file history shows. DELIVERABLE files come from the service desk.
    files: list[tuple[str, str]] = field(default_factory=list)


# Data completeness (issue 17): a share of the demo customers lack an address or a size, so
# the "incomplete" list (待补充) has entries; some have a budget, so value tiers A/B show.
def _profile_extras(seed: int, index: int) -> dict[str, Any]:
    # A separate generator per customer: these draws never shift the main plan.
    rng = random.Random(f"{seed}:{index}:profile")  # noqa: S311 - demo data
    extras: dict[str, Any] = {}
    if rng.random() < 0.6:
        extras["address"] = f"{rng.choice(['人民路', '解放路', '中山路'])} {rng.randint(1, 300)} 号"
    if rng.random() < 0.5:
        extras["size"] = {"employees": rng.choice([12, 45, 120, 800, 3000])}
    budget = rng.choices([None, 30_000_000, 80_000_000, 700_000_000], weights=[6, 2, 2, 1])[0]
    if budget is not None:
        extras["budget"] = {
            "minMinor": str(budget // 2),
            "maxMinor": str(budget),
            "currency": "CNY",
        }
    return extras


def _planned_files(index: int) -> list[tuple[str, str]]:
    if index % 10 != 0:
        return []
    return [
        ("营业执照.pdf", "QUALIFICATION"),
        ("framework contract.pdf", "CONTRACT"),
        ("draft.pdf", "PROPOSAL"),
        ("实施交付报告.pdf", "DELIVERABLE"),
    ]


def plan(customers: int, seed: int, now: datetime) -> list[CustomerPlan]:
    """All random draws happen here, before any I/O, so what exists never shifts the plan."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    plans = []
    end_of_today = datetime.combine(now.date(), datetime.max.time(), UTC) - timedelta(minutes=1)
    for index in range(customers):
        name = f"{rng.choice(NAME_PARTS[0])} {rng.choice(NAME_PARTS[1])} {index + 1:03d}"
        if index % 3 == 0:  # Chinese names too: search "hzxh" or "hangzhou", order by pinyin
            place, trade = CN_PLACES[index % len(CN_PLACES)], CN_TRADES[index // 3 % len(CN_TRADES)]
            name = f"{place}{trade}{index + 1:03d}有限公司"
        province, city = rng.choice(REGIONS)
        contacts = [
            {
                "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(GIVEN_NAMES)}",
                "title": rng.choice(TITLES),
                "decisionRole": rng.choice(DECISION_ROLES),
                "phone": f"+86 138{rng.randrange(10**8):08d}",
                "email": f"contact{n + 1}@customer{index + 1:03d}.example.com",
                "isPrimary": n == 0,
            }
            for n in range(rng.randint(1, 3))
        ]
        customer = CustomerPlan(
            name=name,
            create_input={
                "name": name,
                "industry": rng.choice(INDUSTRIES),
                "source": rng.choice(SOURCES),
                "region": {"province": province, "city": city},
                "tags": rng.sample(["vip", "pilot", "partner", "export", "smb"], rng.randint(0, 2)),
                "contacts": contacts,
                **_profile_extras(seed, index),
            },
            files=_planned_files(index),
        )
        for n in range(rng.randint(1, 3)):
            kind = rng.choice(INTERACTION_KINDS)
            occurred = now - timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 600))
            customer.interactions.append(
                {
                    "kind": kind,
                    "content": f"Demo {kind.lower()} #{n + 1}: {rng.choice(TOPICS)}",
                    "occurredAt": occurred.isoformat(),
                }
            )
        if rng.random() < 0.6:
            due_today = rng.random() < 0.4
            due = (
                min(now + timedelta(minutes=rng.randint(30, 240)), end_of_today)
                if due_today
                else now + timedelta(days=rng.randint(1, 21), hours=rng.randint(0, 8))
            )
            due = max(due, now + timedelta(minutes=5))
            customer.follow_ups.append(
                {
                    "type": rng.choice(INTERACTION_KINDS),
                    "dueAt": due.isoformat(),
                    "goal": f"Demo follow-up: {rng.choice(TOPICS)}",
                    "priority": rng.choice(["HIGH", "MEDIUM", "LOW"]),
                }
            )
            if customer.follow_ups[-1]["priority"] == "HIGH":
                customer.follow_ups[-1]["participantIds"] = [DEMO_PARTICIPANT]
        for n in range(rng.choices([0, 1, 2], weights=[3, 5, 2])[0]):
            target = rng.choice(OPPORTUNITY_TARGETS)
            quote_status = rng.choice(QUOTE_TARGETS) if target == "QUOTE" else None
            # Drawn from a generator of its own: the main plan's draws stay what they were.
            assessor = random.Random(f"{seed}:assessment:{index}:{n}")  # noqa: S311 - demo data
            open_deal = target not in ("WON", "LOST") and quote_status != "ACCEPTED"
            customer.opportunities.append(
                OpportunityPlan(
                    name=f"Demo deal {n + 1} for {name}",
                    amount_minor=rng.randrange(50_000, 5_000_000, 100) * 100,
                    target_stage=target,
                    quote_status=quote_status,
                    assessment=assessor.choice(ASSESSMENTS)
                    if open_deal and assessor.random() < 0.7
                    else None,
                )
            )
        if rng.random() < 0.35:
            title = f"Demo ticket: {rng.choice(TOPICS)}"
            customer.tickets.append(
                {
                    "title": title,
                    "description": "Generated by the demo seeder.",
                    "category": rng.choice(TICKET_CATEGORIES),
                    "priority": rng.choice(TICKET_PRIORITIES),
                }
            )
            if rng.random() < 0.6:
                answered = rng.random() < 0.75
                scores = [
                    rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 4, 4])[0] for _ in range(5)
                ]
                customer.resolved_tickets[title] = scores if answered else None
        accepted = any(o.quote_status == "ACCEPTED" for o in customer.opportunities)
        # An accepted quote makes the customer a DEAL anyway: plan that, so reruns agree.
        customer.lifecycle = "DEAL" if accepted else rng.choice(LIFECYCLE_TARGETS)
        if rng.random() < 0.4:
            customer.activity = rng.choice(ACTIVITIES)[1]
        plans.append(customer)
    return plans


# ---------------------------------------------------------------- talking to the gateway


class GraphQLError(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0].get("message", "GraphQL error"))
        self.errors = errors

    @property
    def code(self) -> str | None:
        code: str | None = self.errors[0].get("extensions", {}).get("code")
        return code


class Gateway:
    def __init__(self, http: httpx.AsyncClient, url: str, token: str, limit: asyncio.Semaphore):
        self._http, self._url, self._token, self._limit = http, url, token, limit

    async def call(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        if query.lstrip().startswith("mutation"):
            # Every mutation the seeder sends targets records it created or looked up; a
            # NOT_FOUND means a new customer has not yet reached that service by event.
            return await self.call_when_replicated(query, variables or {})
        return await self._send(query, variables)

    async def _send(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        async with self._limit:
            response = await self._http.post(
                self._url,
                json={"query": query, "variables": variables or {}},
                headers={"Authorization": f"Bearer {self._token}"},
            )
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        response.raise_for_status()
        return body["data"]

    async def call_when_replicated(self, query: str, variables: dict[str, Any]) -> Any:
        """Retry NOT_FOUND / CUSTOMER_NOT_READY while the new customer travels to the other
        services by event."""
        deadline = time.monotonic() + REPLICA_WAIT_S
        while True:
            try:
                return await self._send(query, variables)
            except GraphQLError as error:
                retry = error.code in ("NOT_FOUND", "CUSTOMER_NOT_READY")
                if not retry or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.5)

    async def upload(self, data: bytes, content_type: str, **query: str) -> Any:
        """POST /files through the gateway (beside /graphql)."""
        async with self._limit:
            response = await self._http.post(
                self._url.removesuffix("/graphql") + "/files",
                params=query,
                content=data,
                headers={"Authorization": f"Bearer {self._token}", "Content-Type": content_type},
            )
        if response.status_code != 201:
            raise GraphQLError(response.json().get("errors") or [{"message": response.text}])
        return response.json()

    async def all_nodes(self, field_name: str, selection: str, args: str = "") -> list[Any]:
        """Every node of a Relay connection, page by page."""
        nodes: list[Any] = []
        after: str | None = None
        while True:
            query = f"""query($after: String) {{
                {field_name}({args} first: {PAGE}, after: $after) {{
                edges {{ node {{ {selection} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
            connection = (await self.call(query, {"after": after}))[field_name]
            nodes.extend(edge["node"] for edge in connection["edges"])
            if not connection["pageInfo"]["hasNextPage"]:
                return nodes
            after = connection["pageInfo"]["endCursor"]


# ---------------------------------------------------------------- the seeding itself


class Seeder:
    def __init__(
        self,
        gateway: Gateway,
        approver: Gateway,
        now: datetime,
        public: httpx.AsyncClient,
        desk_url: str,
        agent: Gateway | None = None,
    ) -> None:
        self.gql, self.approver, self.now = gateway, approver, now
        self.agent = agent or gateway
        # Survey answers go, without a token, to the service desk's public endpoint.
        self.public, self.survey_url = public, f"{desk_url.rstrip('/')}/surveys/respond"
        self.created: Counter[str] = Counter()
        self.surveys: dict[str, Any] = {}  # by subject (ticket) id
        self.activities: dict[str, str] = {}  # title -> id
        self.registrations: set[tuple[str, str]] = set()  # (activity id, customer id)

    async def run(self, plans: list[CustomerPlan]) -> Counter[str]:
        await self._time_zone()
        await self._role_permissions()
        customer_ids = await self._customers(plans)
        await self._merge_demo(plans, customer_ids)
        items = await self._catalogue()
        await self._support_department()
        await self._activities()
        self.surveys = {
            s["subjectId"]: s for s in await self.gql.all_nodes("surveys", "id subjectId status")
        }
        interactions = {
            (i["customerId"], i["content"])
            for i in await self.gql.all_nodes("interactions", "customerId content")
        }
        follow_ups = {
            (f["customerId"], f["goal"])
            for f in await self.gql.all_nodes("myFollowUps", "customerId goal", "due: ALL,")
        }
        opportunities = {
            (o["customerId"], o["name"]): o
            for o in await self.gql.all_nodes(
                "opportunities", "id customerId name stage latestAssessment { fit }"
            )
        }
        quotes = {
            q["opportunityId"]: q
            for q in await self.gql.all_nodes("quotes", "id opportunityId status superseded")
            if not q["superseded"]
        }
        tickets = {
            (t["customerId"], t["title"]): t
            for t in await self.gql.all_nodes("tickets", "id customerId title status")
        }
        await asyncio.gather(
            *(
                self._customer_records(
                    p,
                    customer_ids[p.name],
                    items,
                    interactions,
                    follow_ups,
                    opportunities,
                    quotes,
                    tickets,
                )
                for p in plans
            )
        )
        await self._holiday_care()
        await self._improvement_tasks()
        return self.created

    async def _improvement_tasks(self) -> None:
        """Low survey answers and complaint tickets open their improvement tasks by themselves;
        add the manager's own decisions: one in progress, one past due, one done."""
        existing = {t["title"] for t in await self.gql.all_nodes("improvementTasks", "id title")}
        plans = (
            ("Demo improvement: answer urgent tickets within 10 minutes", 7, "IN_PROGRESS"),
            ("Demo improvement: call back every unhappy customer", -1, None),
            ("Demo improvement: publish the top 5 solutions in the knowledge base", 3, "DONE"),
        )
        for title, days, outcome in plans:
            if title in existing:
                continue
            data = await self.gql.call(
                """mutation($input: CreateImprovementTaskInput!) {
                     createImprovementTask(input: $input) { task { id } } }""",
                {
                    "input": {
                        "title": title,
                        "ownerId": SEEDER_USER,
                        "team": SUPPORT_DEPARTMENT,
                        "dueAt": (self.now + timedelta(days=days)).isoformat(),
                    }
                },
            )
            task_id = data["createImprovementTask"]["task"]["id"]
            self.created["improvement tasks"] += 1
            if outcome == "IN_PROGRESS":
                await self.gql.call(
                    """mutation($input: UpdateImprovementTaskInput!) {
                         updateImprovementTask(input: $input) { task { id } } }""",
                    {"input": {"taskId": task_id, "status": "IN_PROGRESS"}},
                )
            elif outcome == "DONE":
                await self.gql.call(
                    """mutation($input: CloseImprovementTaskInput!) {
                         closeImprovementTask(input: $input) { task { id } } }""",
                    {
                        "input": {
                            "taskId": task_id,
                            "outcome": "DONE",
                            "note": "Demo: five articles published and linked from tickets.",
                        }
                    },
                )

    async def _holiday_care(self) -> None:
        """Holiday care (节日关怀) for the demo's deals: one campaign, a planned greeting per
        deal customer, listed with its progress in ``touchCampaigns`` (the care visit plans
        themselves come from the deals, made by engagement)."""
        campaigns = await self.gql.all_nodes("touchCampaigns", "title")
        if any(c["title"] == HOLIDAY_TOUCH for c in campaigns):
            return
        data = await self.gql.call(
            """mutation($input: PlanTouchesInput!) {
                 planTouches(input: $input) { customers } }""",
            {
                "input": {
                    "kind": "HOLIDAY_CARE",
                    "title": HOLIDAY_TOUCH,
                    "message": "新春快乐，万事如意！ Best wishes for the new year.",
                    "dueAt": (self.now + timedelta(days=10)).isoformat(),
                    "type": "PHONE_CALL",
                    "segment": {"statuses": ["DEAL"]},
                }
            },
        )
        self.created["holiday care touches"] += data["planTouches"]["customers"]

    async def _customers(self, plans: list[CustomerPlan]) -> dict[str, str]:
        existing = {c["name"]: c for c in await self.gql.all_nodes("customers", "id name status")}

        async def ensure(customer: CustomerPlan) -> tuple[str, str]:
            found = existing.get(customer.name)
            if found is None:
                data = await self.gql.call(
                    """mutation($input: CreateCustomerInput!) {
                         createCustomer(input: $input) { customer { id status } } }""",
                    {"input": customer.create_input},
                )
                found = data["createCustomer"]["customer"]
                self.created["customers"] += 1
            if found["status"] == "PENDING_REVIEW":
                await self.gql.call(
                    """mutation($input: ReviewCustomerInput!) {
                         approveCustomer(input: $input) { customer { id } } }""",
                    {"input": {"id": found["id"], "comment": "demo data"}},
                )
                self.created["customer approvals"] += 1
            status = "LEAD" if found["status"] == "PENDING_REVIEW" else found["status"]
            for next_status in _lifecycle_moves(status, customer.lifecycle):
                await self.gql.call(
                    """mutation($input: ChangeCustomerStatusInput!) {
                         changeCustomerStatus(input: $input) { customer { id } } }""",
                    {"input": {"id": found["id"], "status": next_status, "reason": "demo data"}},
                )
                self.created["customer status moves"] += 1
            return customer.name, found["id"]

        return dict(await asyncio.gather(*(ensure(p) for p in plans)))

    async def _merge_demo(self, plans: list[CustomerPlan], customer_ids: dict[str, str]) -> None:
        """A duplicate record of one customer, put in its observation period (观察期) by a
        person, merged into it: the kept customer shows the cadence carried over by the merge
        (``cadenceHistory`` entries with ``mergedFrom``). Once: done when the kept customer's
        cadence history holds a carried entry (a run stopped half-way finishes it)."""
        kept = next((p for p in plans if not any(o.assessment for o in p.opportunities)), None)
        if kept is None:
            return
        kept_id = customer_ids[kept.name]
        history = await self.gql.call(
            "query($id: ID!) { customer(id: $id) { cadenceHistory { mergedFrom } } }",
            {"id": kept_id},
        )
        if any(h["mergedFrom"] for h in history["customer"]["cadenceHistory"]):
            return
        duplicate = {**kept.create_input, "name": f"{kept.name}（重复档案）"}
        duplicate.pop("contacts", None)
        try:
            created = await self.gql.call(
                """mutation($input: CreateCustomerInput!) {
                     createCustomer(input: $input) { customer { id } } }""",
                {"input": duplicate},
            )
            duplicate_id = created["createCustomer"]["customer"]["id"]
            self.created["merge demo duplicates"] += 1
        except GraphQLError as error:
            if error.code != "CONFLICT":
                raise
            duplicate_id = error.errors[0]["extensions"]["existingCustomerId"]
        cadence = await self.gql.call(
            "query($id: ID!) { customer(id: $id) { status engagementCadence } }",
            {"id": duplicate_id},
        )
        if cadence["customer"]["status"] == "PENDING_REVIEW":
            await self.gql.call(
                """mutation($input: ReviewCustomerInput!) {
                     approveCustomer(input: $input) { customer { id } } }""",
                {"input": {"id": duplicate_id, "comment": "demo data"}},
            )
        if cadence["customer"]["engagementCadence"] != "OBSERVATION":
            await self.gql.call(
                """mutation($input: SetEngagementCadenceInput!) {
                     setEngagementCadence(input: $input) { customer { id } } }""",
                {
                    "input": {
                        "customerId": duplicate_id,
                        "cadence": "OBSERVATION",
                        "reason": "预算冻结，下季度再跟进",
                    }
                },
            )
        await self.gql.call(
            """mutation($input: MergeCustomersInput!) {
                 mergeCustomers(input: $input) { customer { id } } }""",
            {"input": {"keepId": kept_id, "mergeId": duplicate_id}},
        )
        self.created["merges"] += 1

    async def _time_zone(self) -> None:
        settings = (await self.gql.call("{ tenantSettings { timeZone version } }"))[
            "tenantSettings"
        ]
        if settings["version"] == 0:
            await self.gql.call(
                """mutation($input: UpdateTenantSettingsInput!) {
                     updateTenantSettings(input: $input) { settings { version } } }""",
                {"input": {"timeZone": DEMO_TIME_ZONE}},
            )
            self.created["tenant settings"] += 1

    async def _role_permissions(self) -> None:
        """The demo tenant shapes its roles once (issue 18.3): service managers read a
        customer's change history (complaint handling), shown in rolePermissions."""
        matrix = (await self.gql.call("{ rolePermissions { changes { version } } }"))[
            "rolePermissions"
        ]
        if not matrix["changes"]:
            await self.gql.call(
                """mutation($input: UpdateRolePermissionsInput!) {
                     updateRolePermissions(input: $input) { version } }""",
                {"input": {"role": "service_manager", "grant": ["customer:history"]}},
            )
            self.created["role permission changes"] += 1

    async def _support_department(self) -> None:
        departments = (await self.gql.call("{ departments { name } }"))["departments"]
        if all(d["name"] != SUPPORT_DEPARTMENT for d in departments):
            await self.gql.call(
                """mutation($input: SetDepartmentInput!) {
                     setDepartment(input: $input) { departments { name } } }""",
                {"input": {"name": SUPPORT_DEPARTMENT}},
            )
            self.created["departments"] += 1

    async def _activities(self) -> None:
        self.activities = {
            a["title"]: a["id"] for a in await self.gql.all_nodes("activities", "id title")
        }
        for kind, title, days in ACTIVITIES:
            if title in self.activities:
                continue
            starts = datetime.combine(
                self.now.date() + timedelta(days=days),
                datetime.min.time().replace(hour=9),
                UTC,
            )
            data = await self.gql.call(
                """mutation($input: CreateActivityInput!) {
                     createActivity(input: $input) { activity { id } } }""",
                {
                    "input": {
                        "kind": kind,
                        "title": title,
                        "startsAt": starts.isoformat(),
                        "endsAt": (starts + timedelta(hours=3)).isoformat(),
                        "location": "Hangzhou" if kind != "WEBINAR" else None,
                    }
                },
            )
            self.activities[title] = data["createActivity"]["activity"]["id"]
            self.created["activities"] += 1
        for activity_id in self.activities.values():
            registered = await self.gql.all_nodes(
                "activityRegistrations", "customerId", f'activityId: "{activity_id}",'
            )
            self.registrations.update((activity_id, r["customerId"]) for r in registered)

    async def _catalogue(self) -> list[str]:
        solutions = (await self.gql.call("{ solutions { id name } }"))["solutions"]
        solution = next((s for s in solutions if s["name"] == SOLUTION["name"]), None)
        if solution is None:
            solution = (
                await self.gql.call(
                    """mutation($input: CreateSolutionInput!) {
                         createSolution(input: $input) { solution { id name } } }""",
                    {"input": SOLUTION},
                )
            )["createSolution"]["solution"]
            self.created["solutions"] += 1
        items = {
            i["code"]: i["id"]
            for i in (
                await self.gql.call(
                    "query($id: ID) { catalogueItems(solutionId: $id) { id code } }",
                    {"id": solution["id"]},
                )
            )["catalogueItems"]
        }
        for item in CATALOGUE:
            if item["code"] in items:
                continue
            data = await self.gql.call(
                """mutation($input: AddCatalogueItemInput!) {
                     addCatalogueItem(input: $input) { item { id code } } }""",
                {
                    "input": {
                        "solutionId": solution["id"],
                        "code": item["code"],
                        "name": item["name"],
                        "unit": item["unit"],
                        "listPrice": {"amountMinor": item["minor"], "currency": "CNY"},
                        "taxRateBp": 1300,
                    }
                },
            )
            items[item["code"]] = data["addCatalogueItem"]["item"]["id"]
            self.created["catalogue items"] += 1
        return [items[item["code"]] for item in CATALOGUE]

    async def _customer_records(
        self,
        customer: CustomerPlan,
        customer_id: str,
        items: list[str],
        interactions: set[tuple[str, str]],
        follow_ups: set[tuple[str, str]],
        opportunities: dict[tuple[str, str], Any],
        quotes: dict[str, Any],
        tickets: dict[tuple[str, str], Any],
    ) -> None:
        for interaction in customer.interactions:
            if (customer_id, interaction["content"]) not in interactions:
                await self.gql.call_when_replicated(
                    """mutation($input: LogInteractionInput!) {
                         logInteraction(input: $input) { interaction { id } } }""",
                    {"input": {"customerId": customer_id, **interaction}},
                )
                self.created["interactions"] += 1
        for follow_up in customer.follow_ups:
            if (customer_id, follow_up["goal"]) not in follow_ups:
                await self.gql.call_when_replicated(
                    """mutation($input: ScheduleFollowUpInput!) {
                         scheduleFollowUp(input: $input) { followUp { id } } }""",
                    {"input": {"customerId": customer_id, **follow_up}},
                )
                self.created["follow-ups"] += 1
        for ticket in customer.tickets:
            current = tickets.get((customer_id, ticket["title"]))
            if current is None:
                data = await self.gql.call_when_replicated(
                    """mutation($input: OpenTicketInput!) { openTicket(input: $input) {
                         ticket { id status } } }""",
                    {"input": {"customerId": customer_id, **ticket}},
                )
                current = data["openTicket"]["ticket"]
                self.created["tickets"] += 1
            if ticket["title"] in customer.resolved_tickets:
                scores = customer.resolved_tickets[ticket["title"]]
                await self._resolve_and_answer(customer_id, current, scores)
        if customer.activity is not None:
            activity_id = self.activities[customer.activity]
            if (activity_id, customer_id) not in self.registrations:
                data = await self.gql.call_when_replicated(
                    """mutation($input: RegisterForActivityInput!) {
                         registerForActivity(input: $input) { registration { id } } }""",
                    {"input": {"activityId": activity_id, "customerId": customer_id}},
                )
                self.created["activity registrations"] += 1
                if customer.activity == PAST_ACTIVITY:
                    # The training took place: most came (customersByActivity, ATTENDED /
                    # NO_SHOW, lists them for the follow-up after the event).
                    await self.gql.call(
                        """mutation($input: RecordAttendanceInput!) {
                             recordAttendance(input: $input) { registration { id } } }""",
                        {
                            "input": {
                                "id": data["registerForActivity"]["registration"]["id"],
                                "attended": len(customer.name) % 4 != 0,
                            }
                        },
                    )
                    self.created["attendance records"] += 1
        for opportunity in customer.opportunities:
            current = opportunities.get((customer_id, opportunity.name))
            await self._opportunity(customer_id, opportunity, current, items, quotes)
        if customer.files:
            await self._files(customer_id, customer.files)

    async def _files(self, customer_id: str, files: list[tuple[str, str]]) -> None:
        """Upload once (a customer with any file, deleted ones included, is done)."""
        listed = await self.gql.call(
            """query($id: ID!) { customerFiles(customerId: $id, first: 1, includeDeleted: true) {
                 totalCount } }""",
            {"id": customer_id},
        )
        if listed["customerFiles"]["totalCount"]:
            return
        ids: dict[str, str] = {}
        for name, kind in files:
            uploader = self.agent if kind == "DELIVERABLE" else self.gql
            body = f"%PDF-1.4 demo {kind} {name}".encode()
            stored = await uploader.upload(
                body, "application/pdf", kind=kind, customerId=customer_id, filename=name
            )
            ids[kind] = stored["id"]
            self.created["customer files"] += 1
        mutation = "mutation($input: {0}!) {{ {1}(input: $input) {{ file {{ id }} }} }}"
        if "CONTRACT" in ids:
            await self.gql.call(
                mutation.format("RenameCustomerFileInput", "renameCustomerFile"),
                {"input": {"id": ids["CONTRACT"], "filename": "框架合同 2026.pdf"}},
            )
        if "PROPOSAL" in ids:
            await self.gql.call(
                mutation.format("CategoriseCustomerFileInput", "categoriseCustomerFile"),
                {"input": {"id": ids["PROPOSAL"], "kind": "OTHER"}},
            )
            await self.gql.call(
                mutation.format("DeleteCustomerFileInput", "deleteCustomerFile"),
                {"input": {"id": ids["PROPOSAL"]}},
            )

    async def _resolve_and_answer(
        self, customer_id: str, ticket: Any, scores: list[int] | None
    ) -> None:
        """Resolve the ticket (which sends a survey) and answer the survey like a customer."""
        status = ticket["status"]
        if status == "NEW":
            await self.gql.call(
                """mutation($input: AssignTicketInput!) {
                     assignTicket(input: $input) { ticket { id } } }""",
                {
                    "input": {
                        "ticketId": ticket["id"],
                        "department": SUPPORT_DEPARTMENT,
                        "assigneeId": SEEDER_USER,
                    }
                },
            )
            status = "ASSIGNED"
        if status in ("ASSIGNED", "IN_PROGRESS", "WAITING_ON_CUSTOMER"):
            await self.gql.call(
                """mutation($input: ChangeTicketStatusInput!) {
                     changeTicketStatus(input: $input) { ticket { id } } }""",
                {"input": {"ticketId": ticket["id"], "status": "RESOLVED", "note": "demo: fixed"}},
            )
            self.created["ticket resolutions"] += 1
        if scores is None:
            return
        survey = self.surveys.get(ticket["id"]) or await self._sent_survey(
            customer_id, ticket["id"]
        )
        if survey["status"] != "SENT":
            return
        link = (
            await self.gql.call(
                """mutation($input: IssueSurveyLinkInput!) { issueSurveyLink(input: $input) {
                     token survey { dimensions { key } } } }""",
                {"input": {"surveyId": survey["id"]}},
            )
        )["issueSurveyLink"]
        keys = [d["key"] for d in link["survey"]["dimensions"]]
        if sum(scores) % 3 == 0:
            # 电话回访: about a third of the answers come from a follow-up call, recorded by an
            # agent on the customer's behalf (derived from the scores: no extra random draw).
            await self.gql.call(
                """mutation($input: RecordSurveyByPhoneInput!) {
                     recordSurveyByPhone(input: $input) { survey { id channel } } }""",
                {
                    "input": {
                        "surveyId": survey["id"],
                        "scores": [
                            {"dimension": key, "score": scores[n % len(scores)]}
                            for n, key in enumerate(keys)
                        ],
                        "comment": "Demo answer taken on the phone.",
                    }
                },
            )
            self.created["survey responses"] += 1
            self.created["survey responses by phone"] += 1
            return
        response = await self.public.post(
            self.survey_url,
            json={
                "token": link["token"],
                "scores": {key: scores[n % len(scores)] for n, key in enumerate(keys)},
                "comment": "Demo answer: thanks for the quick help.",
            },
        )
        response.raise_for_status()
        self.created["survey responses"] += 1

    async def _sent_survey(self, customer_id: str, ticket_id: str) -> Any:
        """The survey the resolution sends arrives by event: poll the customer's surveys."""
        deadline = time.monotonic() + REPLICA_WAIT_S
        while True:
            data = await self.gql.call(
                """query($id: ID!) { customer(id: $id) { surveys(first: 50) {
                     edges { node { id subjectId status } } } } }""",
                {"id": customer_id},
            )
            for edge in data["customer"]["surveys"]["edges"]:
                if edge["node"]["subjectId"] == ticket_id:
                    return edge["node"]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no survey was sent for ticket {ticket_id}")
            await asyncio.sleep(0.5)

    async def _opportunity(
        self,
        customer_id: str,
        plan_: OpportunityPlan,
        current: Any,
        items: list[str],
        quotes: dict[str, Any],
    ) -> None:
        if current is None:
            data = await self.gql.call(
                """mutation($input: CreateOpportunityInput!) {
                     createOpportunity(input: $input) {
                       opportunity { id stage latestAssessment { fit } } } }""",
                {
                    "input": {
                        "customerId": customer_id,
                        "name": plan_.name,
                        "amount": {"amountMinor": str(plan_.amount_minor), "currency": "CNY"},
                        "expectedCloseDate": (self.now.date() + timedelta(days=60)).isoformat(),
                    }
                },
            )
            current = data["createOpportunity"]["opportunity"]
            self.created["opportunities"] += 1
        stage = current["stage"]
        if plan_.target_stage == "LOST":
            if stage not in ("WON", "LOST"):
                await self._move(current["id"], "LOST", lossReason="demo: budget frozen")
        elif stage in STAGES:
            # Forward one stage at a time (the pipeline refuses skips).
            for next_stage in STAGES[
                STAGES.index(stage) + 1 : STAGES.index(plan_.target_stage) + 1
            ]:
                await self._move(current["id"], next_stage)
        if plan_.quote_status is not None:
            await self._quote(current["id"], plan_.quote_status, quotes.get(current["id"]), items)
        if plan_.assessment is not None and not current.get("latestAssessment"):
            fit, engagement, progress = plan_.assessment
            try:
                await self.gql.call(
                    """mutation($input: AssessOpportunityInput!) {
                         assessOpportunity(input: $input) { opportunity { id } } }""",
                    {
                        "input": {
                            "id": current["id"],
                            "fit": fit,
                            "engagement": engagement,
                            "decisionProgress": progress,
                        }
                    },
                )
                self.created["opportunity assessments"] += 1
            except GraphQLError as error:
                if error.code != "BAD_USER_INPUT":  # closed meanwhile: not assessed
                    raise

    async def _move(self, opportunity_id: str, stage: str, **extra: Any) -> None:
        await self.gql.call(
            """mutation($input: MoveOpportunityInput!) {
                 moveOpportunity(input: $input) { opportunity { id } } }""",
            {"input": {"id": opportunity_id, "stage": stage, **extra}},
        )
        self.created["opportunity moves"] += 1

    async def _quote(self, opportunity_id: str, target: str, quote: Any, items: list[str]) -> None:
        if quote is None:
            data = await self.gql.call(
                """mutation($input: CreateQuoteInput!) {
                     createQuote(input: $input) { quote { id status } } }""",
                {
                    "input": {
                        "opportunityId": opportunity_id,
                        "currency": "CNY",
                        # EXPIRED cannot be reached today (see the module docstring).
                        "validUntil": (
                            self.now.date() + timedelta(days=0 if target == "EXPIRED" else 30)
                        ).isoformat(),
                        # A 20 % discount needs a manager's decision (not auto-approved).
                        "lines": [
                            {"catalogueItemId": items[0], "quantity": "10", "discountBp": 2000},
                            {"catalogueItemId": items[1], "quantity": "2"},
                        ],
                    }
                },
            )
            quote = data["createQuote"]["quote"]
            self.created["quotes"] += 1
        status = quote["status"]
        # Walk the quote's workflow from where it is to the planned status.
        while status != target:
            step = _next_quote_step(status, target)
            if step is None:
                return
            mutation, input_type, extra, client = step
            data = await (self.approver if client == "approver" else self.gql).call(
                f"""mutation($input: {input_type}!) {{
                      {mutation}(input: $input) {{ quote {{ id status }} }} }}""",
                {"input": {"id": quote["id"], **extra}},
            )
            status = data[mutation]["quote"]["status"]
            self.created["quote moves"] += 1


def _lifecycle_moves(status: str, target: str) -> list[str]:
    """The changeCustomerStatus steps from `status` to `target` (none if there or beyond)."""
    if target == "CHURNED":
        return [] if status == "CHURNED" else ["CHURNED"]
    if status not in LIFECYCLE or LIFECYCLE.index(target) <= LIFECYCLE.index(status):
        return []
    return LIFECYCLE[LIFECYCLE.index(status) + 1 : LIFECYCLE.index(target) + 1]


def _next_quote_step(status: str, target: str) -> tuple[str, str, dict[str, Any], str] | None:
    responses = {"ACCEPTED": "ACCEPT", "NEGOTIATING": "NEGOTIATE", "DECLINED": "DECLINE"}
    if status == "DRAFT":
        return "submitQuote", "QuoteIdInput", {}, "seeder"
    if status == "PENDING_APPROVAL" and target == "REJECTED":
        return "rejectQuote", "DecideQuoteInput", {"comment": "demo: discount too high"}, "approver"
    if status == "PENDING_APPROVAL":
        return "approveQuote", "DecideQuoteInput", {"comment": "demo"}, "approver"
    if status == "APPROVED" and target in ("SENT", "EXPIRED", *responses):
        return "sendQuote", "QuoteIdInput", {}, "seeder"
    if status == "SENT" and target in responses:
        extra = {"response": responses[target], "comment": "demo answer"}
        return "respondToQuote", "RespondToQuoteInput", extra, "seeder"
    return None


async def seed(
    url: str,
    var_dir: Path,
    *,
    tenant: str = "demo",
    customers: int = 100,
    seed_value: int = 42,
    concurrency: int = 8,
    desk_url: str = DEFAULT_DESK_URL,
) -> Counter[str]:
    """Seed `tenant`; returns how many records of each kind were created (or moved)."""
    secret = load_or_create_dev_secret(var_dir / "dev-jwt-secret")
    seeder_token = issue_dev_token(secret, tenant=tenant, roles=["admin"], user_id=SEEDER_USER)
    approver_token = issue_dev_token(secret, tenant=tenant, roles=["admin"], user_id=APPROVER_USER)
    agent_token = issue_dev_token(
        secret, tenant=tenant, roles=["service_agent"], user_id="demo-service-agent"
    )
    now = datetime.now(UTC)
    plans = plan(customers, seed_value, now)
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=60) as http:
        seeder = Seeder(
            Gateway(http, url, seeder_token, limit),
            Gateway(http, url, approver_token, limit),
            now,
            http,
            desk_url,
            Gateway(http, url, agent_token, limit),
        )
        return await seeder.run(plans)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="the gateway's GraphQL endpoint")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
    parser.add_argument(
        "--desk-url", default=DEFAULT_DESK_URL, help="the service desk (public survey endpoint)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--var-dir", type=Path, default=REPO / "var", help="holds dev-jwt-secret")
    args = parser.parse_args()
    started = time.monotonic()
    created = asyncio.run(
        seed(
            args.url,
            args.var_dir,
            tenant=args.tenant,
            customers=args.customers,
            seed_value=args.seed,
            concurrency=args.concurrency,
            desk_url=args.desk_url,
        )
    )
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(created.items()))
    print(
        f"tenant {args.tenant!r} seeded in {time.monotonic() - started:.1f}s:",
        summary or "nothing new",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
