from datetime import date

import pytest

from crm_common.errors import BadUserInput
from crm_customer.domain.customer import (
    CustomerType,
    customer_number,
    normalise_name,
    validate_new_customer,
)


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
    assert customer_number(date(2026, 11, 23), 1234) == "CUS202611231234"
    with pytest.raises(ValueError, match="start at 1"):
        customer_number(date(2026, 11, 23), 0)


def _validate(**overrides: object) -> object:
    fields: dict[str, object] = {
        "name": "Acme",
        "owner_id": "u1",
        "team": None,
        "industry": None,
        "customer_type": CustomerType.POTENTIAL,
        "source": None,
        "region": None,
        "tags": [],
    }
    fields.update(overrides)
    return validate_new_customer(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "  "}, "input.name"),
        ({"name": "x" * 201}, "input.name"),
        ({"name": "..."}, "input.name"),
        ({"industry": " "}, "input.industry"),
        ({"tags": [""]}, "input.tags"),
        ({"tags": [f"t{i}" for i in range(31)]}, "input.tags"),
    ],
)
def test_invalid_registrations_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        _validate(**overrides)
    assert raised.value.field == field


def test_tags_are_trimmed_and_deduplicated() -> None:
    new = _validate(name="  Acme   Ltd ", tags=[" vip", "vip", "key"])
    assert new.name == "Acme Ltd"  # type: ignore[attr-defined]
    assert new.tags == ("vip", "key")  # type: ignore[attr-defined]
