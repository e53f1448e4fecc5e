"""Customer use cases: register, edit with history, review, lifecycle, owner, contacts,
soft delete/restore, duplicates and merge, lists and the map view, custom fields.

Every change is a conditional write on the customer's version carrying its events (outbox);
a write that lost a race is recomputed from the fresh state a few times before giving up.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.errors import BadUserInput, Conflict, NotFound
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import (
    ContactAdded,
    ContactRemoved,
    ContactUpdated,
    CustomerCreated,
    CustomerDeleted,
    CustomerMerged,
    CustomerOwnerChanged,
    CustomerRestored,
    CustomerReviewApproved,
    CustomerReviewRejected,
    CustomerState,
    CustomerStatusChanged,
    CustomerUpdated,
    CustomerValueTierChanged,
    PurchaseProfile,
)
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_common.limits import check_limit, list_limits
from crm_common.localtime import UTC_ZONE, local_date
from crm_common.pagination import Page, PageRequest
from crm_customer.domain import contacts as contact_rules
from crm_customer.domain import custom_fields as field_rules
from crm_customer.domain import permissions
from crm_customer.domain.completeness import completeness
from crm_customer.domain.contacts import Contact, email_key, phone_key
from crm_customer.domain.custom_fields import CustomFieldDefinition, CustomFieldType
from crm_customer.domain.customer import (
    Customer,
    CustomerStatus,
    HistoryEntry,
    Review,
    check_requested_type,
    check_transition,
    clean_profile_values,
    clean_reason,
    new_profile,
    normalise_name,
    profile_changes,
    to_plain,
)
from crm_customer.domain.tiers import (
    DEFAULT_THRESHOLDS,
    TierThresholds,
    clean_thresholds,
    potential_minor,
    tier_for,
    with_derived,
)
from crm_customer.service.ports import (
    BoundingBox,
    CustomerRepository,
    CustomFieldRepository,
    FileStore,
    ListQuery,
    RegionCount,
    TierThresholdStore,
)

EVENT_SOURCE = "crm/customer"
SAVE_ATTEMPTS = 5

# A change computed from the current customer: the new state, its history and its events.
Change = tuple[Customer, list[HistoryEntry], list[EventData]]


def copied_state(customer: Customer) -> CustomerState:
    """What other services copy of the customer (carried by its events as ``state``)."""
    return CustomerState(
        version=customer.version,
        number=customer.number,
        name=customer.name,
        status=customer.status.value,
        owner_id=customer.owner_id,
        team=customer.team,
        customer_type=customer.profile.customer_type.name,
        deleted=customer.deleted_at is not None,
        merged_into=customer.merged_into,
        updated_at=customer.updated_at,
        value_tier=customer.value_tier.value,
        completeness=completeness(customer),
        region_province=customer.profile.region.province if customer.profile.region else None,
        industry=customer.profile.industry,
        tags=list(customer.profile.tags),
    )


def purchase_profile(customer: Customer) -> PurchaseProfile:
    """Industry, size and budget, for analytics (insights' potential model)."""
    profile = customer.profile
    size, budget = profile.size, profile.budget
    return PurchaseProfile(
        industry=profile.industry,
        employees=size.employees if size else None,
        revenue_band=size.revenue_band.value if size and size.revenue_band else None,
        budget_max_minor=budget.max_minor if budget else None,
        budget_currency=budget.currency if budget else None,
    )


def with_state(payload: EventData, customer: Customer) -> EventData:
    """The payload carrying the customer's state after the change (and its purchase profile),
    where its contract has them."""
    fields = type(payload).model_fields
    update: dict[str, object] = {}
    if "state" in fields:
        update["state"] = copied_state(customer)
    if "purchase_profile" in fields:
        update["purchase_profile"] = purchase_profile(customer)
    return payload.model_copy(update=update) if update else payload


def name_conflict(existing: Customer) -> Conflict:
    return Conflict(
        f"a customer with this name already exists: {existing.number} {existing.name}",
        field="input.name",
        existingCustomerId=existing.id,
        existingCustomerNumber=existing.number,
    )


def _contact_summary(contact: Contact | None) -> Any:
    """What history keeps of a contact (no phone or email: analysts read history)."""
    if contact is None:
        return None
    return {"id": contact.id, "name": contact.name, "isPrimary": contact.is_primary}


def derived_changes(
    before: Customer,
    after: Customer,
    thresholds: TierThresholds,
    *,
    actor_id: str,
    at: datetime,
    cause: str,
) -> Change:
    """``after`` with its derived fields (type from status, value tier) brought up to date,
    the history entries of those that moved and a tier change event if the tier moved."""
    derived = with_derived(after, thresholds)
    history: list[HistoryEntry] = []
    events: list[EventData] = []
    old_type, new_type = before.profile.customer_type, derived.profile.customer_type
    if old_type != new_type and after.profile.customer_type == old_type:
        # Moved by the status (an explicit change of the type has its own entry already).
        history.append(HistoryEntry(at, actor_id, "customer_type", old_type.value, new_type.value))
    if before.value_tier != derived.value_tier:
        history.append(
            HistoryEntry(
                at, actor_id, "value_tier", before.value_tier.value, derived.value_tier.value, cause
            )
        )
        events.append(
            CustomerValueTierChanged(
                customer_id=before.id,
                from_tier=before.value_tier.value,
                to_tier=derived.value_tier.value,
                deal_revenue_minor=derived.deal_revenue_minor,
                potential_minor=potential_minor(derived),
                cause=cause,
                changed_at=at,
            )
        )
    return derived, history, events


@dataclasses.dataclass(frozen=True, slots=True)
class DuplicateCandidate:
    customer: Customer
    reasons: tuple[str, ...]


class CustomerService:
    """Use cases for one request's principal; the repository is bound to its tenant."""

    def __init__(
        self,
        principal: Principal,
        repository: CustomerRepository,
        notify_outbox: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
        custom_fields: CustomFieldRepository | None = None,
        files: FileStore | None = None,
        tiers: TierThresholdStore | None = None,
        zone_of: Callable[[str], Awaitable[ZoneInfo]] | None = None,
        on_merge: Callable[[Customer, Customer, datetime], Awaitable[object]] | None = None,
    ) -> None:
        # What else follows a merged customer into the kept one (kept, merged, when): the
        # follow-up cadence (`service.cadence.carry_on_merge`); idempotent.
        self._on_merge = on_merge
        self._tiers = tiers
        self._thresholds_cache: TierThresholds | None = None
        self._principal = principal
        self._zone_of = zone_of
        self._repo = repository
        self._fields = custom_fields
        self._files = files
        self._notify_outbox = notify_outbox
        self._clock = clock

    @property
    def principal(self) -> Principal:
        return self._principal

    async def thresholds(self) -> TierThresholds:
        """The tenant's value tier thresholds (read once per request)."""
        if self._thresholds_cache is None:
            self._thresholds_cache = (
                await self._tiers.get() if self._tiers is not None else DEFAULT_THRESHOLDS
            )
        return self._thresholds_cache

    async def _local_today(self, now: datetime) -> date:
        """The tenant's local date at ``now`` (numbers and "today" checks use it)."""
        zone = await self._zone_of(self._principal.tenant_id) if self._zone_of else UTC_ZONE
        return local_date(now, zone)

    def _event(self, payload: EventData, key: str) -> CloudEvent:
        return new_event(payload, source=EVENT_SOURCE, tenant_id=self._principal.tenant_id, key=key)

    # --- create -----------------------------------------------------------------------

    async def create(
        self,
        values: Mapping[str, Any],
        *,
        owner_id: str | None = None,
        team: str | None = None,
        contacts: Sequence[Contact] = (),
        custom_fields: Mapping[str, Any] | None = None,
    ) -> Customer:
        principal = self._principal
        permissions.can_create(principal)
        owner = owner_id or principal.user_id
        permissions.can_assign_on_create(principal, owner)
        # Only an admin places a customer in another team than their own.
        owner_team = team if principal.is_admin and team else principal.team
        now = self._clock()
        today = await self._local_today(now)
        profile = new_profile(values, today)
        check_requested_type(CustomerStatus.PENDING_REVIEW, profile.customer_type)
        thresholds = await self.thresholds()
        field_values = field_rules.apply_values(
            await self.custom_field_definitions_by_key(), {}, custom_fields or {}
        )
        cleaned: tuple[Contact, ...] = ()
        for contact in contacts:
            with_id = contact_rules.with_owner(
                dataclasses.replace(contact, id=str(uuid.uuid4())), owner
            )
            with_id = contact_rules.clean_contact(with_id)
            if with_id.owner_id != owner:
                permissions.can_assign_contact(principal, owner, with_id.owner_id or "")
            cleaned = contact_rules.add_contact(cleaned, with_id)
        # The name's uniqueness is decided by the insert itself (unique index): no read here.
        customer_id = str(uuid.uuid4())

        def build(number: str) -> tuple[Customer, list[CloudEvent]]:
            customer = Customer(
                id=customer_id,
                tenant_id=principal.tenant_id,
                number=number,
                profile=profile,
                status=CustomerStatus.PENDING_REVIEW,
                owner_id=owner,
                team=owner_team,
                contacts=cleaned,
                history=(),
                created_at=now,
                updated_at=now,
                custom_fields=field_values,
            )
            customer = with_derived(customer, thresholds)
            created = CustomerCreated(
                customer_id=customer.id,
                number=customer.number,
                name=customer.name,
                status=customer.status.value,
                owner_id=customer.owner_id,
                team=customer.team,
                created_at=customer.created_at,
                customer_type=customer.profile.customer_type.name,
                region_province=getattr(customer.profile.region, "province", None),
                region_city=getattr(customer.profile.region, "city", None),
                source_channel=getattr(customer.profile.source, "name", None),
                state=copied_state(customer),
                contact_ids=[c.id for c in customer.contacts],
                purchase_profile=purchase_profile(customer),
            )
            return customer, [self._event(created, customer.id)]

        customer = await self._repo.insert_numbered(today, build)
        self._notify_outbox()
        return customer

    # --- the change loop ----------------------------------------------------------------

    async def _load(self, customer_id: str) -> Customer:
        customer = await self._repo.get(customer_id)
        if customer is None or customer.is_tombstone:
            raise NotFound("no such customer", field="input.id")
        return customer

    async def _change(
        self, customer_id: str, compute: Callable[[Customer], Awaitable[Change] | Change]
    ) -> Customer:
        """Load, compute, write conditionally on the version; retry a lost race."""
        thresholds = await self.thresholds()
        for _ in range(SAVE_ATTEMPTS):
            before = await self._load(customer_id)
            result = compute(before)
            after, history, payloads = await result if isinstance(result, Awaitable) else result
            after, derived_history, derived_events = derived_changes(
                before,
                after,
                thresholds,
                actor_id=self._principal.user_id,
                at=self._clock(),
                # Revenue moves only with accepted quotes (`quote_events`): here the budget
                # (potential) changed, or else the thresholds did since the last write.
                cause="POTENTIAL" if any(h.field == "budget" for h in history) else "THRESHOLDS",
            )
            history = [*history, *derived_history]
            payloads = [*payloads, *derived_events]
            if not history and not payloads:
                return before  # nothing changed: nothing written, nothing published
            after = dataclasses.replace(
                after,
                version=before.version + 1,
                updated_at=self._clock(),
                history=(*(before.history or ()), *history),
            )
            # Every event of the change carries the state it leads to (version included).
            events = [self._event(with_state(p, after), customer_id) for p in payloads]
            if await self._repo.save(before, after, history, events):
                self._notify_outbox()
                return after
        raise Conflict("the customer keeps changing; reload and try again", field="input.id")

    def _active(self, customer: Customer) -> None:
        if customer.deleted_at is not None:
            raise BadUserInput("the customer is deleted; restore it first", field="input.id")

    # --- profile ------------------------------------------------------------------------

    async def update(
        self,
        customer_id: str,
        values: Mapping[str, Any],
        custom_fields: Mapping[str, Any] | None = None,
    ) -> Customer:
        """Change profile fields and/or custom field values (None clears a custom field)."""
        principal = self._principal
        now = self._clock()
        clean = clean_profile_values(values, await self._local_today(now))
        definitions = await self.custom_field_definitions_by_key() if custom_fields else {}

        async def compute(before: Customer) -> Change:
            permissions.can_write(principal, before)
            self._active(before)
            if "customer_type" in clean:
                check_requested_type(before.status, clean["customer_type"])
            profile = dataclasses.replace(before.profile, **clean)
            if profile.name_key != before.profile.name_key:
                existing = await self._repo.find_by_name_key(profile.name_key)
                if existing is not None and existing.id != before.id:
                    raise name_conflict(existing)
            history = profile_changes(before.profile, profile, actor_id=principal.user_id, at=now)
            field_values = before.custom_fields
            if custom_fields:
                field_values = field_rules.apply_values(
                    definitions, before.custom_fields, custom_fields
                )
                history += [
                    HistoryEntry(
                        now,
                        principal.user_id,
                        f"customFields.{key}",
                        before.custom_fields.get(key),
                        field_values.get(key),
                    )
                    for key in field_rules.value_changes(before.custom_fields, field_values)
                ]
            if not history:
                return before, [], []
            event = CustomerUpdated(
                customer_id=before.id,
                changed_fields=[h.field for h in history],
                actor_id=principal.user_id,
                updated_at=now,
            )
            after = dataclasses.replace(before, profile=profile, custom_fields=field_values)
            return after, history, [event]

        return await self._change(customer_id, compute)

    # --- review and lifecycle -------------------------------------------------------------

    async def review(self, customer_id: str, *, approve: bool, comment: str | None) -> Customer:
        principal = self._principal
        now = self._clock()
        clean_comment = clean_reason(comment, "comment")
        if not approve and clean_comment is None:
            raise BadUserInput("a rejection needs a comment", field="input.comment")

        def compute(before: Customer) -> Change:
            permissions.can_review(principal, before)
            self._active(before)
            if before.status != CustomerStatus.PENDING_REVIEW:
                raise BadUserInput(
                    f"the customer is not waiting for review (it is {before.status.value})",
                    field="input.id",
                )
            target = CustomerStatus.LEAD if approve else CustomerStatus.REJECTED
            decision: EventData
            if approve:
                decision = CustomerReviewApproved(
                    customer_id=before.id,
                    actor_id=principal.user_id,
                    comment=clean_comment,
                    approved_at=now,
                )
            else:
                decision = CustomerReviewRejected(
                    customer_id=before.id,
                    actor_id=principal.user_id,
                    comment=clean_comment or "",
                    rejected_at=now,
                )
            after = dataclasses.replace(
                before,
                status=target,
                review=Review(approve, clean_comment, principal.user_id, now),
            )
            history, events = _status_change(
                before, target, principal.user_id, clean_comment, now, decision
            )
            return after, history, events

        return await self._change(customer_id, compute)

    async def change_status(
        self, customer_id: str, target: CustomerStatus, reason: str | None
    ) -> Customer:
        principal = self._principal
        now = self._clock()
        clean = clean_reason(reason)

        def compute(before: Customer) -> Change:
            permissions.can_write(principal, before)
            self._active(before)
            check_transition(before.status, target)
            after = dataclasses.replace(before, status=target)
            history, events = _status_change(before, target, principal.user_id, clean, now)
            return after, history, events

        return await self._change(customer_id, compute)

    async def reassign(
        self, customer_id: str, owner_id: str, team: str | None, reason: str | None
    ) -> Customer:
        principal = self._principal
        now = self._clock()
        clean = clean_reason(reason)
        if not owner_id.strip():
            raise BadUserInput("owner must not be blank", field="input.ownerId")

        def compute(before: Customer) -> Change:
            new_team = team if team is not None else before.team
            permissions.can_reassign(principal, before, new_team)
            self._active(before)
            if (owner_id, new_team) == (before.owner_id, before.team):
                return before, [], []
            history = [
                HistoryEntry(now, principal.user_id, name, old, new, clean)
                for name, old, new in (
                    ("owner_id", before.owner_id, owner_id),
                    ("team", before.team, new_team),
                )
                if old != new
            ]
            event = CustomerOwnerChanged(
                customer_id=before.id,
                from_owner_id=before.owner_id,
                to_owner_id=owner_id,
                from_team=before.team,
                to_team=new_team,
                actor_id=principal.user_id,
                reason=clean,
                changed_at=now,
            )
            after = dataclasses.replace(before, owner_id=owner_id, team=new_team)
            return after, history, [event]

        return await self._change(customer_id, compute)

    # --- contacts -----------------------------------------------------------------------

    async def add_contact(self, customer_id: str, contact: Contact) -> tuple[Customer, Contact]:
        principal = self._principal
        now = self._clock()
        cleaned = contact_rules.clean_contact(dataclasses.replace(contact, id=str(uuid.uuid4())))

        def compute(before: Customer) -> Change:
            permissions.can_write(principal, before)
            self._active(before)
            new = contact_rules.with_owner(cleaned, before.owner_id)
            if new.owner_id != before.owner_id:
                permissions.can_assign_contact(principal, before.owner_id, new.owner_id or "")
            contacts = contact_rules.add_contact(before.contacts, new)
            added = next(c for c in contacts if c.id == new.id)
            history = [
                HistoryEntry(now, principal.user_id, "contacts", None, _contact_summary(added))
            ]
            event = ContactAdded(
                customer_id=before.id,
                contact_id=added.id,
                is_primary=added.is_primary,
                actor_id=principal.user_id,
                at=now,
                owner_id=added.owner_id,
            )
            return dataclasses.replace(before, contacts=contacts), history, [event]

        customer = await self._change(customer_id, compute)
        return customer, next(c for c in customer.contacts if c.id == cleaned.id)

    async def update_contact(
        self, customer_id: str, contact_id: str, values: Mapping[str, Any]
    ) -> Customer:
        """Change contact details; ``is_primary=True`` makes it the primary (atomically)."""
        principal = self._principal
        now = self._clock()
        details = {k: v for k, v in values.items() if k in contact_rules.DETAIL_FIELDS}
        make_primary = values.get("is_primary") is True

        def compute(before: Customer) -> Change:
            permissions.can_write(principal, before)
            self._active(before)
            current = next((c for c in before.contacts if c.id == contact_id), None)
            if current is None:
                raise NotFound("no such contact on this customer", field="input.contactId")
            changed = contact_rules.clean_contact(dataclasses.replace(current, **details))
            if "owner_id" in details:
                changed = contact_rules.with_owner(changed, before.owner_id)
                if changed.owner_id not in (current.owner_id, before.owner_id):
                    permissions.can_assign_contact(
                        principal, before.owner_id, changed.owner_id or ""
                    )
            contacts = tuple(changed if c.id == contact_id else c for c in before.contacts)
            if make_primary:
                contacts = contact_rules.with_primary(contacts, contact_id)
            after_contact = next(c for c in contacts if c.id == contact_id)
            fields = [
                f
                for f in (*contact_rules.DETAIL_FIELDS, "is_primary")
                if getattr(current, f) != getattr(after_contact, f)
            ]
            if not fields:
                return before, [], []
            history = [
                HistoryEntry(
                    now,
                    principal.user_id,
                    "contacts",
                    _contact_summary(current),
                    _contact_summary(after_contact),
                )
            ]
            event = ContactUpdated(
                customer_id=before.id,
                contact_id=contact_id,
                is_primary=after_contact.is_primary,
                changed_fields=fields,
                actor_id=principal.user_id,
                at=now,
            )
            return dataclasses.replace(before, contacts=contacts), history, [event]

        return await self._change(customer_id, compute)

    async def remove_contact(self, customer_id: str, contact_id: str) -> Customer:
        principal = self._principal
        now = self._clock()

        def compute(before: Customer) -> Change:
            permissions.can_write(principal, before)
            self._active(before)
            removed = next((c for c in before.contacts if c.id == contact_id), None)
            contacts = contact_rules.remove_contact(before.contacts, contact_id)
            history = [
                HistoryEntry(now, principal.user_id, "contacts", _contact_summary(removed), None)
            ]
            event = ContactRemoved(
                customer_id=before.id, contact_id=contact_id, actor_id=principal.user_id, at=now
            )
            return dataclasses.replace(before, contacts=contacts), history, [event]

        return await self._change(customer_id, compute)

    # --- soft delete --------------------------------------------------------------------

    async def delete(self, customer_id: str, reason: str | None) -> Customer:
        principal = self._principal
        now = self._clock()
        clean = clean_reason(reason)

        def compute(before: Customer) -> Change:
            permissions.can_write(principal, before)
            if before.deleted_at is not None:
                return before, [], []
            history = [
                HistoryEntry(now, principal.user_id, "deleted_at", None, now.isoformat(), clean)
            ]
            event = CustomerDeleted(
                customer_id=before.id, actor_id=principal.user_id, reason=clean, deleted_at=now
            )
            return dataclasses.replace(before, deleted_at=now), history, [event]

        return await self._change(customer_id, compute)

    async def restore(self, customer_id: str) -> Customer:
        principal = self._principal
        now = self._clock()

        def compute(before: Customer) -> Change:
            permissions.can_write(principal, before)
            if before.deleted_at is None:
                return before, [], []
            history = [
                HistoryEntry(
                    now, principal.user_id, "deleted_at", before.deleted_at.isoformat(), None
                )
            ]
            event = CustomerRestored(
                customer_id=before.id, actor_id=principal.user_id, restored_at=now
            )
            return dataclasses.replace(before, deleted_at=None), history, [event]

        return await self._change(customer_id, compute)

    # --- duplicates and merge -------------------------------------------------------------

    async def duplicates(
        self,
        customer_id: str | None = None,
        name: str | None = None,
        phones: Sequence[str] = (),
        emails: Sequence[str] = (),
    ) -> list[DuplicateCandidate]:
        """Customers that look like the given one (or the given name/phone/email), and why."""
        visibility = permissions.visibility(self._principal)
        name_key = normalise_name(name) if name else None
        phone_keys = {phone_key(p) for p in phones if phone_key(p)}
        email_keys = {email_key(e) for e in emails if e.strip()}
        if customer_id is not None:
            found = await self._repo.get_many([customer_id], visibility)
            subject = found.get(customer_id)
            if subject is None:
                raise NotFound("no such customer", field="customerId")
            name_key = subject.profile.name_key
            phone_keys |= {c.phone_key for c in subject.contacts if c.phone_key}
            email_keys |= {email_key(c.email) for c in subject.contacts if c.email}
        if not (name_key or phone_keys or email_keys):
            raise BadUserInput("give a customer id, a name, a phone or an email", field="name")
        limit = list_limits().max_duplicate_candidates
        # One more than the limit, plus the customer itself (it matches its own keys).
        matches = await self._repo.duplicates(
            name_key, sorted(phone_keys), sorted(email_keys), visibility, limit + 2
        )
        check_limit(
            len([m for m in matches if m.id != customer_id]),
            limit,
            "the possible duplicates",
            "CRM_MAX_DUPLICATE_CANDIDATES",
            "check a more specific name, phone or email",
        )
        result = []
        for match in matches:
            if match.id == customer_id:
                continue
            reasons = []
            if name_key and match.profile.name_key == name_key:
                reasons.append("NAME")
            if phone_keys & {c.phone_key for c in match.contacts}:
                reasons.append("PHONE")
            if email_keys & {email_key(c.email) for c in match.contacts if c.email}:
                reasons.append("EMAIL")
            if reasons:
                result.append(DuplicateCandidate(match, tuple(reasons)))
        return result

    async def merge(self, keep_id: str, merge_id: str) -> Customer:
        """Move contacts, tags, history, custom field values (where the kept customer has
        none), files and the follow-up cadence (``on_merge``) of ``merge_id`` into
        ``keep_id``; tombstone it.

        Two writes without a transaction, ordered so that a retry after a crash finishes the
        job: the kept customer records ``merged_from`` first, the tombstone (which carries the
        ``merged`` event) comes last.
        """
        principal = self._principal
        if keep_id == merge_id:
            raise BadUserInput("a customer cannot be merged into itself", field="input.mergeId")
        now = self._clock()
        keep = await self._load(keep_id)
        merged = await self._repo.get(merge_id)
        if merged is None:
            raise NotFound("no such customer", field="input.mergeId")
        if merged.merged_into is not None:
            if merged.merged_into == keep_id:
                return keep  # already done
            raise Conflict("that customer was already merged elsewhere", field="input.mergeId")
        permissions.can_merge(principal, keep, merged)

        def absorb(before: Customer) -> Change:
            self._active(before)
            known = {c.id for c in before.contacts}
            moved = tuple(
                dataclasses.replace(c, is_primary=False)
                for c in merged.contacts
                if c.id not in known
            )
            tags = tuple(dict.fromkeys((*before.profile.tags, *merged.profile.tags)))
            profile = dataclasses.replace(before.profile, tags=tags)
            # Custom fields: the kept customer's own value wins; the merged one only fills
            # fields the kept customer has no value for.
            custom_fields = {**merged.custom_fields, **before.custom_fields}
            filled = field_rules.value_changes(before.custom_fields, custom_fields)
            # The merged customer's history comes along, marked with where it came from.
            carried = [
                dataclasses.replace(h, field=f"merged:{merged.number}:{h.field}")
                for h in merged.history or ()
            ]
            history = [
                *carried,
                *(
                    HistoryEntry(
                        now, principal.user_id, f"customFields.{key}", None, custom_fields[key]
                    )
                    for key in filled
                ),
                HistoryEntry(now, principal.user_id, "merged_from", None, merged.id),
            ]
            after = dataclasses.replace(
                before,
                contacts=(*before.contacts, *moved),
                profile=profile,
                custom_fields=custom_fields,
            )
            return after, history, []

        if not any(h.field == "merged_from" and h.after == merged.id for h in keep.history or ()):
            keep = await self._change(keep_id, absorb)
        # Files follow before the tombstone is written, so a repeated call after a crash
        # moves any that were left behind.
        if self._files is not None:
            await self._files.move_customer_files(merged.id, keep_id)
        if self._on_merge is not None:
            await self._on_merge(keep, merged, now)

        def tombstone(before: Customer) -> Change:
            event = CustomerMerged(
                kept_id=keep_id, merged_id=before.id, actor_id=principal.user_id, merged_at=now
            )
            history = [HistoryEntry(now, principal.user_id, "merged_into", None, keep_id)]
            return dataclasses.replace(before, merged_into=keep_id), history, [event]

        await self._change(merge_id, tombstone)
        return keep

    # --- reads ----------------------------------------------------------------------------

    async def get_many(self, ids: Sequence[str]) -> dict[str, Customer]:
        found = await self._repo.get_many(ids, permissions.visibility(self._principal))
        return {k: self._as_seen(v) for k, v in found.items()}

    async def list_customers(self, query: ListQuery, page: PageRequest) -> Page[Customer]:
        if query.search is not None and not query.search.strip():
            raise BadUserInput("search must not be blank", field="search")
        if permissions.masks_contact_details(self._principal):
            query = dataclasses.replace(query, search_contacts=False)
        if query.custom_field_filters:
            conditions = field_rules.clean_filters(
                await self.custom_field_definitions_by_key(), query.custom_field_filters
            )
            query = dataclasses.replace(query, custom_field_conditions=tuple(conditions))
        result = await self._repo.list_customers(
            query, page, permissions.visibility(self._principal)
        )
        return result.map(self._as_seen)

    async def history(self, customer: Customer) -> tuple[HistoryEntry, ...]:
        permissions.can_read_history(self._principal)
        if customer.history is not None:
            return customer.history
        full = await self._repo.get(customer.id)
        return full.history or () if full else ()

    async def in_box(self, box: BoundingBox) -> list[Customer]:
        if not (-90 <= box.south <= box.north <= 90):
            raise BadUserInput("need -90 <= south <= north <= 90", field="box")
        if not (-180 <= box.west <= 180 and -180 <= box.east <= 180):
            raise BadUserInput("longitudes must be between -180 and 180", field="box")
        limit = list_limits().max_map_customers
        found = await self._repo.in_box(box, permissions.visibility(self._principal), limit + 1)
        check_limit(
            len(found),
            limit,
            "the customers in this box",
            "CRM_MAX_MAP_CUSTOMERS",
            "zoom in (a smaller box) or use customerCountsByRegion",
            field="box",
        )
        return [self._as_seen(c) for c in found]

    async def counts_by_region(self, by_city: bool) -> list[RegionCount]:
        return await self._repo.counts_by_region(permissions.visibility(self._principal), by_city)

    # --- value tiers ------------------------------------------------------------------------

    async def value_tier_thresholds(self) -> TierThresholds:
        permissions.visibility(self._principal)  # readers only
        return await self.thresholds()

    async def set_value_tier_thresholds(self, wanted: TierThresholds) -> tuple[TierThresholds, int]:
        """Store the tenant's thresholds (admins) and re-tier every customer they move; how
        many moved. Each move is a normal conditional change with its event, so a repeat (or
        another replica doing the same) moves nothing twice; if the process stops midway, the
        rest moves with the next call or the customer's next change."""
        permissions.can_set_value_tiers(self._principal)
        thresholds = clean_thresholds(wanted)
        if self._tiers is None:
            raise BadUserInput("value tiers are not available here", field="input")
        await self._tiers.put(thresholds, self._principal.user_id)
        self._thresholds_cache = thresholds
        return thresholds, await self.retier()

    async def retier(self) -> int:
        """Bring every customer's value tier in line with the current thresholds."""
        thresholds = await self.thresholds()
        moved = 0
        for customer_id, revenue, potential, tier in await self._repo.tier_inputs():
            if tier_for(revenue, potential, thresholds).value == tier:
                continue
            await self._change(customer_id, lambda before: (before, [], []))
            moved += 1
        return moved

    # --- custom fields --------------------------------------------------------------------

    async def custom_field_definitions_by_key(self) -> dict[str, CustomFieldDefinition]:
        """The tenant's custom field definitions (none if this service has no store)."""
        return await self._fields.all() if self._fields is not None else {}

    async def custom_field_definitions(self) -> list[CustomFieldDefinition]:
        permissions.visibility(self._principal)  # readers only
        return sorted((await self.custom_field_definitions_by_key()).values(), key=lambda d: d.key)

    async def define_custom_field(
        self,
        key: str,
        label: str,
        field_type: CustomFieldType,
        *,
        required: bool = False,
        options: Sequence[str] = (),
    ) -> CustomFieldDefinition:
        """Define a custom field or change its label, options or requiredness (admins).

        Existing values are not re-checked: a stricter definition applies to the next write.
        """
        permissions.can_define_custom_fields(self._principal)
        if self._fields is None:
            raise BadUserInput("custom fields are not available here", field="input.key")
        definition = field_rules.clean_definition(key, label, field_type, required, options)
        existing = await self._fields.all()
        field_rules.check_redefinition(existing.get(key), definition, len(existing))
        await self._fields.put(definition, created=key not in existing)
        return definition

    def _as_seen(self, customer: Customer) -> Customer:
        if permissions.masks_contact_details(self._principal):
            return dataclasses.replace(
                customer, contacts=tuple(contact_rules.masked(c) for c in customer.contacts)
            )
        return customer


def _status_change(
    before: Customer,
    target: CustomerStatus,
    actor_id: str,
    reason: str | None,
    now: datetime,
    *extra: EventData,
) -> tuple[list[HistoryEntry], list[EventData]]:
    history = [HistoryEntry(now, actor_id, "status", before.status.value, target.value, reason)]
    event = CustomerStatusChanged(
        customer_id=before.id,
        from_status=before.status.value,
        to_status=target.value,
        actor_id=actor_id,
        reason=reason,
        changed_at=now,
    )
    return history, [*extra, event]


__all__ = ["CustomerService", "DuplicateCandidate", "name_conflict", "to_plain"]
