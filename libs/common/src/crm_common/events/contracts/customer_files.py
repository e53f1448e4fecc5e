"""A customer's stored files (GridFS in the customer service), on ``crm.customer.v1``.

A module of its own beside ``customer.py`` (same producer, same topic, key: the customer id):
the files are kept apart from the customer record (`crm_customer.domain.files`). Only a
customer's files are announced (import and export files belong to a user, not a customer).
The bytes never travel: download them with ``GET /files/<file_id>`` (authorised like the
customer).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import TOPIC


class CustomerFileAdded(EventData):
    """A file was uploaded to the customer: its name, category (``kind``: QUALIFICATION,
    CONTRACT, PROPOSAL, DELIVERABLE, OTHER), MIME type and size, by whom and when."""

    event_type: ClassVar[str] = "crm.customer.file_added"
    topic: ClassVar[str] = TOPIC

    file_id: str
    customer_id: str
    filename: str
    kind: str
    content_type: str
    size: int
    actor_id: str
    at: datetime


class CustomerFileChanged(EventData):
    """A customer's file was renamed (``action`` RENAMED: ``before``/``after`` are the names)
    or moved to another category (RECATEGORISED: the kinds); ``filename`` and ``kind`` are
    the file's after the change."""

    event_type: ClassVar[str] = "crm.customer.file_changed"
    topic: ClassVar[str] = TOPIC

    file_id: str
    customer_id: str
    action: str
    before: str | None = None
    after: str | None = None
    filename: str
    kind: str
    actor_id: str
    at: datetime


class CustomerFileDeleted(EventData):
    """A customer's file was deleted (soft: it leaves lists and downloads, its metadata and
    history stay). Its bytes are purged after the service's retention period, at
    ``content_purge_after`` at the earliest (the file's history then records it)."""

    event_type: ClassVar[str] = "crm.customer.file_deleted"
    topic: ClassVar[str] = TOPIC

    file_id: str
    customer_id: str
    filename: str
    kind: str
    actor_id: str
    at: datetime
    content_purge_after: datetime | None = None
