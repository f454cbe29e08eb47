"""The hot path: a member's request for a file of their community's current release.

Order of checks in :func:`serve_site`: the path (validated before any storage access), the session
(cached), membership, the release, the manifest entry; then the bytes, either from the blob cache or,
behind nginx, as an ``X-Accel-Redirect`` naming the blob. Conditional requests go through ONE check
(:func:`is_not_modified`) and ranges through ONE parser (:func:`byte_range`), whoever sends the bytes.

Every site file carries the Content-Security-Policy of the release it comes from, built once per
release from the manifest's theme hashes (gate/csp.py), never from the page being served.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from gate import store as storage
from gate.csp import site_policy
from gate.http import MAX_PATH, Refusal, Request, Response, bad_request, unavailable

if TYPE_CHECKING:
    from gate.app import Gate

DECIDE_HEADER = "x-diplomatie-decide"  # set by nginx's auth_request location only (deploy/nginx.conf)
_COMMUNITY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
UNSATISFIABLE = (-1, -1)


@dataclass(frozen=True)
class Release:
    """A community's current release: its pointer, manifest, and the CSP of all its files."""

    pointer: storage.Pointer
    manifest: storage.Manifest
    csp: str

    @classmethod
    def of(cls, pointer: storage.Pointer, manifest: storage.Manifest) -> Release:
        """Raises ValueError for a manifest whose hashes are malformed (the release is then not served)."""
        return cls(pointer, manifest, site_policy(manifest.script_hashes, manifest.style_hashes))


@dataclass(frozen=True)
class Served:
    """One file ready to send: body, ETag and the full header list of a 200."""

    body: bytes
    etag: str
    headers: list[tuple[str, str]]
    short_headers: list[tuple[str, str]]  # for 304 and 206: everything but the content type


class BlobCache:
    """Immutable blob bytes plus their prebuilt response headers, bounded by total size (LRU)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.items: OrderedDict[tuple[str, str, str], Served] = OrderedDict()

    def get(self, key: tuple[str, str, str]) -> Served | None:
        served = self.items.get(key)
        if served is not None:
            self.items.move_to_end(key)
        return served

    def put(self, key: tuple[str, str, str], served: Served) -> None:
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


def is_not_modified(if_none_match: str | None, etag: str) -> bool:
    """The one conditional-request check (RFC 9110 weak comparison of If-None-Match against our ETag)."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """A single ``bytes=`` range as (start, end inclusive); None to ignore the header; UNSATISFIABLE."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not spec.isascii() or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None  # ("²".isdigit() is true, and int() refuses it)
    if first == "":
        if last == "" or int(last) == 0:
            return None
        return max(size - int(last), 0), size - 1
    start = int(first)
    if start >= size:
        return UNSATISFIABLE
    end = min(int(last), size - 1) if last else size - 1
    return None if start > end else (start, end)


