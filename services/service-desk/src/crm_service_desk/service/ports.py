"""What the service-desk use cases need from storage (implemented in ``adapters``).

Writes that change state take the events announcing the change and store both in one
document write (outbox). Updates are optimistic: ``save`` applies only if the stored version is
still ``expected_version`` and returns False otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from crm_common.email import Delivery
from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_service_desk.domain.article import Article
from crm_service_desk.domain.improvement import ImprovementTask, TaskSource, TaskStatus
from crm_service_desk.domain.permissions import CustomerRef, Visibility
from crm_service_desk.domain.service_order import ServiceOrder
from crm_service_desk.domain.survey import (
    DimensionCsat,
    Survey,
    SurveyChannel,
    SurveySubject,
    SurveyTemplate,
)
from crm_service_desk.domain.ticket import SlaKind, SlaTarget, Ticket, TicketPriority


class CustomerRefRepository(Protocol):
    """The shared customer copy (kept by `crm_common.customers` from the customer events)."""

    async def get(self, customer_id: str) -> CustomerRef | None:
        """The customer with its CURRENT owner and team, if the tenant has it."""


class CustomerRecords(Protocol):
    """Every service record of a tenant that names a customer."""

    async def repoint(self, merged_id: str, kept_id: str) -> dict[str, int]:
        """Move the merged customer's records to the kept one; how many per collection."""


class DeskSettingsRepository(Protocol):
    async def sla_table(self) -> dict[TicketPriority, SlaTarget]:
        """The tenant's table: its own rows over the defaults."""

    async def set_sla(self, targets: Sequence[SlaTarget]) -> None: ...

    async def departments(self) -> dict[str, str | None]:
        """Department name → lead user id."""

    async def set_department(self, name: str, lead_id: str | None) -> None: ...


class TicketRepository(Protocol):
    tenant_id: str

    async def add(self, ticket: Ticket, events: Sequence[CloudEvent]) -> None: ...

    async def get(self, ticket_id: str, view: Visibility) -> Ticket | None: ...

    async def listing(
        self,
        filter_input: Any,
        view: Visibility,
        page: PageRequest,
        customer_id: str | None = None,
    ) -> Page[Ticket]:
        """Newest first, restricted to what ``view`` may see (and to one customer if given)."""

    async def save(
        self, ticket: Ticket, expected_version: int, events: Sequence[CloudEvent]
    ) -> bool: ...


class SlaBreachStore(Protocol):
    """All tenants' tickets, for the SLA monitor (no request, no tenant)."""

    async def due(self, now: datetime, limit: int) -> list[Ticket]:
        """Open tickets with a due time passed and not yet reported."""

    async def claim_breach(
        self,
        ticket: Ticket,
        kind: SlaKind,
        now: datetime,
        escalate_to: str | None,
        events: Sequence[CloudEvent],
    ) -> bool:
        """Mark the breach reported (and escalate) iff nobody did; the events ride along."""

    async def department_lead(self, tenant_id: str, department: str | None) -> str | None: ...


class OrderRepository(Protocol):
    tenant_id: str

    async def add(self, order: ServiceOrder, source_key: str, events: Sequence[CloudEvent]) -> bool:
        """Insert; False when an order with this source key (e.g. its quote) already exists."""

    async def get(self, order_id: str, view: Visibility) -> ServiceOrder | None: ...

    async def listing(
        self, customer_id: str | None, view: Visibility, page: PageRequest
    ) -> Page[ServiceOrder]: ...

    async def save(
        self, order: ServiceOrder, expected_version: int, events: Sequence[CloudEvent]
    ) -> bool: ...


class SurveyRepository(Protocol):
    tenant_id: str

    async def add(self, survey: Survey, token_hash: str, events: Sequence[CloudEvent]) -> bool:
        """Insert; False when the subject already has its survey."""

    async def get(self, survey_id: str, view: Visibility) -> Survey | None: ...

    async def listing(
        self, customer_id: str | None, view: Visibility, page: PageRequest
    ) -> Page[Survey]: ...

    async def rotate_token(self, survey_id: str, token_hash: str) -> bool:
        """Replace the token of a survey not answered yet."""

    async def csat(
        self,
        view: Visibility,
        customer_id: str | None,
        subject: SurveySubject | None,
        channel: SurveyChannel | None = None,
    ) -> list[DimensionCsat]: ...

    async def record_answer(
        self, survey: Survey, answer: Survey, events: Sequence[CloudEvent]
    ) -> bool:
        """Store the answer iff the survey has none yet (the single-use insert)."""

    async def templates(self) -> list[SurveyTemplate]: ...

    async def add_template(self, template: SurveyTemplate) -> None: ...

    async def template_for(self, subject: SurveySubject) -> SurveyTemplate | None:
        """The newest template for this subject (or for any subject)."""


