"""E-mail delivery against real servers: Mailpit (scripts/infra.sh) and small aiosmtpd servers
that refuse (550) or defer (451), on the real store.

Covers: a queued e-mail arrives once with its attachment and the delivery reads SENT; queuing
the same key again sends nothing more; a refused address (Mailpit refuses .invalid) and a
server answering 550 make the delivery FAILED with the server's code and text; 451 twice then
250 → SENT on the third attempt; a server that is down (connection refused) is retried with
backoff until it is up, and the e-mail arrives once; two senders (two "replicas", one
connection each) racing over the same deliveries send every one exactly once; a claim left
by a dead sender is taken over once after its timeout; throughput of one sender to Mailpit.
"""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from tests.support.mailpit import Mailpit
from tests.support.replicas import until

from crm_common.email import (
    DELIVERIES_COLLECTION,
    Attachment,
    DeliveryStatus,
    EmailContext,
    EmailSender,
    EmailSignal,
    get_delivery,
    queue_email,
)
from crm_common.mongo import create_client
from crm_common.settings import EmailSettings

pytestmark = [pytest.mark.e2e]


def _settings(port: int, **extra: Any) -> EmailSettings:
    return EmailSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        smtp_from="CRM Test <crm@example.com>",
        smtp_timeout_s=5,
        email_sweep_interval_s=0.2,
        email_retry_base_s=0.2,
        email_retry_cap_s=1.0,
        **extra,
    )


