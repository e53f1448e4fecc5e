"""GraphQL of the notification inbox: types, root fields, and the ``notificationAdded``
subscription (merged into the engagement schema by ``api/schema.py``)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from crm_common.graphql.relay import Edge, PageInfo
from crm_common.pagination import PageRequest
from crm_engagement.api.context import principal_of, services_of
from crm_engagement.domain import notification as model
from crm_engagement.service.notifications import KindPreferenceChange

NotificationKind = strawberry.enum(
    model.NotificationKind, description="What a notification is about (also a preference key)."
)
NotificationChannel = strawberry.enum(
    model.Channel, description="Where notifications of a kind go: the inbox, e-mail, or both."
)
EmailMode = strawberry.enum(
    model.EmailMode, description="E-mail one by one as they come, or in a periodic digest."
)


@strawberry.type(description="One item of your notification inbox.")
class Notification:
    id: strawberry.ID = strawberry.field(description="Stable id (pass to markNotificationRead).")
    kind: NotificationKind = strawberry.field(description="What happened.")  # type: ignore[valid-type]
    title: str = strawberry.field(description="One line to show in a list.")
    body: str = strawberry.field(description="The details, plain text.")
    record_type: str | None = strawberry.field(
        description="Kind of record it is about: customer, followup, quote, ticket, survey, "
        "import; null if none."
    )
    record_id: strawberry.ID | None = strawberry.field(
        description="Id of that record (open it with the matching query); null if none."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        description="The customer it concerns; null when it concerns no single customer."
    )
    created_at: datetime = strawberry.field(
        description="When the underlying event happened (ISO 8601, UTC)."
    )
    read_at: datetime | None = strawberry.field(
        description="When you marked it read (ISO 8601, UTC); null while unread."
    )
    read: bool = strawberry.field(description="True once you marked it read.")

    @classmethod
    def from_model(cls, m: model.Notification) -> Notification:
        return cls(
            id=strawberry.ID(m.id),
            kind=m.kind,
            title=m.title,
            body=m.body,
            record_type=m.record_type,
            record_id=strawberry.ID(m.record_id) if m.record_id else None,
            customer_id=strawberry.ID(m.customer_id) if m.customer_id else None,
            created_at=m.created_at,
            read_at=m.read_at,
            read=m.read,
        )


@strawberry.type(description="A page of your notifications, newest first, and the unread count.")
class NotificationConnection:
    edges: list[Edge[Notification]] = strawberry.field(description="The notifications of the page.")
    page_info: PageInfo = strawberry.field(description="Cursors to page on (pass endCursor).")
    total_count: int = strawberry.field(description="How many match, over all pages.")
    unread_count: int = strawberry.field(
        description="How many of your inbox notifications are unread (whatever the filter)."
    )


@strawberry.type(description="How notifications of one kind reach you.")
class NotificationKindPreference:
    kind: NotificationKind = strawberry.field(description="The kind.")  # type: ignore[valid-type]
    enabled: bool = strawberry.field(description="False: notifications of this kind are not made.")
    channels: list[NotificationChannel] = strawberry.field(  # type: ignore[valid-type]
        description="Where they go (INBOX, EMAIL)."
    )
    email_mode: EmailMode = strawberry.field(  # type: ignore[valid-type]
        description="For the EMAIL channel: IMMEDIATE (one mail each) or DIGEST."
    )


@strawberry.type(
    description="Your notification preferences (every kind listed, defaults filled in)."
)
class NotificationPreferences:
    email: str | None = strawberry.field(
        description="Where e-mails go: taken from your token's `email` claim on first use, "
        "editable; null if unknown."
    )
    kinds: list[NotificationKindPreference] = strawberry.field(
        description="One entry per notification kind."
    )

    @classmethod
    def from_model(cls, m: model.Preferences) -> NotificationPreferences:
        kinds = []
        for kind in model.NotificationKind:
            pref = m.for_kind(kind)
            kinds.append(
                NotificationKindPreference(
                    kind=kind,
                    enabled=pref.enabled,
                    channels=[c for c in model.Channel if c in pref.channels],
                    email_mode=pref.email_mode,
                )
            )
        return cls(email=m.email, kinds=kinds)


@strawberry.input(description="A change to the preferences of one kind (omitted fields stay).")
class NotificationKindPreferenceInput:
    kind: NotificationKind = strawberry.field(description="The kind to change.")  # type: ignore[valid-type]
    enabled: bool | None = strawberry.field(
        default=None, description="Make notifications of this kind or not."
    )
    channels: list[NotificationChannel] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Where they go; EMAIL needs an e-mail address."
    )
    email_mode: EmailMode | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="IMMEDIATE or DIGEST."
    )


@strawberry.input(description="Changes to your notification preferences.")
class UpdateNotificationPreferencesInput:
    email: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Your e-mail address for notifications; null clears it; omit to keep.",
    )
    kinds: list[NotificationKindPreferenceInput] = strawberry.field(
        default_factory=list, description="Per-kind changes."
    )


@strawberry.type(description="The notification after marking it read.")
class MarkNotificationReadPayload:
    notification: Notification = strawberry.field(description="The notification as stored.")
    unread_count: int = strawberry.field(description="Your unread notifications now.")


@strawberry.type(description="What marking all notifications read did.")
class MarkAllNotificationsReadPayload:
    marked: int = strawberry.field(description="How many were unread and are read now.")
    unread_count: int = strawberry.field(description="Your unread notifications now (0).")


@strawberry.type(description="Your notification preferences after the change.")
class NotificationPreferencesPayload:
    preferences: NotificationPreferences = strawberry.field(description="As stored.")


@strawberry.type
class NotificationQuery:
    @strawberry.field(
        description="Your notifications, newest first (about records you may see); "
        "unreadOnly lists only unread ones."
    )
    async def notifications(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        unread_only: bool = False,
    ) -> NotificationConnection:
        service = services_of(info).notifications(principal_of(info))
        page = await service.inbox(unread_only, PageRequest(first=first, after=after))
        edges = [Edge(node=Notification.from_model(n), cursor=c) for n, c in page.items]
        return NotificationConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total_count,
            unread_count=await service.unread_count(),
        )

    @strawberry.field(description="Your notification preferences, every kind listed.")
    async def notification_preferences(self, info: strawberry.Info) -> NotificationPreferences:
        service = services_of(info).notifications(principal_of(info))
        return NotificationPreferences.from_model(await service.preferences())


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(description="Mark one of your notifications read.")
    async def mark_notification_read(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> MarkNotificationReadPayload:
        service = services_of(info).notifications(principal_of(info))
        marked = await service.mark_read(str(id))
        return MarkNotificationReadPayload(
            notification=Notification.from_model(marked),
            unread_count=await service.unread_count(),
        )

    @strawberry.mutation(description="Mark all your notifications read.")
    async def mark_all_notifications_read(
        self, info: strawberry.Info
    ) -> MarkAllNotificationsReadPayload:
        service = services_of(info).notifications(principal_of(info))
        marked = await service.mark_all_read()
        return MarkAllNotificationsReadPayload(
            marked=marked, unread_count=await service.unread_count()
        )

    @strawberry.mutation(description="Change which notifications you get and where.")
    async def update_notification_preferences(
        self, info: strawberry.Info, input: UpdateNotificationPreferencesInput
    ) -> NotificationPreferencesPayload:
        service = services_of(info).notifications(principal_of(info))
        changes = [
            KindPreferenceChange(
                kind=model.NotificationKind(k.kind),
                enabled=k.enabled,
                channels=frozenset(model.Channel(c) for c in k.channels)
                if k.channels is not None
                else None,
                email_mode=model.EmailMode(k.email_mode) if k.email_mode is not None else None,
            )
            for k in input.kinds
        ]
        if input.email is strawberry.UNSET:
            prefs = await service.update_preferences(kinds=changes)
        else:
            prefs = await service.update_preferences(email=input.email, kinds=changes)
        return NotificationPreferencesPayload(preferences=NotificationPreferences.from_model(prefs))


@strawberry.type(description="Live updates over graphql-transport-ws (or SSE through the gateway).")
class Subscription:
    @strawberry.subscription(
        description="Each notification that enters your inbox from now on (yours, or your "
        "role's in your team), once, about records you may see."
    )
    async def notification_added(self, info: strawberry.Info) -> AsyncGenerator[Notification, None]:
        services = services_of(info)
        principal = principal_of(info)
        service = services.notifications(principal)
        await service.preferences()  # captures the e-mail claim, as any inbox call does
        async with services.live_feed().subscription(service.wants) as listener:
            while True:
                # Ends with UNAUTHENTICATED when the token expires.
                event = await listener.get(principal.expires_at)
                added = await service.added(event)
                if added is not None:
                    yield Notification.from_model(added)
