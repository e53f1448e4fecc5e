"""Pure webhook rules: Standard Webhooks signatures, rotation, address checks, URLs, retries."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta

import pytest

from crm_common.auth import Principal
from crm_common.errors import BadUserInput, Forbidden
from crm_engagement.domain.webhook import (
    RetryPolicy,
    SigningSecret,
    address_allowed,
    new_secret,
    parse_endpoint_url,
    retryable,
    rotated,
    secret_key,
    sign,
    signature_header,
    validate_event_types,
    verify,
    webhook_headers,
)
from crm_engagement.service.webhooks import (
    RegisterCommand,
    WebhookService,
    WebhookSettings,
    check_destination,
    cloud_event_json,
    delivery_id,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

# The Standard Webhooks specification's reference vector (also in Svix's libraries).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_standard_webhooks_reference_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    assert verify(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, VECTOR_SIGNATURE)


def test_a_changed_body_id_or_timestamp_does_not_verify() -> None:
    assert not verify(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, b'{"test": 1}', VECTOR_SIGNATURE)
    assert not verify(VECTOR_SECRET, "msg_other", VECTOR_TIMESTAMP, VECTOR_BODY, VECTOR_SIGNATURE)
    assert not verify(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP + 1, VECTOR_BODY, VECTOR_SIGNATURE)


def test_new_secrets_are_whsec_base64_of_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32
    assert base64.b64encode(secret_key(first)).decode() == first.removeprefix("whsec_")


def test_during_rotation_both_secrets_sign_space_separated() -> None:
    old, new = new_secret(), new_secret()
    header = signature_header([new, old], "msg_1", 1700000000, b"{}")
    parts = header.split(" ")
    assert len(parts) == 2 and all(p.startswith("v1,") for p in parts)
    assert verify(old, "msg_1", 1700000000, b"{}", header)
    assert verify(new, "msg_1", 1700000000, b"{}", header)
    headers = webhook_headers([new], "msg_1", 1700000000, b"{}")
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}


def test_rotation_keeps_the_old_secret_for_the_grace_period_only() -> None:
    first = SigningSecret("whsec_" + base64.b64encode(b"a" * 32).decode(), NOW)
    secrets = rotated((first,), "whsec_bmV3", NOW, timedelta(hours=24))
    assert [s.secret for s in secrets] == ["whsec_bmV3", first.secret]
    assert secrets[1].expires_at == NOW + timedelta(hours=24)
    later = NOW + timedelta(hours=25)
    assert [s.secret for s in secrets if s.live(later)] == ["whsec_bmV3"]
    # A second rotation within the grace keeps the first old secret's earlier expiry.
    again = rotated(secrets, "whsec_dGhpcmQ=", NOW + timedelta(hours=1), timedelta(hours=48))
    assert again[2].expires_at == NOW + timedelta(hours=24)
    # Without grace the old secret stops at once.
    assert [s.secret for s in rotated((first,), "whsec_bmV3", NOW, timedelta(0))] == ["whsec_bmV3"]


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.215.14", True),
        ("2606:4700::6810:84e5", True),
        ("127.0.0.1", False),
        ("127.8.8.8", False),
        ("::1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("100.64.0.1", False),  # shared address space (carrier NAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("not-an-ip", False),
    ],
)
def test_only_public_unicast_addresses_are_allowed(address: str, allowed: bool) -> None:
    assert address_allowed(address) is allowed


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "example.com/hook",
        "https://",
        "https://user:pw@example.com/hook",
        "https://example.com/hook#frag",
        "https://example.com:99999/",
        "https://exa mple.com/",
        "https://example.com/\x00x",
        "",
        "https://example.com/" + "a" * 2100,
    ],
)
def test_bad_urls_are_refused_naming_the_field(url: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        parse_endpoint_url(url)
    assert raised.value.field == "input.url"


def test_good_urls_parse_with_default_ports() -> None:
    assert parse_endpoint_url("https://example.com/hook").port == 443
    assert parse_endpoint_url("http://example.com:8080/x?y=1").port == 8080


def test_event_types_must_be_known() -> None:
    known = ["crm.customer.created", "crm.quoting.quote_sent"]
    assert validate_event_types(["crm.customer.created"] * 2, known) == ("crm.customer.created",)
    assert validate_event_types([], known) == ()
    with pytest.raises(BadUserInput) as raised:
        validate_event_types(["crm.customer.nope"], known)
    assert raised.value.field == "input.eventTypes"


class _Resolver:
    def __init__(self, addresses: dict[str, list[str]]) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int) -> list[str]:
        if host not in self.addresses:
            raise OSError("no such host")
        return self.addresses[host]


async def test_destination_check_refuses_private_resolutions_unless_allowed() -> None:
    resolver = _Resolver(
        {
            "partner.example": ["93.184.215.14"],
            "rebind.example": ["93.184.215.14", "127.0.0.1"],
            "internal.example": ["10.0.0.7"],
            "127.0.0.1": ["127.0.0.1"],
        }
    )
    await check_destination("https://partner.example/h", resolver, allow_private=False)
    for url in ("https://rebind.example/h", "http://internal.example/h", "http://127.0.0.1:8/h"):
        with pytest.raises(BadUserInput) as raised:
            await check_destination(url, resolver, allow_private=False)
        assert raised.value.field == "input.url"
        assert raised.value.details["setting"] == "WEBHOOKS_ALLOW_PRIVATE_NETWORKS"
    with pytest.raises(BadUserInput, match="does not resolve"):
        await check_destination("https://nowhere.example/h", resolver, allow_private=False)
    await check_destination("http://internal.example/h", resolver, allow_private=True)


async def test_only_admins_may_register() -> None:
    rep = Principal(user_id="u", tenant_id="t", roles=frozenset({"sales_rep"}))
    service = WebhookService(
        rep,
        repository=None,  # type: ignore[arg-type]  # refused before any storage
        resolver=_Resolver({}),
        settings=WebhookSettings(),
        wake_sender=lambda: None,
        known_event_types=lambda: [],
    )
    with pytest.raises(Forbidden):
        await service.register(RegisterCommand(url="https://partner.example/h"))


def test_retry_delays_grow_with_full_jitter_and_stop_after_the_window() -> None:
    policy = RetryPolicy(base_s=5, max_delay_s=3600, window_s=24 * 3600)
    rnd = random.Random(7)
    for n in range(1, 30):
        ceiling = min(3600, 5 * 2 ** (n - 1))
        delays = [policy.next_delay_s(n, rnd) for _ in range(50)]
        assert all(0 <= d <= ceiling for d in delays)
    assert not policy.gives_up(NOW, NOW + timedelta(hours=23, minutes=59))
    assert policy.gives_up(NOW, NOW + timedelta(hours=24))
    assert retryable(500) and retryable(None) and retryable(429) and not retryable(410)


def test_delivery_ids_are_stable_per_event_and_endpoint() -> None:
    assert delivery_id("e1", "p1") == delivery_id("e1", "p1")
    assert delivery_id("e1", "p1") != delivery_id("e1", "p2")
    assert delivery_id("e1", "p1") != delivery_id("e2", "p1")


def test_the_body_is_the_cloud_event_in_structured_json() -> None:
    from crm_common.events.envelope import CloudEvent

    event = CloudEvent(
        id="e1",
        type="crm.customer.created",
        source="crm/customer",
        time=NOW,
        tenant_id="t1",
        key="c1",
        data={"customer_id": "c1", "name": "Ünïcode"},
    )
    body = cloud_event_json(event)
    assert body.startswith('{"specversion":"1.0","id":"e1","type":"crm.customer.created"')
    assert '"time":"2026-12-04T12:00:00Z"' in body and '"tenantid":"t1"' in body
    assert '"data":{"customer_id":"c1","name":"Ünïcode"}' in body
