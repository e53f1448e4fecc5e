"""When a deleted customer file's bytes are purged (`domain.files`): pure rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm_customer.domain.files import (
    DEFAULT_RETENTION,
    PURGE_ACTOR,
    FileAction,
    FileKind,
    StoredFile,
    purge_due_at,
    purge_is_due,
    purged,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FILE = StoredFile(
    "f1", "t1", "contract.pdf", "application/pdf", 10, FileKind.CONTRACT, "u1", T0, "c1"
)


def test_the_default_retention_is_thirty_days() -> None:
    assert timedelta(days=30) == DEFAULT_RETENTION


def test_a_kept_file_is_never_due() -> None:
    assert purge_due_at(FILE, DEFAULT_RETENTION) is None
    assert not purge_is_due(FILE, T0 + timedelta(days=400), DEFAULT_RETENTION)


def test_a_deleted_file_is_due_when_the_retention_ends() -> None:
    deleted = replace(FILE, deleted_at=T0)
    assert purge_due_at(deleted, DEFAULT_RETENTION) == T0 + timedelta(days=30)
    assert not purge_is_due(
        deleted, T0 + timedelta(days=30) - timedelta(seconds=1), DEFAULT_RETENTION
    )
    assert purge_is_due(deleted, T0 + timedelta(days=30), DEFAULT_RETENTION)
    # The setting: a shorter retention makes it due sooner.
    assert purge_is_due(deleted, T0 + timedelta(days=2), timedelta(days=1))


def test_a_purged_file_is_not_due_again_and_says_so_in_its_history() -> None:
    deleted = replace(FILE, deleted_at=T0)
    at = T0 + timedelta(days=31)
    after, entry = purged(deleted, at)
    assert after.purged_at == at and after.deleted_at == T0
    assert (entry.action, entry.actor_id, entry.at, entry.before) == (
        FileAction.PURGED,
        PURGE_ACTOR,
        at,
        "contract.pdf",
    )
    assert purge_due_at(after, DEFAULT_RETENTION) is None
    assert not purge_is_due(after, at + timedelta(days=1), DEFAULT_RETENTION)


def test_only_a_deleted_file_is_purged() -> None:
    with pytest.raises(ValueError, match="deleted"):
        purged(FILE, T0)
