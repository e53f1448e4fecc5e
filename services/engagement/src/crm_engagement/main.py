"""Composition root of the engagement service."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from crm_common.app import create_app, serve
from crm_common.auth import Principal, TokenVerifier
from crm_common.coordination import Lease
from crm_common.events.contracts import registry
from crm_common.events.topics import service_topic
from crm_common.live import LiveFeed
from crm_common.logging import setup_logging
from crm_common.runtime import ServiceRuntime
from crm_common.settings import ServiceSettings
from crm_common.tenants import TENANT_SETTINGS_INDEXES, TenantZones
from crm_common.tracing import setup_tracing
from crm_engagement.adapters.email_notifications import (
    DIGEST_INDEXES,
    MongoDigestStore,
    MongoNotificationMailer,
    notification_email_handler,
)
from crm_engagement.adapters.events import (
    SUBSCRIBED_TOPICS,
    consumer_handlers,
    notification_stores,
    tenant_stores,
)
from crm_engagement.adapters.mongo import (
    INDEXES,
    OUTBOX_COLLECTIONS,
    MongoReminderStore,
)
from crm_engagement.adapters.notifications import (
    NOTIFICATION_INDEXES,
    NOTIFICATION_OUTBOX_COLLECTIONS,
)
from crm_engagement.adapters.webhooks import (
    WEBHOOK_INDEXES,
    AiohttpWebhookHttp,
    MongoDeliveryQueue,
    MongoWebhookRepository,
    SystemResolver,
    WebhookEventConsumer,
)
from crm_engagement.api.schema import schema
from crm_engagement.domain.webhook import RetryPolicy
from crm_engagement.service.activities import ActivityService
from crm_engagement.service.care import CareService
from crm_engagement.service.email_notifications import LEASE_NAME as DIGEST_LEASE
from crm_engagement.service.email_notifications import DigestLoop, EmailNotifications
from crm_engagement.service.followups import FollowUpService
from crm_engagement.service.interactions import InteractionService
from crm_engagement.service.notifications import (
    NotificationService,
    NotificationStores,
)
from crm_engagement.service.ports import TenantStores
from crm_engagement.service.reminders import LEASE_NAME, ReminderScheduler
from crm_engagement.service.settings import SettingsService
from crm_engagement.service.timeline import TimelineService
from crm_engagement.service.timeliness import TimelinessService
from crm_engagement.service.webhooks import (
    CONSUMER_GROUP as WEBHOOKS_GROUP,
)
from crm_engagement.service.webhooks import (
    DeliveryPlanner,
    SenderSignal,
    WebhookSender,
    WebhookService,
    WebhookSettings,
)


class Settings(ServiceSettings):
    service_name: str = "engagement"
    port: int = 4002
    # The safety sweep of the reminder loop (it otherwise sleeps until the next due time).
    reminder_poll_interval_s: float = 5.0
    reminders_enabled: bool = True
    # Notification digests (DIGEST e-mail mode): one e-mail per user per period, sent once
    # the period has ended plus the grace (service/email_notifications.py).
    email_digest_period_s: float = 86400.0
    email_digest_grace_s: float = 60.0
    # Webhooks (docs/architecture.md, "Webhooks"). Private networks: local/e2e stacks only.
    webhooks_allow_private_networks: bool = False
    webhooks_enabled: bool = True
    webhooks_retry_base_s: float = 5.0
    webhooks_retry_max_delay_s: float = 3600.0
    webhooks_retry_window_s: float = 24 * 3600.0
    webhooks_sweep_interval_s: float = 10.0
    webhooks_paused_recheck_s: float = 60.0
    webhooks_timeout_s: float = 15.0
    webhooks_max_response_bytes: int = 64 * 1024
    webhooks_rotation_grace_hours: float = 24.0


class Services:
    def __init__(
        self,
        runtime: ServiceRuntime,
        webhook_settings: WebhookSettings | None = None,
        wake_webhook_sender: SenderSignal | None = None,
    ) -> None:
        self._runtime = runtime
        self._webhook_settings = webhook_settings or WebhookSettings()
        self._webhook_signal = wake_webhook_sender or SenderSignal()
        self._resolver = SystemResolver()
        # The tenants' time zones and role permissions, from this service's copy of their
        # settings (cached TENANT_SETTINGS_CACHE_TTL_S, 30 s).
        self.zones = TenantZones(runtime.db, runtime.settings.tenant_settings_cache_ttl_s)

    def stores(self, tenant_id: str) -> TenantStores:
        return tenant_stores(self._runtime.db, self.zones, tenant_id)

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

    def care(self, principal: Principal) -> CareService:
        notify = self._runtime.outbox_signal.notify
        return CareService(principal, self.stores(principal.tenant_id), notify)

    def timeliness(self, principal: Principal) -> TimelinessService:
        notify = self._runtime.outbox_signal.notify
        return TimelinessService(principal, self.stores(principal.tenant_id), notify)

    def webhooks(self, principal: Principal) -> WebhookService:
        return WebhookService(
            principal,
            MongoWebhookRepository(self._runtime.db, principal.tenant_id),
            self._resolver,
            self._webhook_settings,
            self._webhook_signal.notify,
            lambda: sorted(registry),
        )

    def notification_stores(self, tenant_id: str) -> NotificationStores:
        return notification_stores(self._runtime.db, tenant_id)

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
        .with_indexes(WEBHOOK_INDEXES)
        .with_indexes(TENANT_SETTINGS_INDEXES)
        .with_outbox([*OUTBOX_COLLECTIONS, *NOTIFICATION_OUTBOX_COLLECTIONS])
        # notificationAdded: every replica sees every notification_created event.
        .with_live_feed([service_topic("engagement")])
    )
    retry = RetryPolicy(
        base_s=settings.webhooks_retry_base_s,
        max_delay_s=settings.webhooks_retry_max_delay_s,
        window_s=settings.webhooks_retry_window_s,
    )
    webhook_settings = WebhookSettings(
        allow_private_networks=settings.webhooks_allow_private_networks,
        retry=retry,
        rotation_grace=timedelta(hours=settings.webhooks_rotation_grace_hours),
    )
    sender_signal = SenderSignal()
    services = Services(runtime, webhook_settings, sender_signal)
    typed, fallback = consumer_handlers(runtime.db, runtime.outbox_signal.notify, services.zones)
    runtime.with_email().with_indexes(DIGEST_INDEXES)
    notifications = EmailNotifications(
        MongoNotificationMailer(runtime.db, runtime.email_signal),
        MongoDigestStore(runtime.db),
        period_s=settings.email_digest_period_s,
        grace_s=settings.email_digest_grace_s,
        zone_of=services.zones.zone_of,
    )
    # notification_created: the inbox made it (it needs nothing more); e-mail it if asked.
    typed.update(notification_email_handler(notifications))
    runtime.with_consumer(SUBSCRIBED_TOPICS, typed, fallback=fallback)
    digests = DigestLoop(
        notifications,
        Lease(runtime.db, DIGEST_LEASE),
        interval_s=min(30.0, max(0.5, settings.email_digest_period_s / 10)),
    )
    scheduler = ReminderScheduler(
        MongoReminderStore(runtime.db),
        runtime.outbox_signal.notify,
        interval_s=settings.reminder_poll_interval_s,
        # One replica scans at a time; the claims make a handover overlap harmless.
        lease=Lease(runtime.db, LEASE_NAME),
    )
    runtime.outbox_signal.listen(scheduler.wake)

    # Webhooks: a consumer group of its own over every topic plans deliveries; every replica
    # sends (attempts are claimed by insert, see crm_engagement.service.webhooks).
    planner = DeliveryPlanner(
        lambda tenant: MongoWebhookRepository(runtime.db, tenant), sender_signal.notify
    )
    webhook_consumer = WebhookEventConsumer(
        group=WEBHOOKS_GROUP,
        topics=SUBSCRIBED_TOPICS,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        handle=planner.on_events,
    )
    webhook_http = AiohttpWebhookHttp(
        allow_private_networks=settings.webhooks_allow_private_networks,
        timeout_s=settings.webhooks_timeout_s,
        max_response_bytes=settings.webhooks_max_response_bytes,
    )
    sender = WebhookSender(
        MongoDeliveryQueue(runtime.db),
        webhook_http,
        sender_signal,
        retry=retry,
        sweep_interval_s=settings.webhooks_sweep_interval_s,
        paused_recheck_s=settings.webhooks_paused_recheck_s,
        stale_attempt_s=settings.webhooks_timeout_s * 4 + 30,
    )

    async def start_scheduler(_: web.Application) -> None:
        if settings.reminders_enabled:
            await scheduler.start()
        if settings.webhooks_enabled:
            if settings.kafka_consumer_enabled:
                await webhook_consumer.start()
            await sender.start()

    async def stop_scheduler(_: web.Application) -> None:
        await scheduler.stop()
        await sender.stop()
        await webhook_consumer.stop()
        await webhook_http.close()

    app = create_app(
        settings,
        schema(),
        services,
        verifier=TokenVerifier(settings),
        tenant_settings=services.zones,
        readiness=runtime.readiness(),
        on_startup=[runtime.startup, start_scheduler, digests.start],
        on_cleanup=[stop_scheduler, digests.stop, runtime.cleanup],
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