class _Scripted:
    """aiosmtpd handler answering RCPT with the next scripted reply, then 250."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.received: list[bytes] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.replies:
            return self.replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content or b""
        self.received.append(content.encode() if isinstance(content, str) else bytes(content))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def db(infra: stack.StackConfig) -> Any:
    client = create_client(infra.mongodb_uri, "email-test", 1)
    database = client[f"crm_test_{uuid.uuid4().hex[:8]}"]
    yield database
    await client.drop_database(database.name)
    await client.close()


async def test_sent_once_with_attachment_and_idempotent_on_key(
    infra: stack.StackConfig, db: Any
) -> None:
    mailpit = Mailpit(infra.mailpit_url)
    tenant, to = "t-mail", f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    signal = EmailSignal()
    sender = EmailSender(db, _settings(infra.mailpit_smtp_port), signal)
    await sender.start()
    try:
        first = await queue_email(
            db, tenant, to=[to], subject="Your quote", text="Attached.",
            html="<p>Attached.</p>", attachments=[Attachment("q.pdf", "application/pdf", b"%PDF")],
            key="quote:1:v1", context=EmailContext("quote", "1"), signal=signal,
        )  # fmt: skip
        again = await queue_email(
            db, tenant, to=[to], subject="Your quote", text="Attached.",
            key="quote:1:v1", context=EmailContext("quote", "1"), signal=signal,
        )  # fmt: skip
        assert again.id == first.id

        async def sent() -> bool:
            found = await get_delivery(db, tenant, first.id)
            return found is not None and found.status is DeliveryStatus.SENT

        await until(sent)
        messages = await mailpit.await_for(to)
        detail = mailpit.message(messages[0]["ID"])
        assert [a["FileName"] for a in detail["Attachments"]] == ["q.pdf"]
        assert mailpit.part(messages[0]["ID"], detail["Attachments"][0]["PartID"]) == b"%PDF"
        assert detail["MessageID"] == f"{first.id}@example.com"
        # Another tenant's identical key is another e-mail.
        other = await queue_email(
            db, "t-other", to=[to], subject="s", text="t", key="quote:1:v1", signal=signal
        )
        assert other.id != first.id
        await mailpit.await_for(to, count=2)
        assert len(mailpit.messages_to(to)) == 2
    finally:
        await sender.stop()


async def test_refused_recipient_fails_with_the_servers_answer(
    infra: stack.StackConfig, db: Any
) -> None:
    signal = EmailSignal()
    sender = EmailSender(db, _settings(infra.mailpit_smtp_port), signal)
    await sender.start()
    try:
        queued = await queue_email(
            db, "t1", to=["nobody@nowhere.invalid"], subject="s", text="t", key="k", signal=signal
        )

        async def failed() -> bool:
            found = await get_delivery(db, "t1", queued.id)
            return found is not None and found.status is DeliveryStatus.FAILED

        await until(failed)
        found = await get_delivery(db, "t1", queued.id)
        assert found is not None
        assert found.attempts == 1  # permanent: no retry
        assert found.last_error_code == 550
        assert "nobody@nowhere.invalid" in (found.last_error or "")
    finally:
        await sender.stop()


async def test_deferred_twice_then_accepted_and_hard_550(db: Any) -> None:
    handler = _Scripted(["451 4.3.0 try again later", "451 4.3.0 still busy"])
    port = _free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    signal = EmailSignal()
    sender = EmailSender(db, _settings(port), signal)
    await sender.start()
    try:
        queued = await queue_email(
            db, "t1", to=["a@example.com"], subject="s", text="t", key="deferred", signal=signal
        )

        async def sent() -> bool:
            found = await get_delivery(db, "t1", queued.id)
            return found is not None and found.status is DeliveryStatus.SENT

        await until(sent)
        found = await get_delivery(db, "t1", queued.id)
        assert found is not None and found.attempts == 3
        assert len(handler.received) == 1

        handler.replies = ["550 5.1.1 user unknown"]
        hard = await queue_email(
            db, "t1", to=["b@example.com"], subject="s", text="t", key="hard", signal=signal
        )

        async def failed() -> bool:
            found = await get_delivery(db, "t1", hard.id)
            return found is not None and found.status is DeliveryStatus.FAILED

        await until(failed)
        found = await get_delivery(db, "t1", hard.id)
        assert found is not None
        assert (found.last_error_code, found.attempts) == (550, 1)
        assert "user unknown" in (found.last_error or "")
    finally:
        await sender.stop()
        server.stop()


async def test_server_down_then_up_delivers_once(db: Any) -> None:
    handler = _Scripted([])
    port = _free_port()  # nothing listens yet: connection refused
    signal = EmailSignal()
    sender = EmailSender(db, _settings(port), signal)
    await sender.start()
    server: Controller | None = None
    try:
        queued = await queue_email(
            db, "t1", to=["a@example.com"], subject="s", text="t", key="down", signal=signal
        )

        async def retried() -> bool:
            found = await get_delivery(db, "t1", queued.id)
            return found is not None and found.attempts >= 2

        await until(retried)
        found = await get_delivery(db, "t1", queued.id)
        assert found is not None and found.status is not DeliveryStatus.SENT
        assert found.last_error and "onnect" in found.last_error
        server = Controller(handler, hostname="127.0.0.1", port=port)
        server.start()

        async def sent() -> bool:
            found = await get_delivery(db, "t1", queued.id)
            return found is not None and found.status is DeliveryStatus.SENT

        await until(sent)
        assert len(handler.received) == 1
    finally:
        await sender.stop()
        if server is not None:
            server.stop()


async def test_two_senders_racing_send_each_delivery_once(
    infra: stack.StackConfig, db: Any
) -> None:
    handler = _Scripted([])
    port = _free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    clients = [create_client(infra.mongodb_uri, f"replica-{i}", 1) for i in range(2)]
    dbs = [c[db.name] for c in clients]
    # No signal: both find the deliveries through the sweep at the same moments.
    senders = [
        EmailSender(d, _settings(port), EmailSignal(), holder=f"replica-{i}")
        for i, d in enumerate(dbs)
    ]
    try:
        n = 40
        for i in range(n):
            await queue_email(
                db, "t1", to=[f"r{i}@example.com"], subject=f"m{i}", text="t", key=f"race-{i}"
            )
        started = time.monotonic()
        for s in senders:
            await s.start()

        async def all_sent() -> bool:
            sent: int = await db[DELIVERIES_COLLECTION].count_documents({"status": "SENT"})
            return sent == n

        await until(all_sent, timeout_s=120)
        seconds = time.monotonic() - started
        assert len(handler.received) == n
        assert sum(s.sent for s in senders) == n
        print(f"\n[email] {n} deliveries by 2 racing senders in {seconds:.2f}s "
              f"({n / seconds:.1f}/s; split {[s.sent for s in senders]})")  # fmt: skip
    finally:
        for s in senders:
            await s.stop()
        server.stop()
        for c in clients:
            await c.close()


async def test_a_claim_left_by_a_dead_sender_is_taken_over_after_its_timeout(db: Any) -> None:
    """A process died mid-send (SENDING, claim timed out): another sends it again; the claim
    of the dead attempt stays, so the takeover is attempt 2 and happens once."""
    handler = _Scripted([])
    port = _free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        queued = await queue_email(
            db, "t1", to=["a@example.com"], subject="s", text="t", key="orphan"
        )
        await db["email_claims"].insert_one({"_id": f"{queued.id}:1", "holder": "dead"})
        past = datetime.now(UTC) - timedelta(seconds=1)
        await db[DELIVERIES_COLLECTION].update_one(
            {"_id": queued.id},
            {"$set": {"status": "SENDING", "attempts": 1, "due_at": past, "claimed_by": "dead"}},
        )
        senders = [
            EmailSender(db, _settings(port), EmailSignal(), holder=f"alive-{i}") for i in range(2)
        ]
        assert sum([await s.sweep() for s in senders]) == 1
        found = await get_delivery(db, "t1", queued.id)
        assert found is not None
        assert (found.status, found.attempts) == (DeliveryStatus.SENT, 2)
        assert len(handler.received) == 1
    finally:
        server.stop()


async def test_send_throughput_to_mailpit(infra: stack.StackConfig, db: Any) -> None:
    """One sender (one FerretDB connection, one SMTP connection per message), 200 e-mails."""
    mailpit = Mailpit(infra.mailpit_url)
    to = f"bulk-{uuid.uuid4().hex[:8]}@example.com"
    signal = EmailSignal()
    sender = EmailSender(db, _settings(infra.mailpit_smtp_port), signal)
    n = 200
    started = time.monotonic()
    await sender.start()
    try:
        for i in range(n):
            await queue_email(
                db, "t-bulk", to=[to], subject=f"bulk {i}", text="t", key=f"bulk-{i}",
                signal=signal,
            )  # fmt: skip

        async def all_sent() -> bool:
            sent: int = await db[DELIVERIES_COLLECTION].count_documents({"status": "SENT"})
            return sent == n

        await until(all_sent, timeout_s=240)
        seconds = time.monotonic() - started
        assert len(await mailpit.await_for(to, count=n)) == n
        print(f"\n[email] {n} e-mails queued and sent to Mailpit in {seconds:.2f}s "
              f"({n / seconds:.0f}/s, one sender)")  # fmt: skip
    finally:
        await sender.stop()


class _Broken:
    async def send(self, message: Any, sender: str, recipients: Any) -> dict[str, Any]:
        raise RuntimeError("not an SMTP answer")


async def test_errors_that_are_no_smtp_answer_and_endless_takeovers_end_in_failed(
    db: Any,
) -> None:
    sender = EmailSender(db, _settings(_free_port()), EmailSignal(), transport=_Broken())
    broken = await queue_email(db, "t1", to=["a@example.com"], subject="s", text="t", key="b")
    orphan = await queue_email(db, "t1", to=["b@example.com"], subject="s", text="t", key="o")
    past = datetime.now(UTC) - timedelta(seconds=1)
    await db[DELIVERIES_COLLECTION].update_one(
        {"_id": orphan.id}, {"$set": {"status": "SENDING", "attempts": 10, "due_at": past}}
    )
    assert await sender.sweep() == 2
    first = await get_delivery(db, "t1", broken.id)
    second = await get_delivery(db, "t1", orphan.id)
    assert first is not None and second is not None
    assert (first.status, first.attempts) == (DeliveryStatus.FAILED, 1)
    assert "not an SMTP answer" in (first.last_error or "")
    assert (second.status, second.attempts) == (DeliveryStatus.FAILED, 10)
    assert "after 10 attempts" in (second.last_error or "")
    assert await sender.sweep() == 0