class Blobs:
    """Loading, caching and answering with blobs (in process) or handing them to nginx (accel-redirect)."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.store = gate.store
        self.metrics = gate.metrics
        self.security = gate.security
        self.cache = BlobCache(gate.config.cache_bytes)
        self.accel_prefix = gate.config.accel_redirect
        self.accel_headers: dict[tuple[str, str, str], tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {}

    async def served(self, entry: storage.FileEntry, csp: str) -> Served:
        key = (entry.sha256, entry.type, csp)
        served = self.cache.get(key)
        if served is not None:
            self.metrics.blob_hits += 1
            return served
        self.metrics.blob_misses += 1
        served = await asyncio.to_thread(self._load, entry, csp)
        self.cache.put(key, served)
        return served

    def _load(self, entry: storage.FileEntry, csp: str) -> Served:
        try:
            body = self.store.get(storage.blob_key(entry.sha256))
        except storage.NotFound as exc:
            raise storage.StoreUnavailable(f"blob {entry.sha256} listed in a manifest is missing") from exc
        if hashlib.sha256(body).hexdigest() != entry.sha256:
            raise storage.StoreUnavailable(f"blob {entry.sha256} does not match its hash")
        etag = f'"{entry.sha256}"'
        short = [("etag", etag), ("cache-control", "private, no-cache"), ("vary", "Cookie"),
                 ("accept-ranges", "bytes"), ("content-security-policy", csp), *self.security]
        return Served(body, etag, [("content-type", entry.type), *short], short)

    def answer(self, req: Request, served: Served, subject: str, community: str) -> Response:
        """200, 304 or 206/416 for a file served from the cache."""
        if is_not_modified(req.header("if-none-match"), served.etag):
            return Response(304, served.short_headers, b"", subject, community)
        rng = req.header("range")
        if rng is not None:
            if_range = req.header("if-range")
            span = byte_range(rng, len(served.body)) if if_range is None or if_range.strip() == served.etag else None
            if span == UNSATISFIABLE:
                return Response(416, [("content-range", f"bytes */{len(served.body)}"), *served.short_headers],
                                b"", subject, community)
            if span is not None:
                start, end = span
                headers = [served.headers[0], ("content-range", f"bytes {start}-{end}/{len(served.body)}"),
                           *served.short_headers]
                return Response(206, headers, served.body[start:end + 1], subject, community)
        return Response(200, served.headers, served.body, subject, community)

    def accel(self, req: Request, entry: storage.FileEntry, csp: str, subject: str, community: str) -> Response:
        """Authorised: let nginx send the blob (``X-Accel-Redirect``), with this gate's headers.

        The gate still answers ``If-None-Match`` itself (its ETag is the blob hash, which nginx does not
        know); nginx handles ranges and HEAD. No file is read here: the CSP comes from the manifest.
        """
        key = (entry.sha256, entry.type, csp)
        headers = self.accel_headers.get(key)
        if headers is None:
            short = [("etag", f'"{entry.sha256}"'), ("cache-control", "private, no-cache"), ("vary", "Cookie"),
                     ("content-security-policy", csp), *self.security]
            headers = (short, [("content-type", entry.type), *short,
                               ("x-accel-redirect", f"{self.accel_prefix}/{entry.sha256}")])
            if len(self.accel_headers) >= 50_000:
                self.accel_headers.clear()
            self.accel_headers[key] = headers
        if is_not_modified(req.header("if-none-match"), f'"{entry.sha256}"'):
            return Response(304, headers[0], b"", subject, community)
        rng = req.header("range")
        if rng is not None and byte_range(rng, entry.size) == UNSATISFIABLE:  # else nginx's own error page
            return Response(416, [("content-range", f"bytes */{entry.size}"), *headers[0]], b"", subject, community)
        return Response(200, headers[1], b"", subject, community)


def decision(resp: Response) -> Response:
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


async def serve_site(gate: Gate, req: Request) -> Response:
    """``/c/<community>/<path>``: the file, to a current member with a session; a refusal otherwise."""
    parsed = gate.site_paths.get(req.path)
    if parsed is None:
        parsed = split_site_path(req.path)
        if len(req.path) <= MAX_PATH + 80:  # never let a client fill memory with long paths
            if len(gate.site_paths) >= 20_000:
                gate.site_paths.clear()
            gate.site_paths[req.path] = parsed
    if parsed is False:
        raise bad_request()
    community, slash, rest = parsed
    now = gate.clock()
    cookie = req.header("cookie")
    claims = gate.sessions.cached(gate.sessions.token(cookie), now)
    if claims is None:
        claims = await gate.sessions.session(cookie, now)
        if claims is None:
            return gate.pages.redirect("/login?next=" + quote(req.path, safe="/"))
    subject = claims.sub
    if not gate.members().admits(community, subject, gate.today(now)):
        raise Refusal(403, "Not a member", "<p>You are signed in, but not as a member of this community.</p>"
                      '<p><a href="/">Your communities</a></p>', subject=subject, community=community)
    if not slash:
        return gate.pages.redirect(f"/c/{community}/", 301, subject=subject)
    release = gate.releases.get(community)
    if release is None:
        release = await asyncio.to_thread(gate.refresh_release, community)
        if release is None:
            if community in gate.release_errors:
                raise unavailable(community, subject)
            raise Refusal(404, "Not published yet", "<p>This community has no documents yet.</p>",
                          subject=subject, community=community)
    files = release.manifest.files
    name = rest + "index.html" if rest == "" or rest.endswith("/") else rest
    entry = files.get(name)
    blobs = gate.blobs
    if entry is None:
        if f"{name}/index.html" in files:
            return gate.pages.redirect(f"/c/{community}/{name}/", 301, subject=subject)
        page = files.get("404.html")
        if page is None:
            raise Refusal(404, "Not found", "<p>There is no such page.</p>", subject=subject, community=community)
        served = await blobs.served(page, release.csp)
        return Response(404, served.headers, served.body, subject, community)
    if blobs.accel_prefix is not None:
        return blobs.accel(req, entry, release.csp, subject, community)
    served = blobs.cache.get((entry.sha256, entry.type, release.csp))
    if served is None:
        served = await blobs.served(entry, release.csp)
    else:
        blobs.metrics.blob_hits += 1
    return blobs.answer(req, served, subject, community)
