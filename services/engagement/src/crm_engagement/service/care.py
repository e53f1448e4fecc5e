"""Long-term care after a deal and planned touches per segment (`domain.care`).

The visit plan is made by a reaction to the customer's move to DEAL (consumer group: one
member per partition; the plan id derives from the deal event and each visit's id from the
plan and its number, so a redelivery or a rebalance overlap stores each visit once). The next
round is made when the last visit of a round is finished (`extend_after`), under the same
derived ids. A customer lost (churned) or deleted has its plans withdrawn (`withdraw_care`):
marked, then their unfinished visits cancelled, both conditional writes, so a redelivery or a
second replica changes nothing more. Touches are made by a mutation (a manager for their
team's customers, an admin for the tenant's), one follow-up per customer of the segment, ids
derived from the campaign.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from crm_common.errors import BadUserInput, Forbidden
from crm_common.events.contracts.engagement import CarePlanStarted, TouchesPlanned
from crm_common.events.outbox import new_event
from crm_common.pagination import Page, PageRequest
from crm_common.permissions import require
from crm_engagement.domain.care import (
    CampaignProgress,
    CarePlan,
    CarePlanSettings,
    Segment,
    TouchCampaign,
    TouchKind,
    campaign_progress,
    clean_segment,
    plan_id,
    touch_goal,
    touch_id,
    validate_care_settings,
    validate_touch,
    visit_tasks,
)
from crm_engagement.domain.followup import (
    FollowUp,
    FollowUpOrigin,
    FollowUpStatus,
    FollowUpType,
    Priority,
    remind_time,
)
from crm_engagement.domain.interaction import as_utc
from crm_engagement.domain.permissions import require_admin, sees_everything
from crm_engagement.service.base import EVENT_SOURCE, UseCase
from crm_engagement.service.followups import store_tasks
from crm_engagement.service.ports import TenantStores

log = logging.getLogger(__name__)

# At most this many customers per planned touch (a bigger segment is refused: narrow it).
TOUCH_SEGMENT_MAX = 2_000


async def start_plan(
    stores: TenantStores,
    *,
    tenant_id: str,
    customer_id: str,
    deal_event_id: str,
    deal_at: datetime,
    now: datetime,
) -> int:
    """The visit plan of a customer that became a deal; how many visits this call created."""
    settings = await stores.care.settings()
    if not settings.enabled:
        return 0
    customer = await stores.customers.get(customer_id)
    if customer is None or not customer.owner_id:
        log.warning("deal for an unknown customer: no care plan", extra={"customer": customer_id})
        return 0
    plan = CarePlan(
        id=plan_id(tenant_id, customer_id, deal_event_id),
        tenant_id=tenant_id,
        customer_id=customer_id,
        owner_id=customer.owner_id,
        customer_name=customer.name,
        deal_at=as_utc(deal_at),
        settings=settings,
        created_at=now,
    )
    engagement = await stores.settings.get()
    tasks = visit_tasks(plan, 1, engagement, now)
    event = new_event(
        CarePlanStarted(
            plan_id=plan.id,
            customer_id=customer_id,
            owner_id=plan.owner_id,
            deal_at=plan.deal_at,
            visits=len(tasks),
            first_visit_at=tasks[0].due_at if tasks else None,
            horizon_days=plan.settings.horizon_days,
        ),
        source=EVENT_SOURCE,
        tenant_id=tenant_id,
        key=customer_id,
    ).with_id(str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm:care-plan-started:{plan.id}")))
    if not await stores.care.add_plan(plan, [event]):
        # Made already (a redelivery, or the other replica): finish it from what was stored.
        stored = await stores.care.get_plan(plan.id)
        if stored is not None:
            tasks = visit_tasks(stored, 1, engagement, now)
    return await store_tasks(stores, tasks)


async def withdraw_care(
    stores: TenantStores, *, customer_id: str, lost_at: datetime, reason: str, now: datetime
) -> int:
    """The customer was lost (churned) or deleted at ``lost_at``: its care plans of deals made
    until then are withdrawn and their unfinished visits cancelled with ``reason`` (the
    finished ones and other follow-ups stay). How many visits this call cancelled."""
    plans, cancelled = await stores.care.withdraw(customer_id, as_utc(lost_at), reason, now)
    if plans:
        log.info(
            "care withdrawn",
            extra={"customer": customer_id, "plans": len(plans), "visits": cancelled},
        )
    return cancelled


@dataclass(frozen=True, slots=True)
class PlanTouchesCommand:
    kind: TouchKind
    title: str
    due_at: datetime
    segment: Segment
    message: str | None = None
    type: FollowUpType = FollowUpType.PHONE_CALL


@dataclass(frozen=True, slots=True)
class PlannedTouches:
    campaign_id: str
    kind: TouchKind
    title: str
    due_at: datetime
    segment: Segment
    matched: int
    created: int


class CareService(UseCase):
    async def settings(self) -> CarePlanSettings:
        return await self._stores.care.settings()

    async def update_settings(self, settings: CarePlanSettings) -> CarePlanSettings:
        require_admin(self._principal, "change the care plan settings")
        validate_care_settings(settings)
        await self._stores.care.save_settings(settings)
        return settings

    async def campaigns(self, page: PageRequest) -> Page[tuple[TouchCampaign, CampaignProgress]]:
        """The touch campaigns planned, newest first, each with its progress (its follow-ups
        by status, counted for the whole page in one query). Who may plan sees them: an
        admin the tenant's, a sales manager those whose segment names their team."""
        principal = self._principal
        require(principal, "engagement:plan", "list touch campaigns")
        team: str | None = None
        if not sees_everything(principal.for_permission("engagement:plan")):
            if principal.team is None:
                raise Forbidden("a sales manager without a team has no touch campaigns")
            team = principal.team
        found = await self._stores.care.campaigns(team, page)
        counts = await self._stores.care.campaign_counts([c.id for c, _ in found.items])
        return found.map(lambda c: (c, campaign_progress(counts.get(c.id, {}))))

    async def plan_touches(self, command: PlanTouchesCommand) -> PlannedTouches:
        """One follow-up per customer of the segment, for its owner: a holiday greeting or a
        content push, recorded as an interaction when completed."""
        principal = self._principal
        require(principal, "engagement:plan", "plan touches")
        now = self._clock()
        validate_touch(title=command.title, message=command.message, due_at=command.due_at, now=now)
        segment = clean_segment(command.segment)
        if not sees_everything(principal.for_permission("engagement:plan")):
            # A manager plans for their own team's customers only.
            if principal.team is None:
                raise Forbidden("a sales manager without a team may not plan touches")
            if segment.teams and segment.teams != (principal.team,):
                raise Forbidden("a sales manager plans touches for their own team only")
            segment = replace(segment, teams=(principal.team,))
        members = await self._stores.care.segment(segment, TOUCH_SEGMENT_MAX)
        if len(members) > TOUCH_SEGMENT_MAX:
            raise BadUserInput(
                f"the segment holds more than {TOUCH_SEGMENT_MAX} customers; narrow it",
                field="input.segment",
            )
        campaign = str(uuid.uuid4())
        settings = await self._stores.settings.get()
        due_at = as_utc(command.due_at)
        origin = (
            FollowUpOrigin.HOLIDAY_CARE
            if command.kind is TouchKind.HOLIDAY_CARE
            else FollowUpOrigin.CONTENT_PUSH
        )
        tasks = [
            FollowUp(
                id=touch_id(principal.tenant_id, campaign, m.customer_id),
                tenant_id=principal.tenant_id,
                customer_id=m.customer_id,
                type=command.type,
                due_at=due_at,
                remind_at=remind_time(due_at, settings),
                priority=Priority.LOW,
                goal=touch_goal(command.kind, command.title, command.message),
                assignee_id=m.owner_id,
                status=FollowUpStatus.OPEN,
                created_by=principal.user_id,
                created_at=now,
                origin=origin,
                origin_event_id=campaign,
            )
            for m in members
            if m.owner_id
        ]
        segment_doc = segment.as_document()
        event = self._event(
            TouchesPlanned(
                campaign_id=campaign,
                kind=command.kind.value,
                title=command.title.strip(),
                due_at=due_at,
                customers=len(tasks),
                planned_by=principal.user_id,
                segment=segment_doc,
            ),
            campaign,
        )
        await self._stores.care.add_campaign(
            campaign,
            {
                "kind": command.kind.value,
                "title": command.title.strip(),
                "message": command.message,
                "due_at": due_at,
                "segment": segment_doc,
                "type": command.type.value,
                "created_by": principal.user_id,
                "created_at": now,
                "customers": len(tasks),
            },
            [event],
        )
        created = await store_tasks(self._stores, tasks)
        self._notify_outbox()
        return PlannedTouches(
            campaign_id=campaign,
            kind=command.kind,
            title=command.title.strip(),
            due_at=due_at,
            segment=segment,
            matched=len(tasks),
            created=created,
        )
