"""The token contract: Ed25519 signing keys, the public JWKS, rotation, and issue/verify per token kind.

Everything that signs or accepts a token goes through this module, so the rules live in one place
(documented in docs/tokens.md):

- keys are Ed25519 JWKs named by their RFC 7638 thumbprint (``kid``); the private key set is written
  with mode 0600 and never served; the public set is ``jwks.json``;
- ``rotate`` makes a new key current and keeps the previous one valid for verification during a grace
  period, after which it is ignored and then dropped;
- verification pins the algorithm to EdDSA, picks the key by ``kid`` and checks ``iss``, ``aud``,
  ``exp``, ``nbf``, ``iat`` (with a small leeway) and ``typ``, so a token of one kind is never accepted
  as another.

Time is always a parameter (``now``, seconds since the epoch) so tests drive the clock instead of
sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from gate.files import write_atomic
from gate.store import parse_utc_text, utc_text

#: The kinds of token; the ``typ`` claim says which one a token is.
INVITATION = "invitation"
MAGIC = "magic"
SESSION = "session"
#: The one-click unsubscribe of an alert e-mail: for one member and one community only.
UNSUBSCRIBE = "unsubscribe"
KINDS = (INVITATION, MAGIC, SESSION, UNSUBSCRIBE)
#: Kinds that always name their community (``com``).
SCOPED = (INVITATION, UNSUBSCRIBE)

ALGORITHM = "EdDSA"
#: Clock skew tolerated on ``exp``, ``nbf`` and ``iat`` (seconds).
LEEWAY = 30
#: Default lifetimes (seconds).
INVITATION_TTL = 7 * 86400
MAGIC_TTL = 15 * 60
SESSION_TTL = 8 * 3600
#: An unsubscribe link works long after its e-mail arrived (people unsubscribe from old mail).
UNSUBSCRIBE_TTL = 400 * 86400
#: How long a key replaced by ``rotate`` still verifies tokens.
GRACE = 7 * 86400
#: Longer tokens are refused before any parsing (cookies are limited to about 4 KB anyway).
MAX_TOKEN_LENGTH = 4096

PRIVATE_FILE = "keys.json"
PUBLIC_FILE = "jwks.json"
_REQUIRED = ("iss", "aud", "sub", "typ", "jti", "iat", "nbf", "exp")


class TokenError(Exception):
    """A token was refused; the message says why (for logs, never shown to the visitor)."""


class KeysError(Exception):
    """The key directory is missing, unreadable or malformed."""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2), as JOSE writes it: thumbprints, PKCE, sealed cookies."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """The bytes of an unpadded base64url text; ValueError (binascii.Error) when it is not one."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def time_claims_problem(claims: Mapping[str, Any], now: float, *, leeway: float = LEEWAY,
                        required: tuple[str, ...] = ("iat", "nbf", "exp"), whole_seconds: bool = True) -> str | None:
    """Why a token's time claims refuse it at ``now``, or None when they admit it.

    The one reading of ``exp``, ``nbf`` and ``iat`` (RFC 7519 §4.1), for our tokens and for a provider's
    ID tokens alike: expired when ``exp <= now - leeway``; not yet valid when ``nbf > now + leeway``;
    issued in the future when ``iat > now + leeway``. A claim in ``required`` must be present; any of
    the three, present, must be a number (an integer when ``whole_seconds``; never a boolean).
    """
    number = (int,) if whole_seconds else (int, float)
    for name in ("iat", "nbf", "exp"):
        if name not in claims:
            if name in required:
                return f"has no {name} claim"
            continue
        value = claims[name]
        if not isinstance(value, number) or isinstance(value, bool):
            return f"claim {name} is not {'an integer' if whole_seconds else 'a number'}"
    if "exp" in claims and claims["exp"] <= now - leeway:
        return "expired"
    if "nbf" in claims and claims["nbf"] > now + leeway:
        return "not yet valid"
    if "iat" in claims and claims["iat"] > now + leeway:
        return "issued in the future"
    return None


def thumbprint(public_jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint of an OKP key: SHA-256 over its required members, sorted, no whitespace."""
    canonical = json.dumps(
        {"crv": public_jwk["crv"], "kty": public_jwk["kty"], "x": public_jwk["x"]},
        separators=(",", ":"),
        sort_keys=True,
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 key of the set; ``retires`` is when it stops verifying (None: current or kept)."""

    kid: str
    private: Ed25519PrivateKey | None
    public: Ed25519PublicKey
    created: float
    retires: float | None = None

    def public_jwk(self) -> dict[str, str]:
        jwk = OKPAlgorithm.to_jwk(self.public, as_dict=True)
        return {"kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"], "kid": self.kid, "use": "sig", "alg": ALGORITHM}

    def valid_at(self, now: float) -> bool:
        return self.retires is None or now < self.retires


