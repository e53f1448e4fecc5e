"""Merging customers carries files and custom field values over, end to end through the
gateway: the merged customer's files are then authorised like the kept customer, and its
custom field values fill the kept customer's empty fields (the kept customer's own values
win where both have one)."""

from __future__ import annotations

from typing import Any

import pytest
import stack

from tests.e2e.client import eventually, new_tenant
from tests.e2e.test_customer_custom_fields import DEFINE, GET, create
from tests.e2e.test_customer_files import Session
from tests.e2e.test_customer_profile import MERGE, client, history
from tests.e2e.test_stage_assessment import PROPOSAL, SET_CADENCE

pytestmark = [pytest.mark.e2e]


async def test_merge_moves_files_and_fills_custom_fields(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    for field in (
        {"key": "tier", "label": "Tier", "type": "SELECT", "options": ["gold", "silver"]},
        {"key": "seats", "label": "Seats", "type": "NUMBER"},
    ):
        (await admin.execute(DEFINE, {"input": field})).ok()
    keeper = Session(live_stack, tenant, ["sales_rep"], "rep-keep")
    merger = Session(live_stack, tenant, ["sales_rep"], "rep-merge")
    keep = await create(keeper.gql, "Merge Target Ltd", tier="gold")
    gone = await create(merger.gql, "Merge Source Ltd", tier="silver", seats=12)
    pdf = b"%PDF-1.4 qualification " + bytes(range(256)) * 20
    uploaded = await merger.upload(
        pdf, "application/pdf", kind="QUALIFICATION", customerId=gone["id"], filename="q.pdf"
    )
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    assert (await keeper.download(file_id)).status_code == 403  # not the keeper's customer yet

    (await admin.execute(MERGE, {"input": {"keepId": keep["id"], "mergeId": gone["id"]}})).ok()

    after = (await admin.execute(GET, {"id": keep["id"]})).ok()["customer"]
    assert {f["key"]: f["value"] for f in after["customFields"]} == {
        "tier": "gold",  # the kept customer's own value wins
        "seats": 12,  # filled from the merged customer
    }
    entries = await history(admin, keep["id"])
    seats = [e for e in entries if e["field"] == "customFields.seats"]
    assert [e["after"] for e in seats] == ["12"]
    assert not [e for e in entries if e["field"] == "customFields.tier"]

    # The file now belongs to the kept customer: its owner reads it, the old owner doesn't.
    downloaded = await keeper.download(file_id)
    assert downloaded.status_code == 200 and downloaded.content == pdf
    assert (await merger.download(file_id)).status_code == 403

    # Repeating the merge changes nothing and still succeeds.
    again = await admin.execute(MERGE, {"input": {"keepId": keep["id"], "mergeId": gone["id"]}})
    again.ok()
    assert len(await history(admin, keep["id"])) == len(entries)


CADENCE = """query($id: ID!) { customer(id: $id) {
  id engagementCadence
  observation { since reason source note actorId }
  cadenceHistory { cadence reason source actorId note at mergedFrom } } }"""


async def test_merge_carries_the_observation_period(live_stack: stack.StackConfig) -> None:
    """A in its observation period, B normal: after merging A into B, B is in observation
    (A's start and reason), A's cadence history is on B marked mergedFrom, and engagement
    heard of it (``cadence_changed`` for B: the proposed follow-up is at the observation
    cadence)."""
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"], user_id="boss")
    rep = Session(live_stack, tenant, ["sales_rep"], "rep-obs")
    kept = await create(rep.gql, "Cadence Target Ltd")
    gone = await create(rep.gql, "Cadence Source Ltd")
    decided = await admin.execute(
        SET_CADENCE,
        {"input": {"customerId": gone["id"], "cadence": "OBSERVATION", "reason": "budget frozen"}},
    )
    decided.ok()
    source = (await admin.execute(CADENCE, {"id": gone["id"]})).ok()["customer"]
    assert source["engagementCadence"] == "OBSERVATION"
    before = (await admin.execute(CADENCE, {"id": kept["id"]})).ok()["customer"]
    assert before["engagementCadence"] == "NORMAL" and before["cadenceHistory"] == []

    (await admin.execute(MERGE, {"input": {"keepId": kept["id"], "mergeId": gone["id"]}})).ok()

    after = (await admin.execute(CADENCE, {"id": kept["id"]})).ok()["customer"]
    assert after["engagementCadence"] == "OBSERVATION"
    assert after["observation"]["since"] == source["observation"]["since"]
    assert after["observation"]["reason"] == "MANUAL"
    assert after["observation"]["source"] == "MERGE"
    assert after["observation"]["note"] == "budget frozen"
    assert [(h["source"], h["mergedFrom"]) for h in after["cadenceHistory"]] == [
        ("MERGE", gone["id"]),
        ("MANUAL", gone["id"]),
    ]  # newest first

    async def heard() -> dict[str, Any] | None:
        response = await rep.gql.execute(PROPOSAL, {"id": kept["id"]})
        if response.errors:
            return None
        proposal: dict[str, Any] = response.ok()["proposedFollowUp"]
        return proposal if proposal["engagementCadence"] == "OBSERVATION" else None

    await eventually(heard, timeout_s=60, interval_s=0.3)

    # Repeating the merge carries nothing a second time.
    (await admin.execute(MERGE, {"input": {"keepId": kept["id"], "mergeId": gone["id"]}})).ok()
    again = (await admin.execute(CADENCE, {"id": kept["id"]})).ok()["customer"]
    assert again["cadenceHistory"] == after["cadenceHistory"]
