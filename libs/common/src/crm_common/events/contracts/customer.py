"""Events published by the customer service on ``crm.customer.v1`` (key: customer id)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from crm_common.events.contracts.base import EventData

TOPIC = "crm.customer.v1"


class CustomerState(BaseModel):
    """The customer as other services copy it, right after the change the event announces.

    ``version`` is the customer's own version (1 at creation, +1 per stored change): a copy
    applies a state only over an older one, so redelivered and out-of-order events change
    nothing. Optional on every event that carries it (events written before it existed lack it).
    Read tolerantly like every event (fields a newer producer adds are ignored, not refused: a
    consumer one release behind keeps applying states during a rolling upgrade).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: int
    number: str
    name: str
    status: str
    owner_id: str
    team: str | None = None
    customer_type: str | None = None
    deleted: bool = False
    merged_into: str | None = None
    updated_at: datetime
    # Value tier A/B/C and data completeness 0-100 (absent in older events).
    value_tier: str | None = None
    completeness: int | None = None
    # The province (canonical name, `crm_common.regions`), the industry and the free tags,
    # for segments of customers (engagement's planned touches); absent in older events.
    region_province: str | None = None
    industry: str | None = None
    tags: list[str] | None = None


class PurchaseProfile(BaseModel):
    """The profile facts analytics judges a customer's purchase power by (insights' potential
    model): industry, company size and budget. Every field optional; the whole is absent in
    events written before it existed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    industry: str | None = None
    employees: int | None = None
    # Annual revenue band (UNDER_1M, FROM_1M_TO_10M, FROM_10M_TO_100M, FROM_100M_TO_1B, OVER_1B).
    revenue_band: str | None = None
    budget_max_minor: int | None = None
    budget_currency: str | None = None


class CustomerCreated(EventData):
    """A customer profile was registered (it starts in review)."""

    event_type: ClassVar[str] = "crm.customer.created"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    number: str
    name: str
    status: str
    owner_id: str
    team: str | None = None
    created_at: datetime
    # Profile facts analytics group new customers by (optional: absent in older events).
    customer_type: str | None = None
    region_province: str | None = None
    region_city: str | None = None
    source_channel: str | None = None
    # The customer after this change, for copies (absent in older events).
    state: CustomerState | None = None
    # Ids of the contacts registered with the customer (ids only; None in older events).
    contact_ids: list[str] | None = None
    # Industry, size and budget after the change (absent in older events).
    purchase_profile: PurchaseProfile | None = None


class CustomerStatusChanged(EventData):
    """The lifecycle status moved (e.g. LEAD → INTENTION, any → CHURNED), by whom and why."""

    event_type: ClassVar[str] = "crm.customer.status_changed"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    from_status: str
    to_status: str
    actor_id: str
    reason: str | None = None
    changed_at: datetime
    # The customer after this change, for copies (absent in older events).
    state: CustomerState | None = None


class CustomerMerged(EventData):
    """``merged_id`` was merged into ``kept_id``; every service re-points its records."""

    event_type: ClassVar[str] = "crm.customer.merged"
    topic: ClassVar[str] = TOPIC

    kept_id: str
    merged_id: str
    actor_id: str
    merged_at: datetime
    # The merged (tombstoned) customer after the merge (absent in older events).
    state: CustomerState | None = None


class CustomerUpdated(EventData):
    """Profile fields changed; ``changed_fields`` names them (values stay in the service,
    except the few other services copy, which ``state`` carries)."""

    event_type: ClassVar[str] = "crm.customer.updated"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    changed_fields: list[str]
    actor_id: str
    updated_at: datetime
    # The customer after this change, for copies (absent in older events).
    state: CustomerState | None = None
    # Industry, size and budget after the change (absent in older events).
    purchase_profile: PurchaseProfile | None = None


class CustomerReviewApproved(EventData):
    """A sales manager approved a new customer: its lifecycle starts (status LEAD)."""

    event_type: ClassVar[str] = "crm.customer.review_approved"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    actor_id: str
    comment: str | None = None
    approved_at: datetime


class CustomerReviewRejected(EventData):
    """A sales manager rejected a new customer (status REJECTED)."""

    event_type: ClassVar[str] = "crm.customer.review_rejected"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    actor_id: str
    comment: str
    rejected_at: datetime


class CustomerOwnerChanged(EventData):
    """The customer was reassigned to another sales rep and/or team."""

    event_type: ClassVar[str] = "crm.customer.owner_changed"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    from_owner_id: str
    to_owner_id: str
    from_team: str | None = None
    to_team: str | None = None
    actor_id: str
    reason: str | None = None
    changed_at: datetime
    # The customer after this change, for copies (absent in older events).
    state: CustomerState | None = None


class CustomerValueTierChanged(EventData):
    """The customer's value tier (按价值划分, A/B/C) changed: its deal revenue or potential
    moved across a threshold, or an admin changed the tenant's thresholds (``cause``:
    ``REVENUE``, ``POTENTIAL``, ``THRESHOLDS`` or ``MIGRATION``)."""

    event_type: ClassVar[str] = "crm.customer.value_tier_changed"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    from_tier: str
    to_tier: str
    deal_revenue_minor: int
    potential_minor: int
    cause: str
    changed_at: datetime
    # The customer after this change, for copies.
    state: CustomerState | None = None


class ContactAdded(EventData):
    """A contact person was added (no personal data in the event: ids only)."""

    event_type: ClassVar[str] = "crm.customer.contact_added"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    contact_id: str
    is_primary: bool
    actor_id: str
    at: datetime
    # The sales rep responsible for the contact (absent in older events).
    owner_id: str | None = None


class ContactUpdated(EventData):
    """A contact person's details or primary flag changed."""

    event_type: ClassVar[str] = "crm.customer.contact_updated"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    contact_id: str
    is_primary: bool
    changed_fields: list[str]
    actor_id: str
    at: datetime


