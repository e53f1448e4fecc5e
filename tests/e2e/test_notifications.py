"""The notification inbox and live subscriptions against the real stack.

A follow-up reminder becomes an inbox item for its assignee only (not another rep, not the
same user id in another tenant); read state and unread counts; preferences that turn a kind
off; ``notificationAdded`` over graphql-transport-ws straight at the engagement subgraph, once
per subscriber with every replica running; ``ticketChanged`` at the service-desk subgraph.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack

from crm_common.auth import issue_dev_token, load_or_create_dev_secret
from tests.e2e.client import GraphQLClient, eventually, new_tenant, token_for
from tests.e2e.engagement_support import client, known_customer, read_topic
from tests.e2e.live_support import live_listeners, subscribe
from tests.e2e.service_desk_support import (
    ASSIGN_TICKET,
    CHANGE_STATUS,
    SERVICE_DESK,
    SET_DEPARTMENT,
    open_ticket_when_known,
    ticket_op,
)

pytestmark = [pytest.mark.e2e]

ENGAGEMENT = next(c for c in stack.SERVICES if c.name == "engagement")
SCHEDULE = """mutation($i: ScheduleFollowUpInput!) {
  scheduleFollowUp(input: $i) { followUp { id } } }"""
INBOX = """query($unread: Boolean, $after: String, $first: Int) {
  notifications(first: $first, after: $after, unreadOnly: $unread) {
    totalCount unreadCount pageInfo { hasNextPage endCursor }
    edges { node {
      id kind title body recordType recordId customerId createdAt read readAt } } } }"""
MARK = """mutation($id: ID!) { markNotificationRead(id: $id) {
  notification { id read readAt } unreadCount } }"""
MARK_ALL = "mutation { markAllNotificationsRead { marked unreadCount } }"
PREFS = """query { notificationPreferences { email
  kinds { kind enabled channels emailMode } } }"""
UPDATE_PREFS = """mutation($i: UpdateNotificationPreferencesInput!) {
  updateNotificationPreferences(input: $i) { preferences { email
    kinds { kind enabled channels emailMode } } } }"""
ADDED = "subscription { notificationAdded { id kind title recordId customerId read } }"
TICKET_CHANGED = """subscription($id: ID!) {
  ticketChanged(id: $id) { id status assigneeId department } }"""


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def no_reminder_lead(config: stack.StackConfig, tenant: str) -> None:
    admin = client(config, tenant, ["admin"])
    (
        await admin.execute(
            """mutation { updateEngagementSettings(input: {reminderLeadMinutes: 0}) {
          settings { reminderLeadMinutes } } }"""
        )
    ).ok()


async def schedule(rep: GraphQLClient, customer: str, goal: str, in_s: float = 2) -> str:
    due = datetime.now(UTC) + timedelta(seconds=in_s)
    data = (
        await rep.execute(
            SCHEDULE,
            {"i": {"customerId": customer, "type": "PHONE_CALL", "goal": goal, "dueAt": iso(due)}},
        )
    ).ok()
    followup_id: str = data["scheduleFollowUp"]["followUp"]["id"]
    return followup_id


async def inbox(user: GraphQLClient, **variables: Any) -> dict[str, Any]:
    data: dict[str, Any] = (await user.execute(INBOX, {"first": 50, **variables})).ok()
    return data["notifications"]  # type: ignore[no-any-return]


async def test_a_reminder_reaches_its_assignee_only(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-a")
    other_rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-b")
    same_id_elsewhere = client(live_stack, new_tenant(), ["sales_rep"], user_id="rep-a")
    await no_reminder_lead(live_stack, tenant)
    customer = await known_customer(rep, "Inbox Trading")
    followup = await schedule(rep, customer, "call about the renewal")

    async def both_arrived() -> dict[str, Any] | None:
        page = await inbox(rep)
        kinds = {e["node"]["kind"] for e in page["edges"]}
        return page if {"FOLLOWUP_DUE", "FOLLOWUP_OVERDUE"} <= kinds else None

    page = await eventually(both_arrived, timeout_s=60, interval_s=0.5)
    assert page["totalCount"] == 2 and page["unreadCount"] == 2
    nodes = [e["node"] for e in page["edges"]]
    assert {n["recordId"] for n in nodes} == {followup}
    assert {n["customerId"] for n in nodes} == {customer}
    assert {n["recordType"] for n in nodes} == {"followup"}
    assert all("call about the renewal" in n["title"] for n in nodes)
    assert nodes[0]["createdAt"] >= nodes[1]["createdAt"]  # newest first

    # Nobody else sees them: another rep of the tenant, the same user id in another tenant.
    assert (await inbox(other_rep))["totalCount"] == 0
    assert (await inbox(same_id_elsewhere))["totalCount"] == 0
    foreign = await other_rep.execute(MARK, {"id": nodes[0]["id"]})
    assert foreign.error_codes() == ["NOT_FOUND"]
    assert foreign.errors[0]["extensions"]["field"] == "id"

    # Paging: one per page, the cursor leads to the other.
    first = await inbox(rep, first=1)
    assert first["pageInfo"]["hasNextPage"]
    second = await inbox(rep, first=1, after=first["pageInfo"]["endCursor"])
    assert {first["edges"][0]["node"]["id"], second["edges"][0]["node"]["id"]} == {
        n["id"] for n in nodes
    }

    # Read state.
    marked = (await rep.execute(MARK, {"id": nodes[0]["id"]})).ok()["markNotificationRead"]
    assert marked["notification"]["read"] and marked["notification"]["readAt"]
    assert marked["unreadCount"] == 1
    unread = await inbox(rep, unread=True)
    assert [e["node"]["id"] for e in unread["edges"]] == [nodes[1]["id"]]
    all_read = (await rep.execute(MARK_ALL)).ok()["markAllNotificationsRead"]
    assert all_read == {"marked": 1, "unreadCount": 0}
    assert (await inbox(rep, unread=True))["totalCount"] == 0
    assert (await inbox(rep))["totalCount"] == 2

    bad = await rep.execute(INBOX, {"first": 500})
    assert bad.error_codes() == ["BAD_USER_INPUT"]


async def test_preferences_turn_a_kind_off_and_capture_the_email(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    secret = load_or_create_dev_secret(live_stack.var_dir / "dev-jwt-secret")
    token = issue_dev_token(
        secret, tenant=tenant, roles=["sales_rep"], user_id="rep-c", email="rep.c@example.com"
    )
    rep = GraphQLClient(live_stack.gateway_url, token)
    prefs = (await rep.execute(PREFS)).ok()["notificationPreferences"]
    assert prefs["email"] == "rep.c@example.com"
    due_pref = next(k for k in prefs["kinds"] if k["kind"] == "FOLLOWUP_DUE")
    assert due_pref == {
        "kind": "FOLLOWUP_DUE",
        "enabled": True,
        "channels": ["INBOX"],
        "emailMode": "IMMEDIATE",
    }

    wrong = await rep.execute(UPDATE_PREFS, {"i": {"email": "not-an-address"}})
    assert wrong.error_codes() == ["BAD_USER_INPUT"]
    assert wrong.errors[0]["extensions"]["field"] == "input.email"
    no_channel = await rep.execute(
        UPDATE_PREFS, {"i": {"kinds": [{"kind": "QUOTE_APPROVED", "channels": []}]}}
    )
    assert no_channel.errors[0]["extensions"]["field"] == "input.kinds.0.channels"
    no_address = await rep.execute(
        UPDATE_PREFS,
        {"i": {"email": None, "kinds": [{"kind": "IMPORT_FINISHED", "channels": ["EMAIL"]}]}},
    )
    assert no_address.errors[0]["extensions"]["field"] == "input.email"

    updated = (
        await rep.execute(
            UPDATE_PREFS,
            {
                "i": {
                    "kinds": [
                        {"kind": "FOLLOWUP_DUE", "enabled": False},
                        {
                            "kind": "FOLLOWUP_OVERDUE",
                            "channels": ["INBOX", "EMAIL"],
                            "emailMode": "DIGEST",
                        },
                    ]
                }
            },
        )
    ).ok()["updateNotificationPreferences"]["preferences"]
    kinds = {k["kind"]: k for k in updated["kinds"]}
    assert kinds["FOLLOWUP_DUE"]["enabled"] is False
    assert kinds["FOLLOWUP_OVERDUE"]["channels"] == ["INBOX", "EMAIL"]
    assert kinds["FOLLOWUP_OVERDUE"]["emailMode"] == "DIGEST"

    await no_reminder_lead(live_stack, tenant)
    customer = await known_customer(rep, "Quiet Preferences Ltd")
    await schedule(rep, customer, "only the overdue one")

    async def overdue_arrived() -> dict[str, Any] | None:
        page = await inbox(rep)
        return page if page["totalCount"] >= 1 else None

    page = await eventually(overdue_arrived, timeout_s=60, interval_s=0.5)
    # The due reminder fired before the overdue one; only the overdue one is in the inbox.
    assert [e["node"]["kind"] for e in page["edges"]] == ["FOLLOWUP_OVERDUE"]


async def _await_listener(base_url: str, before: float) -> None:
    async def registered() -> bool:
        return await live_listeners(base_url) > before

    await eventually(registered, timeout_s=30, interval_s=0.1)


async def test_notification_added_once_per_subscriber_on_every_replica(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-live")
    await no_reminder_lead(live_stack, tenant)
    customer = await known_customer(rep, "Live Wire Co")
    rep_token = token_for(live_stack.var_dir, tenant, ["sales_rep"], user_id="rep-live")
    bystander_token = token_for(live_stack.var_dir, tenant, ["sales_rep"], user_id="rep-idle")
    replicas = live_stack.service_urls(ENGAGEMENT)
    async with contextlib.AsyncExitStack() as stack_cm:
        subscribers = []
        for base in replicas:
            before = await live_listeners(base)
            subscribers.append(
                await stack_cm.enter_async_context(subscribe(f"{base}/graphql", rep_token, ADDED))
            )
            await _await_listener(base, before)
        before = await live_listeners(replicas[0])
        bystander = await stack_cm.enter_async_context(
            subscribe(f"{replicas[0]}/graphql", bystander_token, ADDED)
        )
        await _await_listener(replicas[0], before)

        tasks = [await schedule(rep, customer, f"live call {n}") for n in range(3)]
        expected = 2 * len(tasks)  # due + overdue each

        async def all_delivered() -> bool:
            return all(len(s.results) >= expected for s in subscribers)

        await eventually(all_delivered, timeout_s=90, interval_s=0.2)
        # A marker after them (same recipient: same partition, so it comes after any copy
        # of the earlier events): once it is in, nothing earlier can still be on its way.
        marker = await schedule(rep, customer, "marker", in_s=1)

        async def marker_in() -> bool:
            return all(
                any(r["notificationAdded"]["recordId"] == marker for r in s.results)
                and sum(r["notificationAdded"]["recordId"] == marker for r in s.results) == 2
                for s in subscribers
            )

        await eventually(marker_in, timeout_s=90, interval_s=0.2)
        for subscriber in subscribers:
            ids = [r["notificationAdded"]["id"] for r in subscriber.results]
            assert len(ids) == len(set(ids)) == expected + 2, subscriber.messages
            assert {r["notificationAdded"]["recordId"] for r in subscriber.results} == {
                *tasks,
                marker,
            }
            assert not subscriber.errors
        assert bystander.results == [] and not bystander.errors
        # The live items are the inbox items.
        inbox_ids = {e["node"]["id"] for e in (await inbox(rep))["edges"]}
        assert {r["notificationAdded"]["id"] for r in subscribers[0].results} == inbox_ids


async def test_subscriptions_need_a_token(live_stack: stack.StackConfig) -> None:
    import aiohttp

    url = live_stack.service_url(ENGAGEMENT).replace("http://", "ws://") + "/graphql"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url, protocols=["graphql-transport-ws"])
    assert refused.value.status == 401


async def test_a_subscription_ends_when_its_token_expires(live_stack: stack.StackConfig) -> None:
    secret = load_or_create_dev_secret(live_stack.var_dir / "dev-jwt-secret")
    token = issue_dev_token(
        secret, tenant=new_tenant(), roles=["sales_rep"], user_id="short", ttl_s=8
    )
    base = live_stack.service_url(ENGAGEMENT)
    async with subscribe(f"{base}/graphql", token, ADDED) as s:
        await eventually(lambda: _done(s), timeout_s=60, interval_s=0.2)
        assert [e["extensions"]["code"] for e in s.errors] == ["UNAUTHENTICATED"]


async def test_ticket_changed_follows_one_ticket(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"], user_id="boss")
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1")
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-1")
    customer = await known_customer(rep, "Ticket Watchers Ltd")
    (await admin.execute(SET_DEPARTMENT, {"input": {"name": "network", "leadId": "lead-1"}})).ok()
    ticket = await open_ticket_when_known(agent, customerId=customer, priority="HIGH")
    agent_token = token_for(live_stack.var_dir, tenant, ["service_agent"], user_id="agent-1")
    base = live_stack.service_url(SERVICE_DESK)

    # Another tenant's admin cannot watch it: NOT_FOUND at once.
    outsider = token_for(live_stack.var_dir, new_tenant(), ["admin"])
    async with subscribe(f"{base}/graphql", outsider, TICKET_CHANGED, {"id": ticket["id"]}) as s:
        await eventually(lambda: _done(s), timeout_s=30)
        assert [e["extensions"]["code"] for e in s.errors] == ["NOT_FOUND"]

    before = await live_listeners(base)
    async with subscribe(f"{base}/graphql", agent_token, TICKET_CHANGED, {"id": ticket["id"]}) as s:
        await _await_listener(base, before)
        await ticket_op(
            agent,
            ASSIGN_TICKET,
            "assignTicket",
            ticketId=ticket["id"],
            department="network",
            assigneeId="agent-2",
        )

        async def changed() -> bool:
            return bool(s.results)

        await eventually(changed, timeout_s=60, interval_s=0.1)
        assert s.results[0]["ticketChanged"] == {
            "id": ticket["id"],
            "status": "ASSIGNED",
            "assigneeId": "agent-2",
            "department": "network",
        }
        # A status move by hand reaches it too (crm.servicedesk.ticket_status_changed).
        await ticket_op(
            agent, CHANGE_STATUS, "changeTicketStatus", ticketId=ticket["id"], status="IN_PROGRESS"
        )

        async def moved() -> bool:
            return len(s.results) >= 2

        await eventually(moved, timeout_s=60, interval_s=0.1)
        assert [r["ticketChanged"]["status"] for r in s.results] == ["ASSIGNED", "IN_PROGRESS"]
        assert not s.errors

    # The assignment is also in agent-2's inbox.
    assignee = client(live_stack, tenant, ["service_agent"], user_id="agent-2")

    async def assigned_note() -> dict[str, Any] | None:
        page = await inbox(assignee)
        return page if page["totalCount"] else None

    page = await eventually(assigned_note, timeout_s=60, interval_s=0.5)
    assert [e["node"]["kind"] for e in page["edges"]] == ["TICKET_ASSIGNED"]
    assert page["edges"][0]["node"]["recordId"] == ticket["id"]


async def _done(subscriber: Any) -> bool:
    return bool(subscriber.completed)


async def _closed(subscriber: Any) -> bool:
    return bool(subscriber.closed)


QUOTING = next(c for c in stack.SERVICES if c.name == "quoting")
CREATE_OPPORTUNITY = """mutation($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } } }"""
CREATE_QUOTE = (
    """mutation($input: CreateQuoteInput!) { createQuote(input: $input) { quote { id } } }"""
)
SUBMIT_QUOTE = (
    """mutation($input: QuoteIdInput!) { submitQuote(input: $input) { quote { status } } }"""
)
APPROVE_QUOTE = """mutation($input: DecideQuoteInput!) {
  approveQuote(input: $input) { quote { status } } }"""
QUOTE_CHANGED = "subscription($id: ID!) { quoteChanged(id: $id) { id status } }"


async def test_quote_approval_reaches_team_managers_and_owner_live(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rita", team="north")
    secret = load_or_create_dev_secret(live_stack.var_dir / "dev-jwt-secret")
    manager = GraphQLClient(
        live_stack.gateway_url,
        issue_dev_token(
            secret,
            tenant=tenant,
            roles=["sales_manager"],
            user_id="mike",
            team="north",
            email="mike@example.com",
        ),
    )
    # Mike wants approvals by e-mail too: known as a member of his audience by this request.
    (
        await manager.execute(
            UPDATE_PREFS,
            {"i": {"kinds": [{"kind": "QUOTE_AWAITING_APPROVAL", "channels": ["INBOX", "EMAIL"]}]}},
        )
    ).ok()
    other_team = client(live_stack, tenant, ["sales_manager"], user_id="sam", team="south")
    customer = await known_customer(rep, "Approval Watchers Co")

    async def opened() -> str | None:
        response = await rep.execute(
            CREATE_OPPORTUNITY, {"input": {"customerId": customer, "name": "Rollout"}}
        )
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None  # quoting learns the customer from Kafka a moment later
        return str(response.ok()["createOpportunity"]["opportunity"]["id"])

    opportunity = await eventually(opened, timeout_s=60)
    due = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    line = {
        "description": "Seats",
        "unit": "seat",
        "quantity": "10",
        "unitPriceMinor": "100000",
        "taxRateBp": 600,
        "discountBp": 4000,  # over any auto-approval threshold: a manager must decide
    }
    quote = (
        await rep.execute(
            CREATE_QUOTE,
            {
                "input": {
                    "opportunityId": opportunity,
                    "currency": "CNY",
                    "validUntil": due,
                    "lines": [line],
                }
            },
        )
    ).ok()["createQuote"]["quote"]["id"]

    rep_token = token_for(live_stack.var_dir, tenant, ["sales_rep"], user_id="rita", team="north")
    base = live_stack.service_url(QUOTING)
    before = await live_listeners(base)
    async with subscribe(f"{base}/graphql", rep_token, QUOTE_CHANGED, {"id": quote}) as s:
        await _await_listener(base, before)
        submitted = (await rep.execute(SUBMIT_QUOTE, {"input": {"id": quote}})).ok()
        assert submitted["submitQuote"]["quote"]["status"] == "PENDING_APPROVAL"

        # The team's manager finds it in the inbox (an audience notification, copied to them).
        async def awaiting() -> dict[str, Any] | None:
            page = await inbox(manager)
            kinds = {e["node"]["kind"] for e in page["edges"]}
            return page if "QUOTE_AWAITING_APPROVAL" in kinds else None

        page = await eventually(awaiting, timeout_s=60, interval_s=0.5)
        assert page["totalCount"] == 2
        by_kind = {e["node"]["kind"]: e["node"] for e in page["edges"]}
        # The new customer waited for their review too (the rep's creation, same team).
        assert set(by_kind) == {"QUOTE_AWAITING_APPROVAL", "CUSTOMER_AWAITING_REVIEW"}
        assert by_kind["CUSTOMER_AWAITING_REVIEW"]["recordId"] == customer
        note = by_kind["QUOTE_AWAITING_APPROVAL"]
        assert (note["recordId"], note["customerId"], note["read"]) == (quote, customer, False)

        # His copy was made at once and announced with his address (for the e-mail sender).
        # The announcement leaves through the outbox, after the inbox write: wait for it.
        async def announcements() -> list[dict[str, Any]] | None:
            announced = [
                e.data
                for e in await read_topic(live_stack, "crm.engagement.v1")
                if e.tenant_id == tenant and e.type == "crm.engagement.notification_created"
            ]
            arrived = {(d["recipient_id"], d["kind"]) for d in announced}
            wanted = {
                ("mike", "QUOTE_AWAITING_APPROVAL"),
                ("audience:sales_manager:north", "QUOTE_AWAITING_APPROVAL"),
            }
            return announced if wanted <= arrived else None

        announced = await eventually(announcements, timeout_s=60, interval_s=0.5)
        mine = [d for d in announced if d["recipient_id"] == "mike"]
        assert [(d["kind"], d["email"], d["notification_id"]) for d in mine] == [
            ("QUOTE_AWAITING_APPROVAL", "mike@example.com", note["id"])
        ]
        audience = [d for d in announced if d["recipient_id"].startswith("audience:")]
        assert {d["recipient_id"] for d in audience} == {"audience:sales_manager:north"}
        assert all(d["email"] is None for d in audience)
        assert (await inbox(other_team))["totalCount"] == 0  # another team's manager
        assert (await inbox(rep))["totalCount"] == 0  # not the submitter's business

        (await manager.execute(APPROVE_QUOTE, {"input": {"id": quote}})).ok()

        async def approved() -> bool:
            return any(r["quoteChanged"]["status"] == "APPROVED" for r in s.results)

        await eventually(approved, timeout_s=60, interval_s=0.1)
        assert s.results[0]["quoteChanged"] == {"id": quote, "status": "PENDING_APPROVAL"}
        assert not s.errors

    async def owner_told() -> dict[str, Any] | None:
        page = await inbox(rep)
        return page if page["totalCount"] else None

    page = await eventually(owner_told, timeout_s=60, interval_s=0.5)
    assert [e["node"]["kind"] for e in page["edges"]] == ["QUOTE_APPROVED"]
    # The manager's copy has its own read state: marking it leaves nobody else's.
    (await manager.execute(MARK_ALL)).ok()
    assert (await inbox(manager, unread=True))["totalCount"] == 0
    assert (await inbox(rep, unread=True))["totalCount"] == 1


async def test_a_replica_shutting_down_closes_its_subscriptions(
    live_stack: stack.StackConfig,
) -> None:
    """SIGTERM: the sockets close at once ("going away"), so clients move to another replica
    instead of the process waiting out its shutdown timeout for them."""
    replica = live_stack.replicas - 1
    token = token_for(live_stack.var_dir, new_tenant(), ["sales_rep"])
    base = live_stack.service_url(ENGAGEMENT, replica)
    try:
        async with subscribe(f"{base}/graphql", token, ADDED) as s:
            started = asyncio.get_running_loop().time()
            await asyncio.to_thread(stack.stop_component, live_stack, ENGAGEMENT, replica=replica)
            await eventually(lambda: _closed(s), timeout_s=30, interval_s=0.1)
            assert asyncio.get_running_loop().time() - started < 8
    finally:
        await asyncio.to_thread(stack.restart_replica, live_stack, ENGAGEMENT, replica)
