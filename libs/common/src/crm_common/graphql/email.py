"""The e-mail delivery as records show it (a quote's, a survey's): one shared GraphQL type.

Declared once here and used by every subgraph that sends e-mail, so the federated types are
identical (``@shareable``), like `PageInfo`.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from crm_common.email import Delivery
from crm_common.email import DeliveryStatus as DeliveryStatusModel

EmailDeliveryStatus = strawberry.enum(
    DeliveryStatusModel,
    name="EmailDeliveryStatus",
    description="QUEUED (waiting, maybe for a retry), SENDING, SENT (accepted by the mail "
    "server) or FAILED (refused, bounced, or out of attempts; see lastError).",
)


@strawberry.federation.type(shareable=True, description="One e-mail sent about a record.")
class EmailDelivery:
    id: strawberry.ID = strawberry.field(description="Id of the delivery.")
    to: str = strawberry.field(description="Recipient address(es), comma-separated.")
    subject: str = strawberry.field(description="Subject line.")
    status: EmailDeliveryStatus = strawberry.field(description="Where the e-mail is.")  # type: ignore[valid-type]
    attempts: int = strawberry.field(description="SMTP attempts made so far.")
    last_error: str | None = strawberry.field(
        description="The mail server's answer to the last failed attempt (code and text)."
    )
    last_error_code: int | None = strawberry.field(
        description="SMTP reply code of the last failure (e.g. 550); null for connection errors."
    )
    created_at: datetime = strawberry.field(description="When it was queued (ISO 8601, UTC).")
    sent_at: datetime | None = strawberry.field(
        description="When the mail server accepted it; null until then."
    )

    @classmethod
    def of(cls, delivery: Delivery) -> EmailDelivery:
        return cls(
            id=strawberry.ID(delivery.id),
            to=", ".join(delivery.to),
            subject=delivery.subject,
            status=delivery.status,
            attempts=delivery.attempts,
            last_error=delivery.last_error,
            last_error_code=delivery.last_error_code,
            created_at=delivery.created_at,
            sent_at=delivery.sent_at,
        )
