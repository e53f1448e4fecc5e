"""Notifications by e-mail: ``crm.engagement.notification_created`` events that carry an
address (the recipient's preferences turned the e-mail channel on) become e-mails.

- IMMEDIATE: one e-mail per notification, queued under the key ``notification:<id>``, so a
  redelivered event queues nothing new (crm_common.email is idempotent on the key).
- DIGEST: the notification is collected (one item per notification id: an insert, so a
  redelivery adds nothing) into the period it ARRIVED in (``email_digest_period_s``, default a
  day). Periods follow the tenant's wall clock (its time zone, crm_common.tenants): a daily
  digest covers a local day, midnight to midnight, and its text gives local times. Each item
  records when its period closes (a UTC instant). The holder of the ``engagement.email-digest``
  lease sends, for every period that closed at least ``email_digest_grace_s`` ago, one e-mail
  per user (key ``digest:<user>:<period>:<first item>``), then deletes the items it sent. A
  crash between queuing and deleting re-queues the same key next time: nothing twice. An item
  that arrives for a period already closed cannot happen (items go into the current period);
  one whose insert was delayed past the grace after its period ended would be mailed in a
  later digest of the same period under another key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from html import escape
from typing import Protocol

from crm_common.clock import utc_now
from crm_common.coordination import Lease
from crm_common.errors import BadUserInput
from crm_common.events.contracts.engagement import NotificationCreated
from crm_common.events.envelope import CloudEvent

log = logging.getLogger(__name__)

LEASE_NAME = "engagement.email-digest"
DIGEST = "DIGEST"


@dataclass(frozen=True, slots=True)
class DigestItem:
    tenant_id: str
    notification_id: str
    recipient_id: str
    email: str
    kind: str
    title: str
    body: str
    record_type: str | None
    record_id: str | None
    created_at: datetime
    period: int
    # When the period closes (UTC); None for items collected before periods were local.
    closes_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DigestBatch:
    tenant_id: str
    recipient_id: str
    email: str
    period: int
    items: tuple[DigestItem, ...]


class NotificationMailer(Protocol):
    async def queue(
        self, tenant_id: str, *, to: str, subject: str, text: str, html: str, key: str
    ) -> None: ...


class DigestStore(Protocol):
    async def add(self, item: DigestItem) -> bool:
        """Collect ``item``; False if that notification is collected already."""
        ...

    async def closed(self, by: datetime, limit: int) -> list[DigestItem]:
        """Items of periods closed by ``by`` (and any without a closing time), ordered by
        (closing time, tenant, recipient, created_at, notification id), at most ``limit``."""
        ...

    async def remove(self, items: Sequence[DigestItem]) -> None: ...


_EPOCH = datetime(1970, 1, 1)


def period_of(at: datetime, period_s: float, zone: tzinfo = UTC) -> int:
    """The number of the period ``at`` falls in, periods counted on ``zone``'s wall clock
    from the epoch (with a day, local midnight to midnight)."""
    wall = at.astimezone(zone).replace(tzinfo=None)
    return int((wall - _EPOCH).total_seconds() // period_s)


def period_start(period: int, period_s: float, zone: tzinfo = UTC) -> datetime:
    """When ``period`` starts, as an aware time in ``zone`` (the wall clock's reading; a
    start inside a daylight-saving gap reads as the hour before the jump, fold=0)."""
    wall = _EPOCH + timedelta(seconds=period * period_s)
    return wall.replace(tzinfo=zone)


async def _utc(_: str) -> tzinfo:
    return UTC


def batches(items: Sequence[DigestItem]) -> list[DigestBatch]:
    """Consecutive items of one (tenant, recipient, period) as one batch each, in order."""
    out: list[DigestBatch] = []
    group: list[DigestItem] = []
    for item in items:
        if group and (item.tenant_id, item.recipient_id, item.period) != (
            group[0].tenant_id,
            group[0].recipient_id,
            group[0].period,
        ):
            out.append(_batch(group))
            group = []
        group.append(item)
    if group:
        out.append(_batch(group))
    return out


def _batch(group: list[DigestItem]) -> DigestBatch:
    first = group[0]
    # The address of the latest notification wins (the user may have changed it meanwhile).
    return DigestBatch(first.tenant_id, first.recipient_id, group[-1].email, first.period,
                       tuple(group))  # fmt: skip


def compose_digest(batch: DigestBatch, period_s: float, zone: tzinfo = UTC) -> tuple[str, str, str]:
    """Subject, text and HTML of one digest; times on the tenant's clock ``zone``."""
    n = len(batch.items)
    start = period_start(batch.period, period_s, zone)
    subject = f"Your CRM digest: {n} notification{'s' if n != 1 else ''}"
    # The zone's IANA name: abbreviations are ambiguous (CST is China's and Chicago's).
    since = f"{start:%Y-%m-%d %H:%M} ({getattr(zone, 'key', None) or start.tzname()})"
    lines = [f"{n} notification{'s' if n != 1 else ''} since {since}:", ""]
    html = [f"<p>{escape(lines[0])}</p>", "<ul>"]
    for item in batch.items:
        lines.append(f"- [{item.kind}] {item.title}")
        if item.body:
            lines.append(f"  {item.body}")
        html.append(
            f"<li><strong>{escape(item.title)}</strong> <small>{escape(item.kind)}</small>"
            + (f"<br>{escape(item.body)}" if item.body else "")
            + "</li>"
        )
    html.append("</ul>")
    return subject, "\n".join(lines) + "\n", "\n".join(html)


