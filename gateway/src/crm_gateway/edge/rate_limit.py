"""Per-user and per-tenant token buckets (per worker process), keyed by the verified JWT.

A request is admitted only if both its user's bucket and its tenant's bucket hold a token;
then one is taken from each. Otherwise nothing is taken and the caller learns how long to
wait. Buckets are kept in a bounded LRU: a bucket evicted after long idleness is simply full
again, which is what an idle bucket would be anyway.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_BUCKETS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Buckets of ``burst`` tokens refilled at ``rate`` per second; rate 0 = unlimited."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._max = max_buckets
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets.move_to_end(key)
        return bucket

    def wait_s(self, key: str, tokens: float = 1.0) -> float:
        """Seconds until ``tokens`` are available (0 = now); takes nothing."""
        if not self.enabled:
            return 0.0
        bucket = self._bucket(key, self._clock())
        missing = min(tokens, self.burst) - bucket.tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, key: str, tokens: float = 1.0) -> None:
        if self.enabled:
            bucket = self._bucket(key, self._clock())
            bucket.tokens = max(0.0, bucket.tokens - tokens)


@dataclass(frozen=True, slots=True)
class Rejection:
    retry_after_s: int
    limit: str  # the setting that tripped


class RateLimiter:
    """Both limits together: ``admit`` takes from both buckets or from neither."""

    def __init__(self, user: TokenBuckets, tenant: TokenBuckets) -> None:
        self.user = user
        self.tenant = tenant

    @property
    def enabled(self) -> bool:
        return self.user.enabled or self.tenant.enabled

    def admit(self, tenant_id: str, user_id: str, tokens: float = 1.0) -> Rejection | None:
        user_key = f"{tenant_id}\x00{user_id}"
        user_wait = self.user.wait_s(user_key, tokens)
        tenant_wait = self.tenant.wait_s(tenant_id, tokens)
        if user_wait > 0 or tenant_wait > 0:
            limit = "rate_limit_user_rps" if user_wait >= tenant_wait else "rate_limit_tenant_rps"
            return Rejection(max(1, math.ceil(max(user_wait, tenant_wait))), limit)
        self.user.take(user_key, tokens)
        self.tenant.take(tenant_id, tokens)
        return None
