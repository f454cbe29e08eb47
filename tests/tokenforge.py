"""Hand-made hostile tokens for the token and gate tests (forged without going through gate.tokens)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate import tokens


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def claims(typ: str, sub: str, *, issuer: str, now: float, ttl: int = 600, **extra: Any) -> dict[str, Any]:
    now = int(now)
    payload = {"iss": issuer, "aud": issuer, "sub": sub, "typ": typ, "jti": tokens.new_jti(),
               "iat": now, "nbf": now, "exp": now + ttl}
    payload.update(extra)
    return payload


def alg_none(payload: dict[str, Any], kid: str) -> str:
    return f"{segment({'alg': 'none', 'kid': kid, 'typ': 'JWT'})}.{segment(payload)}."


def hs256_with_public_key(payload: dict[str, Any], ring: tokens.Keyring) -> str:
    """The classic confusion attack: HMAC keyed with the published public key."""
    secret = json.dumps(ring.jwks()["keys"][0]).encode()
    head = f"{segment({'alg': 'HS256', 'kid': ring.current, 'typ': 'JWT'})}.{segment(payload)}"
    return f"{head}.{b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())}"


def signed_by_stranger(payload: dict[str, Any], kid: str) -> str:
    """A well-formed EdDSA token signed by a key that is not ours, claiming one of our kids."""
    head = f"{segment({'alg': 'EdDSA', 'kid': kid, 'typ': 'JWT'})}.{segment(payload)}"
    return f"{head}.{b64(Ed25519PrivateKey.generate().sign(head.encode()))}"


def tampered(token: str, **changes: Any) -> str:
    """Keep the header and signature, change the payload."""
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    return f"{head}.{segment(payload)}.{sig}"


def with_header(ring: tokens.Keyring, payload: dict[str, Any], header: dict[str, Any]) -> str:
    """Properly signed with our current key, but with the given header."""
    head = f"{segment(header)}.{segment(payload)}"
    return f"{head}.{b64(ring.signing_key.private.sign(head.encode()))}"
