"""Opportunity use cases: open, move along the pipeline, read, list, the kanban board."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.customers.copies import arriving_customer
from crm_common.errors import BadUserInput, Conflict, NotFound
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.quoting import (
    OpportunityAssessed,
    OpportunityCreated,
    OpportunityLost,
    OpportunityStageChanged,
    OpportunityWon,
)
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_common.pagination import Page, PageRequest
from crm_quoting.domain.assessment import (
    DEFAULT_OBSERVATION_AFTER_DAYS,
    Assessment,
    Engagement,
    Fit,
    clean_progress,
    progress_due,
    recommended_cadence,
)
from crm_quoting.domain.opportunity import (
    DEFAULT_PROBABILITY,
    INITIAL_STAGE,
    Opportunity,
    OpportunityStage,
    StageChange,
    check_move,
    validate_new_opportunity,
    validate_probability,
)
from crm_quoting.domain.permissions import (
    Visibility,
    can_change,
    can_create,
    can_see_customer,
    visibility,
)
from crm_quoting.service.ports import (
    BoardCell,
    CatalogueRepository,
    CustomerDirectory,
    OpportunityRepository,
)

EVENT_SOURCE = "crm/quoting"


def quoting_event(payload: EventData, tenant_id: str, customer_id: str) -> CloudEvent:
    """Every quoting event is keyed by customer id (per-customer ordering)."""
    return new_event(payload, source=EVENT_SOURCE, tenant_id=tenant_id, key=customer_id)


@dataclass(frozen=True, slots=True)
class CreateOpportunityCommand:
    customer_id: str
    name: str
    amount_minor: str | int = 0
    currency: str = "CNY"
    probability: int | None = None
    expected_close_date: date | None = None


@dataclass(frozen=True, slots=True)
class MoveOpportunityCommand:
    opportunity_id: str
    stage: OpportunityStage
    probability: int | None = None
    loss_reason: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class AssessOpportunityCommand:
    opportunity_id: str
    fit: Fit
    engagement: Engagement
    decision_progress: str | None = None


@dataclass(frozen=True, slots=True)
class BoardColumn:
    stage: OpportunityStage
    count: int
    amounts: list[tuple[str, int]]  # (currency, sum of amounts in minor units)


class OpportunityService:
    """Use cases for one request's principal; the repository is bound to its tenant."""

    def __init__(
        self,
        principal: Principal,
        repository: OpportunityRepository,
        customers: CustomerDirectory,
        notify_outbox: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
        *,
        settings: CatalogueRepository | None = None,
    ) -> None:
        self._principal = principal
        self._settings = settings
        self._repo = repository
        self._customers = customers
        self._notify_outbox = notify_outbox
        self._clock = clock

    async def create(self, command: CreateOpportunityCommand) -> Opportunity:
        principal = self._principal
        can_create(principal)
        new = validate_new_opportunity(
            customer_id=command.customer_id,
            name=command.name,
            amount_minor=command.amount_minor,
            currency=command.currency,
            probability=command.probability,
            expected_close_date=command.expected_close_date,
        )
        # Waits briefly for a customer created a moment ago (CUSTOMER_NOT_READY if it stays away).
        customer = await arriving_customer(
            self._customers.get, new.customer_id, field="input.customerId"
        )
        if not customer.is_active:
            # Known from the customer service's events (usually within a second of creation);
            # the same answer for another tenant's id as for an invented one.
            raise NotFound(f"customer {new.customer_id} not found", field="input.customerId")
        # Records follow their customer's owner: none for a customer the caller cannot see.
        can_see_customer(principal, customer.owner_id, customer.team)
        now = self._clock()
        opportunity = Opportunity(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            customer_id=new.customer_id,
            name=new.name,
            stage=INITIAL_STAGE,
            owner_id=principal.user_id,
            team=principal.team,
            amount=new.amount,
            probability=new.probability,
            expected_close_date=new.expected_close_date,
            created_at=now,
            updated_at=now,
            history=(StageChange(None, INITIAL_STAGE, principal.user_id, now),),
        )
        event = quoting_event(
            OpportunityCreated(
                opportunity_id=opportunity.id,
                customer_id=opportunity.customer_id,
                name=opportunity.name,
                stage=opportunity.stage.value,
                owner_id=opportunity.owner_id,
                team=opportunity.team,
                amount_minor=opportunity.amount.amount_minor,
                currency=opportunity.amount.currency,
                probability=opportunity.probability,
                expected_close_date=opportunity.expected_close_date,
                created_at=now,
            ),
            principal.tenant_id,
            opportunity.customer_id,
        )
        await self._repo.add(opportunity, [event])
        self._notify_outbox()
        return opportunity

    async def move(self, command: MoveOpportunityCommand) -> Opportunity:
        current = await self._visible(command.opportunity_id)
        can_change(self._principal)
        reason = check_move(current.stage, command.stage, command.loss_reason)
        probability = validate_probability(command.probability, "input.probability")
        return await self._apply_move(
            current, command.stage, probability, reason, command.note, quote_id=None
        )

    async def assess(self, command: AssessOpportunityCommand) -> Opportunity:
        """Record a stage assessment (fit, engagement, decision progress) of an open
        opportunity and announce the cadence it recommends for the customer."""
        current = await self._visible(command.opportunity_id)
        can_change(self._principal)
        if current.stage.is_closed:
            raise BadUserInput(
                f"the opportunity is {current.stage.value}; only an open one is assessed",
                field="input.id",
            )
        progress = clean_progress(command.decision_progress)
        now = self._clock()
        assessment = Assessment(
            command.fit, command.engagement, progress, self._principal.user_id, now
        )
        days = DEFAULT_OBSERVATION_AFTER_DAYS
        if self._settings is not None:
            days = (await self._settings.settings()).observation_after_days
        due = progress_due(current.progress_due_at, assessment, not current.assessments, days)
        cadence, reason = recommended_cadence(command.fit, command.engagement)
        event = quoting_event(
            OpportunityAssessed(
                opportunity_id=current.id,
                customer_id=current.customer_id,
                owner_id=current.owner_id,
                team=current.team,
                fit=command.fit.value,
                engagement=command.engagement.value,
                decision_progress=progress,
                cadence=cadence.value,
                reason=reason.value,
                actor_id=self._principal.user_id,
                assessed_at=now,
            ),
            self._principal.tenant_id,
            current.customer_id,
        )
        if not await self._repo.assess(current, assessment, due, [event]):
            raise Conflict(
                "the opportunity was changed meanwhile; reload and try again", field="input.id"
            )
        self._notify_outbox()
        return replace(
            current,
            updated_at=now,
            assessments=(*current.assessments, assessment),
            progress_due_at=due,
        )

    async def win_by_quote(self, opportunity: Opportunity, quote_id: str) -> Opportunity:
        """An accepted quote wins its opportunity from whatever open stage it is at.

        The acceptance is stored already, so a concurrent move of the opportunity is not the
        caller's error: reload and try again while it is still open.
        """
        for _ in range(3):
            if opportunity.stage.is_closed:
                return opportunity
            try:
                return await self._apply_move(
                    opportunity,
                    OpportunityStage.WON,
                    None,
                    None,
                    f"quote {quote_id} accepted",
                    quote_id,
                )
            except Conflict:
                reloaded = await self._repo.get(opportunity.id, Visibility(everything=True))
                if reloaded is None:
                    return opportunity
                opportunity = reloaded
        return opportunity

    async def _apply_move(
        self,
        current: Opportunity,
        target: OpportunityStage,
        probability: int | None,
        loss_reason: str | None,
        note: str | None,
        quote_id: str | None,
    ) -> Opportunity:
        actor = self._principal.user_id
        now = self._clock()
        if target.is_closed or probability is None:
            probability = DEFAULT_PROBABILITY[target]  # closed: 100 / 0, whatever was asked
        moved = replace(
            current,
            stage=target,
            probability=probability,
            loss_reason=loss_reason,
            updated_at=now,
            history=(*current.history, StageChange(current.stage, target, actor, now, note)),
        )
        events = self._move_events(current, moved, now, quote_id)
        if not await self._repo.move(moved, current.stage, moved.history[-1], events):
            raise Conflict(
                "the opportunity was changed meanwhile; reload and try again", field="input.id"
            )
        self._notify_outbox()
        return moved

    def _move_events(
        self, before: Opportunity, after: Opportunity, now: datetime, quote_id: str | None
    ) -> list[CloudEvent]:
        actor = self._principal.user_id
        common = {
            "opportunity_id": after.id,
            "customer_id": after.customer_id,
            "owner_id": after.owner_id,
            "amount_minor": after.amount.amount_minor,
            "currency": after.amount.currency,
            "actor_id": actor,
        }
        payloads: list[EventData] = [
            OpportunityStageChanged(
                **common,
                from_stage=before.stage.value,
                to_stage=after.stage.value,
                probability=after.probability,
                changed_at=now,
            )
        ]
        if after.stage == OpportunityStage.WON:
            payloads.append(OpportunityWon(**common, quote_id=quote_id, won_at=now))
        elif after.stage == OpportunityStage.LOST:
            assert after.loss_reason is not None
            payloads.append(OpportunityLost(**common, loss_reason=after.loss_reason, lost_at=now))
        return [quoting_event(p, self._principal.tenant_id, after.customer_id) for p in payloads]

    async def get(self, opportunity_id: str) -> Opportunity | None:
        return await self._repo.get(opportunity_id, visibility(self._principal))

    async def _visible(self, opportunity_id: str) -> Opportunity:
        found = await self.get(opportunity_id)
        if found is None:
            raise NotFound("no such opportunity", field="input.id")
        return found

    async def list_page(
        self, customer_id: str | None, stage: OpportunityStage | None, page: PageRequest
    ) -> Page[Opportunity]:
        return await self._repo.list_page(customer_id, stage, page, visibility(self._principal))

    async def board(self) -> list[BoardColumn]:
        """Every stage in pipeline order, with its count and amount sums per currency."""
        cells: list[BoardCell] = await self._repo.board(visibility(self._principal))
        columns = []
        for stage in OpportunityStage:
            mine = sorted((c for c in cells if c.stage == stage), key=lambda c: c.currency)
            columns.append(
                BoardColumn(
                    stage=stage,
                    count=sum(c.count for c in mine),
                    amounts=[(c.currency, c.amount_minor) for c in mine],
                )
            )
        return columns
