"""The quote e-mails: deliveries in this service's database (crm_common.email)."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.email import Attachment, Delivery, EmailContext, EmailSignal, queue_email
from crm_common.email import deliveries_for as list_deliveries
from crm_common.mongo import Document


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