class SurveyTokens(Protocol):
    """Token lookups of the public response endpoint (the token, not a login, names the tenant)."""

    async def by_token(self, token_hash: str) -> Survey | None: ...

    async def respond(
        self,
        survey: Survey,
        token_hash: str,
        scores: dict[str, int],
        comment: str | None,
        now: datetime,
        events: Sequence[CloudEvent],
    ) -> bool:
        """Record the answer iff the token is still unused (one atomic conditional update)."""


class SurveyLinkSender(Protocol):
    """Hands a new survey's response link to whatever delivers it to the customer."""

    async def send(self, survey: Survey, url: str) -> None: ...


class ContactDirectory(Protocol):
    """The customer service's contacts, read on the caller's behalf (its credentials)."""

    async def primary_email(self, customer_id: str, credentials: str | None) -> str | None: ...


class SurveyMailer(Protocol):
    """Queues one tenant's survey invitations and lists them (crm_common.email)."""

    async def queue(
        self, survey_id: str, *, to: str, subject: str, text: str, html: str, key: str
    ) -> Delivery: ...

    async def deliveries(self, survey_id: str) -> list[Delivery]: ...


class ArticleRepository(Protocol):
    tenant_id: str

    async def add(
        self, article: Article, keywords: list[str], events: Sequence[CloudEvent]
    ) -> bool:
        """Insert; False when the id exists (a ticket is promoted once)."""

    async def get(self, article_id: str) -> Article | None: ...

    async def search(
        self, terms: list[str], tags: list[str], kind: str | None, page: PageRequest
    ) -> Page[Article]: ...


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Which improvement tasks to list; every given condition must hold."""

    status: tuple[TaskStatus, ...] | None = None
    team: str | None = None
    owner_id: str | None = None
    source: TaskSource | None = None
    customer_id: str | None = None
    overdue: bool | None = None  # open past due (or closed late) / the others


class ImprovementTaskRepository(Protocol):
    tenant_id: str

    async def add(self, task: ImprovementTask, events: Sequence[CloudEvent]) -> bool:
        """Insert; False when a task with this id (an automatic task's source) exists."""

    async def get(self, task_id: str, view: Visibility) -> ImprovementTask | None: ...

    async def listing(
        self, filter: TaskFilter, view: Visibility, page: PageRequest, now: datetime
    ) -> Page[ImprovementTask]:
        """Soonest due first, restricted to what ``view`` may see."""

    async def save(
        self, task: ImprovementTask, expected_version: int, events: Sequence[CloudEvent]
    ) -> bool: ...


class TaskRouting(Protocol):
    """Who handles a task opened automatically: (team, owner user id)."""

    async def for_subject(
        self, subject_type: str, subject_id: str
    ) -> tuple[str | None, str | None]:
        """A surveyed ticket's department and its lead (else the assignee); a surveyed order's
        team and owner."""

    async def for_department(
        self, department: str | None, fallback_owner: str
    ) -> tuple[str | None, str | None]:
        """The department and its lead, else ``fallback_owner``."""


class OverdueTaskStore(Protocol):
    """All tenants' open improvement tasks, for the overdue monitor (no request, no tenant)."""

    async def due(self, now: datetime, limit: int) -> list[ImprovementTask]: ...

    async def next_due(self, horizon: datetime) -> datetime | None: ...

    async def claim_overdue(self, task: ImprovementTask, events: Sequence[CloudEvent]) -> bool:
        """Record the announcement (events ride along) iff nobody did, and flag the task."""


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    """A customer's service at a glance (the profile summary)."""

    tickets: int
    open_tickets: int
    complaints: int
    service_orders: int
    open_service_orders: int
    surveys_answered: int
    last_survey_average: float | None
    last_survey_at: datetime | None
    last_survey_channel: str | None
    open_improvement_tasks: int
    last_service_at: datetime | None


class ServiceSummaryReader(Protocol):
    async def summary(
        self, customer_id: str, view: Visibility, surveys: Visibility
    ) -> ServiceSummary:
        """Counts over the customer's records that ``view`` (answers: ``surveys``) may see."""


class ServiceDeskServices(Protocol):
    """What the API layer gets from the composition root: use cases for a principal."""

    def tickets(self, principal: Any) -> Any: ...

    def orders(self, principal: Any) -> Any: ...

    def surveys(self, principal: Any) -> Any: ...

    def articles(self, principal: Any) -> Any: ...

    def desk(self, principal: Any) -> Any: ...

    def public_surveys(self) -> Any: ...

    def improvement_tasks(self, principal: Any) -> Any: ...

    def service_summary(self, principal: Any) -> Any: ...

    def live_feed(self) -> Any: ...
