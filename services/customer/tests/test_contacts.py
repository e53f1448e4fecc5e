"""Contact rules: validation, exactly one primary, masking for analysts."""

from __future__ import annotations

import pytest

from crm_common.errors import BadUserInput, NotFound
from crm_customer.domain.contacts import (
    Contact,
    add_contact,
    clean_contact,
    mask_email,
    mask_phone,
    phone_key,
    remove_contact,
    with_primary,
)


def primaries(contacts: tuple[Contact, ...]) -> list[str]:
    return [c.id for c in contacts if c.is_primary]


def test_first_contact_is_primary_and_a_new_primary_replaces_the_old() -> None:
    contacts = add_contact((), Contact("a", "A"))
    contacts = add_contact(contacts, Contact("b", "B"))
    assert primaries(contacts) == ["a"]
    contacts = add_contact(contacts, Contact("c", "C", is_primary=True))
    assert primaries(contacts) == ["c"]
    assert primaries(with_primary(contacts, "b")) == ["b"]
    with pytest.raises(NotFound):
        with_primary(contacts, "zzz")


def test_removing_the_primary_promotes_the_next() -> None:
    contacts = add_contact(add_contact((), Contact("a", "A")), Contact("b", "B"))
    assert primaries(remove_contact(contacts, "a")) == ["b"]
    assert remove_contact(remove_contact(contacts, "a"), "b") == ()


@pytest.mark.parametrize(
    ("phone", "email", "field"),
    [
        ("12", None, "input.phone"),
        ("call me", None, "input.phone"),
        (None, "no-at-sign", "input.email"),
        (None, "a@b", "input.email"),
    ],
)
def test_invalid_phone_or_email(phone: str | None, email: str | None, field: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        clean_contact(Contact("x", "X", phone=phone, email=email))
    assert raised.value.field == field


def test_phone_keys_ignore_format_and_country_code() -> None:
    assert phone_key("+86 138-0013-8000") == phone_key("13800138000") == "13800138000"
    assert phone_key("0571 8888 6666 ext 12") == "057188886666"


def test_masking() -> None:
    assert mask_phone("13800138000") == "138******00"
    assert mask_email("li.wei@example.com") == "l***@example.com"
