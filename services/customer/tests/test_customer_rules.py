"""Pure rules of the customer profile: names, numbers, validation, lifecycle, history."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from crm_common.errors import BadUserInput
from crm_common.regions import canonical_province
from crm_customer.domain.customer import (
    BudgetRange,
    CompanySize,
    Customer,
    CustomerStatus,
    GeoPoint,
    Region,
    check_transition,
    clean_profile_values,
    customer_number,
    moves_to_deal_on_accepted_quote,
    new_profile,
    normalise_name,
    profile_changes,
)
from crm_customer.service.customers import copied_state

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme Co., Ltd.", "ACME"),
        ("  acme   trading ltd ", "Acme Trading"),
        ("ＡＢＣ科技有限公司", "abc科技"),
        ("杭州西湖茶叶股份有限公司", "杭州西湖茶叶"),
    ],
)
def test_names_that_collide(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


def test_different_companies_do_not_collide() -> None:
    assert normalise_name("Acme Trading") != normalise_name("Acme Logistics")


def test_customer_number_format() -> None:
    assert customer_number(date(2026, 11, 23), 1) == "CUS20261123001"
    assert customer_number(date(2026, 11, 23), 1000) == "CUS202611231000"
    with pytest.raises(ValueError, match="start at 1"):
        customer_number(date(2026, 11, 23), 0)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("浙江省", "浙江省"), ("浙江", "浙江省"), ("Zhejiang", "浙江省"), ("beijing shi", "北京市")],
)
def test_provinces_by_chinese_or_pinyin_name(given: str, canonical: str) -> None:
    assert canonical_province(given) == canonical


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "  "}, "input.name"),
        ({"name": "x" * 201}, "input.name"),
        ({"name": "..."}, "input.name"),
        ({"name": "A", "founded_on": date(2026, 11, 24)}, "input.foundedOn"),
        ({"name": "A", "region": Region("Atlantis")}, "input.region.province"),
        ({"name": "A", "geo": GeoPoint(90.5, 0)}, "input.geo.lat"),
        ({"name": "A", "geo": GeoPoint(0, float("nan"))}, "input.geo.lng"),
        ({"name": "A", "budget": BudgetRange(-1, 5, "CNY")}, "input.budget.minMinor"),
        ({"name": "A", "budget": BudgetRange(9, 5, "CNY")}, "input.budget.maxMinor"),
        ({"name": "A", "budget": BudgetRange(1, 5, "cny")}, "input.budget.currency"),
        ({"name": "A", "size": CompanySize(employees=-3)}, "input.size.employees"),
        ({"name": "A", "tags": ["ok", " "]}, "input.tags"),
        ({"name": "A", "industry": " "}, "input.industry"),
    ],
)
def test_invalid_profiles_name_the_field(values: dict[str, object], field: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        new_profile(values, TODAY)
    assert raised.value.field == field


def test_valid_profile_is_cleaned() -> None:
    profile = new_profile(
        {
            "name": "  Acme   Trading ",
            "region": Region("zhejiang", " 杭州 "),
            "tags": ["a", "a", "b"],
            "founded_on": TODAY,
            "budget": BudgetRange(0, 10**15, "CNY"),
        },
        TODAY,
    )
    assert profile.name == "Acme Trading"
    assert profile.region == Region("浙江省", "杭州")
    assert profile.tags == ("a", "b")


def test_changes_list_each_field_with_plain_before_and_after() -> None:
    at = datetime(2026, 11, 23, tzinfo=UTC)
    before = new_profile({"name": "A", "industry": "x"}, TODAY)
    after = new_profile(
        {"name": "A", "industry": "y", "region": Region("北京市"), "tags": ["t"]}, TODAY
    )
    changes = profile_changes(before, after, actor_id="u", at=at)
    assert [(c.field, c.before, c.after) for c in changes] == [
        ("industry", "x", "y"),
        ("region", None, {"province": "北京市", "city": None}),
        ("tags", [], ["t"]),
    ]
    assert profile_changes(before, before, actor_id="u", at=at) == []


def test_only_given_fields_are_validated_on_update() -> None:
    assert clean_profile_values({"urgency": None}, TODAY) == {"urgency": None}


ALLOWED = [
    (CustomerStatus.LEAD, CustomerStatus.INTENTION),
    (CustomerStatus.INTENTION, CustomerStatus.DEAL),
    (CustomerStatus.LEAD, CustomerStatus.CHURNED),
    (CustomerStatus.INTENTION, CustomerStatus.CHURNED),
    (CustomerStatus.DEAL, CustomerStatus.CHURNED),
    (CustomerStatus.CHURNED, CustomerStatus.INTENTION),
]


@pytest.mark.parametrize("current", list(CustomerStatus))
@pytest.mark.parametrize("target", list(CustomerStatus))
def test_lifecycle_allows_exactly_the_designed_moves(
    current: CustomerStatus, target: CustomerStatus
) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(BadUserInput):
            check_transition(current, target)


def test_an_accepted_quote_moves_only_approved_non_deals() -> None:
    movable = {s for s in CustomerStatus if moves_to_deal_on_accepted_quote(s)}
    assert movable == {CustomerStatus.LEAD, CustomerStatus.INTENTION, CustomerStatus.CHURNED}


def test_the_copied_state_carries_province_industry_and_tags() -> None:
    """What other services copy (events' ``state``): the segment fields of engagement's
    touches too, the province canonical."""
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    profile = new_profile(
        {"name": "Acme", "industry": "制造业", "region": Region("zhejiang"), "tags": ["vip"]},
        TODAY,
    )
    customer = Customer(
        id="c1", tenant_id="t", number="CUS1", profile=profile, status=CustomerStatus.DEAL,
        owner_id="rep", created_at=at, updated_at=at,
    )  # fmt: skip
    state = copied_state(customer)
    assert (state.region_province, state.industry, state.tags) == ("浙江省", "制造业", ["vip"])
    bare = copied_state(Customer(
        id="c2", tenant_id="t", number="CUS2", profile=new_profile({"name": "Bare"}, TODAY),
        status=CustomerStatus.LEAD, owner_id="rep", created_at=at, updated_at=at,
    ))  # fmt: skip
    assert (bare.region_province, bare.industry, bare.tags) == (None, None, [])
