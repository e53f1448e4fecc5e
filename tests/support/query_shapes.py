"""The reviewed list of query shapes and the indexes each service declares (for
tests/test_query_shapes.py and tests/e2e/test_zz_query_shapes.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from pymongo import ASCENDING, IndexModel

from crm_common.coordination import LEASES_COLLECTION
from crm_common.email import EMAIL_INDEXES
from crm_common.events.consumer import PROCESSED_COLLECTION
from crm_common.events.outbox import OUTBOX_INDEXES
from crm_common.query_shapes import IndexKeys, ShapeRule
from crm_common.tenants import TENANT_SETTINGS_INDEXES
from crm_customer.adapters import cadence as customer_cadence
from crm_customer.adapters import custom_fields as customer_fields
from crm_customer.adapters import jobs as customer_jobs
from crm_customer.adapters import mongo as customer
from crm_engagement.adapters import email_notifications as engagement_email
from crm_engagement.adapters import mongo as engagement
from crm_engagement.adapters import notifications as engagement_notifications
from crm_engagement.adapters import webhooks as engagement_webhooks
from crm_insights.adapters import mongo as insights
from crm_insights.adapters import service_reports as insights_service_reports
from crm_quoting.adapters import mongo as quoting
from crm_service_desk.adapters import improvement as service_desk_tasks
from crm_service_desk.adapters import mongo as service_desk

LIST = Path(__file__).resolve().parents[1] / "query_shapes.json"

# What GridFS creates itself on the first upload (the GridFS spec's two indexes).
_GRIDFS: dict[str, Sequence[IndexModel]] = {
    "files.files": [IndexModel([("filename", ASCENDING), ("uploadDate", ASCENDING)])],
    "files.chunks": [IndexModel([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)],
}
_COMMON: dict[str, Sequence[IndexModel]] = {
    **OUTBOX_INDEXES,
    LEASES_COLLECTION: [],
    PROCESSED_COLLECTION: [],
    "outbox_migrations": [],
    # Every service holds its tenants' settings (crm_common.tenants); customer the master.
    **TENANT_SETTINGS_INDEXES,
}

# What each service's composition root declares (main.py: with_indexes, with_outbox, and
# the customer's query indexes, which it creates on MongoDB only).
DECLARED: dict[str, Mapping[str, Sequence[IndexModel]]] = {
    "crm_customer": {
        **_COMMON,
        **customer.INDEXES,
        **customer_jobs.JOB_INDEXES,
        **customer_fields.CUSTOM_FIELD_INDEXES,
        **customer_cadence.CADENCE_INDEXES,
        customer.NAMES: [],
        **_GRIDFS,
    },
    # (Collections without declared indexes first: the declarations win.)
    "crm_engagement": {
        engagement.REMINDERS: [],
        engagement.SETTINGS: [],
        **_COMMON,
        **engagement.INDEXES,
        **EMAIL_INDEXES,
        **engagement_email.DIGEST_INDEXES,
        **engagement_webhooks.WEBHOOK_INDEXES,
        **engagement_notifications.NOTIFICATION_INDEXES,
    },
    "crm_quoting": {
        quoting.SETTINGS: [],
        quoting.COUNTERS: [],
        **_COMMON,
        **quoting.INDEXES,
        **EMAIL_INDEXES,
    },
    "crm_service_desk": {
        service_desk.SLA_TARGETS: [],
        service_desk.DEPARTMENTS: [],
        **_COMMON,
        **service_desk.INDEXES,
        **service_desk_tasks.INDEXES,
        **EMAIL_INDEXES,
    },
    "crm_insights": {**_COMMON, **insights.INDEXES, **insights_service_reports.INDEXES},
}
_QUERY_ONLY = {"crm_customer": customer.QUERY_INDEXES}


def _keys(model: IndexModel) -> list[tuple[str, int]]:
    return [(str(path), int(direction)) for path, direction in model.document["key"].items()]


def declared_keys(db: str, collection: str) -> list[IndexKeys]:
    models = [
        *DECLARED.get(db, {}).get(collection, ()),
        *_QUERY_ONLY.get(db, {}).get(collection, ()),
    ]
    return [_keys(model) for model in models]


def load_rules() -> list[ShapeRule]:
    data = json.loads(LIST.read_text(encoding="utf-8"))
    return [ShapeRule.from_json(entry) for entry in data["shapes"]]
