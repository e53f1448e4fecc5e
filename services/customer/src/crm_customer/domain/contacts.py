"""Contact persons of a customer: validation, exactly one primary, masking. Pure."""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from crm_common.errors import BadUserInput, NotFound

NAME_MAX = 100
TITLE_MAX = 100
NOTES_MAX = 2000
CONTACTS_MAX = 200
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?[0-9 ()\-]+(\s*(ext\.?|x|转)\s*[0-9]{1,6})?", re.IGNORECASE)


class DecisionRole(StrEnum):
    DECISION_MAKER = "DECISION_MAKER"
    INFLUENCER = "INFLUENCER"
    TECHNICAL_EVALUATOR = "TECHNICAL_EVALUATOR"
    USER = "USER"
    GATEKEEPER = "GATEKEEPER"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    name: str
    is_primary: bool = False
    title: str | None = None
    decision_role: DecisionRole | None = None
    phone: str | None = None
    email: str | None = None
    notes: str | None = None
    # The sales rep responsible for this contact (defaults to the customer's owner).
    owner_id: str | None = None

    @property
    def phone_key(self) -> str | None:
        return phone_key(self.phone) if self.phone else None


DETAIL_FIELDS = ("name", "title", "decision_role", "phone", "email", "notes", "owner_id")
OWNER_MAX = 100


@functools.lru_cache(maxsize=4096)  # imports ask twice per row
def phone_key(phone: str) -> str:
    """Digits only, without a leading China country code, so +86 138-0000 0000 = 13800000000."""
    digits = re.sub(r"\D", "", re.split(r"(?i)ext|x|转", phone)[0])
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def email_key(email: str) -> str:
    return email.strip().casefold()


def _text(value: str | None, field: str, max_len: int, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise BadUserInput(f"{field} is required", field=f"input.{field}")
        return None
    text = re.sub(r"\s+", " ", value).strip()
    if not text:
        if required:
            raise BadUserInput(f"{field} must not be blank", field=f"input.{field}")
        return None
    if len(text) > max_len:
        raise BadUserInput(f"{field} is longer than {max_len} characters", field=f"input.{field}")
    return text


def validate_phone(phone: str | None) -> str | None:
    text = _text(phone, "phone", 40)
    if text is None:
        return None
    if not _PHONE.fullmatch(text) or not 5 <= len(phone_key(text)) <= 15:
        raise BadUserInput(
            "phone must be 5 to 15 digits (+, spaces, dashes allowed)", field="input.phone"
        )
    return text


def validate_email(email: str | None) -> str | None:
    text = _text(email, "email", 254)
    if text is None:
        return None
    if not _EMAIL.fullmatch(text):
        raise BadUserInput("email is not a valid address", field="input.email")
    return text


def clean_contact(contact: Contact) -> Contact:
    """The contact with every detail validated and trimmed."""
    return dataclasses.replace(
        contact,
        name=_text(contact.name, "name", NAME_MAX, required=True) or "",
        title=_text(contact.title, "title", TITLE_MAX),
        phone=validate_phone(contact.phone),
        email=validate_email(contact.email),
        notes=_text(contact.notes, "notes", NOTES_MAX),
        owner_id=_text(contact.owner_id, "ownerId", OWNER_MAX),
    )


def with_owner(contact: Contact, customer_owner_id: str) -> Contact:
    """The contact with a responsible rep: its own, or else the customer's owner."""
    if contact.owner_id:
        return contact
    return dataclasses.replace(contact, owner_id=customer_owner_id)


def primary_first(contacts: tuple[Contact, ...]) -> tuple[Contact, ...]:
    """The contacts as listed: the primary first, the others in the order they were added."""
    return tuple(sorted(contacts, key=lambda c: not c.is_primary))


def with_primary(contacts: tuple[Contact, ...], primary_id: str) -> tuple[Contact, ...]:
    """The same contacts with exactly ``primary_id`` primary."""
    if all(c.id != primary_id for c in contacts):
        raise NotFound("no such contact on this customer", field="input.contactId")
    return tuple(dataclasses.replace(c, is_primary=c.id == primary_id) for c in contacts)


def add_contact(contacts: tuple[Contact, ...], contact: Contact) -> tuple[Contact, ...]:
    """Append a contact; the first one, or one asked to be primary, becomes the primary."""
    if len(contacts) >= CONTACTS_MAX:
        raise BadUserInput(f"at most {CONTACTS_MAX} contacts per customer", field="input")
    added = (*contacts, dataclasses.replace(contact, is_primary=False))
    if contact.is_primary or not contacts:
        return with_primary(added, contact.id)
    return added


def remove_contact(contacts: tuple[Contact, ...], contact_id: str) -> tuple[Contact, ...]:
    """Drop a contact; if it was the primary, the first remaining one becomes primary."""
    removed = next((c for c in contacts if c.id == contact_id), None)
    if removed is None:
        raise NotFound("no such contact on this customer", field="input.contactId")
    rest = tuple(c for c in contacts if c.id != contact_id)
    if removed.is_primary and rest:
        return with_primary(rest, rest[0].id)
    return rest


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def masked(contact: Contact) -> Contact:
    """What an analyst sees: phone and email masked."""
    return dataclasses.replace(
        contact, phone=mask_phone(contact.phone), email=mask_email(contact.email)
    )