def new_key(now: float | None = None) -> SigningKey:
    """A fresh Ed25519 key named by its thumbprint."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    return SigningKey(kid=thumbprint(jwk), private=private, public=public,
                      created=time.time() if now is None else now)


@dataclass
class Keyring:
    """The key set: one current signing key plus previous keys still inside their grace period."""

    current: str
    keys: dict[str, SigningKey] = field(default_factory=dict)

    @property
    def signing_key(self) -> SigningKey:
        return self.keys[self.current]

    def verification_key(self, kid: str, now: float) -> SigningKey | None:
        key = self.keys.get(kid)
        return key if key is not None and key.valid_at(now) else None

    def jwks(self, now: float | None = None) -> dict[str, list[dict[str, str]]]:
        """The public key set to publish: keys that still verify at ``now``, current first."""
        now = time.time() if now is None else now
        ordered = sorted(self.keys.values(), key=lambda k: (k.kid != self.current, -k.created))
        return {"keys": [k.public_jwk() for k in ordered if k.valid_at(now)]}

    # -- files -----------------------------------------------------------------------------------

    def to_private_json(self) -> dict[str, Any]:
        entries = []
        for key in self.keys.values():
            if key.private is None:
                raise KeysError(f"key {key.kid} has no private part; cannot write the private key set")
            jwk = json.loads(OKPAlgorithm.to_jwk(key.private))
            jwk.update({"kid": key.kid, "use": "sig", "alg": ALGORITHM})
            entries.append({"kid": key.kid, "created": _iso(key.created), "retires": _iso(key.retires), "jwk": jwk})
        return {"format": 1, "current": self.current, "keys": entries}

    @classmethod
    def from_private_json(cls, data: Mapping[str, Any], source: str = "keys.json") -> Keyring:
        try:
            if data.get("format") != 1:
                raise KeysError(f"{source}: unknown format {data.get('format')!r}")
            keys: dict[str, SigningKey] = {}
            for entry in data["keys"]:
                private = OKPAlgorithm.from_jwk(entry["jwk"])
                if not isinstance(private, Ed25519PrivateKey):
                    raise KeysError(f"{source}: key {entry.get('kid')!r} is not an Ed25519 private key")
                public = private.public_key()
                kid = thumbprint(OKPAlgorithm.to_jwk(public, as_dict=True))
                if kid != entry["kid"]:
                    raise KeysError(f"{source}: kid {entry['kid']!r} does not match its key ({kid})")
                keys[kid] = SigningKey(kid=kid, private=private, public=public, created=_parse_iso(entry["created"]),
                                       retires=_parse_iso(entry.get("retires")))
            ring = cls(current=data["current"], keys=keys)
        except KeysError:
            raise
        except (KeyError, TypeError, ValueError, jwt.InvalidKeyError) as exc:
            raise KeysError(f"{source}: malformed key set ({exc})") from exc
        if ring.current not in keys:
            raise KeysError(f"{source}: current key {ring.current!r} is not in the set")
        return ring


def _iso(ts: float | None) -> str | None:
    return None if ts is None else utc_text(ts)


def _parse_iso(text: str | None) -> float | None:
    return None if text is None else parse_utc_text(text).timestamp()


def save(ring: Keyring, directory: Path, now: float | None = None) -> None:
    """Write the private set (0600) and the public JWKS (0644) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    private = json.dumps(ring.to_private_json(), indent=2).encode() + b"\n"
    write_atomic(directory / PRIVATE_FILE, private, mode=0o600)
    write_atomic(directory / PUBLIC_FILE, json.dumps(ring.jwks(now), indent=2).encode() + b"\n", mode=0o644)


def load(directory: Path) -> Keyring:
    """Read the private key set from ``directory`` (written by :func:`init` / :func:`rotate`)."""
    path = directory / PRIVATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise KeysError(f"{path}: no key set here; create one with `diplomatie keys init --dir {directory}`") from exc
    except (OSError, ValueError) as exc:
        raise KeysError(f"{path}: cannot read the key set ({exc})") from exc
    if not isinstance(data, dict):
        raise KeysError(f"{path}: malformed key set (not a JSON object)")
    return Keyring.from_private_json(data, str(path))


