"""Support for the gate tests: a store filled through gate.store, a real gate process, a plain HTTP client."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import json
import mimetypes
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gate import store as storage
from gate import tokens

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def content_type(path: str) -> str:
    guessed = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") or guessed.endswith("json") else guessed


def publish_site(store: storage.Store, community: str, files: dict[str, bytes], release: str) -> storage.Manifest:
    """Publish like the pipeline does, through the storage contract: blobs, then manifest, then pointer."""
    entries = {}
    for path, data in files.items():
        sha = hashlib.sha256(data).hexdigest()
        store.create(storage.blob_key(sha), data)
        entries[path] = storage.FileEntry(sha, len(data), content_type(path))
    now = storage.utc_now()
    manifest = storage.Manifest(community=community, release=release, commit=None, built_at=now,
                                published_at=now, cables=(), files=entries)
    store.put(manifest.key, manifest.to_json(), "application/json")
    storage.write_pointer(store, storage.Pointer(community, release, now))
    return manifest


def publish_folder(store: storage.Store, community: str, folder: Path, release: str) -> storage.Manifest:
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    return publish_site(store, community, files, release)


def write_members(store: storage.Store, communities: dict[str, dict]) -> None:
    """members.json in the snapshot format of docs/storage.md; values: {"members": {...}, "domains": [...]}."""
    snapshot = {"format": 1, "commit": None, "communities": {
        cid: {"title": spec.get("title", cid.title()), "language": spec.get("language", "fr"),
              "domains": spec.get("domains", []), "members": spec.get("members", {})}
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


class GateProcess:
    """``diplomatie gate`` in a subprocess on a free port (the real server, the real CLI)."""

    def __init__(self, store_dir: Path | str, keys_dir: Path, *, workers: int = 1, extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, log: Path | None = None, base_url: str | None = None) -> None:
        self.port = free_port()
        self.base = base_url or f"http://127.0.0.1:{self.port}"
        self.keys_dir = keys_dir
        self.log = log or Path(store_dir).parent / f"gate-{self.port}.log"
        args = [sys.executable, "-m", "pipeline", "gate", "--store", str(store_dir), "--keys", str(keys_dir),
                "--base-url", self.base, "--port", str(self.port), "--insecure-dev", "--workers", str(workers),
                *extra]
        self.handle = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=self.handle, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 20
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

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def sign_in(self, community: str, email: str, *, ttl: int = 3600) -> str:
        """Spend a fresh invitation; returns the ``Cookie`` header value of the session."""
        ring = tokens.load(self.keys_dir)
        token = tokens.issue(ring, tokens.INVITATION, email, issuer=self.base, audience=self.base, ttl=ttl,
                             community=community)
        reply = self.get(f"/auth?token={token}")
        assert reply.status == 302, (reply.status, reply.body[:300])
        return cookie_of(reply)

    def session_cookie(self, email: str, *, ttl: int = 3600, now: float | None = None) -> str:
        """A session signed with the gate's keys, without going through /auth."""
        ring = tokens.load(self.keys_dir)
        token = tokens.issue(ring, tokens.SESSION, email, issuer=self.base, audience=self.base, ttl=ttl, now=now)
        return f"diplomatie={token}"


def cookie_of(reply: Reply) -> str:
    set_cookie = reply.header("set-cookie") or ""
    return set_cookie.split(";", 1)[0]


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
