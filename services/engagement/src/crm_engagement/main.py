"""Composition root of the engagement service."""

from __future__ import annotations

from aiohttp import web

from crm_common.app import create_app, serve
from crm_common.auth import Principal, TokenVerifier
from crm_common.coordination import Lease
from crm_common.customers.copies import CustomerCopy
from crm_common.events.topics import service_topic
from crm_common.live import LiveFeed
from crm_common.logging import setup_logging
from crm_common.runtime import ServiceRuntime
from crm_common.settings import ServiceSettings
from crm_common.tracing import setup_tracing
from crm_engagement.adapters.events import SUBSCRIBED_TOPICS, handlers
from crm_engagement.adapters.mongo import (
    INDEXES,
    OUTBOX_COLLECTIONS,
    MongoActivityRepository,
    MongoCustomerRefs,
    MongoFollowUpRepository,
    MongoInteractionRepository,
    MongoReminderStore,
    MongoSettingsRepository,
    MongoTimelineRepository,
    customer_records,
)
from crm_engagement.adapters.notifications import (
    NOTIFICATION_INDEXES,
    NOTIFICATION_OUTBOX_COLLECTIONS,
    MongoNotificationPreferences,
    MongoNotificationRepository,
)
from crm_engagement.api.schema import schema
from crm_engagement.service.activities import ActivityService
from crm_engagement.service.followups import FollowUpService
from crm_engagement.service.interactions import InteractionService
from crm_engagement.service.notifications import (
    NotificationInbox,
    NotificationService,
    NotificationStores,
)
from crm_engagement.service.ports import TenantStores
from crm_engagement.service.reactions import Reactions
from crm_engagement.service.reminders import LEASE_NAME, ReminderScheduler
from crm_engagement.service.settings import SettingsService
from crm_engagement.service.timeline import TimelineService


class Settings(ServiceSettings):
    service_name: str = "engagement"
    port: int = 4002
    reminder_poll_interval_s: float = 1.0
    reminders_enabled: bool = True


class Services:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    def stores(self, tenant_id: str) -> TenantStores:
        db = self._runtime.db
        return TenantStores(
            customers=MongoCustomerRefs(db, tenant_id),
            interactions=MongoInteractionRepository(db, tenant_id),
            followups=MongoFollowUpRepository(db, tenant_id),
            activities=MongoActivityRepository(db, tenant_id),
            timeline=MongoTimelineRepository(db, tenant_id),
            settings=MongoSettingsRepository(db, tenant_id),
            records=customer_records(db, tenant_id),
        )

    def interactions(self, principal: Principal) -> InteractionService:
        notify = self._runtime.outbox_signal.notify
        return InteractionService(principal, self.stores(principal.tenant_id), notify)

    def followups(self, principal: Principal) -> FollowUpService:
        notify = self._runtime.outbox_signal.notify
        return FollowUpService(principal, self.stores(principal.tenant_id), notify)

    def activities(self, principal: Principal) -> ActivityService:
        notify = self._runtime.outbox_signal.notify
        return ActivityService(principal, self.stores(principal.tenant_id), notify)

    def timeline(self, principal: Principal) -> TimelineService:
        notify = self._runtime.outbox_signal.notify
        return TimelineService(principal, self.stores(principal.tenant_id), notify)

    def settings(self, principal: Principal) -> SettingsService:
        notify = self._runtime.outbox_signal.notify
        return SettingsService(principal, self.stores(principal.tenant_id), notify)

    def notification_stores(self, tenant_id: str) -> NotificationStores:
        db = self._runtime.db
        return NotificationStores(
            notifications=MongoNotificationRepository(db, tenant_id),
            preferences=MongoNotificationPreferences(db, tenant_id),
            customers=MongoCustomerRefs(db, tenant_id),
        )

    def notifications(self, principal: Principal) -> NotificationService:
        return NotificationService(principal, self.notification_stores(principal.tenant_id))

    def live_feed(self) -> LiveFeed:
        assert self._runtime.live is not None
        return self._runtime.live


def build_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    runtime = (
        ServiceRuntime(settings)
        .with_indexes({**INDEXES, **NOTIFICATION_INDEXES})
        .with_outbox([*OUTBOX_COLLECTIONS, *NOTIFICATION_OUTBOX_COLLECTIONS])
        # notificationAdded: every replica sees every notification_created event.
        .with_live_feed([service_topic("engagement")])
    )
    services = Services(runtime)
    reactions = Reactions(services.stores, runtime.outbox_signal.notify)
    inbox = NotificationInbox(services.notification_stores, runtime.outbox_signal.notify)
    typed, fallback = handlers(
        reactions, lambda tenant: CustomerCopy(runtime.db, tenant), then=inbox.on_event
    )
    runtime.with_consumer(SUBSCRIBED_TOPICS, typed, fallback=fallback)
    scheduler = ReminderScheduler(
        MongoReminderStore(runtime.db),
        runtime.outbox_signal.notify,
        interval_s=settings.reminder_poll_interval_s,
        # One replica scans at a time; the claims make a handover overlap harmless.
        lease=Lease(runtime.db, LEASE_NAME),
    )

    async def start_scheduler(_: web.Application) -> None:
        if settings.reminders_enabled:
            await scheduler.start()

    async def stop_scheduler(_: web.Application) -> None:
        await scheduler.stop()

    app = create_app(
        settings,
        schema(),
        services,
        verifier=TokenVerifier(settings),
        readiness=runtime.readiness(),
        on_startup=[runtime.startup, start_scheduler],
        on_cleanup=[stop_scheduler, runtime.cleanup],
    )
    # Open subscriptions end (with an error saying so) before in-flight requests are awaited.
    app.on_shutdown.append(services.live_feed().stop)
    return app


def main() -> None:
    settings = Settings()
    setup_logging(settings.service_name, settings.log_level)
    setup_tracing(settings.service_name)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