class EmailNotifications:
    def __init__(
        self,
        mailer: NotificationMailer,
        digests: DigestStore,
        *,
        period_s: float,
        grace_s: float,
        clock: Callable[[], datetime] = utc_now,
        zone_of: Callable[[str], Awaitable[tzinfo]] = _utc,
        batch_limit: int = 500,
    ) -> None:
        self._mailer = mailer
        self._zone_of = zone_of
        self._digests = digests
        self._period_s = period_s
        self._grace_s = grace_s
        self._clock = clock
        self._limit = batch_limit

    async def notification_created(self, event: CloudEvent, payload: NotificationCreated) -> None:
        if not payload.email or payload.recipient_id.startswith("audience:"):
            return
        try:
            if payload.email_mode == DIGEST:
                zone = await self._zone_of(event.tenant_id)
                period = period_of(self._clock(), self._period_s, zone)
                closes = period_start(period + 1, self._period_s, zone).astimezone(UTC)
                await self._digests.add(
                    DigestItem(
                        tenant_id=event.tenant_id,
                        notification_id=payload.notification_id,
                        recipient_id=payload.recipient_id,
                        email=payload.email,
                        kind=payload.kind,
                        title=payload.title,
                        body=payload.body,
                        record_type=payload.record_type,
                        record_id=payload.record_id,
                        created_at=payload.created_at,
                        period=period,
                        closes_at=closes,
                    )
                )
                return
            body = payload.body or payload.title
            await self._mailer.queue(
                event.tenant_id,
                to=payload.email,
                subject=payload.title,
                text=f"{body}\n",
                html=f"<p>{escape(body)}</p>",
                key=f"notification:{payload.notification_id}",
            )
        except BadUserInput as exc:
            # An address no server could take: nothing to retry (the event stays applied).
            log.warning(
                "notification e-mail not queued",
                extra={"notification_id": payload.notification_id, "error": exc.message},
            )

    async def send_due_digests(self) -> int:
        """Queue the digests of every period that has ended (plus the grace); returns how
        many e-mails were queued."""
        cutoff = self._clock() - timedelta(seconds=self._grace_s)
        queued = 0
        while True:
            items = await self._digests.closed(cutoff, self._limit)
            if not items:
                return queued
            for batch in batches(items):
                zone = await self._zone_of(batch.tenant_id)
                subject, text, html = compose_digest(batch, self._period_s, zone)
                try:
                    await self._mailer.queue(
                        batch.tenant_id,
                        to=batch.email,
                        subject=subject,
                        text=text,
                        html=html,
                        key=f"digest:{batch.recipient_id}:{batch.period}:"
                        f"{batch.items[0].notification_id}",
                    )
                    queued += 1
                except BadUserInput as exc:
                    log.warning("digest not queued", extra={"error": exc.message})
                await self._digests.remove(batch.items)
            if len(items) < self._limit:
                return queued


class DigestLoop:
    """Every replica runs it; only the lease holder sends digests."""

    def __init__(
        self, notifications: EmailNotifications, lease: Lease | None, interval_s: float
    ) -> None:
        self._notifications = notifications
        self._lease = lease
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self, _: object = None) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="email-digests")

    async def stop(self, _: object = None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._lease is not None:
            with contextlib.suppress(Exception):
                await self._lease.release()

    async def _run(self) -> None:
        while True:
            try:
                if self._lease is None or await self._lease.held():
                    await self._notifications.send_due_digests()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("digest pass failed", extra={"error": repr(exc)})
            await asyncio.sleep(self._interval)
