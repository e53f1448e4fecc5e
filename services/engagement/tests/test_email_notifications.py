"""Notification e-mails (pure logic, in-memory stand-ins for the store and the mailer):
IMMEDIATE → one e-mail keyed by the notification; DIGEST → one e-mail per user per ended
period, none before the period (plus grace) is over, nothing twice after a repeated pass."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from crm_common.events.contracts.engagement import NotificationCreated
from crm_common.events.envelope import CloudEvent
from crm_engagement.service.email_notifications import (
    DigestItem,
    EmailNotifications,
    batches,
    compose_digest,
    period_of,
    period_start,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


class _Mailer:
    def __init__(self) -> None:
        self.queued: dict[str, tuple[str, str, str]] = {}

    async def queue(
        self, tenant_id: str, *, to: str, subject: str, text: str, html: str, key: str
    ) -> None:
        self.queued.setdefault(key, (to, subject, text))  # idempotent on the key


class _Store:
    def __init__(self) -> None:
        self.items: dict[str, DigestItem] = {}

    async def add(self, item: DigestItem) -> bool:
        key = f"{item.tenant_id}:{item.notification_id}"
        if key in self.items:
            return False
        self.items[key] = item
        return True

    async def closed(self, by: datetime, limit: int) -> list[DigestItem]:
        found = sorted(
            (i for i in self.items.values() if i.closes_at is None or i.closes_at <= by),
            key=lambda i: (i.closes_at or EPOCH, i.tenant_id, i.recipient_id, i.created_at,
                           i.notification_id),
        )  # fmt: skip
        return found[:limit]

    async def remove(self, items: Sequence[DigestItem]) -> None:
        for item in items:
            self.items.pop(f"{item.tenant_id}:{item.notification_id}", None)


def _event(
    n: int, user: str, mode: str, email: str | None = "u@example.com"
) -> tuple[CloudEvent, NotificationCreated]:
    payload = NotificationCreated(
        notification_id=f"n{n}", recipient_id=user, kind="FOLLOWUP_DUE", title=f"Title {n}",
        body=f"Body {n}", email=email, email_mode=mode, created_at=datetime.now(UTC),
    )  # fmt: skip
    return CloudEvent.new(payload, source="test", tenant_id="t1", key=user), payload


async def test_immediate_once_per_notification_and_nothing_without_address() -> None:
    mailer, store = _Mailer(), _Store()
    service = EmailNotifications(mailer, store, period_s=60, grace_s=1)
    for _ in range(2):  # a redelivery
        await service.notification_created(*_event(1, "u1", "IMMEDIATE"))
    await service.notification_created(*_event(2, "u1", "IMMEDIATE", email=None))
    await service.notification_created(*_event(3, "audience:sales_manager:*", "IMMEDIATE"))
    assert list(mailer.queued) == ["notification:n1"]
    assert mailer.queued["notification:n1"][1] == "Title 1"


async def test_digest_per_user_per_period_after_the_period_ends() -> None:
    now = [datetime(2026, 12, 4, 10, 0, 30, tzinfo=UTC)]
    mailer, store = _Mailer(), _Store()
    service = EmailNotifications(mailer, store, period_s=60, grace_s=5, clock=lambda: now[0])
    for n, user in [(1, "u1"), (2, "u2"), (3, "u1"), (4, "u1")]:
        await service.notification_created(*_event(n, user, "DIGEST"))
    await service.notification_created(*_event(3, "u1", "DIGEST"))  # redelivered
    assert await service.send_due_digests() == 0  # the period is still open
    now[0] += timedelta(seconds=32)  # period over, grace not yet
    assert await service.send_due_digests() == 0
    now[0] += timedelta(seconds=5)
    assert await service.send_due_digests() == 2
    assert await service.send_due_digests() == 0
    assert not store.items
    texts = {key.split(":")[1]: value for key, value in mailer.queued.items()}
    assert texts["u1"][1] == "Your CRM digest: 3 notifications"
    assert "Title 4" in texts["u1"][2] and "Title 2" not in texts["u1"][2]
    assert texts["u2"][1] == "Your CRM digest: 1 notification"


def test_batches_split_by_tenant_user_and_period() -> None:
    at = datetime(2026, 12, 4, tzinfo=UTC)

    def item(t: str, u: str, p: int, n: str) -> DigestItem:
        return DigestItem(t, n, u, f"{u}@example.com", "K", n, "", None, None, at, p)

    groups = batches([item("t", "a", 1, "1"), item("t", "a", 1, "2"), item("t", "b", 1, "3"),
                      item("t", "b", 2, "4"), item("u", "b", 2, "5")])  # fmt: skip
    assert [len(g.items) for g in groups] == [2, 1, 1, 1]
    subject, text, html = compose_digest(groups[0], 86400)
    assert subject == "Your CRM digest: 2 notifications"
    assert "<strong>1</strong>" in html and "- [K] 2" in text


async def test_a_daily_digest_covers_the_tenants_local_day() -> None:
    # 2026-12-04 17:30 UTC is 01:30 on December 5th in Shanghai: the day closes at 16:00 UTC.
    now = [datetime(2026, 12, 4, 17, 30, tzinfo=UTC)]
    mailer, store = _Mailer(), _Store()

    async def zone_of(_: str) -> tzinfo:
        return SHANGHAI

    service = EmailNotifications(
        mailer, store, period_s=86400, grace_s=60, clock=lambda: now[0], zone_of=zone_of
    )
    await service.notification_created(*_event(1, "u1", "DIGEST"))
    [item] = store.items.values()
    assert item.closes_at == datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    now[0] = datetime(2026, 12, 5, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai: still open
    assert await service.send_due_digests() == 0
    now[0] = datetime(2026, 12, 5, 16, 1, tzinfo=UTC)  # past local midnight and the grace
    assert await service.send_due_digests() == 1
    [(_, _, text)] = mailer.queued.values()
    assert text.startswith("1 notification since 2026-12-05 00:00 (Asia/Shanghai):")


def test_local_periods_follow_the_wall_clock_across_daylight_saving() -> None:
    new_york = ZoneInfo("America/New_York")
    # November 1st 2026 has 25 hours in New York; its period starts and ends at midnight.
    day = period_of(datetime(2026, 11, 1, 12, 0, tzinfo=UTC), 86400, new_york)
    start, end = period_start(day, 86400, new_york), period_start(day + 1, 86400, new_york)
    assert (start.hour, end.hour) == (0, 0)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)


async def test_items_without_a_closing_time_are_sent_at_the_next_pass() -> None:
    mailer, store = _Mailer(), _Store()
    service = EmailNotifications(mailer, store, period_s=86400, grace_s=60)
    store.items["t1:old"] = DigestItem(
        "t1", "old", "u1", "u@example.com", "K", "Old", "", None, None, EPOCH, 1
    )
    assert await service.send_due_digests() == 1
    assert not store.items
