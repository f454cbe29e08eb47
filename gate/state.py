"""What one gate process knows and keeps current: the state every view reads.

:class:`GateState` holds the configuration, the store, the membership snapshot, the current release
of each community, the signing keys, the sessions, the blob cache, the sign-in outbox, the clock and
the log; and the poller that re-reads pointers, manifests, members.json and the key set every
``poll_interval`` seconds, swapping each in only when it changed.

It sits below the views (gate/views.py, gate/serving.py), which take it as their first argument, and
below gate/app.py, whose :class:`gate.app.Gate` adds the route table and the two server interfaces;
it imports neither, so the gate's dependencies run one way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from gate import store as storage
from gate import tokens
from gate.blobs import Blobs, Release
from gate.config import GateConfig
from gate.grants import Grants
from gate.http import HSTS, SECURITY_HEADERS, InFlight, Request, unavailable
from gate.identity import Service
from gate.logs import Log
from gate.mail import Mailer
from gate.membership import CommunityAccess, Membership, Snapshot
from gate.metrics import GateMetrics, parse_listen
from gate.metrics import serve as serve_metrics
from gate.outbox import Outbox
from gate.pages import Pages
from gate.readership import Readership
from gate.sessions import Sessions
from gate.throttle import REPLY_BURST, REPLY_REFILL, TokenBucket


class GateState:
    """One gate process's state: configuration, store, membership, releases, keys, caches, budgets, log."""

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
        self._keys_file = self._keys_file_identity()
        self.membership = Membership(self.store)
        self.releases: dict[str, Release] = {}
        # the nodes of the releases in use, by hash: a release switch reads only the nodes that changed
        self.manifest_nodes = storage.BlobReader(self.store)
        self.release_errors: dict[str, str] = {}
        self.site_paths: dict[str, tuple[str, str, str] | bool] = {}
        self.metrics = GateMetrics()
        self.security = list(SECURITY_HEADERS)
        if urlsplit(config.base_url).scheme == "https":
            self.security.append(HSTS)
        self.service = Service(config.service_name, config.service_tagline)
        self.pages = Pages(self.security, service=self.service, community=self.community_shown,
                           secure_cookies=urlsplit(config.base_url).scheme == "https")
        self.sessions = Sessions(config, self.store, self.ring, self.metrics)
        self.grants = Grants(config, self.sessions.cookie_name, self.pages.redirect("/login").headers,
                             self.log.event)
        self.grants.start(clock())
        self.blobs = Blobs(self.store, self.metrics, self.security, cache_bytes=config.cache_bytes,
                           accel_prefix=config.accel_redirect)
        self.oidc = config.oidc_settings()
        self.inflight = InFlight(config.max_inflight)
        self.per_client = TokenBucket(config.login_burst, config.login_refill)
        self.per_member = TokenBucket(REPLY_BURST, REPLY_REFILL)  # replies sent (gate/replypage.py)
        self.outbox = Outbox(mailer=Mailer(config.smtp, self.log.event), sign_link=self.sign_link,
                             communities_of=self.communities_of, clock=clock, log=self.log.event,
                             interval=config.mail_interval, site=config.origin, service=self.service)
        self._poller: asyncio.Task | None = None
        #: Writes started after an answer (sign-in records), kept so none is collected before it ends
        #: and so a test can wait for them; this process's own, never shared between gates or loops.
        self.after_answer: set[asyncio.Future] = set()
        #: Reads of cable pages: the gate's own answers (gate/app.py) and nginx's reports (gate/readreports.py).
        self.readership = Readership(self.store, self._serving_cables, self.log.event, self.after_answer)
        self._metrics_server: asyncio.AbstractServer | None = None
        self._day: tuple[int, dt.date] = (-1, dt.date.min)
        self.healthy = True
        self.refresh()

    # -- state shared by the views ---------------------------------------------------------------

    def _serving_cables(self, community: str) -> tuple[str, tuple[str, ...]] | None:
        release = self.releases.get(community)
        return (release.pointer.release, release.manifest.cables) if release is not None else None

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

    def sign_link(self, address: str, now: float) -> str:
        """The sign-in URL holding a fresh link for ``address`` (signed whoever the address belongs to)."""
        origin = self.config.origin
        token = tokens.issue(self.ring, tokens.MAGIC, address, issuer=origin, audience=origin,
                             ttl=tokens.MAGIC_TTL, now=now)
        return f"{origin}/auth?token={token}"

    def communities_of(self, address: str, now: float) -> list[CommunityAccess] | None:
        """The communities ``address`` may read now; None while members.json cannot be read."""
        if self.membership.error is not None:
            return None
        return self.membership.snapshot.communities_of(address, self.today(now))

    def community_shown(self, community: str) -> CommunityAccess | None:
        """A community's title, language and owner, to show on a page (the last good snapshot's)."""
        return self.membership.snapshot.communities.get(community)

    def metrics_text(self) -> bytes:
        self.metrics.blob_cache_bytes = self.blobs.cache.size
        return self.metrics.exposition()

    # -- background refresh ----------------------------------------------------------------------

    def _keys_file_identity(self) -> tuple[int, int] | None:
        """(mtime, size) of the private key file: when it changes, the key set is read again."""
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
        identity = self._keys_file_identity()
        if identity != self._keys_file:
            try:
                self.ring = tokens.load(self.keys_dir)
                self.sessions.set_ring(self.ring)
                self.log.event({"event": "keys reloaded", "current": self.ring.current})
            except tokens.KeysError as exc:
                self.log.event({"event": "keys unreadable, keeping the previous set", "error": str(exc)})
            self._keys_file = identity
        self.grants.refresh(self.clock())
        wanted = set(self.membership.snapshot.communities) | set(self.releases)
        for community in sorted(wanted):
            self.refresh_release(community)
        self.manifest_nodes.keep_only({sha for r in list(self.releases.values()) for sha in r.manifest.nodes})
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
                # read whole, every node checked against its hash, before it serves (else the previous stays)
                manifest = storage.read_manifest(self.store, community, pointer.release, self.manifest_nodes)
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
