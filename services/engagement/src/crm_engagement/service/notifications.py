"""The notification inbox: created from events, read and marked by users, pushed live.

Creation (`NotificationInbox`, run by the engagement consumer after its other reactions):
each event of `NOTIFYING_EVENTS` becomes zero or more drafts (`domain.notification.drafts_for`);
a draft for a user is filtered by that user's preferences (kind off: nothing; inbox channel
off: stored hidden, only for the e-mail), an audience draft is stored once. Each notification
is inserted under an id derived from (tenant, source event, recipient, kind) with its
``crm.engagement.notification_created`` event in the outbox, so the consumer's redelivery and
two replicas store one notification and publish one event id.

Reading (`NotificationService`, one per request): a user's inbox holds their own notifications
plus their copies of audience notifications; copies are made (idempotent inserts) the first
time the user looks after the audience notification was stored (``stored_at`` watermark in the
preferences, with an overlap for clock skew) and when one reaches them live. Every read applies
record visibility the way the records do: a rep or manager sees only notifications about
customers they see now (or about no customer).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from crm_common.auth import Principal, Role
from crm_common.clock import utc_now
from crm_common.coordination import deterministic_event_id
from crm_common.errors import BadUserInput, NotFound
from crm_common.events.contracts.engagement import NotificationCreated
from crm_common.events.envelope import CloudEvent, MalformedEvent
from crm_common.events.outbox import new_event
from crm_common.live import RecentIds
from crm_common.pagination import Page, PageRequest
from crm_engagement.domain.notification import (
    NOTIFYING_EVENTS,
    Channel,
    EmailMode,
    KindPreference,
    Notification,
    NotificationKind,
    Preferences,
    audience_keys,
    copy_for,
    customer_id_of,
    drafts_for,
    event_recipient_id,
    from_draft,
    is_audience,
    user_key,
)
from crm_engagement.domain.permissions import may_see, sees_everything, sees_nothing
from crm_engagement.service.base import EVENT_SOURCE
from crm_engagement.service.ports import CustomerRefRepository

log = logging.getLogger(__name__)

_NOTIFYING_TYPES = frozenset(model.event_type for model in NOTIFYING_EVENTS)
# How far back a user's first look copies audience notifications, and the overlap of later
# looks (replicas' clocks differ a little; a copy is an idempotent insert).
AUDIENCE_LOOKBACK = timedelta(days=30)
SYNC_OVERLAP = timedelta(minutes=1)
MAX_AUDIENCE_BATCH = 500
# How many known members of an audience are e-mailed at once (the rest on their next look).
MAX_AUDIENCE_EMAILS = 1000
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")


class NotificationStore(Protocol):
    """One tenant's notifications."""

    async def add(self, notification: Notification, events: Sequence[CloudEvent]) -> bool:
        """Insert with its events staged; False when it exists already."""

    async def add_copy(self, notification: Notification) -> bool:
        """Insert a user's copy of an audience notification; False when it exists already."""

    async def add_announced(self, notification: Notification, events: Sequence[CloudEvent]) -> bool:
        """`add`, or stage the events on the copy a user's look inserted first without any
        (announced once: False when it was announced already)."""

    async def get(self, notification_id: str) -> Notification | None: ...

    async def page(
        self,
        recipient: str,
        unread_only: bool,
        customer_ids: Sequence[str] | None,
        page: PageRequest,
    ) -> Page[Notification]: ...

    async def unread_count(self, recipient: str, customer_ids: Sequence[str] | None) -> int: ...

    async def mark_read(self, notification_id: str, recipient: str, at: datetime) -> bool: ...

    async def mark_all_read(
        self, recipient: str, customer_ids: Sequence[str] | None, at: datetime
    ) -> int: ...

    async def audience_since(
        self, keys: Sequence[str], stored_from: datetime, limit: int
    ) -> list[Notification]:
        """Audience notifications of ``keys`` stored at or after ``stored_from``, oldest first."""


class PreferenceStore(Protocol):
    async def get(self, user_id: str) -> Preferences | None: ...

    async def save(self, preferences: Preferences) -> None: ...

    async def members(self, audience: str, limit: int) -> list[Preferences]:
        """The users known to belong to ``audience`` (as of their last request)."""


@dataclass(frozen=True, slots=True)
class NotificationStores:
    notifications: NotificationStore
    preferences: PreferenceStore
    customers: CustomerRefRepository


def created_event(notification: Notification, email: str | None, mode: EmailMode) -> CloudEvent:
    payload = NotificationCreated(
        notification_id=notification.id,
        recipient_id=event_recipient_id(notification.recipient),
        kind=notification.kind.value,
        title=notification.title,
        body=notification.body,
        record_type=notification.record_type,
        record_id=notification.record_id,
        customer_id=notification.customer_id,
        email=email,
        email_mode=mode.value,
        created_at=notification.created_at,
    )
    event = new_event(
        payload,
        source=EVENT_SOURCE,
        tenant_id=notification.tenant_id,
        key=payload.recipient_id,
    )
    return event.with_id(deterministic_event_id("engagement.notification_created", notification.id))


