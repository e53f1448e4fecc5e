"""The pure parts of e-mail delivery: states, the message, retry timing, SMTP answer triage.

No I/O here (unit-tested in ``libs/common/tests/test_email_model.py``); the queue and the
sender (`crm_common.email.queue`, `crm_common.email.sender`) build on it.
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

#: Deliveries, one document per e-mail, in the database of the service that queued it.
DELIVERIES_COLLECTION = "email_deliveries"
#: Claims of send attempts: ``{_id: "<delivery id>:<attempt>"}`` (an insert is the claim).
CLAIMS_COLLECTION = "email_claims"

#: Upper bound of one e-mail's attachments together (bytes), far below a document's 16 MiB.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+$")


class DeliveryStatus(enum.StrEnum):
    QUEUED = "QUEUED"  # waiting for its first attempt or a retry (``due_at``)
    SENDING = "SENDING"  # claimed by one process until ``due_at`` (then taken over)
    SENT = "SENT"  # the SMTP server accepted it (for at least one recipient)
    FAILED = "FAILED"  # refused for good (5xx), bounced, or out of attempts


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class EmailContext:
    """What the e-mail is about, so the record can list its deliveries (a quote, a survey)."""

    kind: str
    id: str


@dataclass(frozen=True, slots=True)
class SmtpFailure:
    """How one attempt ended when it did not deliver."""

    temporary: bool
    code: int | None
    message: str

    def as_error(self, at: datetime) -> dict[str, object]:
        return {"code": self.code, "message": self.message[:500], "at": at}


def valid_address(address: str) -> bool:
    return bool(_ADDRESS.match(address.strip())) and len(address) <= 254


def retry_delay_s(
    attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with jitter after the ``attempt``-th failed attempt (1-based).

    The ceiling doubles per attempt (base, 2·base, 4·base, ... up to ``cap_s``); the delay is
    drawn from the upper half of it ("equal jitter"), so retries of many deliveries that failed
    together spread out but none comes back at once.
    """
    ceiling: float = min(cap_s, base_s * 2.0 ** max(0, attempt - 1))
    jitter: float = (rng or random).uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


def classify_code(code: int | None, message: str) -> SmtpFailure:
    """An SMTP reply that was not a success: 5xx is permanent, anything else is retried."""
    return SmtpFailure(temporary=code is None or not 500 <= code < 600, code=code, message=message)


def build_message(
    *,
    message_id: str,
    sender: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None,
    attachments: Sequence[Attachment],
    date: datetime,
) -> EmailMessage:
    """The MIME message. ``message_id`` is the delivery's own id: a send repeated after a
    crash carries the same Message-ID, which mail clients use to fold duplicates."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    # A header is one line: titles taken from user input may hold line breaks.
    message["Subject"] = " ".join(subject.split())
    message["Date"] = format_datetime(date)
    message["Message-ID"] = make_msgid_for(message_id, sender)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return message


def make_msgid_for(delivery_id: str, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "crm.local"
    if not re.fullmatch(r"[A-Za-z0-9.\-]+", domain):
        return make_msgid()
    return f"<{delivery_id}@{domain}>"
