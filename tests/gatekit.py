"""Support for the gate tests: a store filled through gate.store, a real gate process, a plain HTTP client."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import html
import http.client
import json
import mimetypes
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from gate import store as storage
from gate import tokens

ROOT = Path(__file__).resolve().parent.parent


_RESERVED: dict[int, socket.socket] = {}


def free_port() -> int:
    """A local port kept for the server a test is about to start, until :func:`release_port`.

    A port found free and closed at once can be taken by another process (another suite's server
    bound on port 0, or any outgoing connection) before the test's server binds it. So the port stays
    bound here, with ``SO_REUSEADDR`` and never listening: the kernel gives it to nobody else, and the
    servers the tests start (the gate, nginx, asyncio's SMTP server, radosgw), which all bind with
    ``SO_REUSEADDR``, can still listen on it. Connections to it are refused until one does."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    _RESERVED[port] = s
    return port


def release_port(port: int) -> None:
    """Give back a port from :func:`free_port` (its server has stopped)."""
    held = _RESERVED.pop(port, None)
    if held is not None:
        held.close()


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A local port that refuses connections for as long as the block runs: bound here and never
    listening, so no other process (another test suite starting a server on port 0) can take it.
    A port merely found free and released may be someone's by the time it is dialled."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def etag(sha256: str, coding: str = "") -> str:
    """The ETag the gate sends for a file of this SHA-256 (hex) in ``coding`` (docs/gate.md): the hash
    in base64url without padding, then ``-<coding>`` for a compressed copy."""
    tag = base64.urlsafe_b64encode(bytes.fromhex(sha256)).decode("ascii").rstrip("=")
    return f'"{tag}-{coding}"' if coding else f'"{tag}"'


def content_type(path: str) -> str:
    guessed = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") or guessed.endswith("json") else guessed


def publish_site(store: storage.Store, community: str, files: dict[str, bytes], release: str,
                 script_hashes: tuple[str, ...] = (), style_hashes: tuple[str, ...] = (),
                 *, precompressed: bool = True) -> storage.Manifest:
    """Publish like the pipeline does, through the storage contract: blobs (with the gzip and brotli
    forms of text files, unless ``precompressed`` is False, as in manifests of before), then manifest,
    then pointer."""
    from pipeline.precompress import precompress

    entries = {}
    for path, data in files.items():
        sha = hashlib.sha256(data).hexdigest()
        store.create(storage.blob_key(sha), data)
        encodings = []
        for coding, packed in (precompress(data, content_type(path)) if precompressed else {}).items():
            digest = hashlib.sha256(packed).hexdigest()
            store.create(storage.blob_key(digest), packed)
            encodings.append((coding, storage.Encoded(digest, len(packed))))
        entries[path] = storage.FileEntry(sha, len(data), content_type(path), tuple(encodings))
    now = storage.utc_now()
    manifest = storage.Manifest(community=community, release=release, commit=None, built_at=now,
                                published_at=now, cables=(), files=entries, script_hashes=script_hashes,
                                style_hashes=style_hashes)
    manifest = storage.write_manifest(store, manifest)
    storage.write_pointer(store, storage.Pointer(community, release, now))
    return manifest


def publish_folder(store: storage.Store, community: str, folder: Path, release: str,
                   *, hashes: bool = False) -> storage.Manifest:
    """``hashes=True``: record the site's inline blocks in the manifest, as the build does for its theme."""
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    scripts, styles = inline_hashes(files) if hashes else ((), ())
    return publish_site(store, community, files, release, scripts, styles)


def inline_hashes(files: dict[str, bytes]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The CSP hashes of the inline scripts and styles of a built site's pages (test stand-in for the build)."""
    from html.parser import HTMLParser

    from gate.csp import inline_hash

    scripts: set[str] = set()
    styles: set[str] = set()

    class Blocks(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=False)
            self.open: str | None = None
            self.text: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag == "style" or (tag == "script" and not dict(attrs).get("src")):
                self.open, self.text = tag, []

        def handle_data(self, data):
            if self.open:
                self.text.append(data)

        def handle_endtag(self, tag):
            if tag == self.open:
                (scripts if tag == "script" else styles).add(inline_hash("".join(self.text)))
                self.open = None

    for name, data in files.items():
        if name.endswith(".html"):
            Blocks().feed(data.decode("utf-8"))
    return tuple(sorted(scripts)), tuple(sorted(styles))


def write_members(store: storage.Store, communities: dict[str, dict]) -> None:
    """members.json in the snapshot format of docs/storage.md; values: {"members": {...}, "domains": [...]}."""
    snapshot = {"format": 1, "commit": None, "communities": {
        cid: {"title": spec.get("title", cid.title()), "language": spec.get("language", "fr"),
              "domains": spec.get("domains", []), "members": spec.get("members", {}),
              **{key: spec[key] for key in ("owner_name", "owner_title", "names", "terms") if key in spec}}
        for cid, spec in communities.items()}}
    store.put(storage.MEMBERS_KEY, json.dumps(snapshot).encode(), "application/json")


def day(offset: int) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=offset)).isoformat()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class _Client:
    """What both ways of talking to a gate share: requests by method, links and sessions signed with
    its keys. Subclasses give ``request``, ``keys_dir``, ``base``, ``cookie_name`` and ``now()``."""

    cookie_name = "diplomatie"
    grant_keys: Path | None = None  # the gate's --grant-keys file: sessions then carry their seal

    def now(self) -> float | None:
        """The time tokens are issued at (None: the wall clock)."""
        return None

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def post_form(self, path: str, fields: dict[str, str], **kw) -> Reply:
        headers = {"Content-Type": "application/x-www-form-urlencoded", **kw.pop("headers", {})}
        return self.request("POST", path, body=urlencode(fields).encode(), headers=headers, **kw)

    def invitation(self, community: str, email: str, *, ttl: int = 3600) -> str:
        ring = tokens.load(self.keys_dir)
        return tokens.issue(ring, tokens.INVITATION, email, issuer=self.base, audience=self.base, ttl=ttl,
                            community=community, now=self.now())

    def sign_in(self, community: str, email: str, *, ttl: int = 3600) -> str:
        """Open and confirm a fresh invitation; returns the ``Cookie`` header value of the session."""
        reply = follow_link(self, f"/auth?token={self.invitation(community, email, ttl=ttl)}")
        assert reply.status == 303, (reply.status, reply.body[:300])
        return self.sealed(cookie_of(reply))

    def session_cookie(self, email: str, *, ttl: int = 3600, now: float | None = None) -> str:
        """A session signed with the gate's keys, without going through /auth (with its seal, as the gate
        sets it beside every session when it has grant keys)."""
        ring = tokens.load(self.keys_dir)
        token = tokens.issue(ring, tokens.SESSION, email, issuer=self.base, audience=self.base, ttl=ttl,
                             now=self.now() if now is None else now)
        return self.sealed(f"{self.cookie_name}={token}")

    def sealed(self, cookie: str) -> str:
        """``name=<session>`` and, when the gate has grant keys, the session's seal (what a browser holds)."""
        if self.grant_keys is None:
            return cookie
        keys = tokens.read_grant_keys(self.grant_keys)
        seal = tokens.issue_seal(keys, cookie.split("=", 1)[1], time.time())
        return f"{cookie}; {keys.seal_cookie}={seal}"


