"""The gate: the small HTTP service in front of the store that lets each member into their communities.

This module wires the parts and holds the one route table; the parts live in their own modules:
gate/config.py (options), gate/http.py (request, response, limits, refusals), gate/sessions.py
(cookies, CSRF, session cache, sign-out), gate/serving.py (the hot path: blobs, ranges, conditional
requests, the nginx decision), gate/views.py (login, link confirmation, single sign-on, sign-out,
home), gate/pages.py (the gate's own HTML), gate/throttle.py (sign-in budgets), gate/outbox.py (sign-in e-mails), gate/logs.py.

It is a raw ASGI application *and* a granian RSGI application (``__rsgi__``), with no framework on
the request path: serving a cached page to a known session is a handful of dictionary look-ups.
Speed comes from caches that cannot go stale in a way that matters:

- verified session claims, keyed by the exact cookie value, bounded, never used past ``exp``, and
  re-checked for sign-out at most every ``revocation_check`` seconds (fail closed: unreadable is 503);
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
import datetime as dt
import os
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from gate import store as storage
from gate import tokens, views
from gate.config import CONFIG_ENV, GateConfig
from gate.http import MAX_PATH, InFlight, Refusal, Request, Response, bad_request, not_found, unavailable
from gate.logs import Log
from gate.membership import Membership, Snapshot
from gate.metrics import GateMetrics, parse_listen
from gate.metrics import serve as serve_metrics
from gate.oidc import CALLBACK_PATH, LOGIN_PATH
from gate.outbox import Outbox
from gate.pages import Pages
from gate.serving import DECIDE_HEADER, Blobs, Release, decision, serve_site
from gate.sessions import Sessions
from gate.throttle import TokenBucket

__all__ = ["CONFIG_ENV", "Gate", "GateConfig", "Request", "Response", "Route", "from_environment"]

View = Callable[["Gate", Request], Awaitable[Response]]


class Route:
    """A path, its view and the methods it answers (HEAD comes with GET); 405 and Allow come from here."""

    __slots__ = ("path", "view", "methods", "allow")

    def __init__(self, path: str, view: View, methods: set[str]) -> None:
        self.path = path
        self.view = view
        self.methods = frozenset(methods | {"HEAD"} if "GET" in methods else methods)
        self.allow = ", ".join(sorted(self.methods))


#: Every file of a community site: /c/<community>/<path>.
SITE = Route("/c/", serve_site, {"GET"})


def route_table(single_sign_on: bool) -> dict[str, Route]:
    """The gate's routes; the single sign-on ones exist only when it is configured."""
    routes = [
        Route("/", views.home, {"GET"}),
        Route("/login", views.login, {"GET", "POST"}),
        Route("/auth", views.auth, {"GET", "POST"}),  # GET shows the confirmation, POST spends the link
        Route("/logout", views.logout, {"GET", "POST"}),
        Route("/.well-known/jwks.json", views.jwks, {"GET"}),
        Route("/healthz", views.healthz, {"GET"}),
        Route("/metrics", views.metrics, {"GET"}),
    ]
    if single_sign_on:
        routes += [Route(LOGIN_PATH, views.oidc_login, {"GET"}), Route(CALLBACK_PATH, views.oidc_callback, {"GET"})]
    return {route.path: route for route in routes}


