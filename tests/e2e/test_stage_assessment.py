"""Stage assessment and the observation period (观察期) through the gateway: quoting assesses,
the customer service moves the customer's cadence (list, filter, map), engagement adapts its
proposed interval, insights counts the customers in observation; a new interaction and a
manual decision take the customer out again; a stall (no decision progress) puts it back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack

from crm_common.events.contracts.quoting import OpportunityStalled
from tests.e2e.client import GraphQLClient, eventually, new_tenant
from tests.e2e.engagement_support import client, crafted_event, log, publish

pytestmark = [pytest.mark.e2e]

CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } } }"""
CREATE_OPPORTUNITY = """mutation($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } } }"""
ASSESS = """mutation($input: AssessOpportunityInput!) {
  assessOpportunity(input: $input) { opportunity {
    id stallsAt
    latestAssessment { fit engagement decisionProgress recommendedCadence actorId at }
    assessments { fit engagement decisionProgress recommendedCadence actorId at } } } }"""
CUSTOMER = """query($id: ID!) { customer(id: $id) {
  id engagementCadence
  observation { since reason source opportunityId note actorId }
  cadenceHistory { cadence reason source actorId opportunityId note } } }"""
LIST = """query($cadence: EngagementCadence!) {
  customers(first: 50, filter: { engagementCadence: $cadence }) {
    edges { node { id engagementCadence } } } }"""
MAP = """query { customersInBox(box: { south: 29, west: 119, north: 31, east: 121 }) {
  id engagementCadence observation { reason } } }"""
SET_CADENCE = """mutation($input: SetEngagementCadenceInput!) {
  setEngagementCadence(input: $input) { customer { id engagementCadence } } }"""
PROPOSAL = """query($id: ID!) { proposedFollowUp(customerId: $id) {
  intervalDays engagementCadence } }"""
REPORT = """query { observationReport { total rows { team reason count } } }"""


async def _customer(gql: GraphQLClient, customer_id: str) -> dict[str, Any]:
    data: dict[str, Any] = (await gql.execute(CUSTOMER, {"id": customer_id})).ok()["customer"]
    return data


