"""Interaction use cases: log, edit within the grace period, correct, list, propose the next."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from crm_common.errors import BadUserInput, Conflict, NotFound
from crm_common.events.contracts.engagement import InteractionLogged
from crm_common.pagination import Page, PageRequest
from crm_engagement.domain.followup import CadenceProposal, Priority, propose_next
from crm_engagement.domain.interaction import (
    Correction,
    FileRef,
    Interaction,
    InteractionKind,
    Participant,
    as_utc,
    check_editable,
    validate_correction,
    validate_interaction_text,
)
from crm_engagement.domain.permissions import LOG, may_see, require_writer
from crm_engagement.domain.timeliness import is_late_entry
from crm_engagement.service.base import UseCase
from crm_engagement.service.ports import InteractionQuery

_EMPTY: Page[Interaction] = Page(
    items=[], has_next_page=False, has_previous_page=False, total_count=0
)


@dataclass(frozen=True, slots=True)
class LogInteractionCommand:
    customer_id: str
    kind: InteractionKind
    content: str
    occurred_at: datetime | None = None
    feedback: str | None = None
    objections: str | None = None
    next_steps: str | None = None
    participants: tuple[Participant, ...] = ()
    attachments: tuple[FileRef, ...] = ()


@dataclass(frozen=True, slots=True)
class EditInteractionCommand:
    """Fields left None stay as they are."""

    id: str
    content: str | None = None
    occurred_at: datetime | None = None
    feedback: str | None = None
    objections: str | None = None
    next_steps: str | None = None
    participants: tuple[Participant, ...] | None = None
    attachments: tuple[FileRef, ...] | None = None


class InteractionService(UseCase):
    async def log(
        self, command: LogInteractionCommand, *, followup_id: str | None = None
    ) -> Interaction:
        require_writer(self._principal, "log interactions", LOG)
        now = self._clock()
        occurred_at = as_utc(command.occurred_at) if command.occurred_at else now
        validate_interaction_text(
            content=command.content,
            occurred_at=occurred_at,
            now=now,
            feedback=command.feedback,
            objections=command.objections,
            next_steps=command.next_steps,
            participants=list(command.participants),
            attachments=list(command.attachments),
        )
        await self._writable_customer(command.customer_id, "input.customerId", LOG)
        interaction = Interaction(
            id=str(uuid.uuid4()),
            tenant_id=self._principal.tenant_id,
            customer_id=command.customer_id,
            kind=command.kind,
            occurred_at=occurred_at,
            content=command.content.strip(),
            owner_id=self._principal.user_id,
            created_at=now,
            feedback=command.feedback,
            objections=command.objections,
            next_steps=command.next_steps,
            participants=tuple(replace(p, name=p.name.strip()) for p in command.participants),
            attachments=command.attachments,
            followup_id=followup_id,
        )
        event = self._event(
            InteractionLogged(
                interaction_id=interaction.id,
                customer_id=interaction.customer_id,
                kind=interaction.kind.value,
                occurred_at=interaction.occurred_at,
                owner_id=interaction.owner_id,
                entered_at=interaction.created_at,
                late_entry=is_late_entry(interaction.occurred_at, interaction.created_at),
            ),
            interaction.customer_id,
        )
        await self._stores.interactions.add(interaction, [event])
        self._notify_outbox()
        await self._stores.customers.touch_last_interaction(
            interaction.customer_id, interaction.occurred_at
        )
        # The first touch starts the 24-hour contact rule (domain.timeliness).
        await self._stores.customers.touch_first_interaction(
            interaction.customer_id, interaction.occurred_at, interaction.owner_id
        )
        return interaction

    async def _own_interaction(self, interaction_id: str) -> Interaction:
        interaction = await self.get(interaction_id)
        if interaction is None:
            raise NotFound(f"interaction {interaction_id} not found", field="input.id")
        await self._writable_customer(interaction.customer_id, "input.id", LOG)
        return interaction

    async def edit(self, command: EditInteractionCommand) -> Interaction:
        require_writer(self._principal, "edit interactions", LOG)
        current = await self._own_interaction(command.id)
        now = self._clock()
        settings = await self._stores.settings.get()
        check_editable(current, self._principal.user_id, now, settings.edit_grace)
        edited = replace(
            current,
            content=(command.content if command.content is not None else current.content).strip(),
            occurred_at=as_utc(command.occurred_at) if command.occurred_at else current.occurred_at,
            feedback=command.feedback if command.feedback is not None else current.feedback,
            objections=command.objections if command.objections is not None else current.objections,
            next_steps=command.next_steps if command.next_steps is not None else current.next_steps,
            participants=command.participants
            if command.participants is not None
            else current.participants,
            attachments=command.attachments
            if command.attachments is not None
            else current.attachments,
            edited_at=now,
        )
        validate_interaction_text(
            content=edited.content,
            occurred_at=edited.occurred_at,
            now=now,
            feedback=edited.feedback,
            objections=edited.objections,
            next_steps=edited.next_steps,
            participants=list(edited.participants),
            attachments=list(edited.attachments),
        )
        # The grace condition is re-checked in the write itself, so a late edit cannot slip in.
        if not await self._stores.interactions.replace_editable(
            edited, created_before=now - settings.edit_grace
        ):
            raise Conflict(
                "the edit grace period is over; add a correction instead", field="input.id"
            )
        await self._stores.customers.touch_last_interaction(edited.customer_id, edited.occurred_at)
        return edited

    async def correct(self, interaction_id: str, text: str) -> Interaction:
        """Append a correction: the original stays as it was recorded."""
        require_writer(self._principal, "correct interactions", LOG)
        current = await self._own_interaction(interaction_id)
        validate_correction(current, text)
        correction = Correction(
            id=str(uuid.uuid4()),
            text=text.strip(),
            author_id=self._principal.user_id,
            at=self._clock(),
        )
        await self._stores.interactions.add_correction(current.id, correction)
        return replace(current, corrections=(*current.corrections, correction))

    async def get(self, interaction_id: str) -> Interaction | None:
        interaction = await self._stores.interactions.get(interaction_id)
        if interaction is None or not await self._may_see_id(interaction.customer_id):
            return None
        return interaction

    async def for_customer(self, customer_id: str, page: PageRequest) -> Page[Interaction]:
        if not await self._may_see_id(customer_id):
            return _EMPTY
        return await self._stores.interactions.list(
            InteractionQuery(customer_ids=[customer_id]), page
        )

    async def first_pages(
        self, customer_ids: Sequence[str], size: int
    ) -> dict[str, Page[Interaction]]:
        """First pages for a batch of customers: one query for the references, one for items."""
        if size < 0 or size > 200:
            raise BadUserInput("first must be between 0 and 200", field="first")
        refs = await self._stores.customers.get_many(customer_ids)
        visible = [
            cid for cid in customer_ids if cid in refs and may_see(self._principal, refs[cid])
        ]
        pages = await self._stores.interactions.first_pages(visible, size) if visible else {}
        return {cid: pages.get(cid, _EMPTY) for cid in customer_ids}

    async def last_interaction_times(
        self, customer_ids: Sequence[str]
    ) -> dict[str, datetime | None]:
        refs = await self._stores.customers.get_many(customer_ids)
        return {
            cid: refs[cid].last_interaction_at
            if cid in refs and may_see(self._principal, refs[cid])
            else None
            for cid in customer_ids
        }

    async def search(
        self,
        *,
        customer_id: str | None,
        owner_id: str | None,
        occurred_from: datetime | None,
        occurred_to: datetime | None,
        kind: InteractionKind | None,
        page: PageRequest,
    ) -> Page[Interaction]:
        """Interactions per customer, per owner and/or per period, as far as the caller sees."""
        visible = await self._visible_customer_ids()
        customer_ids: list[str] | None = visible
        if customer_id is not None:
            if visible is not None and customer_id not in visible:
                return _EMPTY
            customer_ids = [customer_id]
        if occurred_from and occurred_to and occurred_from > occurred_to:
            raise BadUserInput("from must not be after to", field="filter.occurredFrom")
        query = InteractionQuery(
            customer_ids=customer_ids,
            owner_id=owner_id,
            occurred_from=as_utc(occurred_from) if occurred_from else None,
            occurred_to=as_utc(occurred_to) if occurred_to else None,
            kind=kind.value if kind else None,
        )
        return await self._stores.interactions.list(query, page)

    async def propose_next(self, customer_id: str) -> CadenceProposal:
        customer = await self._visible_customer(customer_id, "customerId")
        settings = await self._stores.settings.get()
        return propose_next(
            customer.id,
            Priority(customer.priority),
            customer.last_interaction_at,
            self._clock(),
            settings,
            cadence=customer.cadence,
        )
