"""Sessions: the cookie, its verified claims cached per cookie value, sign-out, and the CSRF tokens.

A session is a signed token (gate/tokens.py) in an HttpOnly cookie. Verifying the signature costs tens
of microseconds, so verified claims are cached by the exact cookie value, never past ``exp`` (nor the
signing key's retirement), and re-checked for sign-out at most every ``revocation_check`` seconds.
That check fails closed: when the claims area of the store cannot be read, the request is refused
(:class:`gate.store.StoreUnavailable`, a 503 page), never served on the strength of an old answer.

Two CSRF tokens, both derived from something a cross-site page cannot read:
- sign-out: a hash of the session cookie;
- link confirmation: a random secret in a ``SameSite=Strict`` cookie set by ``GET /auth``, bound to the
  link's ``jti`` by an HMAC; ``POST /auth`` spends the link only when both agree, so another site can
  neither make a visitor spend their link nor sign them in as someone else (login CSRF).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections import OrderedDict

from gate import store as storage
from gate import tokens
from gate.config import GateConfig
from gate.http import cookie_value
from gate.metrics import GateMetrics

CONFIRM_TTL = tokens.MAGIC_TTL


class Sessions:
    """The session cookie of one gate process: issue, verify (cached), revoke."""

    def __init__(self, config: GateConfig, store: storage.Store, ring: tokens.Keyring, metrics: GateMetrics) -> None:
        self.config = config
        self.store = store
        self.ring = ring
        self.metrics = metrics
        self.cookie_name = "diplomatie" if config.insecure_dev else "__Host-diplomatie"
        secure = "" if config.insecure_dev else "; Secure"
        self.cookie_flags = "; HttpOnly; SameSite=Lax; Path=/" + secure
        self.confirm_name = self.cookie_name + "-confirm"
        self.confirm_flags = f"; Max-Age={CONFIRM_TTL}; HttpOnly; SameSite=Strict; Path=/" + secure
        self.cache: OrderedDict[str, tuple[tokens.Claims, float, float]] = OrderedDict()

    def set_ring(self, ring: tokens.Keyring) -> None:
        """New keys: forget every cached verification (a retired key's sessions must be re-checked)."""
        self.ring = ring
        self.cache.clear()

    def token(self, cookie_header: str | None) -> str | None:
        return cookie_value(cookie_header, self.cookie_name)

    def cached(self, token: str | None, now: float) -> tokens.Claims | None:
        """The hot path: claims verified and checked for sign-out less than revocation_check seconds ago."""
        entry = self.cache.get(token) if token else None
        if entry is not None and now < entry[1] and now - entry[2] < self.config.revocation_check:
            self.metrics.session_hits += 1
            return entry[0]
        return None

    async def session(self, cookie_header: str | None, now: float) -> tokens.Claims | None:
        """The verified session, or None (no cookie, invalid, expired or signed out).

        Raises StoreUnavailable when the sign-out record cannot be checked: fail closed.
        """
        token = self.token(cookie_header)
        if not token:
            return None
        entry = self.cache.get(token)
        if entry is not None:
            claims, valid_until, checked = entry
            if now < valid_until:
                if now - checked < self.config.revocation_check:
                    self.metrics.session_hits += 1
                    return claims
                if not await self.revoked(claims):
                    self.cache[token] = (claims, valid_until, now)
                    return claims
            self.cache.pop(token, None)
            return None
        self.metrics.session_misses += 1
        try:
            claims = tokens.verify(self.ring, token, typ=tokens.SESSION, issuer=self.config.origin,
                                   audience=self.config.origin, now=now)
        except tokens.TokenError:
            return None
        if await self.revoked(claims):
            return None
        key = self.ring.keys.get(claims.kid)
        valid_until = min(claims.exp, key.retires) if key is not None and key.retires else claims.exp
        if len(self.cache) >= self.config.session_cache_size:
            self.cache.popitem(last=False)
        self.cache[token] = (claims, valid_until, now)
        return claims

    async def revoked(self, claims: tokens.Claims) -> bool:
        """True when the session was signed out; StoreUnavailable (a refusal) when that cannot be known."""
        try:
            key = storage.claim_key(claims.jti)
        except ValueError:
            return True  # a jti that cannot even name a claim key is not ours
        return await asyncio.to_thread(self.store.exists, key)

    async def sign_out(self, claims: tokens.Claims, cookie_header: str | None, when: str) -> None:
        """Record the sign-out in the store (every process sees it), then forget the cached verification."""
        record = json.dumps({"typ": "logout", "sub": claims.sub, "at": when}).encode()
        await asyncio.to_thread(self.store.create, storage.claim_key(claims.jti), record, "application/json")
        self.cache.pop(self.token(cookie_header) or "", None)

    def new_token(self, subject: str, now: float) -> str:
        """A new session token for ``subject``."""
        return tokens.issue(self.ring, tokens.SESSION, subject, issuer=self.config.origin,
                            audience=self.config.origin, ttl=self.config.session_ttl, now=now)

    def cookie(self, session: str) -> str:
        """The Set-Cookie value holding the session token ``session``."""
        return f"{self.cookie_name}={session}; Max-Age={self.config.session_ttl}{self.cookie_flags}"

    def clear(self) -> str:
        return f"{self.cookie_name}=; Max-Age=0{self.cookie_flags}"

    def logout_csrf(self, cookie_header: str | None) -> str:
        token = self.token(cookie_header) or ""
        return hashlib.sha256(b"logout:" + token.encode()).hexdigest()[:32]

    # -- link confirmation ----------------------------------------------------------------------

    def confirm_secret(self, cookie_header: str | None) -> str | None:
        value = cookie_value(cookie_header, self.confirm_name)
        return value if value and len(value) == 43 else None

    def new_confirm_secret(self) -> tuple[str, str]:
        """(secret, Set-Cookie value) for a browser that has no confirmation cookie yet."""
        secret = secrets.token_urlsafe(32)
        return secret, f"{self.confirm_name}={secret}{self.confirm_flags}"

    def clear_confirm(self) -> str:
        return f"{self.confirm_name}=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/" + \
            ("" if self.config.insecure_dev else "; Secure")

    @staticmethod
    def confirm_csrf(secret: str, jti: str) -> str:
        """The form's token: binds this browser's secret to this one link."""
        return hmac.new(secret.encode(), b"confirm:" + jti.encode(), hashlib.sha256).hexdigest()

    def confirm_ok(self, cookie_header: str | None, jti: str, submitted: str | None) -> bool:
        secret = self.confirm_secret(cookie_header)
        if secret is None or not submitted:
            return False
        return hmac.compare_digest(self.confirm_csrf(secret, jti), submitted)
