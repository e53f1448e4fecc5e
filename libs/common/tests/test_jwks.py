"""RS256 tokens verified with keys fetched from a JWKS URL (a real identity provider's way)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from crm_common.auth import AuthError, TokenVerifier
from crm_common.settings import AuthSettings


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def _token(key: rsa.RSAPrivateKey, **overrides: object) -> str:
    now = int(time.time())
    claims = {
        "sub": "u1",
        "tenant": "acme",
        "roles": ["admin"],
        "iss": "https://idp.example",
        "aud": "crm",
        "iat": now,
        "exp": now + 60,
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


async def test_rs256_token_from_jwks(jwks_url: str, signing_key: rsa.RSAPrivateKey) -> None:
    verifier = TokenVerifier(AuthSettings(jwks_url=jwks_url, jwt_issuer="https://idp.example"))
    principal = await verifier.verify_header_async(f"Bearer {_token(signing_key)}")
    assert (principal.tenant_id, principal.user_id) == ("acme", "u1")


async def test_rs256_rejects_other_keys_and_hs256(jwks_url: str) -> None:
    verifier = TokenVerifier(AuthSettings(jwks_url=jwks_url, jwt_issuer="https://idp.example"))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthError):
        await verifier.verify_header_async(f"Bearer {_token(stranger)}")
    hs = jwt.encode({"sub": "u", "tenant": "t"}, "secret-secret-secret-secret-secret!", "HS256")
    with pytest.raises(AuthError):
        await verifier.verify_header_async(f"Bearer {hs}")
