"""Settings every service reads from the environment (pydantic-settings).

Defaults are the embedded local stack started by `make run`; every value can be overridden
with an environment variable of the same name (``MONGODB_URI``, ``KAFKA_BOOTSTRAP_SERVERS``...).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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


class ServiceSettings(AuthSettings):
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
    outbox_poll_interval_s: float = 0.5
    log_level: str = "INFO"
    max_request_bytes: int = 1_048_576

    @property
    def database_name(self) -> str:
        return self.mongodb_database or f"crm_{self.service_name.replace('-', '_')}"
