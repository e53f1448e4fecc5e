"""Print a signed development token: ``make token TENANT=acme ROLE=admin``."""

from __future__ import annotations

import argparse

from crm_common.auth import Role, issue_dev_token, load_or_create_dev_secret
from crm_common.settings import AuthSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant", default="acme")
    parser.add_argument(
        "--role",
        default="admin",
        help="comma-separated: " + ", ".join(r.value for r in Role),
    )
    parser.add_argument("--user", default=None, help="user id (default: <role>@<tenant>)")
    parser.add_argument("--team", default=None)
    parser.add_argument("--email", default=None, help="e-mail address (the `email` claim)")
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    args = parser.parse_args()
    roles = [r.strip() for r in args.role.split(",") if r.strip()]
    unknown = [r for r in roles if r not in {role.value for role in Role}]
    if unknown:
        parser.error(f"unknown role(s): {', '.join(unknown)}")
    settings = AuthSettings()
    secret = settings.jwt_secret or load_or_create_dev_secret(settings.jwt_secret_file)
    print(
        issue_dev_token(
            secret,
            tenant=args.tenant,
            roles=roles,
            user_id=args.user or f"{roles[0]}@{args.tenant}",
            team=args.team,
            email=args.email,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_s=args.ttl,
        )
    )


if __name__ == "__main__":
    main()
