"""Engagement and Kafka: reminders with two replicas, the timeline, merge and churn reactions.

Events of other services are crafted here and published straight to their topics, the way
those services would (CloudEvents in binary mode), including a duplicate and a late one.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import stack

from crm_common.events.envelope import CloudEvent
from tests.e2e.client import eventually, new_tenant
from tests.e2e.engagement_support import (
    client,
    crafted_event,
    known_customer,
    log,
    publish,
    read_topic,
)

pytestmark = [pytest.mark.e2e]

SCHEDULE = """mutation($i: ScheduleFollowUpInput!) {
  scheduleFollowUp(input: $i) { followUp { id remindAt } } }"""
TIMELINE = """query($id: ID!, $types: [String!], $order: TimelineOrder) {
  customer(id: $id) { timeline(first: 100, types: $types, order: $order) {
    totalCount edges { node { id type service occurredAt data } } } } }"""
SECOND_REPLICA = stack.Component("engagement-replica", "crm_engagement.main", 8)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_reminders_fire_once_with_two_replicas(live_stack: stack.StackConfig) -> None:
    replica_config = dataclasses.replace(
        live_stack,
        extra_env={**live_stack.extra_env, "REMINDER_POLL_INTERVAL_S": "0.2"},
    )
    stack.start_component(replica_config, SECOND_REPLICA)
    try:
        stack.wait_ready(
            f"{replica_config.service_url(SECOND_REPLICA)}/readyz",
            60,
            SECOND_REPLICA.name,
            replica_config,
        )
        tenant = new_tenant()
        rep = client(live_stack, tenant, ["sales_rep"], user_id="rep")
        admin = client(live_stack, tenant, ["admin"])
        customer = await known_customer(rep, "Twin Replica Trading")
        # No lead: the reminder fires at the due time, and the task is overdue right after.
        (
            await admin.execute(
                """mutation { updateEngagementSettings(input: {reminderLeadMinutes: 0}) {
              settings { reminderLeadMinutes } } }"""
            )
        ).ok()
        due_at = datetime.now(UTC) + timedelta(seconds=3)
        ids = []
        for n in range(12):
            task = (
                await rep.execute(
                    SCHEDULE,
                    {
                        "i": {
                            "customerId": customer,
                            "type": "PHONE_CALL",
                            "goal": f"call {n}",
                            "dueAt": iso(due_at),
                        }
                    },
                )
            ).ok()["scheduleFollowUp"]["followUp"]
            ids.append(task["id"])

        def reminders(events: list[CloudEvent]) -> dict[tuple[str, str], set[str]]:
            """Event ids per (reminder kind, task). Delivery is at-least-once (two relays may
            both send one outbox entry), so exactly-once means one event id per pair."""
            found: dict[tuple[str, str], set[str]] = {}
            for e in events:
                if e.tenant_id == tenant and e.type.endswith(("followup_due", "followup_overdue")):
                    key = (e.type.rsplit(".", 1)[1], e.data["followup_id"])
                    found.setdefault(key, set()).add(e.id)
            return found

        async def all_announced() -> dict[tuple[str, str], set[str]] | None:
            seen = reminders(await read_topic(live_stack, "crm.engagement.v1"))
            return seen if len(seen) == 2 * len(ids) else None

        await eventually(all_announced, timeout_s=30, interval_s=0.5)
        mine = "{ myFollowUps(due: OVERDUE) { totalCount edges { node { status } } } }"

        async def all_overdue() -> bool:
            overdue = (await rep.execute(mine)).ok()["myFollowUps"]
            statuses = {e["node"]["status"] for e in overdue["edges"]}
            return overdue["totalCount"] == len(ids) and statuses == {"OVERDUE"}

        await eventually(all_overdue)
        # Several more scheduler rounds of both replicas later: still one event per pair.
        final = reminders(await read_topic(live_stack, "crm.engagement.v1"))
        assert set(final) == {(k, i) for i in ids for k in ("followup_due", "followup_overdue")}
        assert {len(event_ids) for event_ids in final.values()} == {1}
    finally:
        stack.stop_component(replica_config, SECOND_REPLICA)


async def test_timeline_orders_late_and_duplicate_events_once(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep")
    customer = await known_customer(rep, "Timeline Textiles")
    await log(rep, customer, content="hello")
    base = datetime.now(UTC) - timedelta(hours=3)
    opened = crafted_event(
        "crm.servicedesk.ticket_opened",
        tenant,
        customer,
        {"ticket_id": "T-1", "customer_id": customer, "contact_email": "boss@textiles.cn"},
        base + timedelta(hours=2),
    )
    late = crafted_event(
        "crm.quoting.quote_sent",
        tenant,
        customer,
        {"quote_id": "Q-1", "customer_id": customer},
        base + timedelta(hours=1),
    )
    # The ticket first, then its duplicate, then an event that happened earlier but arrives late.
    await publish(live_stack, "crm.servicedesk.v1", [opened, opened])
    await publish(live_stack, "crm.quoting.v1", [late])

    async def landed() -> list | None:  # type: ignore[type-arg]
        data = (await rep.execute(TIMELINE, {"id": customer, "order": "OLDEST_FIRST"})).ok()
        edges = data["customer"]["timeline"]["edges"]
        types = [e["node"]["type"] for e in edges]
        wanted = {
            "crm.servicedesk.ticket_opened",
            "crm.quoting.quote_sent",
            "crm.engagement.interaction_logged",
            "crm.customer.created",
        }
        return edges if wanted <= set(types) else None

    edges = await eventually(landed)
    types = [e["node"]["type"] for e in edges]
    assert types.count("crm.servicedesk.ticket_opened") == 1
    times = [e["node"]["occurredAt"] for e in edges]
    assert times == sorted(times)
    assert types.index("crm.quoting.quote_sent") < types.index("crm.servicedesk.ticket_opened")
    assert types.index("crm.servicedesk.ticket_opened") < types.index("crm.customer.created")

    # Newest first is the exact reverse. More events about the customer may still arrive (from
    # the customer service, say) between the two reads: read both orders again until a pair was
    # read with nothing landing in between.
    async def both_orders() -> tuple[list[str], list[str], int] | None:
        newest = (await rep.execute(TIMELINE, {"id": customer})).ok()["customer"]["timeline"]
        oldest = (await rep.execute(TIMELINE, {"id": customer, "order": "OLDEST_FIRST"})).ok()
        oldest_ids = [e["node"]["id"] for e in oldest["customer"]["timeline"]["edges"]]
        newest_ids = [e["node"]["id"] for e in newest["edges"]]
        if len(newest_ids) != len(oldest_ids):
            return None
        return newest_ids, oldest_ids, newest["totalCount"]

    newest_ids, oldest_ids, total = await eventually(both_orders)
    assert newest_ids == oldest_ids[::-1]
    assert total == len(oldest_ids)
    filtered = (
        await rep.execute(TIMELINE, {"id": customer, "types": ["crm.servicedesk.ticket_opened"]})
    ).ok()["customer"]["timeline"]
    assert filtered["totalCount"] == 1
    assert filtered["edges"][0]["node"]["service"] == "servicedesk"
    assert filtered["edges"][0]["node"]["data"]["contact_email"] == "boss@textiles.cn"
    analyst = client(live_stack, tenant, ["analyst"])
    masked = (
        await analyst.execute(
            TIMELINE, {"id": customer, "types": ["crm.servicedesk.ticket_opened"]}
        )
    ).ok()["customer"]["timeline"]
    assert masked["edges"][0]["node"]["data"]["contact_email"] == "***"
    outsider = client(live_stack, new_tenant(), ["admin"])
    assert (await outsider.execute(TIMELINE, {"id": customer})).ok()["customer"] is None


async def test_merge_repoints_and_churn_risk_opens_one_retention_task(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep")
    kept = await known_customer(rep, "Kept Holdings")
    merged = await known_customer(rep, "Kept Holdings (duplicate)")
    await log(rep, kept, content="on the kept one")
    await log(rep, merged, content="on the duplicate")
    (
        await rep.execute(
            SCHEDULE,
            {
                "i": {
                    "customerId": merged,
                    "type": "EMAIL",
                    "goal": "send deck",
                    "dueAt": iso(datetime.now(UTC) + timedelta(days=2)),
                }
            },
        )
    ).ok()
    activity = (
        await rep.execute(
            """mutation { createActivity(input: {kind: EXHIBITION, title: "Canton Fair",
          startsAt: "2030-04-15T02:00:00Z"}) { activity { id } } }"""
        )
    ).ok()["createActivity"]["activity"]["id"]
    (
        await rep.execute(
            """mutation($a: ID!, $c: ID!) {
              registerForActivity(input: {activityId: $a, customerId: $c}) { registration { id } }
            }""",
            {"a": activity, "c": merged},
        )
    ).ok()
    now = datetime.now(UTC)
    merge = crafted_event(
        "crm.customer.merged",
        tenant,
        kept,
        {"kept_id": kept, "merged_id": merged, "actor_id": "rep", "merged_at": iso(now)},
        now,
    )
    await publish(live_stack, "crm.customer.v1", [merge, merge])

    query = """query($id: ID!) { customer(id: $id) {
      interactions(first: 10) { totalCount }
      followUps(first: 10) { totalCount edges { node { goal priority origin assigneeId } } }
      activities(first: 10) { totalCount } } }"""

    async def repointed() -> dict | None:  # type: ignore[type-arg]
        data = (await rep.execute(query, {"id": kept})).ok()["customer"]
        counts = [data[f]["totalCount"] for f in ("interactions", "followUps", "activities")]
        return data if counts == [2, 1, 1] else None

    await eventually(repointed)
    gone = (await rep.execute(query, {"id": merged})).ok()["customer"]
    assert gone["interactions"]["totalCount"] == 0 and gone["followUps"]["totalCount"] == 0

    # Churn risk: one retention follow-up per raise, a redelivered raise changes nothing.
    def raise_event(score: int) -> CloudEvent:
        at = datetime.now(UTC)
        return crafted_event(
            "crm.insights.churn_risk_raised",
            tenant,
            kept,
            {
                "customer_id": kept,
                "owner_id": "rep",
                "score": score,
                "threshold": 70,
                "drivers": ["interaction frequency falling"],
                "model_version": "v1",
                "raised_at": iso(at),
            },
            at,
        )

    first_raise, second_raise = raise_event(81), raise_event(90)
    raises = [first_raise, first_raise, second_raise]
    await publish(live_stack, "crm.insights.v1", raises)

    async def retention_tasks() -> list | None:  # type: ignore[type-arg]
        data = (await rep.execute(query, {"id": kept})).ok()["customer"]["followUps"]["edges"]
        found = [e["node"] for e in data if e["node"]["origin"] == "CHURN_RISK"]
        return found if len(found) >= 2 else None

    tasks = await eventually(retention_tasks)
    assert len(tasks) == 2
    assert {t["priority"] for t in tasks} == {"HIGH"}
    assert {t["assigneeId"] for t in tasks} == {"rep"}
    assert any("81" in t["goal"] for t in tasks) and any("90" in t["goal"] for t in tasks)