class NotificationInbox:
    """Turns the events engagement consumes into notifications (idempotent per event)."""

    def __init__(
        self,
        stores_for: Callable[[str], NotificationStores],
        notify_outbox: Callable[[], None],
    ) -> None:
        self._stores_for = stores_for
        self._notify_outbox = notify_outbox
        self.created = 0

    async def on_event(self, event: CloudEvent) -> int:
        """Create the event's notifications; how many were new."""
        if event.type not in _NOTIFYING_TYPES:
            return 0
        try:
            payload = event.parse()
        except MalformedEvent as exc:
            log.warning("event not notified", extra={"event_id": event.id, "error": str(exc)})
            return 0
        stores = self._stores_for(event.tenant_id)
        customer_id = customer_id_of(payload)
        customer = await stores.customers.get(customer_id) if customer_id else None
        created = 0
        for draft in drafts_for(event.id, event.time, payload, customer):
            if is_audience(draft.recipient):
                notification = from_draft(event.tenant_id, draft)
                outgoing = created_event(notification, None, EmailMode.IMMEDIATE)
            else:
                user_id = draft.recipient.removeprefix("user:")
                prefs = await stores.preferences.get(user_id) or Preferences(user_id=user_id)
                inbox, email = prefs.delivers(draft.kind)
                if not inbox and email is None:
                    continue  # the user turned this kind off
                notification = from_draft(event.tenant_id, draft, inbox=inbox)
                outgoing = created_event(notification, email, prefs.for_kind(draft.kind).email_mode)
            if await stores.notifications.add(notification, [outgoing]):
                created += 1
            if is_audience(draft.recipient):
                created += await self._email_members(stores, notification)
        if created:
            self.created += created
            self._notify_outbox()
        return created

    async def _email_members(self, stores: NotificationStores, audience: Notification) -> int:
        """The known members who want this kind by e-mail get their copy now, its event
        carrying their address (the others get theirs when they look, as every member)."""
        made = 0
        members = await stores.preferences.members(audience.recipient, MAX_AUDIENCE_EMAILS)
        for prefs in members:
            inbox, email = prefs.delivers(audience.kind)
            if email is None:
                continue
            copy = copy_for(audience, prefs.user_id, inbox=inbox)
            mode = prefs.for_kind(audience.kind).email_mode
            # The member may have looked (or been pushed the audience notification live) since
            # it was stored, which made the copy without an announcement: their e-mail must
            # still go out, so the announcement is added to that copy.
            if await stores.notifications.add_announced(copy, [created_event(copy, email, mode)]):
                made += 1
        return made


@dataclass(frozen=True, slots=True)
class KindPreferenceChange:
    kind: NotificationKind
    enabled: bool | None = None
    channels: frozenset[Channel] | None = None
    email_mode: EmailMode | None = None


_UNSET = object()


