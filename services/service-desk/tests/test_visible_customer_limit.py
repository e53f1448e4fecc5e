"""What a rep may see in the service desk goes through the ids of their customers: a bounded
set whose limit (``CRM_MAX_VISIBLE_CUSTOMERS``) is a clear BAD_USER_INPUT error when crossed,
never a silent cut (real FerretDB). Survey templates are bounded the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.stores import lowered_limits, scratch_database

from crm_common.errors import ErrorCode
from crm_common.limits import LimitExceeded
from crm_common.mongo import CrossTenant, Document
from crm_common.pagination import PageRequest
from crm_service_desk.adapters.mongo import (
    SURVEY_TEMPLATES,
    TICKETS,
    MongoSurveyRepository,
    MongoTicketRepository,
)
from crm_service_desk.domain.permissions import Visibility

pytestmark = [pytest.mark.e2e]

TENANT = "t-desk"


@pytest.fixture
async def db(infra: stack.StackConfig) -> AsyncIterator[AsyncDatabase[Document]]:
    async with scratch_database(infra.mongodb_uri, "desk-limits-test") as database:
        yield database


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with lowered_limits(monkeypatch, CRM_MAX_VISIBLE_CUSTOMERS="2", CRM_MAX_SURVEY_TEMPLATES="1"):
        yield


def _ticket(i: int, customer_id: str) -> Document:
    now = datetime.now(UTC)
    return {
        "_id": f"tk-{i}",
        "tenant_id": TENANT,
        "customer_id": customer_id,
        "title": f"Ticket {i}",
        "description": "",
        "category": "OTHER",
        "priority": "MEDIUM",
        "status": "NEW",
        "opened_by": "agent",
        "created_at": now - timedelta(minutes=i),
        "response_due_at": now,
        "resolution_due_at": now,
        "history": [],
        "version": 1,
    }


async def test_a_rep_past_the_visible_customer_limit_gets_a_clear_error(
    db: AsyncDatabase[Document], small_limits: None
) -> None:
    refs = CrossTenant(db)["customer_refs"]
    await refs.insert_many(
        [
            {"_id": f"c{i}", "tenant_id": TENANT, "owner_id": "rep", "name": f"C{i}"}
            for i in range(2)
        ]
    )
    await CrossTenant(db)[TICKETS].insert_many([_ticket(i, f"c{i % 3}") for i in range(6)])
    tickets = MongoTicketRepository(db, TENANT)
    view = Visibility(customer_owner="rep")

    page = await tickets.listing(None, view, PageRequest(first=10))
    assert {t.customer_id for t, _ in page.items} == {"c0", "c1"}
    assert page.total_count == 4

    await refs.insert_one({"_id": "c2", "tenant_id": TENANT, "owner_id": "rep", "name": "C2"})
    with pytest.raises(LimitExceeded) as raised:
        await tickets.listing(None, view, PageRequest(first=10))
    assert raised.value.code is ErrorCode.BAD_USER_INPUT
    assert "CRM_MAX_VISIBLE_CUSTOMERS" in raised.value.message
    # Who sees the whole tenant is not limited (and pages as usual).
    everything = await tickets.listing(None, Visibility(everything=True), PageRequest(first=4))
    assert (len(everything.items), everything.total_count) == (4, 6)
    assert everything.has_next_page


async def test_survey_templates_past_the_limit_are_a_clear_error(
    db: AsyncDatabase[Document], small_limits: None
) -> None:
    raw = CrossTenant(db)[SURVEY_TEMPLATES]
    template = {"tenant_id": TENANT, "name": "t", "dimensions": [], "subject": None}
    await raw.insert_one({"_id": "tpl-1", **template, "created_at": datetime.now(UTC)})
    surveys = MongoSurveyRepository(db, TENANT)
    assert [t.id for t in await surveys.templates()] == ["tpl-1"]
    await raw.insert_one({"_id": "tpl-2", **template, "created_at": datetime.now(UTC)})
    with pytest.raises(LimitExceeded, match="CRM_MAX_SURVEY_TEMPLATES"):
        await surveys.templates()
