from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crm_common.auth import (
    AuthError,
    TokenVerifier,
    issue_dev_token,
    load_or_create_dev_secret,
)
from crm_common.events.contracts.customer import CustomerCreated
from crm_common.events.envelope import CloudEvent, MalformedEvent
from crm_common.settings import AuthSettings


def _event() -> CloudEvent:
    payload = CustomerCreated(
        customer_id="c1",
        number="CUS20261123001",
        name="Acme",
        status="PENDING_REVIEW",
        owner_id="u1",
        created_at=datetime(2026, 11, 23, tzinfo=UTC),
    )
    return CloudEvent.new(
        payload,
        source="crm/customer",
        tenant_id="acme",
        key="c1",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )


def test_binary_mode_round_trip() -> None:
    event = _event()
    headers = event.headers()
    names = {k for k, _ in headers}
    assert {
        "ce_id",
        "ce_type",
        "ce_source",
        "ce_time",
        "ce_specversion",
        "ce_tenantid",
        "traceparent",
    } <= names
    decoded = CloudEvent.from_record(b"c1", event.body(), headers)
    assert decoded.id == event.id and decoded.tenant_id == "acme" and decoded.key == "c1"
    assert decoded.parse() == CustomerCreated.model_validate(event.data)


def test_outbox_document_round_trip() -> None:
    event = _event()
    assert CloudEvent.from_document(event.to_document()) == event


def test_malformed_records_are_rejected() -> None:
    event = _event()
    with pytest.raises(MalformedEvent):
        CloudEvent.from_record(b"c1", b"{}", [("ce_id", b"1")])
    with pytest.raises(MalformedEvent):
        CloudEvent.from_record(b"c1", b"not json", event.headers())
    wrong_body = CloudEvent.from_record(b"c1", b'{"customer_id": 1}', event.headers())
    with pytest.raises(MalformedEvent):
        wrong_body.parse()


def test_tokens_verify_and_carry_the_principal(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    verifier = TokenVerifier(AuthSettings(jwt_secret_file=secret_file))
    secret = load_or_create_dev_secret(secret_file)
    assert secret_file.stat().st_mode & 0o777 == 0o600
    token = issue_dev_token(secret, tenant="acme", roles=["sales_rep"], user_id="u1", team="n")
    principal = verifier.verify_header(f"Bearer {token}")
    assert (principal.tenant_id, principal.user_id, principal.team) == ("acme", "u1", "n")
    assert principal.has_role("sales_rep") and not principal.is_admin


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic abc", "Bearer ", "Bearer not-a-jwt"],
)
def test_bad_headers_fail(tmp_path: Path, header: str | None) -> None:
    verifier = TokenVerifier(AuthSettings(jwt_secret_file=tmp_path / "s"))
    with pytest.raises(AuthError):
        verifier.verify_header(header)


def test_foreign_and_expired_tokens_fail(tmp_path: Path) -> None:
    verifier = TokenVerifier(AuthSettings(jwt_secret_file=tmp_path / "s"))
    forged = issue_dev_token("another-secret-of-sufficient-length!", tenant="a", roles=["admin"])
    with pytest.raises(AuthError):
        verifier.verify(forged)
    secret = load_or_create_dev_secret(tmp_path / "s")
    expired = issue_dev_token(secret, tenant="a", roles=["admin"], ttl_s=-10)
    with pytest.raises(AuthError):
        verifier.verify(expired)
    no_tenant = issue_dev_token(secret, tenant="", roles=["admin"])
    with pytest.raises(AuthError):
        verifier.verify(no_tenant)
