"""The follow-up cadence and observation period (观察期) on the customer API: the fields of
``Customer`` (through a request-scoped DataLoader), the list filter, the manual decision.

Kept apart from ``types.py``: ``Customer`` only names these resolvers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from crm_common.errors import BadUserInput
from crm_customer.api.context import principal_of, services_of
from crm_customer.domain.cadence import Cadence as CadenceModel
from crm_customer.domain.cadence import CadenceChange as CadenceChangeModel
from crm_customer.domain.cadence import CadenceReason as CadenceReasonModel
from crm_customer.domain.cadence import CadenceSource as CadenceSourceModel
from crm_customer.domain.cadence import CustomerCadence

EngagementCadence = strawberry.enum(
    CadenceModel,
    name="EngagementCadence",
    description="How closely a customer is followed up: INTENSIVE (shorter intervals), NORMAL, "
    "or OBSERVATION (the observation period, 观察期: longer intervals).",
)
CadenceReason = strawberry.enum(
    CadenceReasonModel,
    name="CadenceReason",
    description="Why the cadence is what it is: HIGH_FIT_PROACTIVE / LOW_FIT / ASSESSED (a "
    "stage assessment), NO_PROGRESS (no decision progress for the tenant's period), "
    "NEW_INTERACTION (active again), MANUAL (a person decided; see the note).",
)
CadenceSource = strawberry.enum(
    CadenceSourceModel,
    name="CadenceSource",
    description="What changed the cadence: an ASSESSMENT, a STALL, an INTERACTION, MANUAL, or "
    "a MERGE (carried over from a customer merged into this one; see mergedFrom).",
)


@strawberry.type(description="The customer's observation period (观察期): since when and why.")
class Observation:
    since: datetime = strawberry.field(description="When it began (ISO 8601, UTC).")
    reason: CadenceReason = strawberry.field(description="Why it began.")  # type: ignore[valid-type]
    source: CadenceSource = strawberry.field(description="What started it.")  # type: ignore[valid-type]
    opportunity_id: strawberry.ID | None = strawberry.field(
        description="The opportunity whose assessment or stall started it; null otherwise."
    )
    note: str | None = strawberry.field(description="The reason given for a manual decision.")
    actor_id: strawberry.ID = strawberry.field(
        description="Who started it (a user id, or system:quoting for a stall)."
    )


@strawberry.type(description="One change of a customer's follow-up cadence.")
class CadenceChange:
    cadence: EngagementCadence = strawberry.field(description="The cadence from then on.")  # type: ignore[valid-type]
    reason: CadenceReason = strawberry.field(description="Why it changed.")  # type: ignore[valid-type]
    source: CadenceSource = strawberry.field(description="What changed it.")  # type: ignore[valid-type]
    at: datetime = strawberry.field(description="When (ISO 8601, UTC).")
    actor_id: strawberry.ID = strawberry.field(description="Who (a user id, or system:...).")
    opportunity_id: strawberry.ID | None = strawberry.field(
        description="The opportunity assessed or stalled; null for other sources."
    )
    note: str | None = strawberry.field(description="The reason given for a manual change.")
    merged_from: strawberry.ID | None = strawberry.field(
        description="The customer merged into this one that this entry came from (its history "
        "carried over, and the merge's own MERGE entry); null for the customer's own changes."
    )

    @classmethod
    def of(cls, change: CadenceChangeModel) -> CadenceChange:
        return cls(
            cadence=change.cadence,
            reason=change.reason,
            source=change.source,
            at=change.at,
            actor_id=strawberry.ID(change.actor_id),
            opportunity_id=strawberry.ID(change.opportunity_id) if change.opportunity_id else None,
            note=change.note,
            merged_from=strawberry.ID(change.merged_from) if change.merged_from else None,
        )


def _loader(info: strawberry.Info) -> DataLoader[str, CustomerCadence | None]:
    context = info.context

    def factory() -> DataLoader[str, CustomerCadence | None]:
        service = services_of(info).cadence(principal_of(info))

        async def load(ids: Sequence[str]) -> list[CustomerCadence | None]:
            found = await service.of_many(ids)
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=load)

    loader: DataLoader[str, CustomerCadence | None] = context.loader("cadence", factory)
    return loader


async def _of(root: Any, info: strawberry.Info) -> CustomerCadence | None:
    return await _loader(info).load(str(root.id))


async def resolve_cadence(root: Any, info: strawberry.Info) -> CadenceModel:
    found = await _of(root, info)
    return found.cadence if found else CadenceModel.NORMAL


async def resolve_observation(root: Any, info: strawberry.Info) -> Observation | None:
    found = await _of(root, info)
    if found is None or not found.in_observation:
        return None
    return Observation(
        since=found.since,
        reason=found.reason,
        source=found.source,
        opportunity_id=strawberry.ID(found.opportunity_id) if found.opportunity_id else None,
        note=found.note,
        actor_id=strawberry.ID(found.actor_id),
    )


async def resolve_history(root: Any, info: strawberry.Info) -> list[CadenceChange]:
    found = await _of(root, info)
    return [CadenceChange.of(c) for c in reversed(found.history)] if found else []


CADENCE_FIELD_DESCRIPTION = (
    "The follow-up cadence: INTENSIVE, NORMAL (also when never assessed) or OBSERVATION."
)
OBSERVATION_FIELD_DESCRIPTION = (
    "The observation period (观察期) the customer is in; null unless the cadence is OBSERVATION."
)
HISTORY_FIELD_DESCRIPTION = "Every change of the follow-up cadence, newest first."


# ---- the list filter ---------------------------------------------------------------------


async def cadence_ids(
    info: strawberry.Info, filter_input: Any
) -> tuple[Any, tuple[str, ...] | None, tuple[str, ...] | None]:
    """The filter without its ``engagementCadence`` condition, and that condition as ids the
    list must (``ids_in``) or must not (``ids_not_in``) contain."""
    if filter_input is None:
        return None, None, None

    def nested(f: Any) -> bool:
        if f is None:
            return False
        return f.engagement_cadence is not None or any(
            nested(sub) for sub in (*(f.and_ or ()), *(f.or_ or ()), f.not_)
        )

    if any(nested(sub) for sub in (*(filter_input.and_ or ()), *(filter_input.or_ or ()))) or (
        nested(filter_input.not_)
    ):
        raise BadUserInput(
            "engagementCadence goes at the top level of the filter",
            field="filter.engagementCadence",
        )
    wanted = filter_input.engagement_cadence
    rest = dataclasses.replace(filter_input, engagement_cadence=None)
    if wanted is None:
        return rest, None, None
    service = services_of(info).cadence(principal_of(info))
    cadence = CadenceModel(wanted)
    if cadence is CadenceModel.NORMAL:
        others = [
            *await service.ids_with(CadenceModel.INTENSIVE),
            *await service.ids_with(CadenceModel.OBSERVATION),
        ]
        return rest, None, tuple(others)
    return rest, tuple(await service.ids_with(cadence)), None
