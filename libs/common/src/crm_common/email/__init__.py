"""Outgoing e-mail for every service: queue a delivery, a per-process sender sends it over SMTP.

    delivery = await queue_email(db, tenant, to=[...], subject=..., text=..., key=..., context=...,
                                 signal=runtime.email_signal)

See `crm_common.email.queue` (deliveries, idempotence), `crm_common.email.sender` (claims,
retries, refusals) and docs/architecture.md ("E-mail").
"""

from crm_common.email.model import (
    CLAIMS_COLLECTION,
    DELIVERIES_COLLECTION,
    Attachment,
    DeliveryStatus,
    EmailContext,
    valid_address,
)
from crm_common.email.queue import (
    EMAIL_INDEXES,
    Delivery,
    EmailSignal,
    deliveries_for,
    get_delivery,
    queue_email,
)
from crm_common.email.sender import EmailSender, SmtpTransport, record_bounce

__all__ = [
    "CLAIMS_COLLECTION",
    "DELIVERIES_COLLECTION",
    "EMAIL_INDEXES",
    "Attachment",
    "Delivery",
    "DeliveryStatus",
    "EmailContext",
    "EmailSender",
    "EmailSignal",
    "SmtpTransport",
    "deliveries_for",
    "get_delivery",
    "queue_email",
    "record_bounce",
    "valid_address",
]
