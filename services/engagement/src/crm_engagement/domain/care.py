"""Long-term care after a deal, and planned touches per segment. Pure.

**Visit plan.** When a customer becomes a deal (``crm.customer.status_changed`` to ``DEAL``),
its owner gets a plan of visits as ordinary follow-ups (origin ``care_plan``; they are listed,
reminded and completed like any other): every ``weekly_interval_days`` (7) during the first
``first_phase_days`` (30), then every ``later_interval_days`` (91, quarterly), counted from the
deal. Only the visits within ``horizon_days`` (365) of the deal are created at first (round 1);
completing (or cancelling) the last visit of a round creates the next round, the visits due in
the following ``horizon_days``. So a plan never holds more than a year of open tasks, and goes
on while the customer is cared for. Each visit's id derives from (tenant, plan, sequence
number) and the plan id from the deal event, so a redelivered event or two replicas create
each visit once. The plan keeps the settings it started with (a change applies to new plans).

**Withdrawal.** A customer that is lost (its lifecycle status moves to ``CHURNED``) or deleted
is no longer cared for: its plans made before that moment are withdrawn (marked, so no next
round is made) and their unfinished visits (open or overdue) are cancelled with a reason the
owner reads ("customer churned" / "customer deleted"); finished visits and follow-ups of other
origins stay as they are. Only plans whose deal came before the loss: a customer that becomes a
deal again gets a new plan (a new deal event, a new plan id), which an older loss never touches.

**Touches.** A manager or admin plans a holiday greeting (节日关怀) or a content push (industry
news, upgrade notes) for a segment of customers (by type, lifecycle status, team, owner): one
follow-up per matching customer for its owner (origin ``holiday_care`` / ``content_push``),
completed like any follow-up, which records the touch as an interaction. A segment also
selects by province (any of the given, named as the customer service does: Chinese, pinyin
or English, `crm_common.regions`), industry (any of, exact) and tags (any of the given); a
customer copied before these fields existed does not match a filter on them. Each planning is
a campaign; its progress counts its follow-ups by status (`CampaignProgress`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from crm_common.errors import BadUserInput
from crm_common.regions import canonical_province
from crm_engagement.domain.followup import (
    EngagementSettings,
    FollowUp,
    FollowUpOrigin,
    FollowUpStatus,
    FollowUpType,
    Priority,
    remind_time,
)
from crm_engagement.domain.interaction import as_utc

TITLE_MAX = 300
MESSAGE_MAX = 5_000
SEGMENT_VALUES_MAX = 50
CARE_ACTOR = "system:care-plan"
# Lifecycle statuses of a customer that is lost: its care plan is withdrawn.
LOST_STATUSES = frozenset({"CHURNED", "LOST"})
WITHDRAWN_CHURNED = "customer churned"
WITHDRAWN_DELETED = "customer deleted"


@dataclass(frozen=True, slots=True)
class CarePlanSettings:
    """Per tenant (an admin changes them); the defaults are the product's policy."""

    weekly_interval_days: int = 7
    first_phase_days: int = 30
    later_interval_days: int = 91
    horizon_days: int = 365
    enabled: bool = True


def validate_care_settings(s: CarePlanSettings) -> None:
    for name, value, low, high in (
        ("weeklyIntervalDays", s.weekly_interval_days, 1, 90),
        ("firstPhaseDays", s.first_phase_days, 0, 365),
        ("laterIntervalDays", s.later_interval_days, 7, 365),
        ("horizonDays", s.horizon_days, 30, 730),
    ):
        if not low <= value <= high:
            raise BadUserInput(f"{name} must be between {low} and {high}", field=f"input.{name}")
    if s.first_phase_days > s.horizon_days:
        raise BadUserInput(
            "firstPhaseDays must not exceed horizonDays", field="input.firstPhaseDays"
        )


@dataclass(frozen=True, slots=True)
class PlannedVisit:
    seq: int  # 1, 2, ... over the whole plan
    due_at: datetime
    phase: str  # "first_month" or "regular"


def visit_offsets(settings: CarePlanSettings, until_days: int) -> list[tuple[int, str]]:
    """Day offsets from the deal of every visit up to ``until_days`` (inclusive), in order."""
    offsets: list[tuple[int, str]] = []
    day = settings.weekly_interval_days
    while day <= settings.first_phase_days and day <= until_days:
        offsets.append((day, "first_month"))
        day += settings.weekly_interval_days
    day = settings.first_phase_days + settings.later_interval_days
    while day <= until_days:
        offsets.append((day, "regular"))
        day += settings.later_interval_days
    return offsets


