"""Settings every service reads from the environment (pydantic-settings).

Defaults are the embedded local stack started by `make run`; every value can be overridden
with an environment variable of the same name (``MONGODB_URI``, ``KAFKA_BOOTSTRAP_SERVERS``...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def repo_var_dir() -> Path:
    """The local state directory (`var/` at the repository root, or ``CRM_VAR_DIR``)."""
    import os

    configured = os.environ.get("CRM_VAR_DIR")
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "uv.lock").exists():
            return parent / "var"
    return Path.cwd() / "var"


class AuthSettings(BaseSettings):
    """How tokens are verified: HS256 with a shared secret, or RS256 keys from a JWKS URL."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    jwt_secret: str | None = Field(default=None, description="HS256 secret; dev key file if unset")
    jwt_secret_file: Path | None = Field(default=None, description="where the dev HS256 key lives")
    jwks_url: str | None = Field(default=None, description="RS256 keys of a real identity provider")
    jwt_issuer: str = "crm-dev"
    jwt_audience: str = "crm"


class EmailSettings(BaseSettings):
    """Outgoing e-mail (crm_common.email) and the links e-mails and answers carry.

    The defaults are the local Mailpit of `make run` (scripts/infra.sh); Helm passes a real
    server's settings and the password from a Secret.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "CRM <crm@crm.local>"
    # none: plain SMTP (local Mailpit); starttls: upgrade on the submission port (587);
    # tls: implicit TLS (465).
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout_s: float = 30.0
    # Each process runs one sender (crm_common.email.sender) unless this is false.
    email_sender_enabled: bool = True
    # The safety sweep for retries due, stale claims and deliveries no signal announced.
    email_sweep_interval_s: float = 5.0
    email_max_attempts: int = 10
    email_retry_base_s: float = 2.0
    email_retry_cap_s: float = 600.0
    # Every URL the suite hands out (survey links, file downloads) starts with this: the
    # gateway's public address (scripts/stack.py passes the local gateway's).
    public_base_url: str = "http://127.0.0.1:4000"
    # Where a recipient's address comes from when a record is e-mailed to a customer's primary
    # contact: the customer subgraph (comma-separated replica URLs, tried in turn).
    customer_graphql_urls: str = "http://127.0.0.1:4001/graphql"

    @property
    def customer_graphql_url_list(self) -> list[str]:
        return [u.strip() for u in self.customer_graphql_urls.split(",") if u.strip()]

    def public_url(self, path: str) -> str:
        return self.public_base_url.rstrip("/") + "/" + path.lstrip("/")


class ServiceSettings(AuthSettings, EmailSettings):
    """Settings of one subgraph service."""

    service_name: str = "crm"
    host: str = "127.0.0.1"
    port: int = 8000
    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    mongodb_database: str | None = None
    # 1 on the local FerretDB (see crm_common.mongo.create_client); MongoDB needs no limit.
    mongodb_max_pool_size: int = 100
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_consumer_enabled: bool = True
    # The live feed of subscriptions (crm_common.live): how long the broker may hold an empty
    # fetch (a long poll: it answers as soon as an event arrives, so this costs no latency;
    # measured p50 21 ms at 10, 22 ms at 500, idle CPU 0.05 vs 0.01 cores per process:
    # docs/benchmarks.md), and how many events a subscriber may fall behind.
    live_fetch_max_wait_ms: int = 500
    live_max_queued: int = 100
    live_max_listeners: int = 10_000
    # A safety net only: a local write wakes the relay at once (OutboxSignal).
    outbox_poll_interval_s: float = 2.0
    # How long a process trusts its cached copy of a tenant's settings (time zone, role
    # permissions: crm_common.tenants.TenantZones); the staleness bound of a settings change.
    tenant_settings_cache_ttl_s: float = 30.0
    log_level: str = "INFO"
    max_request_bytes: int = 1_048_576

    @property
    def database_name(self) -> str:
        return self.mongodb_database or f"crm_{self.service_name.replace('-', '_')}"
