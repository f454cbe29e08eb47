"""The gate: the small HTTP service in front of the store that lets each member into their communities.

Routes: ``/login`` (ask for a sign-in link), ``/auth?token=`` (spend an invitation or a sign-in link,
set the session cookie), ``POST /logout``, ``/`` (my communities), ``/c/<community>/…`` (the current
release of a community, members only), ``/.well-known/jwks.json``, ``/healthz``, ``/metrics``.

It is a raw ASGI application *and* a granian RSGI application (``__rsgi__``), with no framework on
the request path: serving a cached page to a known session is a handful of dictionary look-ups.
Speed comes from caches that cannot go stale in a way that matters:

- verified session claims, keyed by the exact cookie value, bounded, never used past ``exp``, and
  re-checked for revocation at most every ``revocation_check`` seconds;
- blob bytes (immutable, content-addressed) in a byte-bounded LRU, with their response headers built
  once;
- pointers, manifests, members.json and the key set, re-read by a background poller every
  ``poll_interval`` seconds and swapped in only when they change.

Nothing here reads a store key that is not a pointer, a manifest named by a pointer, a blob listed in
such a manifest, members.json or a claim: request paths are validated first, then looked up in the
manifest, never joined to a storage path.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import html
import json
import os
import re
import sys
import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _json_str  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl, quote, urlsplit

from gate import oidc, tokens
from gate import store as storage
from gate.mail import Mailer, SmtpSettings
from gate.membership import Membership
from gate.metrics import GateMetrics

CONFIG_ENV = "DIPLOMATIE_GATE_CONFIG"
DECIDE_HEADER = "x-diplomatie-decide"  # set by nginx's auth_request location only (deploy/nginx.conf)
MAX_PATH = 1024
MAX_BODY = 8192
MAX_QUERY = 6144
_COMMUNITY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,63}$")
_INLINE = re.compile(rb"<(script|style)\b([^>]*)>(.*?)</\1\s*>", re.S | re.I)


# ------------------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class GateConfig:
    """Everything a gate process needs; JSON-serialisable so granian workers receive it by environment."""

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
    login_per_address: int = 5  # sign-in links per address per login_window
    login_per_client: int = 20  # /login submissions per client address per login_window
    login_window: float = 15 * 60
    session_cache_size: int = 50_000
    accel_redirect: str | None = None  # nginx internal location holding the store's blobs/ (e.g. /_blobs)
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For names the client
    oidc_issuer: str | None = None  # agents' single sign-on (gate/oidc.py); all three or none
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None

    def __post_init__(self) -> None:
        if self.accel_redirect is not None and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", self.accel_redirect):
            raise ValueError(f"--accel-redirect {self.accel_redirect!r}: give an nginx location path, e.g. /_blobs")
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"--base-url {self.base_url!r}: give scheme and host only, e.g. https://cables.example.org")
        if parts.scheme == "http" and not self.insecure_dev:
            raise ValueError("--base-url is http://: use https, or --insecure-dev for a local development gate")
        if self.insecure_dev and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
            raise ValueError("--insecure-dev is only allowed with a localhost --base-url")
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


# ------------------------------------------------------------------------------------------ helpers


class Response:
    __slots__ = ("status", "headers", "body", "subject", "community")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes = b"",
                 subject: str | None = None, community: str | None = None) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.subject = subject
        self.community = community


class Request:
    """What the gate needs of a request, from either interface (built per request: kept minimal)."""

    __slots__ = ("method", "path", "query", "header", "peer", "source")

    def __init__(self, method: str, path: str, query: str, header: Callable[[str], str | None], peer: Any,
                 source: Any) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.header = header
        self.peer = peer  # RSGI: "ip:port"; ASGI: (ip, port)
        self.source = source  # RSGI protocol object, or the ASGI receive callable

    @property
    def client(self) -> str:
        """The peer's IP address (a proxy in front is trusted only explicitly: see Gate.client_of)."""
        if isinstance(self.peer, str):
            return self.peer.rpartition(":")[0] or self.peer
        return str(self.peer[0]) if self.peer else ""

    async def read_body(self) -> bytes | None:
        """The request body, or None when it exceeds MAX_BODY."""
        length = self.header("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return None
        if hasattr(self.source, "response_bytes"):
            body = await self.source()  # RSGI
            return body if len(body) <= MAX_BODY else None
        chunks, size = [], 0
        while True:  # ASGI
            message = await self.source()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


def clean_site_path(rest: str) -> str | None:
    """The path inside a community site, or None when it is a trick (refused before any storage access).

    The server has already percent-decoded the path once; anything still containing ``%`` was encoded
    twice. Refused: ``.``/``..`` segments, empty segments, backslashes, NUL and control characters,
    absolute paths, overlong paths.
    """
    if len(rest) > MAX_PATH or "%" in rest or "\\" in rest or not rest.isprintable() or rest.startswith("/"):
        return None
    parts = rest.split("/")
    last = len(parts) - 1
    for i, part in enumerate(parts):
        if part in (".", "..") or (part == "" and i != last) or part.strip() != part:
            return None
    return rest


def split_site_path(path: str) -> tuple[str, str, str] | bool:
    """``/c/<community>/<rest>`` -> (community, "/" or "", rest), or False for a refused path."""
    community, slash, rest = path[3:].partition("/")
    if not _COMMUNITY.match(community) or (rest and clean_site_path(rest) is None):
        return False
    return community, slash, rest


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a relative path on this site (no scheme, host, backslash or control char)."""
    if not target or len(target) > MAX_PATH or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or not target.isprintable():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def csp_for_html(body: bytes) -> str:
    """The page's Content-Security-Policy: 'self' plus the hashes of exactly its own inline blocks.

    mkdocs-material emits a few inline scripts (``__md_scope``…) and a JSON config block; allowing them by
    hash keeps ``default-src 'self'`` without 'unsafe-inline'. Blobs are immutable, so this runs once per
    cached blob.
    """
    scripts, styles = [], []
    for match in _INLINE.finditer(body):
        tag, attrs, content = match.group(1).lower(), match.group(2), match.group(3)
        if tag == b"script" and b"src=" in attrs.lower():
            continue
        digest = "'sha256-" + base64.b64encode(hashlib.sha256(content).digest()).decode() + "'"
        (scripts if tag == b"script" else styles).append(digest)
    script = " ".join(["'self'", *sorted(set(scripts))])
    style = " ".join(["'self'", *sorted(set(styles))])
    return f"default-src 'self'; script-src {script}; style-src {style}; {_CSP_REST}"


_CSP_REST = ("img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
             "frame-ancestors 'none'")
SITE_CSP = f"default-src 'self'; {_CSP_REST}"


GATE_CSP = ("default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key (in memory, per process, bounded)."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self.events: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str, now: float) -> bool:
        q = self.events.get(key)
        if q is None:
            if len(self.events) >= self.max_keys:
                self.events.popitem(last=False)
            q = self.events[key] = deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        self.events.move_to_end(key)
        if len(q) >= self.limit:
            return False
        q.append(now)
        return True


class BlobCache:
    """Immutable blob bytes plus their prebuilt response headers, bounded by total size (LRU)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.items: OrderedDict[tuple[str, str], Served] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Served | None:
        served = self.items.get(key)
        if served is not None:
            self.items.move_to_end(key)
        return served

    def put(self, key: tuple[str, str], served: Served) -> None:
        if len(served.body) > self.max_bytes // 4:
            return  # too big to be worth caching; served from storage each time
        old = self.items.pop(key, None)
        if old is not None:
            self.size -= len(old.body)
        self.items[key] = served
        self.size += len(served.body)
        while self.size > self.max_bytes and self.items:
            _, evicted = self.items.popitem(last=False)
            self.size -= len(evicted.body)


@dataclass(frozen=True)
class Served:
    """One file ready to send: body, ETag and the full header list of a 200."""

    body: bytes
    etag: str
    headers: list[tuple[str, str]]
    short_headers: list[tuple[str, str]]  # for 304 and 206: everything but the content type


@dataclass(frozen=True)
class Release:
    pointer: storage.Pointer
    manifest: storage.Manifest


# ---------------------------------------------------------------------------------------- the gate


class Gate:
    """One gate process: configuration, caches, and the request handler for both interfaces."""

    def __init__(self, config: GateConfig, *, log_stream: TextIO | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        # Block-buffered whatever stdout is (a pipe to a log collector, a file): flushed by the poller
        # every poll_interval and at once for events, so the request path never waits on a write.
        self._log_lines: list[str] = []
        self._loop_thread = threading.get_ident()
        self.log_stream = log_stream or open(os.dup(sys.stdout.fileno()), "w", buffering=1 << 16,  # noqa: SIM115
                                             encoding="utf-8")
        self.store = storage.open_store(config.store, endpoint_url=config.endpoint_url)
        self.keys_dir = Path(config.keys)
        self.ring = tokens.load(self.keys_dir)
        self._keys_stamp = self._stamp_keys()
        self.membership = Membership(self.store)
        self.releases: dict[str, Release] = {}
        self._paths: dict[str, tuple[str, str, str] | bool] = {}
        self.release_errors: dict[str, str] = {}
        self.blobs = BlobCache(config.cache_bytes)
        self.accel_prefix = config.accel_redirect
        self.oidc = config.oidc_settings()
        self.accel_headers: dict[tuple[str, str], tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {}
        self.sessions: OrderedDict[str, tuple[tokens.Claims, float, float]] = OrderedDict()
        self.per_address = SlidingWindow(config.login_per_address, config.login_window)
        self.per_client = SlidingWindow(config.login_per_client, config.login_window)
        self.mailer = Mailer(config.smtp, self.log_event)
        self.secure = urlsplit(config.base_url).scheme == "https"
        self.cookie_name = "__Host-diplomatie" if not config.insecure_dev else "diplomatie"
        self.cookie_prefix = self.cookie_name + "="
        self.cookie_flags = "; HttpOnly; SameSite=Lax; Path=/" + ("" if config.insecure_dev else "; Secure")
        self.security = [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
        ]
        if self.secure:
            self.security.append(("strict-transport-security", "max-age=31536000; includeSubDomains"))
        self._poller: asyncio.Task | None = None
        self._background: set[asyncio.Future] = set()
        self._day: tuple[int, dt.date] = (-1, dt.date.min)
        self._stamp: tuple[int, str] = (-1, "")
        self.healthy = True
        self.metrics = GateMetrics()
        self.refresh()

    # -- metrics and logs ------------------------------------------------------------------------

    def metrics_text(self) -> bytes:
        self.metrics.blob_cache_bytes = self.blobs.size
        return self.metrics.exposition()

    def _timestamp(self, now: float) -> str:
        second = int(now)
        if self._stamp[0] != second:
            self._stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._stamp[1]}.{int((now - second) * 1000):03d}Z"

    def log_request(self, req: Request, resp: Response, started: float, now: float) -> None:
        latency = time.perf_counter() - started
        self.metrics.observe(resp.status, latency)
        subject = _json_str(resp.subject) if resp.subject else "null"
        community = _json_str(resp.community) if resp.community else "null"
        lines = self._log_lines
        lines.append(
            f'{{"time":"{self._timestamp(now)}","subject":{subject},"community":{community},'
            f'"method":{_json_str(req.method)},"path":{_json_str(req.path[:MAX_PATH])},"status":{resp.status},'
            f'"bytes":{len(resp.body)},"latency_ms":{latency * 1000:.3f}}}\n')
        if len(lines) >= 4096:
            self.flush_log()

    def log_event(self, record: dict[str, Any]) -> None:
        record = {"time": self._timestamp(self.clock()), **record}
        self._log_lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        if threading.get_ident() == self._loop_thread:
            self.flush_log()  # other threads only append; the event loop's thread does every write

    def flush_log(self) -> None:
        """Write out the lines gathered since the last flush (one write instead of one per request)."""
        if self._log_lines:
            lines, self._log_lines = self._log_lines, []
            self.log_stream.write("".join(lines))
        self.log_stream.flush()

    # -- background refresh ----------------------------------------------------------------------

    def _stamp_keys(self) -> tuple[int, int] | None:
        try:
            st = (self.keys_dir / tokens.PRIVATE_FILE).stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def refresh(self) -> None:
        """Re-read what may have changed (blocking; run from a thread): members, keys, pointers."""
        if self.membership.refresh():
            self.log_event({"event": "membership loaded", "commit": self.membership.snapshot.commit,
                            "communities": sorted(self.membership.snapshot.communities)})
        stamp = self._stamp_keys()
        if stamp != self._keys_stamp:
            try:
                self.ring = tokens.load(self.keys_dir)
                self.sessions.clear()
                self.log_event({"event": "keys reloaded", "current": self.ring.current})
            except tokens.KeysError as exc:
                self.log_event({"event": "keys unreadable, keeping the previous set", "error": str(exc)})
            self._keys_stamp = stamp
        wanted = set(self.membership.snapshot.communities) | set(self.releases)
        for community in sorted(wanted):
            self.refresh_release(community)
        self.healthy = self.membership.error is None and not self.release_errors

    def refresh_release(self, community: str) -> Release | None:
        """Follow the community's pointer; load the manifest only when the release changed."""
        try:
            pointer = storage.read_pointer(self.store, community)
            if pointer is None:
                self.releases.pop(community, None)
                self.release_errors.pop(community, None)
                return None
            current = self.releases.get(community)
            if current is None or current.pointer.release != pointer.release:
                manifest = storage.read_manifest(self.store, community, pointer.release)
                current = self.releases[community] = Release(pointer, manifest)
                self.log_event({"event": "release loaded", "community": community, "release": pointer.release})
            self.release_errors.pop(community, None)
            return current
        except (storage.StoreError, ValueError) as exc:
            self.release_errors[community] = str(exc)
            return self.releases.get(community)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception as exc:  # keep polling whatever happens; say what went wrong
                self.log_event({"event": "refresh failed", "error": f"{type(exc).__name__}: {exc}"})
            self.flush_log()

    def _ensure_poller(self) -> None:
        if self._poller is None:
            self._loop_thread = threading.get_ident()
            self._poller = asyncio.get_running_loop().create_task(self._poll_forever())

    # -- sessions --------------------------------------------------------------------------------

    def _today(self, now: float) -> dt.date:
        second = int(now)
        if self._day[0] != second:
            self._day = (second, dt.datetime.fromtimestamp(second, dt.UTC).date())
        return self._day[1]

    def _cookie(self, header: str | None) -> str | None:
        if not header:
            return None
        prefix = self.cookie_prefix
        if header.startswith(prefix) and ";" not in header:
            return header[len(prefix):]
        for part in header.split(";"):
            part = part.strip()
            if part.startswith(prefix):
                return part[len(prefix):]
        return None

    async def session(self, req: Request, now: float) -> tokens.Claims | None:
        """The verified session of the request, or None (no cookie, invalid, expired or revoked)."""
        token = self._cookie(req.header("cookie"))
        if not token:
            return None
        entry = self.sessions.get(token)
        if entry is not None:
            claims, valid_until, checked = entry
            if now < valid_until:
                if now - checked < self.config.revocation_check:
                    self.metrics.session_hits += 1
                    return claims
                if not await self._revoked(claims):
                    self.sessions[token] = (claims, valid_until, now)
                    return claims
            del self.sessions[token]
            return None
        self.metrics.session_misses += 1
        try:
            claims = tokens.verify(self.ring, token, typ=tokens.SESSION, issuer=self.config.origin,
                                   audience=self.config.origin, now=now)
        except tokens.TokenError:
            return None
        if await self._revoked(claims):
            return None
        key = self.ring.keys.get(claims.kid)
        valid_until = min(claims.exp, key.retires) if key is not None and key.retires else claims.exp
        if len(self.sessions) >= self.config.session_cache_size:
            self.sessions.popitem(last=False)
        self.sessions[token] = (claims, valid_until, now)
        return claims

    async def _revoked(self, claims: tokens.Claims) -> bool:
        try:
            return await asyncio.to_thread(self.store.exists, storage.claim_key(claims.jti))
        except ValueError:
            return True  # a jti that cannot even name a claim key is not ours
        except storage.StoreUnavailable:
            return False  # content needs storage anyway; do not lock everyone out of cached pages

    def client_of(self, req: Request) -> str:
        """The client's address: the peer, or the last X-Forwarded-For hop when the peer is a trusted proxy.

        Only the last hop counts: it is the one our proxy appended; anything before it came from the
        client and can be forged.
        """
        peer = req.client
        if peer in self.config.trusted_proxies:
            forwarded = req.header("x-forwarded-for")
            if forwarded:
                hop = forwarded.rsplit(",", 1)[-1].strip()
                if hop:
                    return hop
        return peer

    def csrf_token(self, req: Request) -> str:
        token = self._cookie(req.header("cookie")) or ""
        return hashlib.sha256(b"logout:" + token.encode()).hexdigest()[:32]

    def same_origin(self, req: Request) -> bool:
        """No Origin, our own, or "null": browsers send "null" for our own forms under no-referrer.

        A "null" origin is also what a sandboxed frame elsewhere sends, so this check only refuses
        the requests that name another site; the CSRF token is what protects sign-out.
        """
        origin = req.header("origin")
        return origin is None or origin == self.config.origin or origin == "null"

    # -- responses -------------------------------------------------------------------------------

    def page(self, status: int, title: str, body_html: str, *, extra: list[tuple[str, str]] | None = None,
             subject: str | None = None, community: str | None = None) -> Response:
        document = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                    f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                    f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>"
                    f"{body_html}</main></body></html>").encode()
        headers = [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store"),
                   ("content-security-policy", GATE_CSP), *self.security, *(extra or [])]
        return Response(status, headers, document, subject, community)

    def redirect(self, location: str, status: int = 302, extra: list[tuple[str, str]] | None = None,
                 subject: str | None = None) -> Response:
        headers = [("location", location), ("cache-control", "no-store"),
                   ("content-security-policy", GATE_CSP), *self.security, *(extra or [])]
        return Response(status, headers, b"", subject)

    def plain(self, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
        return Response(status, [("content-type", content_type), ("cache-control", "no-store"),
                                 ("content-security-policy", GATE_CSP), *self.security], text.encode())

    def bad_request(self) -> Response:
        return self.page(400, "Bad request", "<p>This address is not valid.</p>")

    def unavailable(self, community: str | None = None) -> Response:
        return self.page(503, "Temporarily unavailable",
                         "<p>The documents cannot be read right now. Please try again in a minute.</p>",
                         extra=[("retry-after", "30")], community=community)

    # -- dispatch --------------------------------------------------------------------------------

    async def handle(self, req: Request) -> Response:
        if self.accel_prefix is not None and req.path.startswith("/c/") and req.header(DECIDE_HEADER) == "1":
            return self.decision(await self.respond(req))
        return await self.respond(req)

    async def respond(self, req: Request) -> Response:
        path = req.path
        try:
            if path.startswith("/c/"):
                return await self.serve_site(req)
            route = self.routes.get(path)
            if route is None:
                return self.page(404, "Not found", "<p>There is nothing at this address.</p>")
            return await route(self, req)
        except storage.StoreUnavailable as exc:
            self.log_event({"event": "storage unavailable", "path": path, "error": str(exc)})
            return self.unavailable()
        except Exception:
            self.log_event({"event": "internal error", "path": path, "traceback": traceback.format_exc()})
            return self.page(500, "Internal error", "<p>Something went wrong on our side.</p>")

    # -- /c/<community>/… ------------------------------------------------------------------------

    async def serve_site(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            return self.page(405, "Method not allowed", "", extra=[("allow", "GET, HEAD")])
        parsed = self._paths.get(req.path)
        if parsed is None:
            parsed = split_site_path(req.path)
            if len(req.path) <= MAX_PATH + 80:  # never let a client fill memory with long paths
                if len(self._paths) >= 20_000:
                    self._paths.clear()
                self._paths[req.path] = parsed
        if parsed is False:
            return self.bad_request()
        community, slash, rest = parsed
        now = self.clock()
        # Fast path, inline: a session verified less than revocation_check seconds ago.
        token = self._cookie(req.header("cookie"))
        cached = self.sessions.get(token) if token else None
        if cached is not None and now < cached[1] and now - cached[2] < self.config.revocation_check:
            claims = cached[0]
            self.metrics.session_hits += 1
        else:
            claims = await self.session(req, now)
        if claims is None:
            return self.redirect("/login?next=" + quote(req.path, safe="/"))
        subject = claims.sub
        if not self.membership.snapshot.admits(community, subject, self._today(now)):
            return self.page(403, "Not a member",
                             "<p>You are signed in, but not as a member of this community.</p>"
                             '<p><a href="/">Your communities</a></p>', subject=subject, community=community)
        if not slash:
            return self.redirect(f"/c/{community}/", 301, subject=subject)
        release = self.releases.get(community)
        if release is None:
            release = await asyncio.to_thread(self.refresh_release, community)
            if release is None:
                if community in self.release_errors:
                    return self.unavailable(community)
                return self.page(404, "Not published yet", "<p>This community has no documents yet.</p>",
                                 subject=subject, community=community)
        files = release.manifest.files
        name = rest + "index.html" if rest == "" or rest.endswith("/") else rest
        entry = files.get(name)
        if entry is None:
            if f"{name}/index.html" in files:
                return self.redirect(f"/c/{community}/{name}/", 301, subject=subject)
            return await self.not_found(community, release, subject)
        if self.accel_prefix is not None:
            return await self.accel(req, entry, subject, community)
        served = self.blobs.get((entry.sha256, entry.type))
        if served is None:
            served = await self.served(entry)
        else:
            self.metrics.blob_hits += 1
        return self.answer(req, served, 200, subject, community)

    def decision(self, resp: Response) -> Response:
        """For nginx's ``auth_request`` (cached a few seconds per cookie and URI): serve this blob, or ask me.

        200 with the page's headers and ``X-Diplomatie-Blob: <sha256>`` when the answer is that blob;
        401 for anything else (redirect, refusal, 404 page, error), on which nginx sends the request to
        the gate itself. Never a body, so a forged header gets nothing from a gate reached directly.
        """
        accel = [v for k, v in resp.headers if k == "x-accel-redirect"]
        if resp.status != 200 or not accel:
            return Response(401, [("cache-control", "no-store")], b"", resp.subject, resp.community)
        headers = [(k, v) for k, v in resp.headers if k != "x-accel-redirect"]
        headers.append(("x-diplomatie-blob", accel[0].rpartition("/")[2]))
        return Response(200, headers, b"", resp.subject, resp.community)

    async def accel(self, req: Request, entry: storage.FileEntry, subject: str, community: str) -> Response:
        """Authorised: let nginx send the blob (``X-Accel-Redirect``), with this gate's headers.

        The gate still answers ``If-None-Match`` itself (its ETag is the blob hash, which nginx does not
        know); nginx handles ranges and HEAD. HTML is read once (cached) for its CSP hashes; other files
        are never read here.
        """
        key = (entry.sha256, entry.type)
        headers = self.accel_headers.get(key)
        if headers is None:
            if entry.type.startswith("text/html"):
                served = await self.served(entry)
                short = [h for h in served.short_headers if h[0] != "accept-ranges"]
            else:
                etag = f'"{entry.sha256}"'
                short = [("etag", etag), ("cache-control", "private, no-cache"), ("vary", "Cookie"),
                         ("content-security-policy", SITE_CSP), *self.security]
            headers = (short, [("content-type", entry.type), *short,
                               ("x-accel-redirect", f"{self.accel_prefix}/{entry.sha256}")])
            if len(self.accel_headers) >= 50_000:
                self.accel_headers.clear()
            self.accel_headers[key] = headers
        inm = req.header("if-none-match")
        if inm is not None and (inm.strip() == "*" or f'"{entry.sha256}"' in (t.strip() for t in inm.split(","))):
            return Response(304, headers[0], b"", subject, community)
        rng = req.header("range")
        if rng is not None and unsatisfiable(rng, entry.size):  # nginx would answer with its own error page
            return Response(416, [("content-range", f"bytes */{entry.size}"), *headers[0]], b"", subject, community)
        return Response(200, headers[1], b"", subject, community)

    async def served(self, entry: storage.FileEntry) -> Served:
        key = (entry.sha256, entry.type)
        served = self.blobs.get(key)
        if served is not None:
            self.metrics.blob_hits += 1
            return served
        self.metrics.blob_misses += 1
        served = await asyncio.to_thread(self._load_blob, entry)
        self.blobs.put(key, served)
        return served

    def _load_blob(self, entry: storage.FileEntry) -> Served:
        try:
            body = self.store.get(storage.blob_key(entry.sha256))
        except storage.NotFound as exc:
            raise storage.StoreUnavailable(f"blob {entry.sha256} listed in a manifest is missing") from exc
        if hashlib.sha256(body).hexdigest() != entry.sha256:
            raise storage.StoreUnavailable(f"blob {entry.sha256} does not match its hash")
        etag = f'"{entry.sha256}"'
        is_html = entry.type.startswith("text/html")
        # Non-HTML files keep 'self': a search worker's CSP is its script's, and it imports the lunr
        # language scripts (French sites) with importScripts.
        csp = csp_for_html(body) if is_html else SITE_CSP
        short = [("etag", etag), ("cache-control", "private, no-cache"), ("vary", "Cookie"),
                 ("accept-ranges", "bytes"), ("content-security-policy", csp), *self.security]
        return Served(body, etag, [("content-type", entry.type), *short], short)

    def answer(self, req: Request, served: Served, status: int, subject: str, community: str) -> Response:
        if status == 200:
            inm = req.header("if-none-match")
            if inm is not None and (inm.strip() == "*" or served.etag in (t.strip() for t in inm.split(","))):
                return Response(304, served.short_headers, b"", subject, community)
            rng = req.header("range")
            if rng is not None:
                partial = self.partial(req, served, rng, subject, community)
                if partial is not None:
                    return partial
        return Response(status, served.headers, served.body, subject, community)

    def partial(self, req: Request, served: Served, rng: str, subject: str, community: str) -> Response | None:
        """A single byte range (RFC 9110); None means ignore the header and send the whole file."""
        if_range = req.header("if-range")
        if if_range is not None and if_range.strip() != served.etag:
            return None
        unit, _, spec = rng.partition("=")
        if unit.strip().lower() != "bytes" or "," in spec:
            return None
        first, dash, last = spec.strip().partition("-")
        size = len(served.body)
        try:
            if not dash:
                return None
            if first == "":
                length = int(last)
                if length <= 0:
                    raise ValueError
                start, end = max(size - length, 0), size - 1
            else:
                start = int(first)
                end = min(int(last), size - 1) if last else size - 1
                if start > end and start < size:
                    return None  # syntactically invalid range: ignore it
        except ValueError:
            return None
        if start >= size:
            return Response(416, [("content-range", f"bytes */{size}"), *served.short_headers], b"",
                            subject, community)
        headers = [served.headers[0], ("content-range", f"bytes {start}-{end}/{size}"), *served.short_headers]
        return Response(206, headers, served.body[start:end + 1], subject, community)

    async def not_found(self, community: str, release: Release, subject: str) -> Response:
        entry = release.manifest.files.get("404.html")
        if entry is None:
            return self.page(404, "Not found", "<p>There is no such page.</p>", subject=subject, community=community)
        served = await self.served(entry)
        return Response(404, served.headers, served.body, subject, community)

    # -- gate pages ------------------------------------------------------------------------------

    async def home(self, req: Request) -> Response:
        now = self.clock()
        claims = await self.session(req, now)
        if claims is None:
            return self.redirect("/login")
        mine = self.membership.snapshot.communities_of(claims.sub, self._today(now))
        items = "".join(f'<li><a href="/c/{quote(c.id)}/">{html.escape(c.title)}</a></li>' for c in mine)
        listing = f"<ul>{items}</ul>" if items else "<p>You are not a member of any community at the moment.</p>"
        return self.page(200, "Your communities",
                         f"<p>Signed in as {html.escape(claims.sub)}.</p>{listing}{self.logout_form(req)}",
                         subject=claims.sub)

    def login_form(self, next_path: str | None, message: str = "") -> str:
        hidden = f'<input type="hidden" name="next" value="{html.escape(next_path)}">' if next_path else ""
        sso = ""
        if self.oidc is not None:
            target = oidc.LOGIN_PATH + ("?next=" + quote(next_path, safe="/") if next_path else "")
            sso = f'<p><a href="{html.escape(target)}">State agents: sign in with your ministry account</a></p>'
        return (f"{message}{sso}<form method=\"post\" action=\"/login\"><label>E-mail address "
                f'<input type="email" name="email" required autocomplete="email"></label>{hidden}'
                '<button type="submit">Send me a sign-in link</button></form>')

    async def login(self, req: Request) -> Response:
        if req.method in ("GET", "HEAD"):
            query = dict(parse_qsl(req.query[:MAX_QUERY]))
            return self.page(200, "Sign in", self.login_form(safe_next(query.get("next"))))
        if req.method != "POST":
            return self.page(405, "Method not allowed", "", extra=[("allow", "GET, POST")])
        if not self.same_origin(req):
            return self.page(403, "Refused", "<p>Cross-site request refused.</p>")
        body = await req.read_body()
        if body is None:
            return self.page(413, "Too large", "")
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        email = (form.get("email") or "").strip().lower()
        next_path = safe_next(form.get("next"))
        now = self.clock()
        if not _EMAIL.match(email):
            return self.page(400, "Sign in", self.login_form(next_path, "<p>Please give a valid e-mail address.</p>"))
        if not self.per_client.allow(self.client_of(req), now):
            return self.page(429, "Too many requests", "<p>Please wait a few minutes and try again.</p>",
                             extra=[("retry-after", str(int(self.config.login_window)))])
        # Same answer, same timing, whether or not the address is a member or over its own limit:
        # the mail goes out in the background.
        if self.per_address.allow(email, now) and self.membership.snapshot.communities_of(email, self._today(now)):
            token = tokens.issue(self.ring, tokens.MAGIC, email, issuer=self.config.origin,
                                 audience=self.config.origin, ttl=tokens.MAGIC_TTL, now=now)
            link = f"{self.config.origin}/auth?token={token}"
            if next_path:
                link += "&next=" + quote(next_path, safe="/")
            future = asyncio.get_running_loop().run_in_executor(
                None, lambda: self.mailer.send(email, link, minutes=tokens.MAGIC_TTL // 60, site=self.config.origin))
            self._background.add(future)
            future.add_done_callback(self._background.discard)
        return self.page(200, "Check your mail",
                         "<p>If this address belongs to a member, a sign-in link is on its way. "
                         "It works once, within 15 minutes.</p>")

    async def auth(self, req: Request) -> Response:
        if req.method != "GET":  # a HEAD (link checker) must not spend a one-time link
            return self.page(405, "Method not allowed", "", extra=[("allow", "GET")])
        query = dict(parse_qsl(req.query[:MAX_QUERY]))
        token = query.get("token") or ""
        now = self.clock()
        refused = self.page(400, "This link does not work",
                            "<p>It may have expired or been used already. "
                            '<a href="/login">Ask for a new sign-in link</a>.</p>')
        try:
            kind = jwt_kind(token)
            if kind not in (tokens.INVITATION, tokens.MAGIC):
                return refused
            claims = tokens.verify(self.ring, token, typ=kind, issuer=self.config.origin,
                                   audience=self.config.origin, now=now)
            claim = storage.claim_key(claims.jti)
        except (tokens.TokenError, ValueError):
            return refused
        today = self._today(now)
        snapshot = self.membership.snapshot
        if kind == tokens.INVITATION:
            allowed = snapshot.admits(claims.community or "", claims.sub, today)
        else:
            allowed = bool(snapshot.communities_of(claims.sub, today))
        if not allowed:
            return self.page(403, "Not a member", "<p>This address is not a member at the moment.</p>",
                             subject=claims.sub)
        record = json.dumps({"typ": kind, "sub": claims.sub, "used_at": self._timestamp(now)}).encode()
        if not await asyncio.to_thread(self.store.create, claim, record, "application/json"):
            return refused
        session = tokens.issue(self.ring, tokens.SESSION, claims.sub, issuer=self.config.origin,
                               audience=self.config.origin, ttl=self.config.session_ttl, now=now)
        cookie = f"{self.cookie_name}={session}; Max-Age={self.config.session_ttl}{self.cookie_flags}"
        target = safe_next(query.get("next"))
        if target is None:
            target = f"/c/{claims.community}/" if kind == tokens.INVITATION else "/"
        return self.redirect(target, 302, extra=[("set-cookie", cookie)], subject=claims.sub)

    async def oidc_login(self, req: Request) -> Response:
        """Start an agent's single sign-on: off to the provider, with the sealed attempt cookie."""
        if self.oidc is None:
            return self.page(404, "Not found", "<p>There is nothing at this address.</p>")
        if req.method != "GET":
            return self.page(405, "Method not allowed", "", extra=[("allow", "GET")])
        next_path = safe_next(dict(parse_qsl(req.query[:MAX_QUERY])).get("next")) or "/"
        try:
            url, attempt = await asyncio.to_thread(oidc.start, self.oidc, next_path)
        except oidc.OIDCError as exc:
            self.log_event({"event": "single sign-on unavailable", "error": exc.reason})
            return self.page(503, "Temporarily unavailable",
                             "<p>The ministry's sign-in service cannot be reached. Please try again later, or "
                             '<a href="/login">ask for a sign-in link by e-mail</a>.</p>', extra=[("retry-after", "30")])
        return self.redirect(url, 302, extra=[("set-cookie", attempt)])

    async def oidc_callback(self, req: Request) -> Response:
        """Finish an agent's sign-in: verified e-mail address -> session, like a spent sign-in link."""
        if self.oidc is None:
            return self.page(404, "Not found", "<p>There is nothing at this address.</p>")
        if req.method != "GET":
            return self.page(405, "Method not allowed", "", extra=[("allow", "GET")])
        clear = ("set-cookie", oidc.clear_cookie(self.oidc))
        attempt = oidc.cookie_from_header(req.header("cookie"), self.oidc.cookie_name)
        try:
            signed_in = await asyncio.to_thread(oidc.finish, self.oidc, dict(parse_qsl(req.query[:MAX_QUERY])),
                                                attempt)
        except oidc.OIDCError as exc:
            self.log_event({"event": "single sign-on refused", "reason": exc.reason})
            return self.page(400, "Sign-in did not work",
                             '<p>Please <a href="/login">start again</a>.</p>', extra=[clear])
        now = self.clock()
        if not self.membership.snapshot.communities_of(signed_in.email, self._today(now)):
            return self.page(403, "Not a member", "<p>This address is not a member at the moment.</p>",
                             extra=[clear], subject=signed_in.email)
        session = tokens.issue(self.ring, tokens.SESSION, signed_in.email, issuer=self.config.origin,
                               audience=self.config.origin, ttl=self.config.session_ttl, now=now)
        cookie = f"{self.cookie_name}={session}; Max-Age={self.config.session_ttl}{self.cookie_flags}"
        return self.redirect(safe_next(signed_in.next_path) or "/", 302, extra=[clear, ("set-cookie", cookie)],
                             subject=signed_in.email)

    def logout_form(self, req: Request) -> str:
        return (f'<form method="post" action="/logout"><input type="hidden" name="csrf" '
                f'value="{self.csrf_token(req)}"><button type="submit">Sign out</button></form>')

    async def logout(self, req: Request) -> Response:
        if req.method == "GET":
            # The sites' sign-out link lands here: a confirmation form that POSTs with the CSRF token.
            claims = await self.session(req, self.clock())
            if claims is None:
                return self.redirect("/login")
            return self.page(200, "Sign out", f"<p>Signed in as {html.escape(claims.sub)}.</p>"
                             f"{self.logout_form(req)}", subject=claims.sub)
        if req.method != "POST":
            return self.page(405, "Method not allowed", "", extra=[("allow", "GET, POST")])
        body = await req.read_body()
        form = dict(parse_qsl((body or b"").decode("utf-8", "replace")))
        if not self.same_origin(req) or form.get("csrf") != self.csrf_token(req):
            return self.page(403, "Refused", "<p>Cross-site request refused.</p>")
        claims = await self.session(req, self.clock())
        clear = f"{self.cookie_name}=; Max-Age=0{self.cookie_flags}"
        if claims is not None:
            record = json.dumps({"typ": "logout", "sub": claims.sub}).encode()
            await asyncio.to_thread(self.store.create, storage.claim_key(claims.jti), record, "application/json")
            self.sessions.pop(self._cookie(req.header("cookie")) or "", None)
        return self.redirect("/login", 303, extra=[("set-cookie", clear)], subject=claims.sub if claims else None)

    async def jwks(self, req: Request) -> Response:
        body = json.dumps(self.ring.jwks(self.clock())).encode()
        return Response(200, [("content-type", "application/jwk-set+json"), ("cache-control", "public, max-age=300"),
                              ("content-security-policy", GATE_CSP), *self.security], body)

    async def healthz(self, req: Request) -> Response:
        if self.healthy:
            return self.plain(200, "ok\n")
        return self.plain(503, "storage or membership unavailable\n")

    async def metrics(self, req: Request) -> Response:
        return self.plain(200, self.metrics_text().decode(), "text/plain; version=0.0.4; charset=utf-8")

    routes: dict[str, Callable[[Gate, Request], Awaitable[Response]]] = {
        "/": home, "/login": login, "/auth": auth, "/logout": logout,
        "/.well-known/jwks.json": jwks, "/healthz": healthz, "/metrics": metrics,
        oidc.LOGIN_PATH: oidc_login, oidc.CALLBACK_PATH: oidc_callback,
    }

    # -- interfaces ------------------------------------------------------------------------------

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop_thread = threading.get_ident()
        self._poller = loop.create_task(self._poll_forever())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.flush_log()

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        started = time.perf_counter()
        if self._poller is None:
            self._ensure_poller()

        req = Request(scope.method, scope.path, scope.query_string, scope.headers.get, scope.client, proto)
        resp = await self.handle(req)
        proto.response_bytes(resp.status, resp.headers, resp.body)  # granian drops the body of HEAD itself
        self.log_request(req, resp, started, self.clock())

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """ASGI entry point (for any ASGI server; granian's RSGI entry point above is faster)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._ensure_poller()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        self._ensure_poller()
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))

        req = Request(scope["method"], scope["path"], scope["query_string"].decode("latin-1"), headers.get,
                      scope.get("client"), receive)
        resp = await self.handle(req)
        body = b"" if req.method == "HEAD" else resp.body
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers]
        raw.append((b"content-length", str(len(resp.body)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": raw})
        await send({"type": "http.response.body", "body": body})
        self.log_request(req, resp, started, self.clock())


def unsatisfiable(rng: str, size: int) -> bool:
    """True for a single ``bytes=N-[M]`` range that starts at or past the end of a ``size``-byte file."""
    unit, _, spec = rng.partition("=")
    first, dash, _last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or "," in spec or not dash or not first.strip().isdigit():
        return False
    return int(first) >= size


def jwt_kind(token: str) -> str | None:
    """The unverified ``typ`` claim, only to pick which kind to verify the token as."""
    import jwt

    if not token or len(token) > tokens.MAX_TOKEN_LENGTH:
        return None
    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    kind = payload.get("typ") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else None


def from_environment() -> Gate:
    """Factory for server workers: the configuration comes from ``DIPLOMATIE_GATE_CONFIG`` (JSON)."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"{CONFIG_ENV} is not set; start the gate with `diplomatie gate`")
    return Gate(GateConfig.from_json(text))