def plan_round(deal_at: datetime, settings: CarePlanSettings, round_no: int) -> list[PlannedVisit]:
    """The visits of one round: due after ``(round_no-1) * horizon`` up to ``round_no * horizon``
    days from the deal; sequence numbers continue over rounds."""
    if round_no < 1:
        raise ValueError("rounds start at 1")
    start, end = (round_no - 1) * settings.horizon_days, round_no * settings.horizon_days
    every = visit_offsets(settings, end)
    base = as_utc(deal_at)
    return [
        PlannedVisit(seq=i + 1, due_at=base + timedelta(days=day), phase=phase)
        for i, (day, phase) in enumerate(every)
        if day > start
    ]


def plan_id(tenant_id: str, customer_id: str, deal_event_id: str) -> str:
    return str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"crm:care-plan:{tenant_id}:{customer_id}:{deal_event_id}")
    )


def visit_id(tenant_id: str, plan: str, seq: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm:care-visit:{tenant_id}:{plan}:{seq}"))


def visit_goal(visit: PlannedVisit, customer_name: str) -> str:
    when = "first-month" if visit.phase == "first_month" else "regular"
    return f"Care visit #{visit.seq} ({when}) after the deal: {customer_name}"[:1_000]


@dataclass(frozen=True, slots=True)
class CarePlan:
    id: str
    tenant_id: str
    customer_id: str
    owner_id: str
    customer_name: str
    deal_at: datetime
    settings: CarePlanSettings
    created_at: datetime
    # Set when the customer was lost or deleted: no next round, unfinished visits cancelled.
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None


def withdrawal_reason(from_status: str, to_status: str) -> str | None:
    """Why a status change withdraws the customer's care (None: it does not). Leaving DEAL
    for a lost status does; so does any move to a lost status (a plan can only exist after a
    deal, and withdrawing twice changes nothing)."""
    if to_status.upper() in LOST_STATUSES and from_status.upper() not in LOST_STATUSES:
        return WITHDRAWN_CHURNED
    return None


def withdraws(plan: CarePlan, lost_at: datetime) -> bool:
    """Whether a loss at ``lost_at`` withdraws ``plan``: plans of deals made before it (a
    later deal is a new relationship with a new plan)."""
    return as_utc(plan.deal_at) <= as_utc(lost_at)


def round_of(plan: CarePlan, due_at: datetime) -> int:
    """The round a visit due at ``due_at`` belongs to."""
    days = (as_utc(due_at) - as_utc(plan.deal_at)).total_seconds() / 86_400
    return max(1, -int(-days // plan.settings.horizon_days))


def is_last_of_round(plan: CarePlan, due_at: datetime) -> bool:
    visits = plan_round(plan.deal_at, plan.settings, round_of(plan, due_at))
    return bool(visits) and visits[-1].due_at == as_utc(due_at)


def next_round(plan: CarePlan, after_round: int) -> int:
    """The first round after ``after_round`` that holds a visit (a short horizon with a long
    interval leaves some rounds empty)."""
    s = plan.settings
    for candidate in range(
        after_round + 1, after_round + 2 + s.later_interval_days // s.horizon_days + 1
    ):
        if plan_round(plan.deal_at, s, candidate):
            return candidate
    return after_round + 1


def visit_tasks(
    plan: CarePlan, round_no: int, engagement: EngagementSettings, now: datetime
) -> list[FollowUp]:
    """The follow-ups of one round, for the plan's owner (ids derived from plan and seq).
    Visits already due by ``now`` (a deal entered late) are left out: a plan looks ahead."""
    return [
        FollowUp(
            id=visit_id(plan.tenant_id, plan.id, visit.seq),
            tenant_id=plan.tenant_id,
            customer_id=plan.customer_id,
            type=FollowUpType.VISIT,
            due_at=visit.due_at,
            remind_at=remind_time(visit.due_at, engagement),
            priority=Priority.MEDIUM,
            goal=visit_goal(visit, plan.customer_name),
            assignee_id=plan.owner_id,
            status=FollowUpStatus.OPEN,
            created_by=CARE_ACTOR,
            created_at=now,
            origin=FollowUpOrigin.CARE_PLAN,
            origin_event_id=plan.id,
        )
        for visit in plan_round(plan.deal_at, plan.settings, round_no)
        if visit.due_at > now
    ]


# --- touches per segment ---------------------------------------------------------------------


class TouchKind(StrEnum):
    HOLIDAY_CARE = "holiday_care"  # 节日关怀
    CONTENT_PUSH = "content_push"  # industry news, upgrade notes


@dataclass(frozen=True, slots=True)
class Segment:
    """Which customers: every non-empty list must match (an empty list matches all)."""

    customer_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    owner_ids: tuple[str, ...] = ()
    # Provinces (canonical names), industries (exact), tags (any of them).
    regions: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def as_document(self) -> dict[str, list[str]]:
        """The segment as stored with its campaign and carried by ``touches_planned``."""
        return {
            "customer_types": list(self.customer_types),
            "statuses": list(self.statuses),
            "teams": list(self.teams),
            "owner_ids": list(self.owner_ids),
            "regions": list(self.regions),
            "industries": list(self.industries),
            "tags": list(self.tags),
        }

    @classmethod
    def from_document(cls, doc: dict[str, list[str]] | None) -> Segment:
        doc = doc or {}
        return cls(**{name: tuple(doc.get(name) or ()) for name in cls.__dataclass_fields__})


def clean_segment(segment: Segment) -> Segment:
    def clean(values: tuple[str, ...], name: str, upper: bool) -> tuple[str, ...]:
        out = tuple(dict.fromkeys(v.strip().upper() if upper else v.strip() for v in values))
        if len(out) > SEGMENT_VALUES_MAX or any(not v for v in out):
            raise BadUserInput(
                f"segment.{name}: 1-{SEGMENT_VALUES_MAX} non-blank values",
                field=f"input.segment.{name}",
            )
        return out

    regions = clean(segment.regions, "regions", False)
    unknown = [r for r in regions if canonical_province(r) is None]
    if unknown:
        raise BadUserInput(
            f"segment.regions: unknown province {unknown[0]!r}", field="input.segment.regions"
        )
    return Segment(
        customer_types=clean(segment.customer_types, "customerTypes", True),
        statuses=clean(segment.statuses, "statuses", True),
        teams=clean(segment.teams, "teams", False),
        owner_ids=clean(segment.owner_ids, "ownerIds", False),
        regions=tuple(dict.fromkeys(canonical_province(r) or r for r in regions)),
        industries=clean(segment.industries, "industries", False),
        tags=clean(segment.tags, "tags", False),
    )


def validate_touch(*, title: str, message: str | None, due_at: datetime, now: datetime) -> None:
    if not title.strip() or len(title) > TITLE_MAX:
        raise BadUserInput(f"title must be 1-{TITLE_MAX} characters", field="input.title")
    if message is not None and len(message) > MESSAGE_MAX:
        raise BadUserInput(
            f"message is longer than {MESSAGE_MAX} characters", field="input.message"
        )
    if as_utc(due_at) < now - timedelta(minutes=5):
        raise BadUserInput("dueAt must not be in the past", field="input.dueAt")


def touch_id(tenant_id: str, campaign_id: str, customer_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm:touch:{tenant_id}:{campaign_id}:{customer_id}"))


def touch_goal(kind: TouchKind, title: str, message: str | None) -> str:
    label = "Holiday care" if kind is TouchKind.HOLIDAY_CARE else "Content push"
    text = f"{label}: {title.strip()}"
    if message:
        text += f"\n\n{message.strip()}"
    return text[:1_000]


@dataclass(frozen=True, slots=True)
class TouchCampaign:
    """One ``planTouches`` call: what was planned, for which segment, by whom and when; its
    follow-ups carry its id (``origin_event_id``)."""

    id: str
    tenant_id: str
    kind: TouchKind
    title: str
    message: str | None
    segment: Segment
    due_at: datetime
    planned_by: str
    planned_at: datetime
    customers: int  # how many customers matched when it was planned
    type: FollowUpType | None = None  # absent in campaigns stored before it was kept


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    """A campaign's follow-ups by status: ``open`` counts the unfinished ones (overdue
    included, also counted apart), so planned = open + done + cancelled."""

    planned: int = 0
    open: int = 0
    overdue: int = 0
    done: int = 0
    cancelled: int = 0


def campaign_progress(by_status: dict[str, int]) -> CampaignProgress:
    """The progress from the number of follow-ups per status (statuses as stored)."""
    open_ = by_status.get(FollowUpStatus.OPEN.value, 0)
    overdue = by_status.get(FollowUpStatus.OVERDUE.value, 0)
    done = by_status.get(FollowUpStatus.DONE.value, 0)
    cancelled = by_status.get(FollowUpStatus.CANCELLED.value, 0)
    return CampaignProgress(
        planned=open_ + overdue + done + cancelled,
        open=open_ + overdue,
        overdue=overdue,
        done=done,
        cancelled=cancelled,
    )