class NotificationService:
    """One user's inbox and preferences (what the API calls)."""

    def __init__(
        self,
        principal: Principal,
        stores: NotificationStores,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._stores = stores
        self._clock = clock
        self._me = user_key(principal.user_id)
        self._audiences = frozenset(audience_keys(principal))
        self._prefs: Preferences | None = None
        self._synced = False
        # Ids handed to this subscriber (an e-mailed audience copy has an event of its own).
        self._handed = RecentIds(1000)

    @property
    def principal(self) -> Principal:
        return self._principal

    # --- preferences --------------------------------------------------------------------------

    async def preferences(self) -> Preferences:
        """The caller's preferences; the token's e-mail address is captured the first time."""
        if self._prefs is not None:
            return self._prefs
        user_id = self._principal.user_id
        prefs = await self._stores.preferences.get(user_id)
        if (
            prefs is None
            or (prefs.email is None and self._principal.email)
            or prefs.audiences != self._audiences
        ):
            prefs = replace(
                prefs or Preferences(user_id=user_id),
                email=(prefs.email if prefs else None) or self._principal.email,
                audiences=self._audiences,
            )
            await self._stores.preferences.save(prefs)
        self._prefs = prefs
        return prefs

    async def update_preferences(
        self, email: object = _UNSET, kinds: Sequence[KindPreferenceChange] = ()
    ) -> Preferences:
        prefs = await self.preferences()
        if email is not _UNSET:
            if email is not None:
                if not isinstance(email, str) or not _EMAIL.match(email.strip()):
                    raise BadUserInput("not an e-mail address", field="input.email")
                email = email.strip()
            prefs = replace(prefs, email=email if isinstance(email, str) else None)
        changed = dict(prefs.kinds)
        for index, change in enumerate(kinds):
            current = prefs.for_kind(change.kind)
            updated = KindPreference(
                enabled=current.enabled if change.enabled is None else change.enabled,
                channels=current.channels if change.channels is None else change.channels,
                email_mode=current.email_mode if change.email_mode is None else change.email_mode,
            )
            if updated.enabled and not updated.channels:
                raise BadUserInput(
                    "an enabled kind needs at least one channel (or set enabled: false)",
                    field=f"input.kinds.{index}.channels",
                )
            changed[change.kind] = updated
        prefs = replace(prefs, kinds=changed)
        if prefs.email is None and any(
            p.enabled and Channel.EMAIL in p.channels for p in prefs.kinds.values()
        ):
            raise BadUserInput(
                "the EMAIL channel needs an e-mail address: set input.email (or log in with a "
                "token that carries one)",
                field="input.email",
            )
        await self._stores.preferences.save(prefs)
        self._prefs = prefs
        return prefs

    # --- the inbox ----------------------------------------------------------------------------

    async def _visible_customers(self) -> list[str] | None:
        if sees_nothing(self._principal):
            return []
        if sees_everything(self._principal):
            return None
        principal = self._principal
        team = principal.team if principal.has_role(Role.SALES_MANAGER) else None
        return await self._stores.customers.visible_ids(principal.user_id, team)

    async def _may_see(self, notification: Notification) -> bool:
        if notification.customer_id is None or sees_everything(self._principal):
            return True
        customer = await self._stores.customers.get(notification.customer_id)
        return customer is not None and may_see(self._principal, customer)

    async def _copy(self, audience: Notification, prefs: Preferences) -> Notification | None:
        inbox, _ = prefs.delivers(audience.kind)
        if not inbox:
            return None
        copy = copy_for(audience, self._principal.user_id, inbox=True)
        if await self._stores.notifications.add_copy(copy):
            return copy
        return await self._stores.notifications.get(copy.id)

    async def sync_audiences(self) -> None:
        """Copy the audience notifications stored since the last look into the inbox (once
        per request: the page and its unread count ask both)."""
        keys = sorted(self._audiences)
        if not keys or self._synced:
            return
        self._synced = True
        prefs = await self.preferences()
        now = self._clock()
        since = (prefs.audience_synced_at or now - AUDIENCE_LOOKBACK) - SYNC_OVERLAP
        found = await self._stores.notifications.audience_since(keys, since, MAX_AUDIENCE_BATCH)
        for audience in found:
            await self._copy(audience, prefs)
        # A full batch: the next look continues after its last one.
        last = found[-1].stored_at if found else None
        synced = now if len(found) < MAX_AUDIENCE_BATCH or last is None else last
        if prefs.audience_synced_at is None or synced - prefs.audience_synced_at > SYNC_OVERLAP:
            prefs = replace(prefs, audience_synced_at=synced)
            await self._stores.preferences.save(prefs)
            self._prefs = prefs

    async def inbox(self, unread_only: bool, page: PageRequest) -> Page[Notification]:
        await self.sync_audiences()
        visible = await self._visible_customers()
        return await self._stores.notifications.page(self._me, unread_only, visible, page)

    async def unread_count(self) -> int:
        await self.sync_audiences()
        visible = await self._visible_customers()
        return await self._stores.notifications.unread_count(self._me, visible)

    async def mark_read(self, notification_id: str) -> Notification:
        found = await self._stores.notifications.get(notification_id)
        if found is None or found.recipient != self._me or not await self._may_see(found):
            raise NotFound(f"notification {notification_id} not found", field="id")
        if found.read_at is None:
            at = self._clock()
            await self._stores.notifications.mark_read(found.id, self._me, at)
            found = replace(found, read_at=at)
        return found

    async def mark_all_read(self) -> int:
        await self.sync_audiences()
        visible = await self._visible_customers()
        return await self._stores.notifications.mark_all_read(self._me, visible, self._clock())

    # --- live ---------------------------------------------------------------------------------

    def wants(self, event: CloudEvent) -> bool:
        """Cheap in-memory test: a ``notification_created`` for this user or their audiences."""
        if event.type != NotificationCreated.event_type:
            return False
        if event.tenant_id != self._principal.tenant_id:
            return False
        recipient = event.data.get("recipient_id")
        if recipient == self._principal.user_id:
            return True
        return isinstance(recipient, str) and recipient in self._audiences

    async def added(self, event: CloudEvent) -> Notification | None:
        """The caller's inbox item for a ``notification_created`` event (None: not for them)."""
        if not self.wants(event):
            return None
        notification_id = event.data.get("notification_id")
        if not isinstance(notification_id, str):
            return None
        found = await self._stores.notifications.get(notification_id)
        if found is None:
            return None
        if is_audience(found.recipient):
            self._prefs = None  # a long-lived subscription sees preference changes
            found = await self._copy(found, await self.preferences())
        elif found.recipient != self._me or not found.inbox:
            return None
        if found is None or not await self._may_see(found):
            return None
        if not self._handed.first_time(found.id):
            return None
        return found
