"""GraphQL types and root fields of webhooks (merged into the engagement schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import strawberry
from strawberry.scalars import JSON

from crm_common.auth import Principal
from crm_common.graphql.relay import Connection, to_connection
from crm_common.pagination import PageRequest
from crm_engagement.api.context import principal_of
from crm_engagement.domain import webhook as model
from crm_engagement.service.webhooks import RegisterCommand, WebhookService

WebhookEndpointStatus = strawberry.enum(
    model.EndpointStatus,
    name="WebhookEndpointStatus",
    description=(
        "ACTIVE sends; PAUSED keeps queueing deliveries (PENDING) and sends them on resume; "
        "DISABLED: the receiver answered 410 Gone, nothing new is queued until resumed."
    ),
)
WebhookDeliveryStatus = strawberry.enum(
    model.DeliveryStatus,
    name="WebhookDeliveryStatus",
    description="PENDING (waiting or retrying), DELIVERED (a 2xx answer), FAILED (gave up).",
)


class WebhookServices(Protocol):
    def webhooks(self, principal: Principal) -> WebhookService: ...


def _service(info: strawberry.Info) -> WebhookService:
    services: WebhookServices = info.context.services
    return services.webhooks(principal_of(info))


@strawberry.type(description="A partner's URL that receives the tenant's events, signed.")
class WebhookEndpoint:
    id: strawberry.ID = strawberry.field(description="Endpoint id.")
    url: str = strawberry.field(description="Where deliveries are POSTed (http or https).")
    event_types: list[str] = strawberry.field(
        description="CloudEvents types sent (e.g. crm.customer.created); empty means all."
    )
    description: str = strawberry.field(description="What the endpoint is for (free text).")
    status: WebhookEndpointStatus = strawberry.field(  # type: ignore[valid-type]
        description="Whether deliveries go out now."
    )
    disabled_reason: str | None = strawberry.field(
        description="Why the endpoint was disabled by the sender; null unless DISABLED."
    )
    signing_secrets: int = strawberry.field(
        description="How many secrets sign each delivery now (2 during a rotation's grace)."
    )
    old_secret_expires_at: datetime | None = strawberry.field(
        description="When the previous secret stops signing (ISO 8601, UTC); null if none."
    )
    created_at: datetime = strawberry.field(description="When it was registered (UTC).")
    updated_at: datetime = strawberry.field(description="Last change (UTC).")

    @classmethod
    def from_model(cls, e: model.WebhookEndpoint) -> WebhookEndpoint:
        expiring = [s.expires_at for s in e.secrets if s.expires_at is not None]
        return cls(
            id=strawberry.ID(e.id),
            url=e.url,
            event_types=list(e.event_types),
            description=e.description,
            status=e.status,
            disabled_reason=e.disabled_reason,
            signing_secrets=len(e.secrets),
            old_secret_expires_at=max(expiring) if expiring else None,
            created_at=e.created_at,
            updated_at=e.updated_at,
        )


@strawberry.type(description="One HTTP attempt of a delivery (the delivery log).")
class WebhookAttempt:
    number: int = strawberry.field(description="1 for the first attempt, counting redeliveries.")
    started_at: datetime = strawberry.field(description="When the request was sent (UTC).")
    request_headers: JSON = strawberry.field(
        description="Headers sent (webhook-id, webhook-timestamp...; the signature left out)."
    )
    request_body_bytes: int = strawberry.field(description="Size of the body sent, in bytes.")
    response_status: int | None = strawberry.field(
        description="HTTP status answered; null on a network error or timeout."
    )
    response_body: str | None = strawberry.field(
        description="The first 1 KiB of the answer's body; null if none."
    )
    duration_ms: float | None = strawberry.field(
        description="Milliseconds from sending to the answer; null while in flight."
    )
    error: str | None = strawberry.field(
        description="Network error, timeout or refused address; null if the receiver answered."
    )
    finished: bool = strawberry.field(description="False while the attempt is in flight.")

    @classmethod
    def from_model(cls, a: model.DeliveryAttempt) -> WebhookAttempt:
        return cls(
            number=a.number,
            started_at=a.started_at,
            request_headers=JSON(a.request_headers),
            request_body_bytes=a.request_body_bytes,
            response_status=a.response_status,
            response_body=a.response_body,
            duration_ms=a.duration_ms,
            error=a.error,
            finished=a.finished,
        )


@strawberry.type(description="One event for one endpoint, with its retries.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(
        description="Delivery id, sent as the webhook-id header (the same on every retry)."
    )
    endpoint_id: strawberry.ID = strawberry.field(description="The endpoint it goes to.")
    event_id: strawberry.ID = strawberry.field(description="The CloudEvent's id.")
    event_type: str = strawberry.field(description="The CloudEvent's type.")
    status: WebhookDeliveryStatus = strawberry.field(  # type: ignore[valid-type]
        description="Where the delivery stands."
    )
    attempt_count: int = strawberry.field(description="HTTP attempts made so far.")
    created_at: datetime = strawberry.field(description="When the event was queued (UTC).")
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due (UTC); null unless PENDING."
    )
    last_response_status: int | None = strawberry.field(
        description="HTTP status of the last attempt; null if none answered."
    )
    last_error: str | None = strawberry.field(description="Error of the last attempt, if any.")
    delivered_at: datetime | None = strawberry.field(description="When a 2xx came back.")
    failed_at: datetime | None = strawberry.field(description="When the sender gave up.")
    payload: str = strawberry.field(description="The body sent: the CloudEvent as JSON.")

    @classmethod
    def from_model(cls, d: model.WebhookDelivery) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(d.id),
            endpoint_id=strawberry.ID(d.endpoint_id),
            event_id=strawberry.ID(d.event_id),
            event_type=d.event_type,
            status=d.status,
            attempt_count=d.attempts,
            created_at=d.created_at,
            next_attempt_at=d.next_attempt_at,
            last_response_status=d.last_status,
            last_error=d.last_error,
            delivered_at=d.delivered_at,
            failed_at=d.failed_at,
            payload=d.payload,
        )

    @strawberry.field(description="The attempts of this delivery, first first.")
    async def attempts(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookAttempt]:
        page = await _service(info).attempts(str(self.id), PageRequest(first=first, after=after))
        return to_connection(page, WebhookAttempt.from_model)


@strawberry.input(description="A partner endpoint to register.")
class RegisterWebhookEndpointInput:
    url: str = strawberry.field(
        description="http(s) URL; must resolve to a public address (no loopback or private)."
    )
    event_types: list[str] = strawberry.field(
        default_factory=list,
        description="CloudEvents types to send (docs/events); empty or omitted: every type.",
    )
    description: str = strawberry.field(default="", description="What it is for (≤ 500 chars).")


@strawberry.type(description="The registered endpoint and its signing secret.")
class RegisterWebhookEndpointPayload:
    endpoint: WebhookEndpoint = strawberry.field(description="The new endpoint.")
    secret: str = strawberry.field(
        description="whsec_… signing secret (Standard Webhooks); shown only this once."
    )


@strawberry.input(description="Which endpoint, and how long the old secret keeps signing.")
class RotateWebhookSecretInput:
    id: strawberry.ID = strawberry.field(description="Endpoint id.")
    grace_period_hours: float | None = strawberry.field(
        default=None,
        description="Hours the old secret keeps signing beside the new one (0–168; default 24).",
    )


@strawberry.type(description="The endpoint after rotation and its new secret.")
class RotateWebhookSecretPayload:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint.")
    secret: str = strawberry.field(description="The new whsec_… secret; shown only this once.")


@strawberry.input(description="One webhook endpoint.")
class WebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="Endpoint id.")


@strawberry.type(description="The endpoint after the change.")
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint.")


@strawberry.type(description="What was deleted.")
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID = strawberry.field(description="Id of the deleted endpoint.")


@strawberry.input(description="The delivery to send again.")
class RedeliverWebhookInput:
    delivery_id: strawberry.ID = strawberry.field(description="Delivery id (its webhook-id).")


@strawberry.type(description="The delivery, queued again.")
class RedeliverWebhookPayload:
    delivery: WebhookDelivery = strawberry.field(description="The delivery, PENDING again.")


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="The tenant's webhook endpoints, newest first (admins only).")
    async def webhook_endpoints(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookEndpoint]:
        page = await _service(info).list(PageRequest(first=first, after=after))
        return to_connection(page, WebhookEndpoint.from_model)

    @strawberry.field(description="One webhook endpoint; null if absent (admins only).")
    async def webhook_endpoint(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> WebhookEndpoint | None:
        found = await _service(info).get(str(id))
        return WebhookEndpoint.from_model(found) if found else None

    @strawberry.field(description="An endpoint's delivery log, newest first (admins only).")
    async def webhook_deliveries(
        self,
        info: strawberry.Info,
        endpoint_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        status: WebhookDeliveryStatus | None = None,  # type: ignore[valid-type]
    ) -> Connection[WebhookDelivery]:
        page = await _service(info).deliveries(
            str(endpoint_id),
            model.DeliveryStatus(status) if status is not None else None,
            PageRequest(first=first, after=after),
        )
        return to_connection(page, WebhookDelivery.from_model)


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="Register a partner endpoint; the secret is shown once.")
    async def register_webhook_endpoint(
        self, info: strawberry.Info, input: RegisterWebhookEndpointInput
    ) -> RegisterWebhookEndpointPayload:
        endpoint, secret = await _service(info).register(
            RegisterCommand(
                url=input.url,
                event_types=tuple(input.event_types),
                description=input.description,
            )
        )
        return RegisterWebhookEndpointPayload(
            endpoint=WebhookEndpoint.from_model(endpoint), secret=secret
        )

    @strawberry.mutation(description="New signing secret; the old one signs too for a while.")
    async def rotate_webhook_secret(
        self, info: strawberry.Info, input: RotateWebhookSecretInput
    ) -> RotateWebhookSecretPayload:
        endpoint, secret = await _service(info).rotate_secret(
            str(input.id), input.grace_period_hours
        )
        return RotateWebhookSecretPayload(
            endpoint=WebhookEndpoint.from_model(endpoint), secret=secret
        )

    @strawberry.mutation(description="Stop sending; deliveries keep queueing until resumed.")
    async def pause_webhook_endpoint(
        self, info: strawberry.Info, input: WebhookEndpointInput
    ) -> WebhookEndpointPayload:
        endpoint = await _service(info).pause(str(input.id))
        return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_model(endpoint))

    @strawberry.mutation(description="Send again, starting with what queued while paused.")
    async def resume_webhook_endpoint(
        self, info: strawberry.Info, input: WebhookEndpointInput
    ) -> WebhookEndpointPayload:
        endpoint = await _service(info).resume(str(input.id))
        return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_model(endpoint))

    @strawberry.mutation(description="Delete an endpoint; its pending deliveries fail.")
    async def delete_webhook_endpoint(
        self, info: strawberry.Info, input: WebhookEndpointInput
    ) -> DeleteWebhookEndpointPayload:
        deleted = await _service(info).delete(str(input.id))
        return DeleteWebhookEndpointPayload(deleted_id=strawberry.ID(deleted))

    @strawberry.mutation(description="Send one delivery again (same webhook-id).")
    async def redeliver_webhook(
        self, info: strawberry.Info, input: RedeliverWebhookInput
    ) -> RedeliverWebhookPayload:
        delivery = await _service(info).redeliver(str(input.delivery_id))
        return RedeliverWebhookPayload(delivery=WebhookDelivery.from_model(delivery))