class Gate:
    """One gate process: its state (caches, budgets) and the request handler for both interfaces."""

    def __init__(self, config: GateConfig, *, log_stream: TextIO | None = None,
                 clock: Callable[[], float] = time.time, background: bool = True) -> None:
        self.config = config
        self.clock = clock
        self.background = background  # False (tests): no poller; call refresh() and outbox.send_due() yourself
        self.log = Log(log_stream or open(os.dup(sys.stdout.fileno()), "w", buffering=1 << 16,  # noqa: SIM115
                                          encoding="utf-8"), clock)
        self.store = storage.open_store(config.store, endpoint_url=config.endpoint_url)
        self.keys_dir = Path(config.keys)
        self.ring = tokens.load(self.keys_dir)
        self._keys_stamp = self._stamp_keys()
        self.membership = Membership(self.store)
        self.releases: dict[str, Release] = {}
        self.release_errors: dict[str, str] = {}
        self.site_paths: dict[str, tuple[str, str, str] | bool] = {}
        self.metrics = GateMetrics()
        self.security = [("x-content-type-options", "nosniff"), ("referrer-policy", "no-referrer"),
                         ("x-frame-options", "DENY")]
        if urlsplit(config.base_url).scheme == "https":
            self.security.append(("strict-transport-security", "max-age=31536000; includeSubDomains"))
        self.pages = Pages(self.security)
        self.sessions = Sessions(config, self.store, self.ring, self.metrics)
        self.blobs = Blobs(self)
        self.oidc = config.oidc_settings()
        self.routes = route_table(self.oidc is not None)
        self.inflight = InFlight(config.max_inflight)
        self.per_client = TokenBucket(config.login_burst, config.login_refill)
        self.outbox = Outbox(self)
        self._poller: asyncio.Task | None = None
        self._metrics_server: asyncio.AbstractServer | None = None
        self._day: tuple[int, dt.date] = (-1, dt.date.min)
        self.healthy = True
        self.refresh()

    # -- state shared by the views ---------------------------------------------------------------

    def members(self) -> Snapshot:
        """The membership snapshot in force; 503 while members.json cannot be read (fail closed)."""
        if self.membership.error is not None:
            raise unavailable()
        return self.membership.snapshot

    def today(self, now: float) -> dt.date:
        second = int(now)
        if self._day[0] != second:
            self._day = (second, dt.datetime.fromtimestamp(second, dt.UTC).date())
        return self._day[1]

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

    def same_origin(self, req: Request) -> bool:
        """No Origin, our own, or "null": browsers send "null" for our own forms under no-referrer.

        A "null" origin is also what a sandboxed frame elsewhere sends, so this check only refuses
        the requests that name another site; the CSRF tokens are what protect the forms.
        """
        origin = req.header("origin")
        return origin is None or origin == self.config.origin or origin == "null"

    def metrics_text(self) -> bytes:
        self.metrics.blob_cache_bytes = self.blobs.cache.size
        return self.metrics.exposition()

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
            self.log.event({"event": "membership loaded", "commit": self.membership.snapshot.commit,
                            "communities": sorted(self.membership.snapshot.communities)})
        stamp = self._stamp_keys()
        if stamp != self._keys_stamp:
            try:
                self.ring = tokens.load(self.keys_dir)
                self.sessions.set_ring(self.ring)
                self.log.event({"event": "keys reloaded", "current": self.ring.current})
            except tokens.KeysError as exc:
                self.log.event({"event": "keys unreadable, keeping the previous set", "error": str(exc)})
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
                current = self.releases[community] = Release.of(pointer, manifest)
                self.log.event({"event": "release loaded", "community": community, "release": pointer.release})
            self.release_errors.pop(community, None)
            return current
        except (storage.StoreError, ValueError) as exc:
            self.release_errors[community] = str(exc)
            return self.releases.get(community)

    async def _poll_forever(self) -> None:
        await self._listen_for_metrics()
        while True:
            await asyncio.sleep(self.config.poll_interval)
            try:
                await asyncio.to_thread(self.refresh)
                self.outbox.send_due()
            except Exception as exc:  # keep polling whatever happens; say what went wrong
                self.log.event({"event": "refresh failed", "error": f"{type(exc).__name__}: {exc}"})
            self.log.flush()

    def _ensure_poller(self) -> None:
        if self._poller is None and self.background:
            self.log.loop_thread = threading.get_ident()
            self._poller = asyncio.get_running_loop().create_task(self._poll_forever())

    async def _listen_for_metrics(self) -> None:
        """/metrics on its own address; with several workers the first to bind it serves it (its own pid)."""
        if self.config.metrics_listen is None:
            return
        host, port = parse_listen(self.config.metrics_listen)
        try:
            self._metrics_server = await serve_metrics(host, port, self.metrics_text)
        except OSError as exc:
            self.log.event({"event": "metrics listener not started", "listen": self.config.metrics_listen,
                            "error": str(exc)})

    # -- dispatch --------------------------------------------------------------------------------

    async def handle(self, req: Request) -> Response:
        """Every request: the route (or 405 built from it), one place for refusals; the per-client cap.

        The gate waits on a client only while it reads a request body (the server reads the head before
        calling us, and sends the answer itself), so only requests that may carry a body take one of the
        client's ``max_inflight`` slots; GET and HEAD, the hot path, skip the bookkeeping.
        """
        if self.blobs.accel_prefix is not None and req.header(DECIDE_HEADER) == "1" and req.path.startswith("/c/"):
            return decision(await self.respond(req))  # nginx's subrequest (any method): never a body
        if req.method == "GET" or req.method == "HEAD":
            return await self.respond(req)
        client = self.client_of(req)
        if not self.inflight.enter(client):
            return self.pages.refusal(Refusal(429, "Too many requests", "<p>Please wait a little.</p>",
                                              extra=[("retry-after", "5")]))
        try:
            return await self.respond(req)
        finally:
            self.inflight.leave(client)

    async def respond(self, req: Request) -> Response:
        path = req.path
        try:
            route = SITE if path.startswith("/c/") else self.routes.get(path)
            if route is None:
                raise not_found() if path.isprintable() and len(path) <= MAX_PATH else bad_request()
            if req.method not in route.methods:
                raise Refusal(405, "Method not allowed", "", extra=[("allow", route.allow)])
            return await route.view(self, req)
        except Refusal as refusal:
            return self.pages.refusal(refusal)
        except storage.StoreUnavailable as exc:
            self.log.event({"event": "storage unavailable", "path": path, "error": str(exc)})
            return self.pages.refusal(unavailable())
        except Exception:
            self.log.event({"event": "internal error", "path": path, "traceback": traceback.format_exc()})
            return self.pages.page(500, "Internal error", "<p>Something went wrong on our side.</p>")

    # -- interfaces ------------------------------------------------------------------------------

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.log.loop_thread = threading.get_ident()
        self._poller = loop.create_task(self._poll_forever())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.log.flush()

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        started = time.perf_counter()
        if self._poller is None:
            self._ensure_poller()
        req = Request(scope.method, scope.path, scope.query_string, scope.headers.get, scope.client, proto)
        resp = await self.handle(req)
        proto.response_bytes(resp.status, resp.headers, resp.body)  # granian drops the body of HEAD itself
        self.observe(req, resp, started)

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
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        try:
            query = scope["query_string"].decode("utf-8")
        except UnicodeDecodeError:
            query = "\x00"  # not UTF-8: refused as a bad request by whichever view reads it
        req = Request(scope["method"], scope["path"], query, headers.get, scope.get("client"), receive)
        resp = await self.handle(req)
        body = b"" if req.method == "HEAD" else resp.body
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers]
        raw.append((b"content-length", str(len(resp.body)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": raw})
        await send({"type": "http.response.body", "body": body})
        self.observe(req, resp, started)

    def observe(self, req: Request, resp: Response, started: float) -> None:
        latency = time.perf_counter() - started
        self.metrics.observe(resp.status, latency)
        self.log.request(req, resp, latency, self.clock())


def from_environment() -> Gate:
    """Factory for server workers: the configuration comes from ``DIPLOMATIE_GATE_CONFIG`` (JSON)."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"{CONFIG_ENV} is not set; start the gate with `diplomatie gate`")
    return Gate(GateConfig.from_json(text))
