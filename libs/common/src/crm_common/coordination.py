"""How replicas of one service coordinate without a lock service (docs/architecture.md, "Replicas").

Two primitives, both built only on what MongoDB *and* FerretDB 1.24 do atomically — a unique
``_id`` — because FerretDB applies every update as a read-modify-write that a second connection
can silently overwrite:

- `Lease`: one holder per named job at a time. Time is cut into slots of ``slot_s`` seconds and
  a slot is claimed by inserting the document ``{_id: "<name>:<slot>"}``; the insert that
  loses gets a duplicate-key error. The holder claims the *next* slot half-way through the
  current one, so it keeps the lease while it lives; when it dies, its last claimed slot runs
  out and another replica takes the one after (failover within two slots). Clock skew between
  replicas can at worst make two of them hold adjacent slots for a moment: the jobs behind a
  lease must therefore be idempotent (a duplicate, never a double effect).
- `deterministic_event_id`: the same id for the same fact (a follow-up's due reminder, a quote's
  expiry), so when two replicas both announce it during a lease handover the outbox keeps one
  (event documents are keyed by id) and consumers, which record processed ids, apply one.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.clock import utc_now
from crm_common.mongo import Document

log = logging.getLogger(__name__)

LEASES_COLLECTION = "leases"

#: This process, as it signs leases and outbox entries: unique across hosts, restarts and pids.
PROCESS_ID = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

_EVENT_NAMESPACE = uuid.UUID("6f1c2f64-52b4-4f0e-9a59-3c1e1f7e2a10")


def deterministic_event_id(*parts: str) -> str:
    """A UUID derived from the parts: the same fact always gets the same event id."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, "\x1f".join(parts)))


class Lease:
    """A named lease held by at most one process per time slot (see the module docstring)."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        name: str,
        holder: str = PROCESS_ID,
        slot_s: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
        keep_slots: int = 30,
    ) -> None:
        if slot_s <= 0:
            raise ValueError("slot_s must be positive")
        self._collection = db[LEASES_COLLECTION]
        self.name = name
        self.holder = holder
        self._slot_s = slot_s
        self._clock = clock
        self._keep = keep_slots
        self._owned: set[int] = set()

    def _slot(self, offset_s: float = 0.0) -> int:
        return int((self._clock().timestamp() + offset_s) // self._slot_s)

    def _slot_id(self, slot: int) -> str:
        return f"{self.name}:{slot}"

    async def held(self) -> bool:
        """True while this process holds the lease; claims free slots on the way."""
        current = self._slot()
        holds_now = await self._claim(current)
        if holds_now and self._slot(self._slot_s / 2) > current:
            # Past the half of our slot: take the next one before anyone else starts trying.
            await self._claim(current + 1)
        return holds_now

    async def release(self) -> None:
        """Give up the slots claimed ahead (on shutdown), so another replica takes over at once."""
        current = self._slot()
        for slot in sorted(self._owned):
            if slot > current:
                await self._collection.delete_one(
                    {"_id": self._slot_id(slot), "holder": self.holder}
                )
        self._owned.clear()

    async def _claim(self, slot: int) -> bool:
        if slot in self._owned:
            return True
        try:
            await self._collection.insert_one(
                {
                    "_id": self._slot_id(slot),
                    "lease": self.name,
                    "slot": slot,
                    "holder": self.holder,
                    "claimed_at": self._clock(),
                }
            )
        except DuplicateKeyError:
            doc = await self._collection.find_one({"_id": self._slot_id(slot)}, {"holder": 1})
            if doc is None or doc.get("holder") != self.holder:
                return False
        self._owned.add(slot)
        await self._forget_old(slot)
        return True

    async def _forget_old(self, slot: int) -> None:
        # Point deletes only (FerretDB serves `_id` equality; ranges are full scans).
        old = slot - self._keep
        self._owned = {s for s in self._owned if s > old}
        await self._collection.delete_one({"_id": self._slot_id(old)})
