"""Service-order use cases: open (by hand or from an accepted quote), deliver stage by stage."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.customers.copies import arriving_customer
from crm_common.errors import Conflict, NotFound
from crm_common.events.contracts.quoting import QuoteAccepted
from crm_common.events.contracts.servicedesk import (
    ServiceOrderDelivered,
    ServiceOrderOpened,
    ServiceOrderStageChanged,
)
from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_service_desk.domain.permissions import can_work, may_see_customer, visibility
from crm_service_desk.domain.service_order import (
    DeliverableKind,
    OrderSource,
    OrderStatus,
    ServiceOrder,
    Stage,
    advance,
    initial_stages,
    set_progress,
    validate_deliverable,
    validate_details,
)
from crm_service_desk.service.ports import CustomerRefRepository, OrderRepository
from crm_service_desk.service.tickets import desk_event


@dataclass(frozen=True, slots=True)
class OpenOrderCommand:
    customer_id: str
    title: str
    content: str | None = None
    owner_id: str | None = None
    team: str | None = None
    delivery_start: date | None = None
    delivery_end: date | None = None


def _opened_event(order: ServiceOrder) -> CloudEvent:
    return desk_event(
        ServiceOrderOpened(
            order_id=order.id,
            customer_id=order.customer_id,
            source=order.source.value,
            quote_id=order.quote_id,
            title=order.title,
            owner_id=order.owner_id,
            team=order.team,
            opened_at=order.created_at,
        ),
        order.tenant_id,
        order.customer_id,
    )


async def open_from_quote(
    tenant_id: str, quote: QuoteAccepted, orders: OrderRepository, now: datetime
) -> bool:
    """Open the service order of an accepted quote; False if that quote already has one.

    The unique source key (``quote:<id>``) makes a redelivered or replayed event a no-op even
    when the consumer's own processed-event ledger missed it (another event id, a restore).
    """
    order = ServiceOrder(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        customer_id=quote.customer_id,
        title=f"Delivery of quote {quote.quote_number} v{quote.version}",
        content="",
        source=OrderSource.QUOTE,
        owner_id=quote.owner_id,
        status=OrderStatus.OPEN,
        created_at=now,
        stages=initial_stages(),
        quote_id=quote.quote_id,
        quote_number=quote.quote_number,
        amount_minor=quote.total_minor,
        currency=quote.currency,
    )
    return await orders.add(order, f"quote:{quote.quote_id}", [_opened_event(order)])


class OrderService:
    def __init__(
        self,
        principal: Principal,
        orders: OrderRepository,
        customers: CustomerRefRepository,
        notify_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._orders = orders
        self._customers = customers
        self._notify = notify_outbox
        self._clock = clock

    async def open(self, command: OpenOrderCommand) -> ServiceOrder:
        principal = self._principal
        can_work(principal)
        details = validate_details(
            title=command.title,
            content=command.content,
            owner_id=command.owner_id,
            team=command.team,
            delivery_start=command.delivery_start,
            delivery_end=command.delivery_end,
        )
        customer_id = command.customer_id.strip()
        if not customer_id:
            raise NotFound(f"customer {customer_id} not found", field="input.customerId")
        await arriving_customer(self._customers.get, customer_id, field="input.customerId")
        order = ServiceOrder(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            customer_id=customer_id,
            title=details.title,
            content=details.content,
            source=OrderSource.MANUAL,
            owner_id=details.owner_id or principal.user_id,
            team=details.team or principal.team,
            status=OrderStatus.OPEN,
            created_at=self._clock(),
            stages=initial_stages(),
            delivery_start=details.delivery_start,
            delivery_end=details.delivery_end,
        )
        await self._orders.add(order, f"manual:{order.id}", [_opened_event(order)])
        self._notify()
        return order

    async def _workable(self, order_id: str) -> ServiceOrder:
        can_work(self._principal)
        order = await self._orders.get(order_id, visibility(self._principal))
        if order is None:
            raise NotFound(f"service order {order_id} not found", field="input.orderId")
        return order

    async def _save(
        self, before: ServiceOrder, after: ServiceOrder, events: list[CloudEvent]
    ) -> ServiceOrder:
        saved = replace(after, version=before.version + 1)
        if not await self._orders.save(saved, before.version, events):
            raise Conflict("the service order changed meanwhile; reload it and try again")
        self._notify()
        return saved

    async def update(
        self,
        order_id: str,
        *,
        title: str | None,
        content: str | None,
        owner_id: str | None,
        team: str | None,
        delivery_start: date | None,
        delivery_end: date | None,
    ) -> ServiceOrder:
        """Change the given fields (omitted ones stay as they are)."""
        order = await self._workable(order_id)
        details = validate_details(
            title=title if title is not None else order.title,
            content=content if content is not None else order.content,
            owner_id=owner_id if owner_id is not None else order.owner_id,
            team=team if team is not None else order.team,
            delivery_start=delivery_start or order.delivery_start,
            delivery_end=delivery_end or order.delivery_end,
        )
        updated = replace(
            order,
            title=details.title,
            content=details.content,
            owner_id=details.owner_id or order.owner_id,
            team=details.team,
            delivery_start=details.delivery_start,
            delivery_end=details.delivery_end,
            updated_at=self._clock(),
        )
        return await self._save(order, updated, [])

    async def advance(self, order_id: str) -> ServiceOrder:
        order = await self._workable(order_id)
        now = self._clock()
        move = advance(order, now)
        actor = self._principal.user_id
        events: list[CloudEvent] = []
        if move.to_stage is not None:
            events.append(
                desk_event(
                    ServiceOrderStageChanged(
                        order_id=order.id,
                        customer_id=order.customer_id,
                        from_stage=move.from_stage.value if move.from_stage else None,
                        to_stage=move.to_stage.value,
                        progress=move.order.progress,
                        actor_id=actor,
                        changed_at=now,
                    ),
                    order.tenant_id,
                    order.customer_id,
                )
            )
        else:
            events.append(
                desk_event(
                    ServiceOrderDelivered(
                        order_id=order.id,
                        customer_id=order.customer_id,
                        quote_id=order.quote_id,
                        owner_id=order.owner_id,
                        actor_id=actor,
                        delivered_at=now,
                    ),
                    order.tenant_id,
                    order.customer_id,
                )
            )
        return await self._save(order, move.order, events)

    async def report_progress(self, order_id: str, stage: Stage, progress: int) -> ServiceOrder:
        order = await self._workable(order_id)
        return await self._save(order, set_progress(order, stage, progress, self._clock()), [])

    async def add_deliverable(
        self, order_id: str, stage: Stage, name: str, kind: DeliverableKind, reference: str
    ) -> ServiceOrder:
        order = await self._workable(order_id)
        now = self._clock()
        deliverable = validate_deliverable(
            order,
            stage,
            name=name,
            kind=kind,
            reference=reference,
            actor_id=self._principal.user_id,
            now=now,
        )
        stages = tuple(
            replace(s, deliverables=(*s.deliverables, deliverable)) if s.stage is stage else s
            for s in order.stages
        )
        return await self._save(order, replace(order, stages=stages, updated_at=now), [])

    async def get(self, order_id: str) -> ServiceOrder | None:
        return await self._orders.get(order_id, visibility(self._principal))

    async def listing(self, page: PageRequest) -> Page[ServiceOrder]:
        return await self._orders.listing(None, visibility(self._principal), page)

    async def for_customer(self, customer_id: str, page: PageRequest) -> Page[ServiceOrder]:
        view = visibility(self._principal)
        if not view.everything and may_see_customer(
            self._principal, await self._customers.get(customer_id)
        ):
            view = replace(view, everything=True)
        return await self._orders.listing(customer_id, view, page)
