"""The sender: one loop per process that sends queued deliveries over SMTP.

Claim. A delivery's n-th attempt is claimed by inserting ``email_claims/{delivery}:{n}``; the
insert is atomic on MongoDB and on FerretDB 1.24 alike (a unique ``_id``), so of two replicas
that read the same QUEUED delivery only one sends it -- a conditional update would not do on
FerretDB, which applies updates as read-modify-write without a version check
(docs/architecture.md, "Replicas"). Only the claim's winner writes the delivery until the
attempt ends: SENDING (with ``due_at`` = now + the claim timeout), then SENT, FAILED, or QUEUED
again with a retry time.

No loss, maybe a duplicate. A process that dies between claiming and recording the outcome
leaves the delivery SENDING; once its ``due_at`` has passed, the sweep of any replica claims
the next attempt and sends it again. If the first process had already handed the message to
the server, the recipient gets it twice (with the same Message-ID, which mail clients use to
fold duplicates); an e-mail is never dropped. The claim timeout (``4 × smtp_timeout_s``) is
well above one attempt's length, so a slow but living sender is not overtaken.

Retries. Connection failures (refused, reset, timeout) and 4xx answers are temporary: the
delivery goes back to QUEUED with ``due_at`` after an exponential backoff with jitter
(`crm_common.email.model.retry_delay_s`), up to ``email_max_attempts``, then FAILED. A 5xx
answer (a refused recipient, a refused message) is permanent: FAILED at once, with the
server's code and text in ``last_error``. When the server takes the message for some
recipients and refuses others, the delivery is SENT and the refusals are kept in ``refused``.

Wake-up. `queue_email` hands the new delivery's id to this process's `EmailSignal`, so it is
sent right away (a point lookup by ``_id``); the sweep every ``email_sweep_interval_s`` finds
retries that came due, stale claims and anything else through the ``(status, due_at)`` index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, Protocol

import aiosmtplib
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.clock import utc_now
from crm_common.coordination import PROCESS_ID
from crm_common.email.model import (
    CLAIMS_COLLECTION,
    DELIVERIES_COLLECTION,
    Attachment,
    DeliveryStatus,
    SmtpFailure,
    build_message,
    classify_code,
    retry_delay_s,
)
from crm_common.email.queue import EmailSignal
from crm_common.metrics import EMAIL_ATTEMPTS
from crm_common.mongo import CrossTenant, Document
from crm_common.settings import EmailSettings

log = logging.getLogger(__name__)

#: How long attempt claims are kept, and how often a sender prunes older ones.
CLAIMS_KEPT = timedelta(days=1)
CLAIMS_PRUNE_INTERVAL_S = 3600.0


class SendFailed(Exception):
    def __init__(self, failure: SmtpFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class Transport(Protocol):
    async def send(
        self, message: EmailMessage, sender: str, recipients: Sequence[str]
    ) -> dict[str, SmtpFailure]:
        """Hand the message over; returns the recipients the server refused while taking it
        for the others. Raises `SendFailed` when nobody got it."""
        ...


class SmtpTransport:
    """aiosmtplib, one connection per message (login and TLS as the settings say)."""

    def __init__(self, settings: EmailSettings) -> None:
        self._settings = settings

    async def send(
        self, message: EmailMessage, sender: str, recipients: Sequence[str]
    ) -> dict[str, SmtpFailure]:
        s = self._settings
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout_s,
            use_tls=s.smtp_tls == "tls",
            start_tls=s.smtp_tls == "starttls",
        )
        try:
            async with client:
                if s.smtp_username:
                    await client.login(s.smtp_username, password or "")
                refused, _ = await client.send_message(
                    message, sender=sender, recipients=list(recipients)
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0] if exc.recipients else None
            code = first.code if first else None
            text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            raise SendFailed(classify_code(code, text or str(exc))) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendFailed(classify_code(exc.code, f"{exc.code} {exc.message}")) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Connection refused or lost, timeouts, TLS problems: worth another try.
            raise SendFailed(SmtpFailure(True, None, f"{type(exc).__name__}: {exc}")) from exc
        return {
            address: classify_code(answer.code, f"{answer.code} {answer.message}")
            for address, answer in refused.items()
        }


class EmailSender:
    """Sends this service's queued deliveries (see the module docstring)."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        settings: EmailSettings,
        signal: EmailSignal,
        transport: Transport | None = None,
        *,
        holder: str = PROCESS_ID,
        clock: Callable[[], datetime] = utc_now,
        batch_size: int = 50,
    ) -> None:
        # A system loop over every tenant's deliveries: unscoped on purpose.
        raw = CrossTenant(db)
        self._deliveries = raw[DELIVERIES_COLLECTION]
        self._claims = raw[CLAIMS_COLLECTION]
        self._settings = settings
        self._signal = signal
        self._transport = transport or SmtpTransport(settings)
        self._holder = holder
        self._clock = clock
        self._batch = batch_size
        self._claim_timeout = timedelta(seconds=4 * settings.smtp_timeout_s)
        self._task: asyncio.Task[None] | None = None
        self._from_address = parseaddr(settings.smtp_from)[1] or settings.smtp_from
        self.sent = 0  # this process's count (tests)
        self._service = getattr(settings, "service_name", "crm")
        self._claims_pruned_at = float("-inf")

    async def start(self, _: object = None) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="email-sender")

    async def stop(self, _: object = None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        interval = self._settings.email_sweep_interval_s
        next_sweep = 0.0
        while True:
            try:
                ids = await self._signal.wait(max(0.0, next_sweep - time.monotonic()))
                for delivery_id in ids:
                    doc = await self._deliveries.find_one({"_id": delivery_id})
                    if doc is not None:
                        await self.attempt(doc)
                if time.monotonic() >= next_sweep:
                    await self.sweep()
                    next_sweep = time.monotonic() + interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("email sender pass failed", extra={"error": repr(exc)})
                await asyncio.sleep(min(interval, 2.0))

    async def sweep(self) -> int:
        """One pass over what is due: retries, stale claims, unannounced deliveries."""
        done = 0
        now = self._clock()
        if time.monotonic() - self._claims_pruned_at >= CLAIMS_PRUNE_INTERVAL_S:
            self._claims_pruned_at = time.monotonic()
            await self._prune_claims(now)
        for status in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING):
            cursor = self._deliveries.find(
                {"status": status.value, "due_at": {"$lte": now}},
                sort=[("due_at", 1)],
                limit=self._batch,
            )
            for doc in [d async for d in cursor]:
                if await self.attempt(doc):
                    done += 1
        return done

    async def _prune_claims(self, now: datetime) -> None:
        """Claims only matter while some process may still act on what it read before the
        attempt they name, i.e. for seconds; a day later they are history."""
        await self._claims.delete_many({"at": {"$lt": now - CLAIMS_KEPT}})

    async def attempt(self, doc: Document) -> bool:
        """Claim and run the next attempt of ``doc`` if it is due; False if not ours to send."""
        now = self._clock()
        status = doc.get("status")
        due = doc.get("due_at")
        if status not in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING) or (
            due is not None and due > now
        ):
            return False
        attempt = int(doc.get("attempts") or 0) + 1
        if attempt > self._settings.email_max_attempts:
            # Only reachable through takeovers of claims whose senders died every time.
            return await self._give_up(doc, attempt - 1)
        try:
            await self._claims.insert_one(
                {
                    "_id": f"{doc['_id']}:{attempt}",
                    "delivery_id": doc["_id"],
                    "holder": self._holder,
                    "at": now,
                }
            )
        except DuplicateKeyError:
            return False  # another process has this attempt
        await self._set(
            doc,
            {
                "status": DeliveryStatus.SENDING.value,
                "attempts": attempt,
                "due_at": now + self._claim_timeout,
                "claimed_by": self._holder,
            },
        )
        try:
            message = build_message(
                message_id=doc["_id"],
                sender=self._settings.smtp_from,
                to=doc["to"],
                subject=doc.get("subject") or "",
                text=doc.get("text") or "",
                html=doc.get("html"),
                attachments=[
                    Attachment(a["filename"], a["content_type"], bytes(a["content"]))
                    for a in doc.get("attachments") or []
                ],
                date=now,
            )
            refused = await self._transport.send(message, self._from_address, doc["to"])
        except SendFailed as exc:
            await self._failed(doc, attempt, exc.failure)
            return True
        except Exception as exc:
            # Not the server's answer: a message that cannot be built or sent (a bug, bad
            # data). Retrying would fail the same way; record it instead of looping.
            log.exception("email could not be sent", extra={"delivery_id": doc["_id"]})
            failure = SmtpFailure(False, None, f"{type(exc).__name__}: {exc}")
            await self._failed(doc, attempt, failure)
            return True
        at = self._clock()
        await self._set(
            doc,
            {
                "status": DeliveryStatus.SENT.value,
                "sent_at": at,
                "due_at": None,
                "last_error": None,
                "refused": [
                    {"address": a, "code": f.code, "message": f.message[:500]}
                    for a, f in refused.items()
                ],
            },
        )
        self.sent += 1
        EMAIL_ATTEMPTS.labels(self._service, "sent").inc()
        log.info(
            "email sent",
            extra={"delivery_id": doc["_id"], "attempt": attempt, "refused": len(refused)},
        )
        return True

    async def _give_up(self, doc: Document, attempts: int) -> bool:
        try:
            await self._claims.insert_one(
                {"_id": f"{doc['_id']}:give-up", "holder": self._holder, "at": self._clock()}
            )
        except DuplicateKeyError:
            return False
        failure = SmtpFailure(False, None, f"no outcome recorded after {attempts} attempts")
        await self._failed(doc, attempts, failure)
        return True

    async def _failed(self, doc: Document, attempt: int, failure: SmtpFailure) -> None:
        at = self._clock()
        error = failure.as_error(at)
        if failure.temporary and attempt < self._settings.email_max_attempts:
            delay = retry_delay_s(
                attempt, self._settings.email_retry_base_s, self._settings.email_retry_cap_s
            )
            await self._set(
                doc,
                {
                    "status": DeliveryStatus.QUEUED.value,
                    "due_at": at + timedelta(seconds=delay),
                    "last_error": error,
                },
            )
            EMAIL_ATTEMPTS.labels(self._service, "retry").inc()
            log.info(
                "email attempt failed; retrying",
                extra={"delivery_id": doc["_id"], "attempt": attempt, "retry_in_s": delay,
                       "error": failure.message},
            )  # fmt: skip
            return
        if failure.temporary:
            error["message"] = f"gave up after {attempt} attempts: {error['message']}"
        await self._set(
            doc, {"status": DeliveryStatus.FAILED.value, "due_at": None, "last_error": error}
        )
        EMAIL_ATTEMPTS.labels(self._service, "failed").inc()
        log.warning(
            "email failed",
            extra={"delivery_id": doc["_id"], "attempt": attempt, "error": error["message"]},
        )

    async def _set(self, doc: Document, fields: dict[str, Any]) -> None:
        await self._deliveries.update_one({"_id": doc["_id"]}, {"$set": fields})


async def record_bounce(
    db: AsyncDatabase[Document], tenant_id: str, delivery_id: str, code: int | None, message: str
) -> bool:
    """A bounce that arrived after the server had accepted the message (a DSN read from the
    bounce mailbox, a provider's webhook): the delivery becomes FAILED with the bounce as its
    error. True if the delivery exists in that tenant."""
    from crm_common.mongo import tenant_collection

    result = await tenant_collection(db, DELIVERIES_COLLECTION, tenant_id).update_one(
        {"_id": delivery_id},
        {
            "$set": {
                "status": DeliveryStatus.FAILED.value,
                "bounced": True,
                "due_at": None,
                "last_error": {"code": code, "message": message[:500], "at": utc_now()},
            }
        },
    )
    return result.matched_count == 1
