"""The pure parts of e-mail delivery: backoff, SMTP answer triage, the MIME message."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from crm_common.email.model import (
    Attachment,
    build_message,
    classify_code,
    retry_delay_s,
    valid_address,
)


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0), (12, 600.0), (40, 600.0)]:
        for _ in range(50):
            delay = retry_delay_s(attempt, 2.0, 600.0, rng)
            assert ceiling / 2 <= delay <= ceiling
    spread = {round(retry_delay_s(5, 2.0, 600.0, rng), 3) for _ in range(20)}
    assert len(spread) > 10  # jittered, not one value


def test_five_hundreds_are_permanent_everything_else_is_retried() -> None:
    assert not classify_code(550, "mailbox unavailable").temporary
    assert not classify_code(554, "rejected").temporary
    assert classify_code(451, "try later").temporary
    assert classify_code(421, "closing").temporary
    assert classify_code(None, "connection refused").temporary


def test_message_carries_text_html_attachment_and_a_stable_message_id() -> None:
    message = build_message(
        message_id="d-1",
        sender="CRM <crm@example.com>",
        to=["a@example.com", "b@example.com"],
        subject="Quote Q-1",
        text="Hello",
        html="<p>Hello</p>",
        attachments=[Attachment("q.pdf", "application/pdf", b"%PDF-1.4 ...")],
        date=datetime(2026, 12, 4, tzinfo=UTC),
    )
    assert message["Message-ID"] == "<d-1@example.com>"
    assert message["To"] == "a@example.com, b@example.com"
    parts = list(message.iter_attachments())
    assert [p.get_filename() for p in parts] == ["q.pdf"]
    assert parts[0].get_content() == b"%PDF-1.4 ..."
    body = message.get_body(("html",))
    assert body is not None and "<p>Hello</p>" in body.get_content()


def test_a_subject_with_line_breaks_is_one_header_line() -> None:
    message = build_message(
        message_id="d-2", sender="crm@example.com", to=["a@example.com"],
        subject="Call back\r\nBcc: x@example.com", text="t", html=None, attachments=[],
        date=datetime(2026, 12, 4, tzinfo=UTC),
    )  # fmt: skip
    assert message["Subject"] == "Call back Bcc: x@example.com"
    assert message["Bcc"] is None


def test_addresses() -> None:
    assert valid_address("li.lei@example.com")
    assert valid_address("x@nowhere.invalid")
    assert not valid_address("no-at-sign")
    assert not valid_address("a@b")
    assert not valid_address("a b@example.com")
    assert not valid_address("a@example.com, b@example.com")
