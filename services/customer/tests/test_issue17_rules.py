"""Pure rules added for issue 17: completeness, type from lifecycle, value tiers, contact owner
and order, file rules, and the permission messages for service roles."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from crm_common.auth import Principal
from crm_common.errors import BadUserInput, Forbidden
from crm_customer.domain import permissions
from crm_customer.domain.completeness import CompletenessItem, completeness, missing_items
from crm_customer.domain.contacts import Contact, add_contact, primary_first, with_owner
from crm_customer.domain.customer import (
    BudgetRange,
    CompanySize,
    Customer,
    CustomerStatus,
    CustomerType,
    Profile,
    Region,
    SourceChannel,
    ValueTier,
    check_requested_type,
    type_for,
)
from crm_customer.domain.files import (
    FileKind,
    StoredFile,
    check_customer_kind,
    check_editable,
    clean_filename,
)
from crm_customer.domain.tiers import (
    DEFAULT_THRESHOLDS,
    TierThresholds,
    clean_thresholds,
    tier_for,
    with_derived,
)

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def customer(**changes: object) -> Customer:
    base = Customer(
        id="c1",
        tenant_id="t1",
        number="CUS20261205001",
        profile=Profile(name="Acme"),
        status=CustomerStatus.PENDING_REVIEW,
        owner_id="rep-1",
        created_at=NOW,
        updated_at=NOW,
        team="north",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def principal(*roles: str, user: str = "u1", team: str | None = "north") -> Principal:
    return Principal(user_id=user, tenant_id="t1", roles=frozenset(roles), team=team)


# --- completeness --------------------------------------------------------------------------


def test_a_bare_customer_misses_every_key_item() -> None:
    bare = customer()
    assert missing_items(bare) == tuple(CompletenessItem)
    assert completeness(bare) == 0


def test_completeness_counts_each_item_equally() -> None:
    profile = Profile(
        name="Acme",
        industry="tea",
        region=Region("浙江省"),
        address="西湖区 1 号",
        source=SourceChannel.WEBSITE,
        size=CompanySize(employees=20),
    )
    without_phone = customer(profile=profile, contacts=(Contact("k1", "Li", is_primary=True),))
    assert missing_items(without_phone) == (CompletenessItem.CONTACT_PHONE,)
    assert completeness(without_phone) == 83
    full = customer(
        profile=profile, contacts=(Contact("k1", "Li", is_primary=True, phone="13800000000"),)
    )
    assert missing_items(full) == ()
    assert completeness(full) == 100


def test_a_phone_on_a_non_primary_contact_does_not_count() -> None:
    contacts = (Contact("k1", "Li", is_primary=True), Contact("k2", "Wu", phone="13800000000"))
    assert CompletenessItem.CONTACT_PHONE in missing_items(customer(contacts=contacts))


# --- customer type follows the lifecycle -----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "current", "expected"),
    [
        (CustomerStatus.PENDING_REVIEW, CustomerType.DEAL, CustomerType.POTENTIAL),
        (CustomerStatus.LEAD, CustomerType.POTENTIAL, CustomerType.POTENTIAL),
        (CustomerStatus.INTENTION, CustomerType.POTENTIAL, CustomerType.INTENTION),
        (CustomerStatus.DEAL, CustomerType.POTENTIAL, CustomerType.DEAL),
        (CustomerStatus.DEAL, CustomerType.LONG_TERM, CustomerType.LONG_TERM),
        (CustomerStatus.CHURNED, CustomerType.LONG_TERM, CustomerType.CHURNED),
        (CustomerStatus.INTENTION, CustomerType.CHURNED, CustomerType.INTENTION),
    ],
)
def test_type_follows_status(
    status: CustomerStatus, current: CustomerType, expected: CustomerType
) -> None:
    assert type_for(status, current) == expected


def test_a_type_the_status_contradicts_is_refused() -> None:
    check_requested_type(CustomerStatus.DEAL, CustomerType.LONG_TERM)
    with pytest.raises(BadUserInput) as err:
        check_requested_type(CustomerStatus.DEAL, CustomerType.POTENTIAL)
    assert err.value.field == "input.customerType"
    with pytest.raises(BadUserInput):
        check_requested_type(CustomerStatus.PENDING_REVIEW, CustomerType.INTENTION)


def test_derived_fields_repair_a_contradicting_type() -> None:
    stale = customer(status=CustomerStatus.DEAL)  # type POTENTIAL, as stored before issue 17
    fixed = with_derived(stale, DEFAULT_THRESHOLDS)
    assert fixed.profile.customer_type == CustomerType.DEAL
    assert with_derived(fixed, DEFAULT_THRESHOLDS) is fixed  # idempotent


# --- value tiers -------------------------------------------------------------------------------


def test_tiers_from_revenue_or_potential() -> None:
    t = TierThresholds(
        a_revenue_minor=1000, a_potential_minor=5000, b_revenue_minor=100, b_potential_minor=500
    )
    assert tier_for(0, 0, t) == ValueTier.C
    assert tier_for(99, 499, t) == ValueTier.C
    assert tier_for(100, 0, t) == ValueTier.B
    assert tier_for(0, 500, t) == ValueTier.B
    assert tier_for(1000, 0, t) == ValueTier.A
    assert tier_for(0, 5000, t) == ValueTier.A


def test_potential_is_the_budget_maximum() -> None:
    rich = customer(profile=Profile(name="Acme", budget=BudgetRange(0, 600_000_000, "CNY")))
    assert with_derived(rich, DEFAULT_THRESHOLDS).value_tier == ValueTier.A
    earning = customer(deal_revenue_minor=10_000_000)
    assert with_derived(earning, DEFAULT_THRESHOLDS).value_tier == ValueTier.B


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"a_revenue_minor": 0}, "input.aRevenueMinor"),
        ({"b_potential_minor": -1}, "input.bPotentialMinor"),
        ({"b_revenue_minor": 200_000_000}, "input.bRevenueMinor"),
        ({"b_potential_minor": 600_000_000}, "input.bPotentialMinor"),
    ],
)
def test_bad_thresholds_name_the_field(values: dict[str, int], field: str) -> None:
    with pytest.raises(BadUserInput) as err:
        clean_thresholds(dataclasses.replace(DEFAULT_THRESHOLDS, **values))
    assert err.value.field == field


# --- contacts ----------------------------------------------------------------------------------


def test_the_primary_contact_is_listed_first() -> None:
    contacts = add_contact((), Contact("a", "A"))
    contacts = add_contact(contacts, Contact("b", "B"))
    contacts = add_contact(contacts, Contact("c", "C", is_primary=True))
    assert [c.id for c in primary_first(contacts)] == ["c", "a", "b"]


def test_a_contact_defaults_to_the_customer_owner() -> None:
    assert with_owner(Contact("a", "A"), "rep-1").owner_id == "rep-1"
    assert with_owner(Contact("a", "A", owner_id="rep-2"), "rep-1").owner_id == "rep-2"


def test_a_sales_rep_names_only_themself_or_the_owner() -> None:
    rep = principal("sales_rep", user="rep-1")
    permissions.can_assign_contact(rep, "rep-9", "rep-1")
    permissions.can_assign_contact(rep, "rep-9", "rep-9")
    with pytest.raises(Forbidden) as err:
        permissions.can_assign_contact(rep, "rep-9", "rep-7")
    assert err.value.extensions()["permission"] == "customer:assign"
    permissions.can_assign_contact(principal("sales_manager"), "rep-9", "rep-7")


# --- files and permissions -------------------------------------------------------------------


def test_service_agents_upload_deliverables_but_nothing_else() -> None:
    agent = principal("service_agent", user="agent-1", team=None)
    theirs = customer()
    permissions.can_upload_file(agent, theirs, "DELIVERABLE")
    with pytest.raises(Forbidden) as err:
        permissions.can_upload_file(agent, theirs, "CONTRACT")
    assert "DELIVERABLE" in err.value.message
    assert err.value.extensions()["permission"] == "customer:write"


def test_refusals_say_what_and_why() -> None:
    other_rep = principal("sales_rep", user="rep-2", team="south")
    with pytest.raises(Forbidden) as err:
        permissions.can_write(other_rep, customer())
    assert "neither yours nor your team's" in err.value.message
    assert "customer:write" in err.value.message
    agent = principal("service_agent", team=None)
    with pytest.raises(Forbidden) as err:
        permissions.can_write(agent, customer())
    assert "service_agent" in err.value.message


def test_the_uploader_of_a_deliverable_may_edit_it() -> None:
    agent = principal("service_agent", user="agent-1", team=None)
    permissions.can_edit_file(agent, customer(), "DELIVERABLE", "agent-1")
    with pytest.raises(Forbidden):
        permissions.can_edit_file(agent, customer(), "DELIVERABLE", "agent-2")
    with pytest.raises(Forbidden):
        permissions.can_edit_file(agent, customer(), "CONTRACT", "agent-1")


def test_file_names_and_kinds() -> None:
    assert clean_filename("  合同.pdf ") == "合同.pdf"
    for bad in ("", "a/b", "a\\b", "x" * 201):
        with pytest.raises(BadUserInput):
            clean_filename(bad)
    check_customer_kind(FileKind.OTHER)
    with pytest.raises(BadUserInput):
        check_customer_kind(FileKind.IMPORT)


def test_deleted_files_are_not_edited() -> None:
    stored = StoredFile("f", "t1", "a.pdf", "application/pdf", 1, FileKind.OTHER, "u", NOW, "c1")
    check_editable(stored)
    with pytest.raises(BadUserInput):
        check_editable(dataclasses.replace(stored, deleted_at=NOW))


def test_who_sees_a_customer() -> None:
    north = customer()
    assert permissions.sees(principal("service_agent", team=None), north)
    assert permissions.sees(principal("sales_manager", team="north"), north)
    assert not permissions.sees(principal("sales_manager", team="south"), north)
    assert permissions.sees(principal("sales_rep", user="rep-1"), north)
    assert not permissions.sees(principal("sales_rep", user="rep-2"), north)


def test_only_admins_set_value_tiers() -> None:
    permissions.can_set_value_tiers(principal("admin"))
    with pytest.raises(Forbidden) as err:
        permissions.can_set_value_tiers(principal("sales_manager"))
    assert err.value.extensions()["permission"] == "tenant:configure"
