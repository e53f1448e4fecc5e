"""Upper bounds of the few reads that must load a whole set rather than a page.

Lists that clients browse are Relay connections (`crm_common.pagination`). Where a use case
genuinely needs a whole set in memory -- the ids of the customers a rep sees (there is no
``$lookup`` on FerretDB), a tenant's solution library that needs matching, the customers on a
map -- the set is bounded, and going past the bound is a clear ``BAD_USER_INPUT`` error that
names the limit, its setting and what to do; it is never cut silently. Every bound is an
environment setting (``CRM_MAX_...``) so an operator can raise it and a test can lower it.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_common.errors import BadUserInput


class ListLimits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    # Customers whose records a user who does not see the whole tenant may see (their own or
    # their team's): service desk and engagement filter by these ids.
    max_visible_customers: int = 5000
    # Solutions in a tenant's library, and catalogue items listed at once.
    max_catalogue_entries: int = 1000
    # Survey templates of a tenant.
    max_survey_templates: int = 200
    # Customers answered by one map (bounding box) query.
    max_map_customers: int = 2000
    # Possible duplicates answered by one duplicate check.
    max_duplicate_candidates: int = 20
    # Customers a report filtered by customer attributes (type, region...) may span.
    max_report_customers: int = 100_000


@lru_cache(maxsize=1)
def list_limits() -> ListLimits:
    """The limits, read once per process (tests: set the env, then `list_limits.cache_clear`)."""
    return ListLimits()


class LimitExceeded(BadUserInput):
    """A bounded set is larger than its limit: the answer would have been incomplete."""

    def __init__(
        self, what: str, limit: int, setting: str, remedy: str, *, field: str | None = None
    ) -> None:
        super().__init__(
            f"{what} exceed the limit of {limit} ({setting}); {remedy}",
            field=field,
            limit=limit,
            setting=setting,
        )


def check_limit(
    count: int, limit: int, what: str, setting: str, remedy: str, *, field: str | None = None
) -> None:
    """Raise `LimitExceeded` when ``count`` (read with ``limit + 1``) went past ``limit``."""
    if count > limit:
        raise LimitExceeded(what, limit, setting, remedy, field=field)
