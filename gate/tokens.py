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
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
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


# -- per-community grants (verified by nginx, deploy/diplomatie_grant.lua) -------------------------
#
# A grant is a short-lived cookie, scoped to ``Path=/c/<community>/``, that lets nginx serve that
# community's files to a browser without asking the gate each time. It is MACed, not signed: nginx
# holds the same secret, read from a key file the gate writes (mode 0640) and rotates. Its value:
#
#     g1.<community>.<exp>.<ref>.<kid>.<mac>
#
# ``exp`` is the expiry (integer seconds since the epoch); ``ref`` the session it was issued to (the
# unpadded base64 of SHA-1 of the session cookie's value: nginx accepts the grant only beside that
# session cookie); ``kid`` names the grant key; ``mac`` is the unpadded base64 of
# HMAC-SHA1(key, "g1.<community>.<exp>.<ref>.<kid>"), the MAC nginx's Lua module computes natively.

GRANT_VERSION = "g1"
#: Default and largest grant lifetimes (seconds): sign-out and removal take effect within this bound.
GRANT_TTL = 30
MAX_GRANT_TTL = 60
#: A grant key is replaced after this long; the previous key still verifies (grants outlive it by a TTL).
GRANT_ROTATE = 3600
#: A new grant key signs only once it is this old (the previous one signs meanwhile): nginx re-reads the
#: key file every second, so it never meets a grant or seal of a key it has not read yet.
GRANT_KEY_SETTLE = 2
GRANT_KEYS_HEADER = "diplomatie-grant-keys 2"
_GRANT_KID = 8  # hex characters
_GRANT_SECRET = 32  # bytes


@dataclass(frozen=True)
class GrantKey:
    """One HMAC key for grants: ``kid`` (8 hex digits), its creation time and its secret."""

    kid: str
    created: int
    secret: bytes


@dataclass(frozen=True)
class GrantKeys:
    """The grant key file: the names of the three cookies nginx reads, the lifetime, and the keys (current first).

    ``secure`` says the gate runs over https (cookies with ``Secure``). ``redirect_headers`` are the
    headers of the gate's own sign-in redirect (but its ``Location``), which nginx copies when it
    answers that redirect itself (a request without a valid session). ``seal_cookie`` names the
    session's seal (see ``issue_seal``).
    """

    session_cookie: str
    grant_cookie: str
    ttl: int
    secure: bool
    keys: tuple[GrantKey, ...]
    redirect_headers: tuple[tuple[str, str], ...] = ()
    seal_cookie: str = "diplomatie-seal"

    def settings(self) -> tuple:
        """Everything but the keys: a file whose settings differ from the gate's is rewritten."""
        return (self.session_cookie, self.grant_cookie, self.seal_cookie, self.ttl, self.secure, self.redirect_headers)

    @property
    def current(self) -> GrantKey:
        return self.keys[0]

    def signing_key(self, now: float) -> GrantKey:
        """The key grants and seals are made with: the current one once GRANT_KEY_SETTLE old, else the previous."""
        if len(self.keys) > 1 and now - self.current.created < GRANT_KEY_SETTLE:
            return self.keys[1]
        return self.current

    def to_text(self) -> str:
        lines = [GRANT_KEYS_HEADER, f"cookies {self.session_cookie} {self.grant_cookie} {self.seal_cookie}",
                 f"ttl {self.ttl}", f"secure {int(self.secure)}"]
        lines += [f"header {name} {value}" for name, value in self.redirect_headers]
        lines += [f"key {k.kid} {k.created} {k.secret.hex()}" for k in self.keys]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str, source: str) -> GrantKeys:
        lines = text.splitlines()
        if not lines or lines[0] != GRANT_KEYS_HEADER:
            raise KeysError(f"{source}: not a grant key file (first line must be {GRANT_KEYS_HEADER!r})")
        fields: dict[str, list[str]] = {}
        keys: list[GrantKey] = []
        headers: list[tuple[str, str]] = []
        try:
            for number, line in enumerate(lines[1:], start=2):
                name, *values = line.split(" ")
                if name == "key":
                    kid, created, secret = values
                    if len(kid) != _GRANT_KID or len(secret) != 2 * _GRANT_SECRET:
                        raise ValueError(f"line {number}: malformed key")
                    keys.append(GrantKey(kid, int(created), bytes.fromhex(secret)))
                elif name == "header":
                    header, value = line.split(" ", 2)[1:]
                    headers.append((header, value))
                elif name in ("cookies", "ttl", "secure"):
                    fields[name] = values
                else:
                    raise ValueError(f"line {number}: unknown field {name!r}")
            (session_cookie, grant_cookie, seal_cookie), (ttl,), (secure,) = (fields["cookies"], fields["ttl"],
                                                                              fields["secure"])
            ttl_seconds = int(ttl)
        except (KeyError, ValueError) as exc:
            raise KeysError(f"{source}: malformed grant key file ({exc})") from exc
        if not keys or not 1 <= ttl_seconds <= MAX_GRANT_TTL:
            raise KeysError(f"{source}: no key, or a lifetime outside 1..{MAX_GRANT_TTL} s")
        return cls(session_cookie, grant_cookie, ttl_seconds, secure == "1", tuple(keys), tuple(headers), seal_cookie)


