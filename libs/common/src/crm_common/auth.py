"""Authentication: JWT verification and the principal a request acts as.

Two ways to verify: HS256 with a shared secret (a dev key is generated on first run under
``var/``), or RS256 with keys fetched from a JWKS URL (a real identity provider).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jwt

from crm_common.permissions import DEFAULT_MATRIX
from crm_common.permissions import Role as Role  # re-exported: roles live with the matrix
from crm_common.settings import AuthSettings, repo_var_dir


class AuthError(Exception):
    """The token is missing, malformed, expired or signed by someone else."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for. Every service call carries one; every query is scoped by it."""

    user_id: str
    tenant_id: str
    name: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    team: str | None = None
    # The `email` claim when the token carries one (notification e-mails are sent there).
    email: str | None = None
    # The token's `exp` (seconds since the epoch): a subscription ends when it passes.
    expires_at: float | None = field(default=None, compare=False)
    # What each role may do in the tenant (role -> permissions, crm_common.permissions),
    # resolved per request from the tenant's settings (`TenantZones.authorize`); None: the
    # default matrix (background work, tests).
    role_grants: Mapping[str, frozenset[str]] | None = field(default=None, compare=False)

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    def _grants_of(self, role: str) -> frozenset[str]:
        grants = self.role_grants if self.role_grants is not None else DEFAULT_MATRIX
        return grants.get(role, frozenset())

    def held_permissions(self) -> frozenset[str]:
        """Everything the principal's roles may do in its tenant."""
        held: set[str] = set()
        for role in self.roles:
            held |= self._grants_of(role)
        return frozenset(held)

    def may(self, permission: str) -> bool:
        """Whether any of the principal's roles holds ``permission`` ("module:action")."""
        return any(permission in self._grants_of(role) for role in self.roles)

    def roles_holding(self, permission: str) -> frozenset[str]:
        return frozenset(r for r in self.roles if permission in self._grants_of(r))

    def acting_as(self, roles: Iterable[str]) -> Principal:
        """The principal with only ``roles``: a permission acts within the visibility of the
        roles that hold it (a sales rep who is also an analyst writes their own customers,
        not every customer the analyst role reads)."""
        return replace(self, roles=frozenset(roles))

    def for_permission(self, permission: str) -> Principal:
        """`acting_as` the roles holding ``permission``."""
        return self.acting_as(self.roles_holding(permission))

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles


def dev_secret_path() -> Path:
    return repo_var_dir() / "dev-jwt-secret"


def load_or_create_dev_secret(path: Path | None = None) -> str:
    """The local HS256 key: created once (random, 0600) and reused by every process."""
    path = path or dev_secret_path()
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # A temporary name of this process's own: replicas starting together each write theirs
    # (a shared name let one process unlink the file another was about to link: a crash).
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret)
    try:
        # link() fails if another process won the race; then we read theirs.
        path.hardlink_to(tmp)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


class TokenVerifier:
    """Verifies bearer tokens and turns their claims into a `Principal`."""

    def __init__(self, settings: AuthSettings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._jwks: jwt.PyJWKClient | None = None
        self._secret: str | None = None
        if settings.jwks_url:
            self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)
        else:
            self._secret = settings.jwt_secret or load_or_create_dev_secret(
                settings.jwt_secret_file
            )

    @property
    def secret(self) -> str | None:
        return self._secret

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256"]
            else:
                key = self._secret
                algorithms = ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["sub", "exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        return principal_from_claims(claims)

    async def verify_header_async(self, authorization: str | None) -> Principal:
        """Like `verify_header`; a JWKS key fetch (blocking urllib) runs off the event loop."""
        if self._jwks is None:
            return self.verify_header(authorization)
        return await asyncio.to_thread(self.verify_header, authorization)

    def verify_header(self, authorization: str | None) -> Principal:
        if not authorization:
            raise AuthError("missing bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("the Authorization header must be 'Bearer <token>'")
        return self.verify(token.strip())


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    tenant = claims.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise AuthError("token has no tenant")
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AuthError("token roles must be a list of strings")
    team = claims.get("team")
    email = claims.get("email")
    return Principal(
        user_id=str(claims["sub"]),
        tenant_id=tenant,
        name=str(claims.get("name") or claims["sub"]),
        roles=frozenset(roles),
        team=team if isinstance(team, str) else None,
        email=email if isinstance(email, str) and "@" in email else None,
        expires_at=float(claims["exp"]) if isinstance(claims.get("exp"), int | float) else None,
    )


def issue_dev_token(
    secret: str,
    *,
    tenant: str,
    roles: list[str],
    user_id: str = "dev-user",
    name: str | None = None,
    team: str | None = None,
    email: str | None = None,
    issuer: str = "crm-dev",
    audience: str = "crm",
    ttl_s: int = 8 * 3600,
) -> str:
    """A signed HS256 token for local use (`make token`) and tests."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "name": name or user_id,
        "tenant": tenant,
        "roles": roles,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_s,
    }
    if team:
        claims["team"] = team
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm="HS256")
