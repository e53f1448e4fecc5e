"""Every service's read models rebuild from the topics to exactly what live holds.

A tenant lives through the gateway: its time zone changes, customers are created, approved
and given contacts, interactions and a follow-up are logged, an opportunity is assessed,
quoted and won (DEAL: a care plan, a service order), a ticket is opened, a customer changes
owner, one is merged into another (and its records follow it, its follow-up cadence too),
which is merged in turn (a chain), people decide cadences by hand (`setEngagementCadence`: the
customer service rebuilds them from its own announcements), one is deleted and restored, one
stays deleted, a ticket is resolved (a survey goes out), and interactions are logged after each
merge. Once every outbox is drained
and every consumer group has read to the end of its topics (polled, no sleeps), each of the
five services is replayed into a fresh database (`crm_common.events.replay`, the same path as
``make replay``; this tenant only, as ``--tenant`` does: the topics also hold every other test's
events) and compared with live, per collection: the read models
must be identical but for the fields each spec names with its reason, and the own records
the rebuild was seeded with must come out of the replay unchanged.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_common.events.replay import (
    BOOKKEEPING,
    ReplaySpec,
    compare,
    partitions_of,
    replay_service,
)
from crm_common.mongo import create_client
from tests.e2e.client import GraphQLClient, eventually, new_tenant
from tests.e2e.test_customer_profile import ASSIGN, DELETE, MERGE, RESTORE, client, create
from tests.support.replicas import until

pytestmark = [pytest.mark.e2e]

SERVICES = {
    "customer": "crm_customer",
    "engagement": "crm_engagement",
    "quoting": "crm_quoting",
    "service-desk": "crm_service_desk",
    "insights": "crm_insights",
}


def spec_of(service: str) -> ReplaySpec:
    module = importlib.import_module(f"{SERVICES[service]}.adapters.replay")
    spec: ReplaySpec = module.SPEC
    return spec


def _m(name: str, input_type: str, selection: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {selection} }} }}"


SETTINGS = """mutation($i: UpdateTenantSettingsInput!) {
  updateTenantSettings(input: $i) { settings { timeZone version } } }"""
APPROVE = _m("approveCustomer", "ReviewCustomerInput", "customer { id status }")
ADD_CONTACT = _m("addContact", "AddContactInput", "contact { id }")
LOG = _m("logInteraction", "LogInteractionInput", "interaction { id }")
SCHEDULE = _m("scheduleFollowUp", "ScheduleFollowUpInput", "followUp { id }")
COMPLETE = _m("completeFollowUp", "CompleteFollowUpInput", "followUp { id status }")
OPEN_OPPORTUNITY = _m("createOpportunity", "CreateOpportunityInput", "opportunity { id }")
ASSESS = _m("assessOpportunity", "AssessOpportunityInput", "opportunity { id }")
MOVE = _m("moveOpportunity", "MoveOpportunityInput", "opportunity { id stage }")
CREATE_QUOTE = _m("createQuote", "CreateQuoteInput", "quote { id status }")
SUBMIT = _m("submitQuote", "QuoteIdInput", "quote { id status }")
SEND = _m("sendQuote", "QuoteIdInput", "quote { id status }")
RESPOND = _m("respondToQuote", "RespondToQuoteInput", "quote { id status }")
OPEN_TICKET = _m("openTicket", "OpenTicketInput", "ticket { id }")
TICKET_STATUS = _m("changeTicketStatus", "ChangeTicketStatusInput", "ticket { id status }")
ASSIGN_TICKET = _m("assignTicket", "AssignTicketInput", "ticket { id status }")
DEPARTMENT = _m("setDepartment", "SetDepartmentInput", "departments { name }")
STATUS = "query($id: ID!) { customer(id: $id) { id status } }"
SET_CADENCE = _m("setEngagementCadence", "SetEngagementCadenceInput", "customer { id }")
CADENCE = "query($id: ID!) { customer(id: $id) { id engagementCadence } }"


async def _do(gql: GraphQLClient, mutation: str, **data: Any) -> Any:
    return next(iter((await gql.execute(mutation, {"input": data})).ok().values()))


async def _once_known(gql: GraphQLClient, mutation: str, **data: Any) -> Any:
    """Retry while the service has not learned the customer from its event yet."""

    async def attempt() -> Any:
        response = await gql.execute(mutation, {"input": data})
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None
        return next(iter(response.ok().values()))

    return await eventually(attempt, timeout_s=60, interval_s=0.2)


async def _scenario(config: stack.StackConfig, tenant: str) -> None:
    admin = client(config, tenant, ["admin"], user_id="root")
    manager = client(config, tenant, ["sales_manager"], user_id="mgr", team="north")
    rep = client(config, tenant, ["sales_rep"], user_id="rep-a", team="north")

    # The tenant's time zone changes (settings copies everywhere; insights' period keys).
    await admin.execute(SETTINGS, {"i": {"timeZone": "Asia/Tokyo"}})
    (await admin.execute(SETTINGS, {"i": {"timeZone": "Europe/Berlin"}})).ok()

    kept = (await create(rep, f"Kept Trading {uuid.uuid4().hex[:6]}"))["id"]
    merged = (await create(rep, f"Merged Trading {uuid.uuid4().hex[:6]}"))["id"]
    restored = (await create(rep, f"Restored Trading {uuid.uuid4().hex[:6]}"))["id"]
    gone = (await create(rep, f"Gone Trading {uuid.uuid4().hex[:6]}"))["id"]
    final = (await create(rep, f"Final Trading {uuid.uuid4().hex[:6]}"))["id"]
    for cid in (kept, merged, restored, gone, final):
        await _do(manager, APPROVE, id=cid, comment="ok")
    for cid in (kept, merged):
        await _do(rep, ADD_CONTACT, customerId=cid, contact={"name": "Wang Fang"})

    now = datetime.now(UTC)
    for n, cid in enumerate((kept, merged, merged, restored)):
        occurred = (now - timedelta(days=3 + n)).isoformat()
        await _once_known(
            rep, LOG, customerId=cid, kind="PHONE_CALL", content=f"call {n}", occurredAt=occurred
        )
    planned = await _once_known(
        rep,
        SCHEDULE,
        customerId=merged,
        type="MEETING",
        dueAt=(now + timedelta(days=2)).isoformat(),
        goal="demo",
    )
    await _do(rep, COMPLETE, id=planned["followUp"]["id"], outcome="went well")

    # The merged customer's opportunity: assessed (cadence), quoted and won (DEAL).
    opportunity = (
        await _once_known(
            rep,
            OPEN_OPPORTUNITY,
            customerId=merged,
            name="Fleet deal",
            amount={"amountMinor": "500000", "currency": "CNY"},
        )
    )["opportunity"]["id"]
    await _do(rep, ASSESS, id=opportunity, fit="HIGH", engagement="PROACTIVE")
    for stage in ("NEEDS_ANALYSIS", "SOLUTION", "QUOTE"):
        await _do(rep, MOVE, id=opportunity, stage=stage)
    quote = (
        await _do(
            rep,
            CREATE_QUOTE,
            opportunityId=opportunity,
            currency="CNY",
            validUntil=(now + timedelta(days=30)).date().isoformat(),
            lines=[
                {
                    "description": "licence",
                    "unit": "seat",
                    "quantity": "2",
                    "unitPriceMinor": "100000",
                    "discountBp": 0,
                    "taxRateBp": 1300,
                }
            ],
        )
    )["quote"]["id"]
    await _do(rep, SUBMIT, id=quote)
    await _do(rep, SEND, id=quote)
    await _do(rep, RESPOND, id=quote, response="ACCEPT", comment="signed")
    lost = (await _do(rep, OPEN_OPPORTUNITY, customerId=kept, name="Add-on"))["opportunity"]["id"]
    await _do(rep, MOVE, id=lost, stage="LOST", lossReason="budget")
    await _once_known(admin, OPEN_TICKET, customerId=merged, title="Invoice question")
    login = await _once_known(admin, OPEN_TICKET, customerId=kept, title="Login", priority="HIGH")
    await _do(admin, DEPARTMENT, name="support")
    await _do(
        admin, ASSIGN_TICKET, ticketId=login["ticket"]["id"], department="support", assigneeId="a1"
    )
    for status in ("IN_PROGRESS", "RESOLVED"):  # resolved: the desk sends a survey
        await _do(admin, TICKET_STATUS, ticketId=login["ticket"]["id"], status=status)

    async def is_deal() -> bool:
        found = (await rep.execute(STATUS, {"id": merged})).ok()["customer"]
        return bool(found and found["status"] == "DEAL")

    await until(is_deal, timeout_s=60, what="the accepted quote makes a DEAL")

    async def cadence_is(cid: str, cadence: str) -> bool:
        found = (await rep.execute(CADENCE, {"id": cid})).ok()["customer"]
        return bool(found and found["engagementCadence"] == cadence)

    # The assessment made the merged customer INTENSIVE: the merge carries it to the kept one.
    await until(lambda: cadence_is(merged, "INTENSIVE"), timeout_s=60, what="INTENSIVE")
    # A person's decision (own data of the customer service, rebuilt from its announcement).
    await _do(manager, SET_CADENCE, customerId=restored, cadence="OBSERVATION", reason="budget")

    # Owner change, merge, delete + restore, delete; then life goes on on the kept customer.
    await _do(admin, ASSIGN, id=restored, ownerId="rep-b", team="south", reason="rebalance")
    await _do(admin, MERGE, keepId=kept, mergeId=merged)
    await _do(admin, DELETE, id=restored, reason="by mistake")
    await _do(admin, RESTORE, id=restored)
    await _do(admin, DELETE, id=gone, reason="duplicate")
    await _do(
        rep,
        LOG,
        customerId=kept,
        kind="VISIT",
        content="after the merge",
        occurredAt=datetime.now(UTC).isoformat(),
    )
    # A chain: the kept customer is merged in turn; the first one's records follow twice.
    await _do(admin, MERGE, keepId=final, mergeId=kept)
    assert await cadence_is(final, "INTENSIVE")  # carried twice
    await _do(manager, SET_CADENCE, customerId=final, cadence="NORMAL", reason="reviewed")
    await _once_known(
        rep,
        LOG,
        customerId=final,
        kind="VISIT",
        content="after the second merge",
        occurredAt=datetime.now(UTC).isoformat(),
    )


def _live_topics(service: str) -> list[str]:
    """The topics the service's live group reads (the customer service's rebuild also reads
    its own topic, which its live group does not consume)."""
    if service == "customer":
        from crm_customer.adapters.events import SUBSCRIBED_TOPICS

        return list(SUBSCRIBED_TOPICS)
    return list(spec_of(service).topics)


async def _caught_up(config: stack.StackConfig, tenant: str) -> bool:
    """Every outbox drained, then every consumer group at the end of its topics, and
    insights done scoring this tenant."""
    mongo = create_client(config.mongodb_uri, "replay-e2e")
    try:
        for package in SERVICES.values():
            if await mongo[package][OUTBOX_COLLECTION].count_documents({}, limit=1):
                return False
        health = mongo["crm_insights"]["customer_health"]
        if await health.count_documents({"tenant_id": tenant, "dirty": True}, limit=1):
            return False
    finally:
        await mongo.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap)
    await admin.start()
    await probe.start()
    try:
        for service in SERVICES:
            partitions = await partitions_of(config.kafka_bootstrap, _live_topics(service))
            end = await probe.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(service)
            for tp in partitions:
                meta = committed.get(tp)
                if end[tp] > (meta.offset if meta is not None and meta.offset >= 0 else 0):
                    return False
    finally:
        await probe.stop()
        await admin.close()
    return True


async def test_every_service_rebuilds_its_read_models_identically(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    await _scenario(live_stack, tenant)
    await until(lambda: _caught_up(live_stack, tenant), timeout_s=180, what="consumers caught up")

    mongo = create_client(live_stack.mongodb_uri, "replay-e2e")
    mine = {"tenant_id": tenant}
    try:
        report: list[str] = []
        failures: list[str] = []
        for service, package in SERVICES.items():
            spec = spec_of(service)
            live = mongo[package]
            target = mongo[f"{package}_rebuilt_{uuid.uuid4().hex[:8]}"]
            try:
                started = time.monotonic()
                result = await replay_service(
                    spec, live, target, live_stack.kafka_bootstrap, tenants={tenant}
                )
                took = time.monotonic() - started
                if result.counts.failed:
                    failures.append(f"{service}: {result.counts.failed} events failed")
                differences, compared = await compare(live, target, spec.read_models, mine)
                failures.extend(f"{service} {d}" for d in differences)
                assert compared > 0, f"{service}: nothing of this tenant compared"
                # The own records the rebuild was seeded with: the replay changed none of them.
                own: dict[str, frozenset[str]] = {
                    name: frozenset()
                    for name in await target.list_collection_names()
                    if spec.seed and name not in spec.read_models and name not in BOOKKEEPING
                }
                own_differences, own_compared = await compare(live, target, own, mine)
                failures.extend(f"{service} (own) {d}" for d in own_differences)
                report.append(
                    f"{service}: {result.counts.read} events read, {result.counts.applied}"
                    f" applied in {took:.1f} s; {compared} read-model and {own_compared}"
                    " own documents of the tenant identical"
                )
            finally:
                await mongo.drop_database(target.name)
        # The command line (`make replay`) on one service: rebuild, compare, exit status 0.
        cli_target = f"crm_quoting_rebuilt_{uuid.uuid4().hex[:8]}"
        command = [sys.executable, "-m", "crm_quoting.adapters.replay", "--live", "crm_quoting"]
        process = await asyncio.create_subprocess_exec(
            *command,
            "--database",
            cli_target,
            "--tenant",
            tenant,
            env={
                **os.environ,
                "MONGODB_URI": live_stack.mongodb_uri,
                "KAFKA_BOOTSTRAP_SERVERS": live_stack.kafka_bootstrap,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
        finally:
            await mongo.drop_database(cli_target)
        assert process.returncode == 0, output.decode()
        assert b": 0 differ" in output, output.decode()
        report.append(" / ".join(output.decode().strip().splitlines()[-2:]))
        print("\n[replay] " + "\n[replay] ".join(report))
        assert not failures, "\n".join(failures)
    finally:
        await mongo.close()
