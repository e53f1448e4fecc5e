"""A customer's primary contact address, read from the customer subgraph on a caller's behalf.

Other services keep no contact details (customer events carry ids only, no personal data), so
a service that e-mails a customer's contact (a quote, a survey invitation) asks the customer
subgraph at the moment it needs the address, forwarding the caller's own ``Authorization``:
the customer service decides whether this caller may see that contact (an analyst sees it
masked, which counts as no address here).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from crm_common.errors import CrmError, ErrorCode

log = logging.getLogger(__name__)

_PRIMARY_EMAIL = "query($id: ID!) { customer(id: $id) { primaryContact { email } } }"
_PRIMARY_CONTACT = "query($id: ID!) { customer(id: $id) { primaryContact { name phone email } } }"


@dataclass(frozen=True, slots=True)
class PrimaryContact:
    """The primary contact as this caller may see it (masked values count as absent)."""

    name: str
    phone: str | None = None
    email: str | None = None


def _unmasked(value: object) -> str | None:
    return value if isinstance(value, str) and value and "*" not in value else None


class ContactLookupFailed(CrmError):
    code = ErrorCode.SERVICE_UNAVAILABLE


class GraphQLContactDirectory:
    """Asks the customer subgraph (its replicas' URLs in turn, the next on a connection
    failure) for the primary contact's e-mail (see the module docstring)."""

    def __init__(self, urls: Sequence[str], timeout_s: float = 10.0) -> None:
        self._urls = [u for u in urls if u]
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def close(self, _: object = None) -> None:
        if self._session is not None:
            await self._session.close()

    async def primary_email(self, customer_id: str, credentials: str | None) -> str | None:
        contact = await self._primary(_PRIMARY_EMAIL, customer_id, credentials)
        return _unmasked(contact.get("email")) if contact else None

    async def primary_contact(
        self, customer_id: str, credentials: str | None
    ) -> PrimaryContact | None:
        """Name, phone and e-mail of the primary contact; None if there is none."""
        contact = await self._primary(_PRIMARY_CONTACT, customer_id, credentials)
        if not contact or not isinstance(contact.get("name"), str):
            return None
        return PrimaryContact(
            name=contact["name"],
            phone=_unmasked(contact.get("phone")),
            email=_unmasked(contact.get("email")),
        )

    async def _primary(
        self, query: str, customer_id: str, credentials: str | None
    ) -> dict[str, Any] | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {"Content-Type": "application/json"}
        if credentials:
            headers["Authorization"] = credentials
        body = {"query": query, "variables": {"id": customer_id}}
        last = "no customer service URL configured"
        for url in self._urls:
            try:
                async with self._session.post(url, json=body, headers=headers) as answer:
                    payload: Any = await answer.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                last = repr(exc)
                continue
            customer = ((payload or {}).get("data") or {}).get("customer") or {}
            contact: dict[str, Any] | None = customer.get("primaryContact") or None
            return contact
        log.warning("customer service unreachable for a contact lookup", extra={"error": last})
        raise ContactLookupFailed(
            "the customer service is unreachable; pass `to` or try again", field="input.to"
        )
