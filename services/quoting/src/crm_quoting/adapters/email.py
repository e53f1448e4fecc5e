"""The quote e-mails: deliveries in this service's database (crm_common.email), and the
primary contact's address read from the customer subgraph with the caller's own token."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.email import Attachment, Delivery, EmailContext, EmailSignal, queue_email
from crm_common.email import deliveries_for as list_deliveries
from crm_common.errors import CrmError, ErrorCode
from crm_common.mongo import Document

log = logging.getLogger(__name__)

_PRIMARY_EMAIL = "query($id: ID!) { customer(id: $id) { primaryContact { email } } }"


class ContactLookupFailed(CrmError):
    code = ErrorCode.SERVICE_UNAVAILABLE


class MongoQuoteMailer:
    def __init__(self, db: AsyncDatabase[Document], tenant_id: str, signal: EmailSignal) -> None:
        self._db = db
        self._tenant = tenant_id
        self._signal = signal

    async def queue(
        self,
        quote_id: str,
        *,
        to: str,
        subject: str,
        text: str,
        attachment: Attachment,
        key: str,
    ) -> Delivery:
        return await queue_email(
            self._db,
            self._tenant,
            to=[to],
            subject=subject,
            text=text,
            attachments=[attachment],
            key=key,
            context=EmailContext("quote", quote_id),
            signal=self._signal,
        )

    async def deliveries(self, quote_id: str) -> list[Delivery]:
        return await list_deliveries(self._db, self._tenant, EmailContext("quote", quote_id))


class GraphQLContactDirectory:
    """Asks the customer subgraph (any of its replicas' URLs, in turn) for the primary
    contact's e-mail, forwarding the caller's ``Authorization``: the customer service decides
    whether this caller may see that contact (an analyst gets it masked: refused here)."""

    def __init__(self, urls: Sequence[str], timeout_s: float = 10.0) -> None:
        self._urls = [u for u in urls if u]
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def close(self, _: object = None) -> None:
        if self._session is not None:
            await self._session.close()

    async def primary_email(self, customer_id: str, credentials: str | None) -> str | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {"Content-Type": "application/json"}
        if credentials:
            headers["Authorization"] = credentials
        body = {"query": _PRIMARY_EMAIL, "variables": {"id": customer_id}}
        last = "no customer service URL configured"
        for url in self._urls:
            try:
                async with self._session.post(url, json=body, headers=headers) as answer:
                    payload: Any = await answer.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                last = repr(exc)
                continue
            customer = ((payload or {}).get("data") or {}).get("customer") or {}
            contact = customer.get("primaryContact") or {}
            email = contact.get("email")
            if isinstance(email, str) and "*" not in email:
                return email
            return None
        log.warning("customer service unreachable for a contact lookup", extra={"error": last})
        raise ContactLookupFailed(
            "the customer service is unreachable; pass `to` or try again", field="input.to"
        )
