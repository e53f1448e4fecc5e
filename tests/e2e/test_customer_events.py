"""Every customer event type reaches ``crm.customer.v1`` on the real broker, keyed and
tenant-tagged, with a body that validates against its pydantic contract."""

from __future__ import annotations

from typing import Any

import pytest
import stack

from crm_common.events.contracts import customer as contracts
from crm_common.events.envelope import CloudEvent
from tests.e2e.client import eventually, new_tenant
from tests.e2e.engagement_support import read_topic
from tests.e2e.test_customer_files import IMPORT, Session
from tests.e2e.test_customer_import import table
from tests.e2e.test_customer_profile import (
    ADD_CONTACT,
    APPROVE,
    ASSIGN,
    CHANGE_STATUS,
    DELETE,
    MERGE,
    REJECT,
    REMOVE_CONTACT,
    RESTORE,
    UPDATE,
    UPDATE_CONTACT,
    create,
)

pytestmark = [pytest.mark.e2e]

CREATED = contracts.CustomerCreated.event_type
EXPECTED = {
    model.event_type
    for model in (
        contracts.CustomerCreated,
        contracts.CustomerUpdated,
        contracts.CustomerStatusChanged,
        contracts.CustomerReviewApproved,
        contracts.CustomerReviewRejected,
        contracts.CustomerOwnerChanged,
        contracts.ContactAdded,
        contracts.ContactUpdated,
        contracts.ContactRemoved,
        contracts.CustomerMerged,
        contracts.CustomerDeleted,
        contracts.CustomerRestored,
        contracts.CustomersImported,
    )
}


async def test_every_customer_event_type_reaches_the_topic_valid(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    admin = Session(live_stack, tenant, ["admin"], "events-admin")
    gql = admin.gql

    async def run(mutation: str, **given: Any) -> dict[str, Any]:
        data: dict[str, Any] = (await gql.execute(mutation, {"input": given})).ok()
        return data

    main = await create(gql, "Event Source Ltd")
    cid = main["id"]
    await run(UPDATE, id=cid, industry="tea")
    await run(APPROVE, id=cid, comment="ok")
    await run(CHANGE_STATUS, id=cid, status="INTENTION", reason="quote asked")
    await run(ASSIGN, id=cid, ownerId="someone-else", reason="cover")
    added = await run(ADD_CONTACT, customerId=cid, contact={"name": "Eve", "phone": "13800000001"})
    contact_id = added["addContact"]["contact"]["id"]
    await run(UPDATE_CONTACT, customerId=cid, contactId=contact_id, title="CTO")
    await run(REMOVE_CONTACT, customerId=cid, contactId=contact_id)
    await run(DELETE, id=cid, reason="test")
    await run(RESTORE, id=cid)
    rejected = await create(gql, "Event Rejected Ltd")
    await run(REJECT, id=rejected["id"], comment="not real")
    merged = await create(gql, "Event Merged Ltd")
    await run(MERGE, keepId=cid, mergeId=merged["id"])
    uploaded = await admin.upload(
        table([["name"], ["Event Imported Ltd"]]), "text/csv", kind="IMPORT", filename="e.csv"
    )
    assert uploaded.status_code == 201, uploaded.text
    started = await run(IMPORT, fileId=uploaded.json()["id"], format="CSV", dryRun=False)
    job_id = started["importCustomers"]["job"]["id"]

    async def all_arrived() -> list[CloudEvent] | None:
        events = [e for e in await read_topic(live_stack, contracts.TOPIC) if e.tenant_id == tenant]
        # The summary (job document) and the rows' created events (customer documents) leave
        # through different outboxes: wait for both.
        created = {e.data["name"] for e in events if e.type == CREATED}
        complete = {e.type for e in events} >= EXPECTED and "Event Imported Ltd" in created
        return events if complete else None

    events = await eventually(all_arrived, timeout_s=60)
    assert {e.type for e in events} == EXPECTED
    for event in events:
        event.parse()  # raises if the body does not fit the type's contract
        assert event.source == "crm/customer"
        if event.type == contracts.CustomersImported.event_type:
            assert event.key == job_id and event.data["created"] == 1
        else:  # keyed by the customer it is about
            assert event.key == event.data.get("customer_id", event.data.get("merged_id"))
    # Created and updated carry the purchase profile (insights' potential model reads it).
    assert all(e.data["purchase_profile"] is not None for e in events if e.type == CREATED)
    updated = [
        e.parse() for e in events if e.type == contracts.CustomerUpdated.event_type and e.key == cid
    ]
    assert any(
        isinstance(u, contracts.CustomerUpdated)
        and u.purchase_profile is not None
        and u.purchase_profile.industry == "tea"
        for u in updated
    )
    created_names = {e.data["name"] for e in events if e.type == CREATED}
    assert created_names == {
        "Event Source Ltd",
        "Event Rejected Ltd",
        "Event Merged Ltd",
        "Event Imported Ltd",
    }