def new_grant_key(now: float) -> GrantKey:
    return GrantKey(secrets.token_hex(_GRANT_KID // 2), int(now), secrets.token_bytes(_GRANT_SECRET))


def read_grant_keys(path: Path) -> GrantKeys:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeysError(f"{path}: cannot read the grant key file ({exc})") from exc
    return GrantKeys.from_text(text, str(path))


def write_grant_keys(path: Path, keys: GrantKeys) -> None:
    """Replace the file atomically, mode 0640: the gate's user writes it, nginx's group reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, keys.to_text().encode("ascii"), mode=0o640)


def ensure_grant_keys(path: Path, wanted: GrantKeys, now: float, rotate_after: float = GRANT_ROTATE) -> GrantKeys:
    """The grant keys to use: the file's when it matches ``wanted``'s settings and its key is fresh; else
    a new file whose current key is fresh and whose previous current key still verifies.

    Called at start and at each poll by every gate process sharing the file: one of them rotates, the
    others read its key at their next poll (grants any of them signed with a key that lost a race of
    two simultaneous rotations are refused by nginx, which then asks the gate: a request, not a hole).
    ``wanted`` supplies the settings (its keys are ignored).
    """
    try:
        found: GrantKeys | None = read_grant_keys(path)
    except KeysError:
        found = None  # absent or unreadable: write a fresh one (fails loudly if the folder is not writable)
    if found is not None and found.settings() == wanted.settings() and now - found.current.created < rotate_after:
        return found
    previous = found.keys[:1] if found is not None else ()
    fresh = replace(wanted, keys=(new_grant_key(now), *previous))
    write_grant_keys(path, fresh)
    return fresh


def _b64(data: bytes) -> str:
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def session_reference(session_token: str) -> str:
    """The opaque reference a grant carries to the session it belongs to (nginx computes the same)."""
    return _b64(hashlib.sha1(session_token.encode("ascii", "replace")).digest())  # noqa: S324 - not a MAC


def grant_mac(key: GrantKey, payload: str) -> str:
    return _b64(hmac.new(key.secret, payload.encode("ascii"), hashlib.sha1).digest())


def issue_grant(keys: GrantKeys, community: str, session_token: str, now: float) -> str:
    """The value of a grant cookie for ``community`` beside ``session_token``, valid ``keys.ttl`` seconds."""
    key = keys.signing_key(now)
    payload = f"{GRANT_VERSION}.{community}.{int(now) + keys.ttl}.{session_reference(session_token)}.{key.kid}"
    return f"{payload}.{grant_mac(key, payload)}"


def grant_problem(keys: GrantKeys, grant: str, community: str, session_token: str | None, now: float) -> str | None:
    """Why ``grant`` does not let nginx serve ``community`` to ``session_token`` at ``now``; None when it does.

    The reference implementation of what deploy/diplomatie_grant.lua checks, in the same order.
    """
    if not grant or len(grant) > 256 or not grant.isascii():
        return "missing or oversized"
    parts = grant.split(".")
    if len(parts) != 6 or parts[0] != GRANT_VERSION:
        return "malformed"
    _, named, exp, ref, kid, mac = parts
    key = next((k for k in keys.keys if k.kid == kid), None)
    if key is None:
        return "unknown key"
    if not hmac.compare_digest(grant_mac(key, grant.rpartition(".")[0]), mac):
        return "bad MAC"
    if named != community:
        return "another community"
    if not (exp.isascii() and exp.isdigit()) or len(exp) > 12:
        return "malformed expiry"
    if int(exp) <= now:
        return "expired"
    if int(exp) > now + keys.ttl + 1:
        return "expiry beyond the lifetime"
    if session_token is None or not hmac.compare_digest(ref, session_reference(session_token)):
        return "another session"
    return None


# -- session seals (checked by nginx before it asks the gate about a session) --------------------
#
# Checking a session's Ed25519 signature costs about 200 µs of CPU (in OpenSSL, 5,000 verifications a
# second on the reference machine): a new forged session on every request would cost the gate, or
# nginx, far more than a valid request. So the gate gives every session it issues or accepts a seal,
# a cookie nginx checks with one HMAC under the grant keys:
#
#     s1.<kid>.<mac>       mac = unpadded base64 of HMAC-SHA1(key, "s1.<kid>.<session token>")
#
# nginx asks the gate about a session without a valid grant only when its seal is valid; any other
# request gets the sign-in redirect from nginx. A seal proves only that the gate issued or accepted
# this exact session while its key was in the file: the gate still checks the session (signature,
# expiry, sign-out) and the membership, and nothing is served on a seal alone.

SEAL_VERSION = "s1"
SEAL_LENGTH = len(SEAL_VERSION) + 1 + _GRANT_KID + 1 + 27


def seal_mac(key: GrantKey, session_token: str) -> str:
    message = f"{SEAL_VERSION}.{key.kid}.{session_token}".encode("ascii", "replace")
    return _b64(hmac.new(key.secret, message, hashlib.sha1).digest())


def issue_seal(keys: GrantKeys, session_token: str, now: float) -> str:
    """The value of the seal cookie of ``session_token``."""
    key = keys.signing_key(now)
    return f"{SEAL_VERSION}.{key.kid}.{seal_mac(key, session_token)}"


def seal_problem(keys: GrantKeys, seal: str | None, session_token: str) -> str | None:
    """Why ``seal`` does not let nginx ask the gate about ``session_token``; None when it does.

    The reference implementation of what deploy/diplomatie_grant.lua checks.
    """
    if not seal or len(seal) != SEAL_LENGTH or not seal.isascii():
        return "missing or malformed"
    return _keyed_mac_problem(keys, seal, SEAL_VERSION, lambda key: seal_mac(key, session_token))


def _keyed_mac_problem(keys: GrantKeys, value: str, version: str, mac_of: Callable[[GrantKey], str]) -> str | None:
    """Why ``<version>.<kid>.<mac>`` is not ``mac_of`` under one of the grant keys; None when it is
    (the one check behind seals and read reports)."""
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != version or len(parts[1]) != _GRANT_KID:
        return "malformed"
    _, kid, mac = parts
    key = next((k for k in keys.keys if k.kid == kid), None)
    if key is None:
        return "unknown key"
    if not hmac.compare_digest(mac_of(key), mac):
        return "bad MAC"
    return None


# -- reports of reads (nginx tells the gate which cable pages it served on a grant) --------------
#
# nginx serves a member holding a valid grant without asking the gate, so the gate does not see those
# reads of cable pages; nginx posts them to the gate in batches (gate/readreports.py). A report is
# authenticated with the grant keys nginx and the gate already share:
#
#     X-Diplomatie-Reads: r1.<kid>.<mac>    mac = unpadded base64 of HMAC-SHA1(key, "r1.<kid>." + body)
#
# nginx signs with the oldest key of the file (the previous one once the file has two), which every gate
# process has read long before: a key another process has just written would be unknown to the others
# for up to a poll. The gate accepts any key of the file.

REPORT_VERSION = "r1"
REPORT_HEADER = "x-diplomatie-reads"


def report_mac(key: GrantKey, body: bytes) -> str:
    return _b64(hmac.new(key.secret, f"{REPORT_VERSION}.{key.kid}.".encode("ascii") + body, hashlib.sha1).digest())


def sign_report(keys: GrantKeys, body: bytes) -> str:
    """The ``X-Diplomatie-Reads`` value of a report ``body`` (what deploy/diplomatie_grant.lua computes)."""
    key = keys.keys[-1]
    return f"{REPORT_VERSION}.{key.kid}.{report_mac(key, body)}"


def report_problem(keys: GrantKeys, signature: str | None, body: bytes) -> str | None:
    """Why ``signature`` does not authenticate the report ``body``; None when it does."""
    if not signature or len(signature) > 64 or not signature.isascii():
        return "missing or malformed"
    return _keyed_mac_problem(keys, signature, REPORT_VERSION, lambda key: report_mac(key, body))


# -- personal feed tokens (a member's feed address for one community) ----------------------------
#
# Not a JWT: a feed reader keeps its address for years, across key rotations, and a JWT's payload
# would show the member's e-mail address to whoever sees the URL. A feed token is two random-looking
# fields, the member's store id and a secret:
#
#     f1.<member>.<secret>      member = unpadded base64url of the 32 bytes of gate.store.member_id
#                               secret = unpadded base64url of 32 random bytes
#
# The store keeps only SHA-256(secret) (gate.store.FeedAddress), under the member's key: the gate
# finds the record from the token's member field, compares the digests in constant time, then asks the
# membership snapshot whether the record's address is still a member. docs/tokens.md, *Feed tokens*.

FEED_VERSION = "f1"
_FEED_FIELD = 43  # characters of unpadded base64url for 32 bytes
FEED_TOKEN_LENGTH = len(FEED_VERSION) + 2 * (1 + _FEED_FIELD)


def feed_digest(secret: bytes) -> str:
    """What the store keeps of a feed token: the SHA-256 (hex) of its secret."""
    return hashlib.sha256(secret).hexdigest()


def new_feed_token(member: str) -> tuple[str, str]:
    """A fresh feed token for the member (``gate.store.member_id``, 64 hex digits) and its digest."""
    secret = secrets.token_bytes(32)
    return f"{FEED_VERSION}.{b64url(bytes.fromhex(member))}.{b64url(secret)}", feed_digest(secret)


def feed_token_parts(token: str) -> tuple[str, bytes] | None:
    """(member id in hex, secret) of a well-formed feed token, else None.

    Refused before any storage access: any length but the exact one, anything but ASCII, any number of
    fields but three, another version, a field that is not the canonical unpadded base64url of 32 bytes
    (so one token has exactly one spelling)."""
    if not isinstance(token, str) or len(token) != FEED_TOKEN_LENGTH or not token.isascii():
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != FEED_VERSION:
        return None
    decoded = []
    for field_text in parts[1:]:
        if len(field_text) != _FEED_FIELD or not all(c.isalnum() or c in "-_" for c in field_text):
            return None
        try:
            raw = unb64url(field_text)
        except ValueError:
            return None
        if len(raw) != 32 or b64url(raw) != field_text:
            return None
        decoded.append(raw)
    return decoded[0].hex(), decoded[1]