async def _cadence_becomes(
    gql: GraphQLClient, customer_id: str, cadence: str, reason: str | None = None
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        customer = await _customer(gql, customer_id)
        if customer["engagementCadence"] != cadence:
            return None
        if reason is not None and customer["cadenceHistory"][0]["reason"] != reason:
            return None
        return customer

    found: dict[str, Any] = await eventually(check, timeout_s=30)
    return found


async def _listed(gql: GraphQLClient, cadence: str) -> set[str]:
    edges = (await gql.execute(LIST, {"cadence": cadence})).ok()["customers"]["edges"]
    return {e["node"]["id"] for e in edges}


async def test_assessment_drives_the_customer_cadence_and_observation(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rita = client(live_stack, tenant, ["sales_rep"], user_id="rita", team="north")
    mike = client(live_stack, tenant, ["sales_manager"], user_id="mike", team="north")
    sam = client(live_stack, tenant, ["sales_rep"], user_id="sam", team="south")
    outsider = client(live_stack, new_tenant(), ["admin"], user_id="root")

    customer_id = (
        await rita.execute(
            CREATE_CUSTOMER,
            {
                "input": {
                    "name": f"观察期测试客户 {uuid.uuid4().hex[:6]}",
                    "geo": {"lat": 30.27, "lng": 120.15},
                }
            },
        )
    ).ok()["createCustomer"]["customer"]["id"]
    assert (await _customer(rita, customer_id))["engagementCadence"] == "NORMAL"

    async def opened() -> str | None:
        response = await rita.execute(
            CREATE_OPPORTUNITY,
            {"input": {"customerId": customer_id, "name": "CRM 项目"}},
        )
        if response.error_codes() == ["NOT_FOUND"]:
            return None  # quoting hears of the customer a moment later
        return str(response.ok()["createOpportunity"]["opportunity"]["id"])

    opportunity_id = await eventually(opened, timeout_s=30)

    # Bad input: a clear error on the field, nothing stored.
    too_long = await rita.execute(
        ASSESS,
        {
            "input": {
                "id": opportunity_id,
                "fit": "HIGH",
                "engagement": "PROACTIVE",
                "decisionProgress": "x" * 2001,
            }
        },
    )
    assert too_long.error_codes() == ["BAD_USER_INPUT"]
    assert too_long.errors[0]["extensions"]["field"] == "input.decisionProgress"
    # Someone who does not see the opportunity, and another tenant: not found.
    for stranger in (sam, outsider):
        hidden = await stranger.execute(
            ASSESS, {"input": {"id": opportunity_id, "fit": "LOW", "engagement": "SILENT"}}
        )
        assert hidden.error_codes() == ["NOT_FOUND"]

    # High fit + proactive: INTENSIVE; the history is kept on the opportunity.
    before = datetime.now(UTC)
    assessed = (
        await rita.execute(
            ASSESS,
            {
                "input": {
                    "id": opportunity_id,
                    "fit": "HIGH",
                    "engagement": "PROACTIVE",
                    "decisionProgress": "采购委员会已立项，预算已批",
                }
            },
        )
    ).ok()["assessOpportunity"]["opportunity"]
    latest = assessed["latestAssessment"]
    assert (latest["fit"], latest["engagement"], latest["recommendedCadence"]) == (
        "HIGH",
        "PROACTIVE",
        "INTENSIVE",
    )
    assert latest["decisionProgress"] == "采购委员会已立项，预算已批"
    assert latest["actorId"] == "rita"
    stalls_at = datetime.fromisoformat(assessed["stallsAt"])
    assert timedelta(days=29) < stalls_at - before < timedelta(days=31)  # default 30 days

    intensive = await _cadence_becomes(rita, customer_id, "INTENSIVE", "HIGH_FIT_PROACTIVE")
    assert intensive["observation"] is None
    assert intensive["cadenceHistory"][0]["opportunityId"] == opportunity_id

    # Engagement's proposal follows: half the MEDIUM priority's 14 days.
    async def proposal_is(cadence: str) -> dict[str, Any] | None:
        proposal = (await rita.execute(PROPOSAL, {"id": customer_id})).ok()["proposedFollowUp"]
        return proposal if proposal["engagementCadence"] == cadence else None

    assert (await eventually(lambda: proposal_is("INTENSIVE"), timeout_s=30))["intervalDays"] == 7

    # Low fit: the observation period, listed, filtered, on the map, counted.
    second = (
        await rita.execute(
            ASSESS, {"input": {"id": opportunity_id, "fit": "LOW", "engagement": "SILENT"}}
        )
    ).ok()["assessOpportunity"]["opportunity"]
    assert [a["fit"] for a in second["assessments"]] == ["HIGH", "LOW"]
    assert second["latestAssessment"]["decisionProgress"] is None
    # Nothing new noted: the stall clock keeps running from the first assessment.
    assert second["stallsAt"] == assessed["stallsAt"]
    observed = await _cadence_becomes(rita, customer_id, "OBSERVATION", "LOW_FIT")
    assert observed["observation"]["reason"] == "LOW_FIT"
    assert observed["observation"]["source"] == "ASSESSMENT"
    assert customer_id in await _listed(rita, "OBSERVATION")
    assert customer_id not in await _listed(rita, "NORMAL")
    assert customer_id not in await _listed(sam, "OBSERVATION")  # not sam's customer
    on_map = {c["id"]: c for c in (await rita.execute(MAP)).ok()["customersInBox"]}
    assert on_map[customer_id]["engagementCadence"] == "OBSERVATION"
    assert (await eventually(lambda: proposal_is("OBSERVATION"), timeout_s=30))[
        "intervalDays"
    ] == 28

    async def counted() -> dict[str, Any] | None:
        report = (await mike.execute(REPORT)).ok()["observationReport"]
        wanted = {"team": "north", "reason": "LOW_FIT", "count": 1}
        return report if wanted in report["rows"] else None

    report = await eventually(counted, timeout_s=30)
    assert report["total"] == 1
    assert (await outsider.execute(REPORT)).ok()["observationReport"]["total"] == 0

    # A new interaction takes the customer out of observation.
    await log(rita, customer_id, occurredAt=datetime.now(UTC).isoformat())
    back = await _cadence_becomes(rita, customer_id, "NORMAL", "NEW_INTERACTION")
    assert back["observation"] is None
    assert customer_id in await _listed(rita, "NORMAL")

    # No decision progress for the tenant's period (the stall loop's event): observation.
    stalled = OpportunityStalled(
        opportunity_id=opportunity_id,
        customer_id=customer_id,
        owner_id="rita",
        team="north",
        last_progress_at=before,
        observation_after_days=30,
        stalled_at=datetime.now(UTC),
    )
    await publish(
        live_stack,
        OpportunityStalled.topic,
        [
            crafted_event(
                OpportunityStalled.event_type,
                tenant,
                customer_id,
                stalled.model_dump(mode="json"),
                datetime.now(UTC),
            )
        ],
    )
    await _cadence_becomes(rita, customer_id, "OBSERVATION", "NO_PROGRESS")

    # A manual decision: a reason is required; someone else's customer is not found.
    no_reason = await mike.execute(
        SET_CADENCE, {"input": {"customerId": customer_id, "cadence": "NORMAL", "reason": " "}}
    )
    assert no_reason.error_codes() == ["BAD_USER_INPUT"]
    assert no_reason.errors[0]["extensions"]["field"] == "input.reason"
    hidden = await sam.execute(
        SET_CADENCE, {"input": {"customerId": customer_id, "cadence": "NORMAL", "reason": "x"}}
    )
    assert hidden.error_codes() == ["NOT_FOUND"]
    (
        await mike.execute(
            SET_CADENCE,
            {
                "input": {
                    "customerId": customer_id,
                    "cadence": "NORMAL",
                    "reason": "客户来电重启项目",
                }
            },
        )
    ).ok()
    manual = await _customer(rita, customer_id)
    assert manual["engagementCadence"] == "NORMAL"
    assert manual["cadenceHistory"][0]["note"] == "客户来电重启项目"
    assert manual["cadenceHistory"][0]["actorId"] == "mike"
    assert [h["reason"] for h in manual["cadenceHistory"]] == [
        "MANUAL",
        "NO_PROGRESS",
        "NEW_INTERACTION",
        "LOW_FIT",
        "HIGH_FIT_PROACTIVE",
    ]


async def test_observation_period_setting_is_validated(live_stack: stack.StackConfig) -> None:
    admin = client(live_stack, new_tenant(), ["admin"], user_id="root")
    query = """mutation($input: QuotingSettingsInput!) {
      updateQuotingSettings(input: $input) { settings { observationAfterDays } } }"""
    bad = await admin.execute(query, {"input": {"observationAfterDays": 0}})
    assert bad.error_codes() == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"]["field"] == "input.observationAfterDays"
    ok = (await admin.execute(query, {"input": {"observationAfterDays": 45}})).ok()
    assert ok["updateQuotingSettings"]["settings"]["observationAfterDays"] == 45