def init(directory: Path, now: float | None = None, *, force: bool = False) -> Keyring:
    """Create a key set with one fresh key; refuses to overwrite an existing set unless ``force``."""
    if (directory / PRIVATE_FILE).exists() and not force:
        raise KeysError(f"{directory / PRIVATE_FILE} already exists; use `diplomatie keys rotate` to replace the key")
    key = new_key(now)
    ring = Keyring(current=key.kid, keys={key.kid: key})
    save(ring, directory, now)
    return ring


def rotate(directory: Path, now: float | None = None, grace: float = GRACE) -> Keyring:
    """Make a new key current; the previous one verifies until ``now + grace``; expired keys are dropped."""
    now = time.time() if now is None else now
    ring = load(directory)
    kept: dict[str, SigningKey] = {}
    for kid, key in ring.keys.items():
        if kid == ring.current:
            key = replace(key, retires=now + grace)
        if key.valid_at(now):
            kept[kid] = key
    fresh = new_key(now)
    kept[fresh.kid] = fresh
    ring = Keyring(current=fresh.kid, keys=kept)
    save(ring, directory, now)
    return ring


# -- issue and verify ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claims:
    """The verified content of a token."""

    typ: str
    sub: str
    jti: str
    iat: int
    nbf: int
    exp: int
    iss: str
    aud: str
    kid: str
    community: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def new_jti() -> str:
    return secrets.token_urlsafe(16)


def issue(
    ring: Keyring,
    typ: str,
    subject: str,
    *,
    issuer: str,
    audience: str,
    ttl: float,
    now: float | None = None,
    community: str | None = None,
    jti: str | None = None,
) -> str:
    """Sign a token of kind ``typ`` for ``subject`` (an e-mail address, lower-cased) with the current key."""
    if typ not in KINDS:
        raise ValueError(f"unknown token kind {typ!r}")
    if typ in SCOPED and not community:
        raise ValueError(f"an {typ} token names its community")
    now = int(time.time() if now is None else now)
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject.strip().lower(),
        "typ": typ,
        "jti": jti or new_jti(),
        "iat": now,
        "nbf": now,
        "exp": now + int(ttl),
    }
    if community:
        payload["com"] = community
    key = ring.signing_key
    return jwt.encode(payload, key.private, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})


def verify(
    ring: Keyring,
    token: str,
    *,
    typ: str,
    issuer: str,
    audience: str,
    now: float | None = None,
    leeway: float = LEEWAY,
) -> Claims:
    """Return the claims of ``token`` if it is a valid token of kind ``typ``; raise TokenError otherwise."""
    now = time.time() if now is None else now
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("missing or oversized token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError(f"malformed token: {exc}") from exc
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"algorithm {header.get('alg')!r} refused")
    if set(header) - {"alg", "kid", "typ"}:
        raise TokenError(f"unexpected header fields {sorted(set(header) - {'alg', 'kid', 'typ'})}")
    kid = header.get("kid")
    key = ring.verification_key(kid, now) if isinstance(kid, str) else None
    if key is None:
        raise TokenError(f"unknown or retired key {kid!r}")
    try:
        payload = jwt.decode(
            token,
            key.public,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require": list(_REQUIRED),
                "verify_exp": False,  # checked below against ``now``
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    return _check_claims(payload, typ=typ, now=now, leeway=leeway, kid=kid)


def _check_claims(payload: Mapping[str, Any], *, typ: str, now: float, leeway: float, kid: str) -> Claims:
    problem = time_claims_problem(payload, now, leeway=leeway)
    if problem is not None and problem.startswith("claim"):
        raise TokenError(problem)
    for name in ("sub", "typ", "jti", "iss", "aud"):
        if not isinstance(payload[name], str) or not payload[name]:
            raise TokenError(f"claim {name} is not a string")
    if payload["typ"] != typ:
        raise TokenError(f"a {payload['typ']!r} token is not a {typ!r} token")
    if problem is not None:
        raise TokenError(problem)
    community = payload.get("com")
    if typ in SCOPED and (not isinstance(community, str) or not community):
        raise TokenError(f"{typ} without community")
    known = set(_REQUIRED) | {"com"}
    return Claims(
        typ=payload["typ"],
        sub=payload["sub"],
        jti=payload["jti"],
        iat=payload["iat"],
        nbf=payload["nbf"],
        exp=payload["exp"],
        iss=payload["iss"],
        aud=payload["aud"],
        kid=kid,
        community=community if isinstance(community, str) else None,
        extra={k: v for k, v in payload.items() if k not in known},
    )


def parse_duration(text: str) -> int:
    """``"15m"``, ``"8h"``, ``"7d"``, ``"90s"`` or plain seconds -> seconds; ValueError otherwise."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    if not number.isdigit() or int(number) <= 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 8h, 7d)")
    return int(number) * units[unit]