class GateProcess(_Client):
    """``diplomatie gate`` in a subprocess on a free port (the real server, the real CLI)."""

    def __init__(self, store_dir: Path | str, keys_dir: Path, *, workers: int = 1, extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, log: Path | None = None, base_url: str | None = None,
                 cwd: Path | None = None) -> None:
        """``cwd``: the checkout whose code runs (default: this one; bench/nginx.py --baseline gives another)."""
        self.port = free_port()
        self.base = base_url or f"http://127.0.0.1:{self.port}"
        self.keys_dir = keys_dir
        if "--grant-keys" in extra:
            self.grant_keys = Path(extra[extra.index("--grant-keys") + 1])
        self.log = log or Path(store_dir).parent / f"gate-{self.port}.log"
        self.metrics_port = free_port()
        args = [sys.executable, "-m", "pipeline", "gate", "--store", str(store_dir), "--keys", str(keys_dir),
                "--base-url", self.base, "--port", str(self.port), "--insecure-dev", "--workers", str(workers),
                "--metrics-listen", f"127.0.0.1:{self.metrics_port}", *extra]
        self.handle = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, cwd=cwd or ROOT, stdout=self.handle, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 60  # a loaded machine was seen to take over 20 s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gate exited: {self.log.read_text()}")
            with contextlib.suppress(OSError):
                if self.request("GET", "/healthz").status in (200, 503):
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gate did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()
        release_port(self.port)
        release_port(self.metrics_port)

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None,
                cookie: str | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            hdrs = dict(headers or {})
            if cookie:
                hdrs["Cookie"] = cookie
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            merged: dict[str, str] = {}
            for k, v in resp.getheaders():
                merged[k.lower()] = f"{merged[k.lower()]}, {v}" if k.lower() in merged else v
            return Reply(resp.status, merged, data)
        finally:
            conn.close()

    def metrics(self) -> str:
        """/metrics from the gate's own metrics address (--metrics-listen)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=15)
        try:
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            assert resp.status == 200, resp.status
            return resp.read().decode()
        finally:
            conn.close()

    def settle(self, predicate) -> bool:
        """True once ``predicate()`` holds after the gate's poller has seen the store (waits up to 12 s)."""
        return wait_for(predicate, timeout=12)

def confirmation_form(reply: Reply) -> tuple[dict[str, str], str]:
    """The hidden fields of a link's confirmation page, and the Cookie header that goes with its POST."""
    assert reply.status == 200, (reply.status, reply.body[:300])
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', reply.body.decode()))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    return fields, cookie_of(reply)


def confirm(client, reply: Reply, cookie: str | None = None) -> Reply:
    """Press the confirmation page's button (POST /auth with its fields and the cookie it set)."""
    fields, set_cookie = confirmation_form(reply)
    cookie = "; ".join(c for c in (cookie, set_cookie) if c)
    return client.request("POST", "/auth", body=urlencode(fields).encode(), cookie=cookie or None,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})


