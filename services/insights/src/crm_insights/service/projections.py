"""How each event changes the read models: event → fact changes (+ customers to re-score).

Every change is safe to repeat and to receive out of order (see `FactChange`): facts that never
change are set, state is set under a per-group "newer than stored" guard, counters are never
incremented. Reports are then counts and sums over these facts, so a duplicated event changes
no number and replaying the topics from the beginning rebuilds the same documents.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo
from typing import Any

from crm_common.events.contracts import customer as c
from crm_common.events.contracts import customer_cadence as cc
from crm_common.events.contracts import engagement as e
from crm_common.events.contracts import quoting as q
from crm_common.events.contracts import servicedesk as s
from crm_common.events.contracts.base import EventData
from crm_common.events.envelope import CloudEvent
from crm_insights.domain.periods import bucket_fields
from crm_insights.domain.reports import FUNNEL_STAGES, SATISFIED_SCORE, stage_index
from crm_insights.service.ports import Fact, FactBatchWriter, FactChange, FactWriter
from crm_insights.service.service_projections import EXTRA_PROJECTORS


@dataclass(frozen=True, slots=True)
class Projection:
    changes: tuple[FactChange, ...] = ()
    dirty: tuple[str, ...] = ()
    merge: tuple[str, str] | None = None  # (merged id, kept id)


def _customer_created(_: CloudEvent, p: c.CustomerCreated, zone: tzinfo = UTC) -> Projection:
    # Region, source channel and customer type came with a later contract version: older
    # events leave them None, and the reports show UNKNOWN (type: the lifecycle status).
    return Projection(
        changes=(
            FactChange(
                Fact.CUSTOMERS,
                p.customer_id,
                values={
                    "number": p.number,
                    "created_at": p.created_at,
                    **bucket_fields("created", p.created_at, zone),
                    "customer_type": p.customer_type,
                    "region": p.region_province,
                    "city": p.region_city,
                    "source": p.source_channel,
                },
                guarded={
                    "status": (p.created_at, {"status": p.status}),
                    "owner": (p.created_at, {"owner_id": p.owner_id, "team": p.team}),
                    # Industry, size and budget (potential-v2), where the event carries them.
                    **(
                        {"profile": (p.created_at, _profile_fields(p.purchase_profile))}
                        if p.purchase_profile is not None
                        else {}
                    ),
                    # The value tier (A/B/C) at creation, where the event carries it.
                    **(
                        {"tier": (p.created_at, {"value_tier": p.state.value_tier})}
                        if p.state is not None and p.state.value_tier
                        else {}
                    ),
                },
            ),
        ),
        dirty=(p.customer_id,),
    )


# The profile fields (`customer.updated` changed_fields) the purchase profile reflects.
PROFILE_FIELDS = frozenset({"industry", "size", "budget"})


def _profile_fields(profile: c.PurchaseProfile) -> dict[str, Any]:
    return {
        "industry": profile.industry,
        "employees": profile.employees,
        "revenue_band": profile.revenue_band,
        "budget_max_minor": profile.budget_max_minor,
        "budget_currency": profile.budget_currency,
    }


def _customer_updated(_: CloudEvent, p: c.CustomerUpdated) -> Projection:
    """Profile changes: only industry, size and budget are kept (potential-v2's purchase
    power); events without them (older ones) or changing other fields change nothing."""
    touched = {name.split(".")[0] for name in p.changed_fields}
    if p.purchase_profile is None or not touched & PROFILE_FIELDS:
        return Projection()
    change = FactChange(
        Fact.CUSTOMERS,
        p.customer_id,
        guarded={"profile": (p.updated_at, _profile_fields(p.purchase_profile))},
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _value_tier_changed(_: CloudEvent, p: c.CustomerValueTierChanged) -> Projection:
    change = FactChange(
        Fact.CUSTOMERS, p.customer_id, guarded={"tier": (p.changed_at, {"value_tier": p.to_tier})}
    )
    # The tier is a driver of potential-v2: re-scored.
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _status(customer_id: str, at: Any, status: str, customer_type: str | None = None) -> Projection:
    # The type follows the lifecycle (customer service): a status change carries the new one
    # in its state, so the type filter of the reports sees DEAL customers as DEAL.
    fields = (
        {"status": status}
        if customer_type is None
        else {
            "status": status,
            "customer_type": customer_type,
        }
    )
    change = FactChange(Fact.CUSTOMERS, customer_id, guarded={"status": (at, fields)})
    return Projection(changes=(change,), dirty=(customer_id,))


def _customer_owner_changed(_: CloudEvent, p: c.CustomerOwnerChanged) -> Projection:
    change = FactChange(
        Fact.CUSTOMERS,
        p.customer_id,
        guarded={"owner": (p.changed_at, {"owner_id": p.to_owner_id, "team": p.to_team})},
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _deleted(customer_id: str, at: Any, deleted: bool) -> Projection:
    change = FactChange(
        Fact.CUSTOMERS, customer_id, guarded={"deleted": (at, {"deleted": deleted})}
    )
    # Re-scored: a deleted customer has no potential (`domain.potential.scorable`).
    return Projection(changes=(change,), dirty=(customer_id,))


def _cadence_changed(_: CloudEvent, p: cc.CustomerCadenceChanged) -> Projection:
    """The follow-up cadence now (the observation report, `domain.observation`)."""
    change = FactChange(
        Fact.CUSTOMERS,
        p.customer_id,
        guarded={"cadence": (p.changed_at, {"cadence": p.cadence, "cadence_reason": p.reason})},
    )
    return Projection(changes=(change,))


def _customer_merged(_: CloudEvent, p: c.CustomerMerged) -> Projection:
    change = FactChange(
        Fact.CUSTOMERS,
        p.merged_id,
        guarded={"merge": (p.merged_at, {"merged_into": p.kept_id})},
    )
    return Projection(changes=(change,), dirty=(p.kept_id,), merge=(p.merged_id, p.kept_id))


def _opportunity_created(_: CloudEvent, p: q.OpportunityCreated, zone: tzinfo = UTC) -> Projection:
    change = FactChange(
        Fact.OPPORTUNITIES,
        p.opportunity_id,
        values={
            "customer_id": p.customer_id,
            "team": p.team,
            "created_at": p.created_at,
            **bucket_fields("created", p.created_at, zone),
            # As set at creation (the forecast's horizon, `domain.potential.forecast`).
            "expected_close": p.expected_close_date.isoformat() if p.expected_close_date else None,
        },
        guarded={
            "stage": (
                p.created_at,
                {
                    "stage": p.stage,
                    "owner_id": p.owner_id,
                    "amount_minor": p.amount_minor,
                    "currency": p.currency,
                    "probability": p.probability,
                },
            )
        },
        maximum={"furthest": stage_index(p.stage)},
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _opportunity_stage_changed(_: CloudEvent, p: q.OpportunityStageChanged) -> Projection:
    change = FactChange(
        Fact.OPPORTUNITIES,
        p.opportunity_id,
        values={"customer_id": p.customer_id},
        guarded={
            "stage": (
                p.changed_at,
                {
                    "stage": p.to_stage,
                    "owner_id": p.owner_id,
                    "amount_minor": p.amount_minor,
                    "currency": p.currency,
                    "probability": p.probability,
                },
            )
        },
        maximum={"furthest": max(stage_index(p.from_stage), stage_index(p.to_stage))},
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _opportunity_won(_: CloudEvent, p: q.OpportunityWon) -> Projection:
    change = FactChange(
        Fact.OPPORTUNITIES,
        p.opportunity_id,
        values={"customer_id": p.customer_id, "outcome": "WON", "closed_at": p.won_at},
        guarded={
            "stage": (
                p.won_at,
                {
                    "stage": "WON",
                    "owner_id": p.owner_id,
                    "amount_minor": p.amount_minor,
                    "currency": p.currency,
                },
            )
        },
        maximum={"furthest": len(FUNNEL_STAGES) - 1},
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _opportunity_lost(_: CloudEvent, p: q.OpportunityLost) -> Projection:
    change = FactChange(
        Fact.OPPORTUNITIES,
        p.opportunity_id,
        values={
            "customer_id": p.customer_id,
            "outcome": "LOST",
            "closed_at": p.lost_at,
            "loss_reason": p.loss_reason,
        },
        guarded={"stage": (p.lost_at, {"stage": "LOST", "owner_id": p.owner_id})},
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _quote(p: q._QuoteEvent, **parts: Any) -> Projection:
    values = {
        "customer_id": p.customer_id,
        "opportunity_id": p.opportunity_id,
        "owner_id": p.owner_id,
        "quote_number": p.quote_number,
        "version": p.version,
        **parts.pop("values", {}),
    }
    return Projection(changes=(FactChange(Fact.QUOTES, p.quote_id, values=values, **parts),))


def _quote_created(_: CloudEvent, p: q.QuoteCreated) -> Projection:
    projection = _quote(
        p, values={"total_minor": p.total_minor, "currency": p.currency, "created_at": p.at}
    )
    # The quote size is a driver of potential-v2: re-scored.
    return replace(projection, dirty=(p.customer_id,))


def _quote_submitted(_: CloudEvent, p: q.QuoteSubmitted) -> Projection:
    return _quote(
        p,
        values={"total_minor": p.total_minor, "currency": p.currency},
        minimum={"submitted_at": p.at},
    )


def _quote_approved(_: CloudEvent, p: q.QuoteApproved) -> Projection:
    # An automatic approval may come without a separate submission: it counts as submitted.
    return _quote(
        p,
        values={"decision": "APPROVED", "automatic": p.automatic, "decided_at": p.at},
        minimum={"submitted_at": p.at},
    )


def _quote_rejected(_: CloudEvent, p: q.QuoteRejected) -> Projection:
    return _quote(
        p,
        values={"decision": "REJECTED", "automatic": False, "decided_at": p.at},
        minimum={"submitted_at": p.at},
    )


def _quote_sent(_: CloudEvent, p: q.QuoteSent) -> Projection:
    return _quote(p, values={"sent_at": p.at})


def _quote_response(response: str) -> Callable[[CloudEvent, q._QuoteEvent], Projection]:
    def project(_: CloudEvent, p: q._QuoteEvent) -> Projection:
        return _quote(p, guarded={"response": (p.at, {"response": response})})

    return project


def _quote_accepted(_: CloudEvent, p: q.QuoteAccepted) -> Projection:
    change = FactChange(
        Fact.QUOTES,
        p.quote_id,
        values={
            "customer_id": p.customer_id,
            "opportunity_id": p.opportunity_id,
            "owner_id": p.owner_id,
            "quote_number": p.quote_number,
            "version": p.version,
        },
        guarded={"response": (p.accepted_at, {"response": "ACCEPTED"})},
    )
    return Projection(changes=(change,))


def _interaction_logged(_: CloudEvent, p: e.InteractionLogged, zone: tzinfo = UTC) -> Projection:
    change = FactChange(
        Fact.INTERACTIONS,
        p.interaction_id,
        values={
            "customer_id": p.customer_id,
            "owner_id": p.owner_id,
            "kind": p.kind,
            "occurred_at": p.occurred_at,
            **bucket_fields("occurred", p.occurred_at, zone),
        },
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _followup_scheduled(_: CloudEvent, p: e.FollowUpScheduled) -> Projection:
    change = FactChange(
        Fact.FOLLOWUPS,
        p.followup_id,
        values={
            "customer_id": p.customer_id,
            "owner_id": p.assignee_id,
            "priority": p.priority,
            "type": p.type,
            "origin": p.origin,
            "due_at": p.due_at,
        },
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _followup_completed(_: CloudEvent, p: e.FollowUpCompleted) -> Projection:
    change = FactChange(
        Fact.FOLLOWUPS,
        p.followup_id,
        values={"customer_id": p.customer_id, "completed_at": p.completed_at},
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _followup_overdue(_: CloudEvent, p: e.FollowUpOverdue) -> Projection:
    change = FactChange(
        Fact.FOLLOWUPS,
        p.followup_id,
        values={"customer_id": p.customer_id, "due_at": p.due_at, "reported_overdue": True},
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _activity_attended(_: CloudEvent, p: e.ActivityAttended) -> Projection:
    change = FactChange(
        Fact.ACTIVITIES,
        p.registration_id,
        values={
            "customer_id": p.customer_id,
            "activity_id": p.activity_id,
            "activity_kind": p.activity_kind,
            "attended_at": p.attended_at,
        },
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _ticket_opened(_: CloudEvent, p: s.TicketOpened, zone: tzinfo = UTC) -> Projection:
    change = FactChange(
        Fact.TICKETS,
        p.ticket_id,
        values={
            "customer_id": p.customer_id,
            "category": p.category,
            "priority": p.priority,
            "opened_at": p.opened_at,
            **bucket_fields("opened", p.opened_at, zone),
            "response_due_at": p.response_due_at,
            "resolution_due_at": p.resolution_due_at,
        },
        guarded={"status": (p.opened_at, {"status": "OPEN"})},
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _ticket_resolved(_: CloudEvent, p: s.TicketResolved, zone: tzinfo = UTC) -> Projection:
    change = FactChange(
        Fact.TICKETS,
        p.ticket_id,
        values={"customer_id": p.customer_id, "priority": p.priority},
        guarded={
            "status": (
                p.resolved_at,
                {
                    "status": "RESOLVED",
                    "resolved_at": p.resolved_at,
                    "within_sla": p.within_sla,
                    **bucket_fields("resolved", p.resolved_at, zone),
                },
            )
        },
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _ticket_reopened(_: CloudEvent, p: s.TicketReopened) -> Projection:
    change = FactChange(
        Fact.TICKETS,
        p.ticket_id,
        values={"customer_id": p.customer_id},
        guarded={
            "status": (
                p.reopened_at,
                {"status": "OPEN", "resolved_at": None, "within_sla": None},
            )
        },
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


def _ticket_breached(_: CloudEvent, p: s.TicketSlaBreached) -> Projection:
    change = FactChange(
        Fact.TICKETS,
        p.ticket_id,
        values={"customer_id": p.customer_id, "priority": p.priority},
        add_to_set={"breaches": p.kind},
    )
    return Projection(changes=(change,))


def _survey_responded(_: CloudEvent, p: s.SurveyResponded, zone: tzinfo = UTC) -> Projection:
    scores = [
        {"dimension": d, "score": v, "satisfied": 1 if v >= SATISFIED_SCORE else 0}
        for d, v in sorted(p.scores.items())
    ]
    change = FactChange(
        Fact.SURVEYS,
        p.survey_id,
        values={
            "customer_id": p.customer_id,
            "subject_type": p.subject_type,
            "responded_at": p.responded_at,
            **bucket_fields("responded", p.responded_at, zone),
            "scores": scores,
            "score_sum": sum(p.scores.values()),
            "score_count": len(p.scores),
        },
    )
    return Projection(changes=(change,), dirty=(p.customer_id,))


Projector = Callable[[CloudEvent, Any], Projection]

PROJECTORS: dict[type[EventData], Projector] = {
    c.CustomerCreated: _customer_created,
    c.CustomerStatusChanged: lambda _, p: _status(
        p.customer_id, p.changed_at, p.to_status, p.state.customer_type if p.state else None
    ),
    c.CustomerReviewApproved: lambda _, p: _status(p.customer_id, p.approved_at, "LEAD"),
    c.CustomerReviewRejected: lambda _, p: _status(p.customer_id, p.rejected_at, "REJECTED"),
    c.CustomerOwnerChanged: _customer_owner_changed,
    c.CustomerUpdated: _customer_updated,
    c.CustomerDeleted: lambda _, p: _deleted(p.customer_id, p.deleted_at, True),
    c.CustomerRestored: lambda _, p: _deleted(p.customer_id, p.restored_at, False),
    c.CustomerMerged: _customer_merged,
    cc.CustomerCadenceChanged: _cadence_changed,
    c.CustomerValueTierChanged: _value_tier_changed,
    q.OpportunityCreated: _opportunity_created,
    q.OpportunityStageChanged: _opportunity_stage_changed,
    q.OpportunityWon: _opportunity_won,
    q.OpportunityLost: _opportunity_lost,
    q.QuoteCreated: _quote_created,
    q.QuoteSubmitted: _quote_submitted,
    q.QuoteApproved: _quote_approved,
    q.QuoteRejected: _quote_rejected,
    q.QuoteSent: _quote_sent,
    q.QuoteAccepted: _quote_accepted,
    q.QuoteDeclined: _quote_response("DECLINED"),
    q.QuoteNegotiationRequested: _quote_response("NEGOTIATE"),
    q.QuoteExpired: _quote_response("EXPIRED"),
    e.InteractionLogged: _interaction_logged,
    e.FollowUpScheduled: _followup_scheduled,
    e.FollowUpCompleted: _followup_completed,
    e.FollowUpOverdue: _followup_overdue,
    e.ActivityAttended: _activity_attended,
    s.TicketOpened: _ticket_opened,
    s.TicketResolved: _ticket_resolved,
    s.TicketReopened: _ticket_reopened,
    s.TicketSlaBreached: _ticket_breached,
    s.SurveyResponded: _survey_responded,
}

# The projectors that compute period keys: they get the tenant's time zone.
ZonedProjector = Callable[[CloudEvent, Any, tzinfo], Projection]
ZONED_PROJECTORS: dict[type[EventData], ZonedProjector] = {
    c.CustomerCreated: _customer_created,
    q.OpportunityCreated: _opportunity_created,
    e.InteractionLogged: _interaction_logged,
    s.TicketOpened: _ticket_opened,
    s.TicketResolved: _ticket_resolved,
    s.SurveyResponded: _survey_responded,
}
ZoneOf = Callable[[str], Awaitable[tzinfo]]

SUBSCRIBED_TOPICS = sorted({model.topic for model in (*PROJECTORS, *EXTRA_PROJECTORS)})


def project(event: CloudEvent, payload: EventData, zone: tzinfo = UTC) -> Projection | None:
    """The event's projection: the main projector's changes, then the report models' ones;
    period keys in ``zone`` (the tenant's)."""
    zoned = ZONED_PROJECTORS.get(type(payload))
    projector = PROJECTORS.get(type(payload))
    extra = EXTRA_PROJECTORS.get(type(payload))
    if zoned is None and projector is None and extra is None:
        return None
    if zoned is not None:
        projection = zoned(event, payload, zone)
    elif projector is not None:
        projection = projector(event, payload)
    else:
        projection = Projection()
    if extra is not None:
        projection = replace(
            projection, changes=(*projection.changes, *extra(event, payload, zone))
        )
    return projection


async def _project(
    event: CloudEvent, payload: EventData, zone_of: ZoneOf | None, zones: dict[str, tzinfo]
) -> Projection | None:
    """`project` in the event's tenant's zone (asked once per tenant in ``zones``; UTC without
    ``zone_of``)."""
    kind = type(payload)
    if kind not in ZONED_PROJECTORS and kind not in EXTRA_PROJECTORS:
        return project(event, payload)
    zone = zones.get(event.tenant_id)
    if zone is None:
        zone = await zone_of(event.tenant_id) if zone_of is not None else UTC
        zones[event.tenant_id] = zone
    return project(event, payload, zone)


async def apply_event(
    event: CloudEvent,
    payload: EventData,
    writer_for: Callable[[str], FactWriter],
    on_dirty: Callable[[], None] | None = None,
    zone_of: ZoneOf | None = None,
) -> None:
    """Apply one event to the read models of its tenant and flag the customers to re-score
    (a benchmark's path: the live consumer and the replay use `apply_events`, which also puts
    facts of customers merged already on the kept customer)."""
    projection = await _project(event, payload, zone_of, {})
    if projection is None:
        return
    writer = writer_for(event.tenant_id)
    for change in projection.changes:
        await writer.apply(change)
    if projection.merge is not None:
        await writer.repoint_customer(*projection.merge)
    for customer_id in projection.dirty:
        await writer.mark_dirty(customer_id)
    if projection.dirty and on_dirty is not None:
        on_dirty()


# A fact document's field naming its customer, and where a redirected one came from (the
# same fields `crm_common.customers.repoint` sets when a merge re-points documents).
_CUSTOMER_FIELD = "customer_id"
_MERGED_FROM = "merged_from"


class MergeRedirects:
    """Where a batch's changes of merged customers go: to the customer they were merged into.

    A merge re-points the facts stored so far (`FactBatchWriter.repoint_customer`), but events
    of other topics about the merged customer may come later: a record still in flight when
    the merge was applied live, or, in a replay, simply read in another interleaving of the
    topics. Re-pointing those too, at write time, makes the result independent of the order
    the topics are read in: live and a replay end with every fact on the kept customer, marked
    ``merged_from`` the merged one as the re-pointing marks it. (Before, a replay differed
    from live in a few documents after each merge.)
    """

    def __init__(self, writer: FactBatchWriter) -> None:
        self._writer = writer
        self._targets: dict[tuple[str, str], str] = {}  # (tenant, merged) → merged into

    async def learn(self, tenant_customers: Sequence[tuple[str, str]]) -> None:
        """Look up which of these (and of the customers they were merged into) are merged."""
        pending: dict[str, set[str]] = {}
        for tenant_id, customer_id in tenant_customers:
            pending.setdefault(tenant_id, set()).add(customer_id)
        looked: set[tuple[str, str]] = set(self._targets)  # a merged one is known already
        for _ in range(8):  # chains of merges are short; a cycle is impossible, but bounded
            asked = {
                tenant: unknown
                for tenant, ids in pending.items()
                if (unknown := {c for c in ids if (tenant, c) not in looked})
            }
            looked.update((tenant, c) for tenant, ids in asked.items() for c in ids)
            if not asked:
                return
            pending = {}
            for tenant_id, ids in asked.items():
                found = await self._writer.merged_into(tenant_id, sorted(ids))
                for merged_id, kept_id in found.items():
                    self._targets[(tenant_id, merged_id)] = kept_id
                    pending.setdefault(tenant_id, set()).add(kept_id)

    def merged(self, tenant_id: str, merged_id: str, kept_id: str) -> None:
        """A merge of this batch: what follows it in the batch goes to the kept customer."""
        if merged_id != kept_id:
            self._targets[(tenant_id, merged_id)] = kept_id

    def resolve(self, tenant_id: str, customer_id: str) -> tuple[str, str | None]:
        """The customer a fact of ``customer_id`` belongs to now, and the id it was re-pointed
        from last (None when not merged)."""
        current, last = customer_id, None
        for _ in range(8):
            target = self._targets.get((tenant_id, current))
            if target is None:
                break
            current, last = target, current
        return current, last

    def redirect(self, tenant_id: str, change: FactChange) -> FactChange:
        named = (change.values or {}).get(_CUSTOMER_FIELD)
        if change.fact is Fact.CUSTOMERS or not isinstance(named, str):
            return change
        kept, merged_from = self.resolve(tenant_id, named)
        if merged_from is None:
            return change
        values = {**(change.values or {}), _CUSTOMER_FIELD: kept, _MERGED_FROM: merged_from}
        return replace(change, values=values)


def _named_customers(tenant_id: str, projection: Projection) -> list[tuple[str, str]]:
    named = [(tenant_id, customer_id) for customer_id in projection.dirty]
    for change in projection.changes:
        customer_id = (change.values or {}).get(_CUSTOMER_FIELD)
        if change.fact is not Fact.CUSTOMERS and isinstance(customer_id, str):
            named.append((tenant_id, customer_id))
    return named


async def apply_events(
    events: Sequence[tuple[CloudEvent, EventData]],
    writer: FactBatchWriter,
    zone_of: ZoneOf | None = None,
) -> bool:
    """Apply a batch of events (a poll's records) with one write per collection; True when a
    customer was flagged for re-scoring. Period keys are in each tenant's zone (``zone_of``,
    asked once per tenant per batch; UTC without it).

    The changes are `apply_event`'s, in the same order; a merge flushes what came
    before it and re-points at once, exactly where one-by-one application would. Changes
    naming a customer merged before (earlier in the batch or stored) go to the customer it was
    merged into (`MergeRedirects`).
    """
    zones: dict[str, tzinfo] = {}
    projected: list[tuple[CloudEvent, Projection]] = []
    for event, payload in events:
        projection = await _project(event, payload, zone_of, zones)
        if projection is not None:
            projected.append((event, projection))
    redirects = MergeRedirects(writer)
    await redirects.learn(
        [named for event, p in projected for named in _named_customers(event.tenant_id, p)]
    )
    changes: list[tuple[str, FactChange]] = []
    dirty: dict[tuple[str, str], None] = {}  # ordered set: one flag per customer per batch
    flagged = False
    for event, projection in projected:
        tenant_id = event.tenant_id
        changes.extend((tenant_id, redirects.redirect(tenant_id, c)) for c in projection.changes)
        flags = dict.fromkeys(
            (tenant_id, redirects.resolve(tenant_id, c)[0]) for c in projection.dirty
        )
        if projection.merge is None:
            dirty.update(flags)
            continue
        await writer.write(changes, list(dirty))
        flagged = flagged or bool(dirty)
        await writer.repoint_customer(tenant_id, *projection.merge)
        redirects.merged(tenant_id, *projection.merge)
        # The kept customer is flagged AFTER its new facts are in place: flagged before, a
        # scoring pass of another replica could score it in between and clear the flag, and
        # the moved facts would wait for the next periodic re-score.
        changes, dirty = [], flags
    if changes or dirty:
        await writer.write(changes, list(dirty))
    return flagged or bool(dirty)


def event_types() -> list[str]:
    return [model.event_type for model in {**PROJECTORS, **EXTRA_PROJECTORS}]


Apply = Callable[[CloudEvent, EventData], Awaitable[None]]
