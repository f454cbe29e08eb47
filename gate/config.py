"""The gate's configuration: one frozen value, JSON-serialisable so server workers receive it by environment."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gate import oidc, tokens
from gate.mail import SmtpSettings

CONFIG_ENV = "DIPLOMATIE_GATE_CONFIG"


@dataclass(frozen=True)
class GateConfig:
    """Everything a gate process needs; every limit is here, with its documented default (docs/gate.md)."""

    store: str
    keys: str
    base_url: str
    endpoint_url: str | None = None
    insecure_dev: bool = False
    session_ttl: int = tokens.SESSION_TTL
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    cache_bytes: int = 256 * 1024 * 1024
    poll_interval: float = 2.0
    revocation_check: float = 10.0
    # Sign-in throttling (gate/throttle.py): delays, never locks out.
    mail_interval: float = 60.0  # at most one sign-in e-mail per recipient per this many seconds
    login_burst: int = 20  # /login submissions a client address may make at once...
    login_refill: float = 15.0  # ...then one more per this many seconds
    session_cache_size: int = 50_000
    # Request limits (gate/http.py).
    max_body: int = 8192  # bytes of a form body; refused (413) as soon as declared or streamed past it
    body_timeout: float = 10.0  # seconds to receive a whole request body (then 408)
    max_inflight: int = 32  # requests one client address may have in progress at once (then 429)
    metrics_token: str | None = None  # /metrics on the main port needs "Authorization: Bearer <token>"
    metrics_listen: str | None = "127.0.0.1:9108"  # /metrics on its own address (None: not served there)
    accel_redirect: str | None = None  # nginx internal location holding the store's blobs/ (e.g. /_blobs)
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For names the client
    grant_keys: str | None = None  # behind nginx with Lua: the grant key file nginx reads (gate/tokens.py)
    grant_ttl: int = tokens.GRANT_TTL  # seconds a per-community grant lets nginx serve without asking
    oidc_issuer: str | None = None  # agents' single sign-on (gate/oidc.py); all three or none
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    # What every page and e-mail names (gate/identity.py); empty: the catalogue's "Diplomatie" and
    # "Communities of the Ministry for Europe and Foreign Affairs", in the reader's language.
    service_name: str = ""
    service_tagline: str = ""

    def __post_init__(self) -> None:
        if self.accel_redirect is not None and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", self.accel_redirect):
            raise ValueError(f"--accel-redirect {self.accel_redirect!r}: give an nginx location path, e.g. /_blobs")
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))
        if not 1 <= self.grant_ttl <= tokens.MAX_GRANT_TTL:
            raise ValueError(f"--grant-ttl {self.grant_ttl}: give 1 to {tokens.MAX_GRANT_TTL} seconds "
                             "(sign-out and removal take effect behind nginx within this bound)")
        if self.grant_keys is not None and self.accel_redirect is None:
            raise ValueError("--grant-keys needs --accel-redirect: grants are for nginx in front of the gate")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"--base-url {self.base_url!r}: give scheme and host only, e.g. https://cables.example.org")
        if parts.scheme == "http" and not self.insecure_dev:
            raise ValueError("--base-url is http://: use https, or --insecure-dev for a local development gate")
        if self.insecure_dev and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
            raise ValueError("--insecure-dev is only allowed with a localhost --base-url")
        if self.metrics_listen is not None:
            from gate.metrics import parse_listen

            parse_listen(self.metrics_listen)  # ValueError naming the option
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise ValueError("--metrics-token: give at least 16 characters (it is a password)")
        for name in ("max_body", "max_inflight", "login_burst"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.mail_interval > 300:
            raise ValueError("mail_interval over 300 s would let a stranger delay a member's link past 5 minutes")
        if self.oidc_issuer or self.oidc_client_id or self.oidc_client_secret:
            self.oidc_settings()  # raises ValueError with the option to fix

    def oidc_settings(self) -> oidc.OIDCConfig | None:
        """The OpenID Connect relying party's settings, or None when single sign-on is not configured."""
        if not (self.oidc_issuer or self.oidc_client_id or self.oidc_client_secret):
            return None
        return oidc.OIDCConfig.from_options(self.oidc_issuer or "", self.oidc_client_id or "",
                                            self.oidc_client_secret or "", self.base_url)

    @property
    def origin(self) -> str:
        return self.base_url.rstrip("/")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> GateConfig:
        data = json.loads(text)
        data["smtp"] = SmtpSettings(**data.get("smtp") or {})
        return cls(**data)