class ContactRemoved(EventData):
    """A contact person was removed from the customer."""

    event_type: ClassVar[str] = "crm.customer.contact_removed"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    contact_id: str
    actor_id: str
    at: datetime


class CustomerDeleted(EventData):
    """The customer was soft-deleted (it can be restored)."""

    event_type: ClassVar[str] = "crm.customer.deleted"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    actor_id: str
    reason: str | None = None
    deleted_at: datetime
    # The customer after this change, for copies (absent in older events).
    state: CustomerState | None = None


class CustomerRestored(EventData):
    """A soft-deleted customer was restored."""

    event_type: ClassVar[str] = "crm.customer.restored"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    actor_id: str
    restored_at: datetime
    # The customer after this change, for copies (absent in older events).
    state: CustomerState | None = None


class CustomersImported(EventData):
    """A bulk import job finished (key: the job id); the summary of what it did."""

    event_type: ClassVar[str] = "crm.customer.imported"
    topic: ClassVar[str] = TOPIC

    job_id: str
    actor_id: str
    total: int
    created: int
    updated: int
    duplicates: int
    failed: int
    finished_at: datetime


class RolePermissionOverride(BaseModel):
    """What a tenant added to (``grants``) and took from (``revokes``) a role's default."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    grants: list[str] = []
    revokes: list[str] = []


class TenantSettingsChanged(EventData):
    """A tenant's settings changed (key: the tenant id). Every other service keeps a copy
    (`crm_common.tenants`) and applies the event only over an older ``version``."""

    event_type: ClassVar[str] = "crm.customer.tenant_settings_changed"
    topic: ClassVar[str] = TOPIC

    # The settings after the change (the whole of them: a copy replaces what it holds).
    time_zone: str
    # The settings' own version (1 for the first change, +1 per change): copies apply it only
    # over an older one, so redelivered and out-of-order events change nothing.
    version: int
    actor_id: str
    changed_at: datetime
    # The time zone before the change (for the audit trail and for readers that care).
    previous_time_zone: str | None = None
    # The tenant's role permission overrides after the change, the whole of them
    # (``{role: {"grants": [...], "revokes": [...]}}``: what differs from the default matrix of
    # `crm_common.permissions`); absent in events written before tenants could change roles.
    role_permissions: dict[str, RolePermissionOverride] | None = None
    # The role a role-permission change was for (None for other changes).
    changed_role: str | None = None