def follow_link(client, path: str, cookie: str | None = None) -> Reply:
    """What a person does with a link: open it (GET), then confirm (POST)."""
    return confirm(client, client.request("GET", path, cookie=cookie), cookie)


def cookie_of(reply: Reply) -> str:
    """The ``Cookie`` header a browser sends after ``reply``: each cookie it set (the session first, then,
    behind nginx, the session's seal), those it deleted left out. (Our cookies use Max-Age, never
    Expires, so the merged header splits on ", ".)"""
    pairs = [c.split(";", 1)[0] for c in (reply.header("set-cookie") or "").split(", ")]
    kept = [p for p in pairs if not p.endswith("=")]
    return "; ".join(kept) if kept else pairs[0]


@contextlib.contextmanager
def running_gate(store_dir: Path, keys_dir: Path, **kw) -> Iterator[GateProcess]:
    gate = GateProcess(store_dir, keys_dir, **kw)
    try:
        yield gate
    finally:
        gate.stop()


def wait_for(predicate, timeout: float = 12.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class FakeClock:
    """The gate's injectable clock: time moves only when a test says so."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class GateClient(_Client):
    """The gate in process: httpx over its ASGI interface, a fake clock, no poller, logs in memory.

    Same methods as :class:`GateProcess` (``request``, ``get``, ``sign_in``, ``session_cookie``), so a
    test reads the same whichever it uses; call :meth:`refresh` where the real gate's poller would run.
    """

    def __init__(self, store_dir: Path | str, keys_dir: Path, *, base_url: str = "http://localhost:8000",
                 clock: FakeClock | None = None, **options) -> None:
        import asyncio
        import io

        import httpx

        from gate.app import Gate, GateConfig

        self.base = base_url
        self.keys_dir = keys_dir
        self.clock = clock or FakeClock()
        self.logs = io.StringIO()
        config = GateConfig(store=str(store_dir), keys=str(keys_dir), base_url=base_url,
                            insecure_dev=base_url.startswith("http://"), **options)
        self.gate = Gate(config, log_stream=self.logs, clock=self.clock, background=False)
        self.loop = asyncio.new_event_loop()
        # Accept-Encoding: identity unless a test asks otherwise, as http.client sends (GateProcess)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.gate, client=("192.0.2.7", 4242)),
                                        base_url=base_url, headers={"accept-encoding": "identity"})

    @property
    def cookie_name(self) -> str:
        return self.gate.sessions.cookie_name

    def now(self) -> float:
        return self.clock()

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.client.aclose())
        self.loop.close()

    def refresh(self) -> None:
        """What the poller does every poll_interval: re-read the store, send the delayed e-mails."""
        self.gate.refresh()
        self.gate.outbox.send_due()

    def settle(self, predicate) -> bool:
        """``predicate()`` after one poller tick (:class:`GateProcess` waits for its real poller instead)."""
        self.refresh()
        return predicate()

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None,
                cookie: str | None = None) -> Reply:
        hdrs = dict(headers or {})
        if cookie:
            hdrs["Cookie"] = cookie
        async def send() -> tuple[httpx.Response, bytes]:
            resp = await self.client.send(self.client.build_request(method, path, headers=hdrs, content=body),
                                          stream=True)
            raw = b"".join([chunk async for chunk in resp.aiter_raw()])  # the bytes sent, never decoded
            await resp.aclose()
            return resp, raw

        import httpx

        resp, raw = self.run(send())
        self.client.cookies.clear()  # cookies travel only as each test says (like GateProcess)
        merged: dict[str, str] = {}
        for k, v in resp.headers.multi_items():
            merged[k.lower()] = f"{merged[k.lower()]}, {v}" if k.lower() in merged else v
        return Reply(resp.status_code, merged, raw)

    def settle_mail(self) -> None:
        """Wait for the send jobs started so far (they run in worker threads after the answer)."""
        import asyncio

        async def drain() -> None:
            while self.gate.outbox.background:
                await asyncio.gather(*list(self.gate.outbox.background))

        self.run(drain())
        self.gate.log.flush()

    def mailed_links(self) -> list[tuple[str, str]]:
        """(recipient, link) of every sign-in e-mail the gate sent so far (no SMTP: they go to its log)."""
        self.settle_mail()
        out = []
        for line in self.logs.getvalue().splitlines():
            record = json.loads(line)
            if record.get("event") == "sign-in link (no SMTP configured)":
                out.append((record["to"], record["link"]))
        return out


@contextlib.contextmanager
def gate_in_process(store_dir: Path | str, keys_dir: Path, **kw) -> Iterator[GateClient]:
    client = GateClient(store_dir, keys_dir, **kw)
    try:
        yield client
    finally:
        client.close()


def published_cables(store: Path, community: str) -> tuple[str, ...]:
    """The cables of the community's current release, read as the gate reads them (the root, its
    cable list checked against its hash)."""
    folder = storage.open_store(store)
    return storage.read_manifest(folder, community, storage.read_pointer(folder, community).release).cables
