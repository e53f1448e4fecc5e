"""Service orders: a delivery in four stages, each with deliverables and progress. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from urllib.parse import urlparse

from crm_common.errors import BadUserInput
from crm_service_desk.domain.ticket import NAME_MAX, clean_name, clean_text

CONTENT_MAX = 20_000
DELIVERABLES_PER_STAGE_MAX = 100
URL_MAX = 2_000


class Stage(StrEnum):
    REQUIREMENTS_RESEARCH = "REQUIREMENTS_RESEARCH"
    SOLUTION_DESIGN = "SOLUTION_DESIGN"
    BUILD_AND_TEST = "BUILD_AND_TEST"
    ACCEPTANCE_AND_DELIVERY = "ACCEPTANCE_AND_DELIVERY"


STAGES: tuple[Stage, ...] = tuple(Stage)


class OrderStatus(StrEnum):
    OPEN = "OPEN"  # opened, delivery not started
    IN_DELIVERY = "IN_DELIVERY"
    DELIVERED = "DELIVERED"


class OrderSource(StrEnum):
    QUOTE = "QUOTE"
    MANUAL = "MANUAL"


class DeliverableKind(StrEnum):
    FILE = "FILE"  # a reference to a stored file (e.g. a GridFS id)
    LINK = "LINK"


@dataclass(frozen=True, slots=True)
class Deliverable:
    name: str
    kind: DeliverableKind
    reference: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class StageState:
    stage: Stage
    progress: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    deliverables: tuple[Deliverable, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceOrder:
    id: str
    tenant_id: str
    customer_id: str
    title: str
    content: str
    source: OrderSource
    owner_id: str
    status: OrderStatus
    created_at: datetime
    stages: tuple[StageState, ...]
    quote_id: str | None = None
    quote_number: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    team: str | None = None
    delivery_start: date | None = None
    delivery_end: date | None = None
    current_stage: Stage | None = None
    delivered_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    @property
    def progress(self) -> int:
        """Overall progress: the mean of the stages' progress, rounded down."""
        return sum(s.progress for s in self.stages) // len(self.stages)

    def stage(self, stage: Stage) -> StageState:
        return next(s for s in self.stages if s.stage is stage)


def initial_stages() -> tuple[StageState, ...]:
    return tuple(StageState(stage=s) for s in STAGES)


@dataclass(frozen=True, slots=True)
class OrderDetails:
    """Validated editable fields of an order."""

    title: str
    content: str
    owner_id: str | None
    team: str | None
    delivery_start: date | None
    delivery_end: date | None


def validate_details(
    *,
    title: str,
    content: str | None,
    owner_id: str | None,
    team: str | None,
    delivery_start: date | None,
    delivery_end: date | None,
) -> OrderDetails:
    clean_title = clean_name(title, "input.title", required=True)
    assert clean_title is not None
    if delivery_start and delivery_end and delivery_end < delivery_start:
        raise BadUserInput("deliveryEnd is before deliveryStart", field="input.deliveryEnd")
    return OrderDetails(
        title=clean_title,
        content=clean_text(content, "input.content", CONTENT_MAX),
        owner_id=clean_name(owner_id, "input.ownerId"),
        team=clean_name(team, "input.team"),
        delivery_start=delivery_start,
        delivery_end=delivery_end,
    )


@dataclass(frozen=True, slots=True)
class StageMove:
    """The outcome of advancing an order: the new state and what changed."""

    order: ServiceOrder
    from_stage: Stage | None
    to_stage: Stage | None  # None once the last stage is completed (delivered)


def advance(order: ServiceOrder, now: datetime) -> StageMove:
    """Complete the current stage (progress 100) and start the next; start the first if none.

    Completing acceptance & delivery delivers the order; it needs at least one deliverable there
    (the acceptance record or the delivered artefact).
    """
    if order.status is OrderStatus.DELIVERED:
        raise BadUserInput("the order is already delivered", field="input.orderId")
    stages = list(order.stages)
    current = order.current_stage
    if current is None:
        stages[0] = replace(stages[0], started_at=now)
        moved = replace(
            order,
            stages=tuple(stages),
            current_stage=STAGES[0],
            status=OrderStatus.IN_DELIVERY,
            updated_at=now,
        )
        return StageMove(moved, None, STAGES[0])
    index = STAGES.index(current)
    if current is Stage.ACCEPTANCE_AND_DELIVERY and not stages[index].deliverables:
        raise BadUserInput(
            "add the acceptance record or delivered artefact before delivering",
            field="input.orderId",
        )
    stages[index] = replace(stages[index], progress=100, completed_at=now)
    if index + 1 == len(STAGES):
        delivered = replace(
            order,
            stages=tuple(stages),
            current_stage=None,
            status=OrderStatus.DELIVERED,
            delivered_at=now,
            updated_at=now,
        )
        return StageMove(delivered, current, None)
    stages[index + 1] = replace(stages[index + 1], started_at=now)
    moved = replace(order, stages=tuple(stages), current_stage=STAGES[index + 1], updated_at=now)
    return StageMove(moved, current, STAGES[index + 1])


def set_progress(order: ServiceOrder, stage: Stage, progress: int, now: datetime) -> ServiceOrder:
    """Report progress (0-99) on the stage in work; completing a stage is `advance`."""
    if not 0 <= progress <= 99:
        raise BadUserInput(
            "progress must be between 0 and 99 (advance the order to complete a stage)",
            field="input.progress",
        )
    current = order.current_stage
    if current is None and order.status is OrderStatus.DELIVERED:
        raise BadUserInput(
            "the order is already delivered; its stages take no more progress",
            field="input.stage",
            reason="ORDER_DELIVERED",
            status=order.status.value,
        )
    if current is None:
        first = STAGES[0].value
        raise BadUserInput(
            f"no stage has started yet (the order is {order.status.value}): start stage "
            f"{first} first with advanceServiceOrder, then report progress on it",
            field="input.stage",
            reason="NO_STAGE_STARTED",
            status=order.status.value,
            nextStage=first,
        )
    if current is not stage:
        raise BadUserInput(
            f"{stage.value} is not the stage in work; progress goes to the stage in work, "
            f"{current.value} (advanceServiceOrder completes it and starts the next)",
            field="input.stage",
            reason="NOT_STAGE_IN_WORK",
            status=order.status.value,
            stageInWork=current.value,
        )
    stages = tuple(replace(s, progress=progress) if s.stage is stage else s for s in order.stages)
    return replace(order, stages=stages, updated_at=now)


def validate_deliverable(
    order: ServiceOrder,
    stage: Stage,
    *,
    name: str,
    kind: DeliverableKind,
    reference: str,
    actor_id: str,
    now: datetime,
) -> Deliverable:
    if order.status is OrderStatus.DELIVERED:
        raise BadUserInput("the order is already delivered", field="input.orderId")
    clean = clean_name(name, "input.name", required=True)
    assert clean is not None
    ref = reference.strip()
    if not ref or len(ref) > URL_MAX:
        raise BadUserInput(f"reference must be 1 to {URL_MAX} characters", field="input.reference")
    if kind is DeliverableKind.LINK:
        parsed = urlparse(ref)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise BadUserInput("a link must be an http(s) URL", field="input.reference")
    elif len(ref) > NAME_MAX or any(c.isspace() for c in ref):
        raise BadUserInput("a file reference is a stored file id", field="input.reference")
    if len(order.stage(stage).deliverables) >= DELIVERABLES_PER_STAGE_MAX:
        raise BadUserInput("too many deliverables on this stage", field="input.stage")
    return Deliverable(name=clean, kind=kind, reference=ref, added_by=actor_id, added_at=now)
