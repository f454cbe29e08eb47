"""The bytes of a community's current release: the release itself, the blob cache, and the answer.

A :class:`Release` is a community's pointer and manifest with the Content-Security-Policy of its pages
and scripts, built once from the manifest's theme hashes (gate/csp.py), never from the page being
served; its other files get the policy that allows nothing (:meth:`Release.policy`).
:class:`Blobs` answers with a blob's bytes, either from the byte-bounded cache (immutable,
content-addressed, with the response headers built once) or, behind nginx, as an ``X-Accel-Redirect``
naming the blob. Conditional requests go through ONE check (:func:`is_not_modified`) and ranges
through ONE parser (:func:`byte_range`), whoever sends the bytes.

A file with precompressed representations (``FileEntry.encodings``) is sent in the one the client
accepts (:meth:`Blobs.coding`, gate/negotiation.py), each with its own ETag (:func:`etag_of`), its
``Content-Encoding`` and ``Vary: Cookie, Accept-Encoding`` (on every answer for that file, identity
included). A range is always a range of the file as it is: a request with ``Range`` gets identity.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from gate import store as storage
from gate.csp import policy_for, site_policy
from gate.http import Request, Response
from gate.metrics import GateMetrics
from gate.negotiation import IDENTITY, choose

UNSATISFIABLE = (-1, -1)
#: A cache key (:func:`cache_key`): the blob sent, the file's type, the release's CSP, and the coding.
Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class Release:
    """A community's current release: its pointer, manifest, and the CSP of its pages and scripts."""

    pointer: storage.Pointer
    manifest: storage.Manifest
    csp: str

    @classmethod
    def of(cls, pointer: storage.Pointer, manifest: storage.Manifest) -> Release:
        """Raises ValueError for a manifest whose hashes are malformed (the release is then not served)."""
        return cls(pointer, manifest, site_policy(manifest.script_hashes, manifest.style_hashes))

    def policy(self, entry: storage.FileEntry) -> str:
        """The policy a file of this release is sent with (gate/csp.py :func:`policy_for`)."""
        return policy_for(entry.type, self.csp)


@dataclass(frozen=True)
class Served:
    """One file ready to send: its body, its ETag, and the two header lists every answer is built from."""

    body: bytes
    etag: str
    headers: list[tuple[str, str]]
    """The headers of a 200: content type first, then ``headers_without_type``."""
    headers_without_type: list[tuple[str, str]]
    """Every header of a 200 but the content type: what a 304 and a 416 carry, and what a 206 carries
    after its own content type and ``content-range``."""


class AccelHeaders(NamedTuple):
    """The prebuilt headers of a blob that nginx sends (``X-Accel-Redirect``), per blob, type and policy."""

    without_type: list[tuple[str, str]]
    """For a 304 and a 416: ETag, caching, policy, security; no content type, no redirect."""
    full: list[tuple[str, str]]
    """For a 200: content type, ``without_type``, and the ``x-accel-redirect`` naming the blob."""


class BlobCache:
    """Immutable blob bytes plus their prebuilt response headers, bounded by total size (LRU)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.items: OrderedDict[Key, Served] = OrderedDict()

    def get(self, key: Key) -> Served | None:
        served = self.items.get(key)
        if served is not None:
            self.items.move_to_end(key)
        return served

    def put(self, key: Key, served: Served) -> None:
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


def blob_of(entry: storage.FileEntry, coding: str) -> str:
    """The SHA-256 of the blob holding ``entry`` in ``coding`` (identity: the file's own)."""
    if coding == IDENTITY:
        return entry.sha256
    encoded = entry.encoded(coding)
    if encoded is None:  # choose() only picks among the entry's own codings
        raise ValueError(f"{entry.sha256} has no {coding} representation")
    return encoded.sha256


def cache_key(entry: storage.FileEntry, csp: str, coding: str) -> Key:
    """What a prebuilt answer depends on: the blob sent, the type, the CSP, and the coding, or "" for a
    file with no other representation (its answers carry ``Vary: Cookie`` only)."""
    return (blob_of(entry, coding), entry.type, csp, coding if entry.encodings else "")


def etag_of(entry: storage.FileEntry, coding: str) -> str:
    """One ETag per representation: the file's SHA-256 in base64url without padding (43 characters), then
    the coding (``"<hash>-br"``). The whole hash, in two thirds of the hex form's length: the tag travels
    in every answer and back in every revalidation, and nginx escapes it byte by byte (deploy/)."""
    tag = base64.urlsafe_b64encode(bytes.fromhex(entry.sha256)).decode("ascii").rstrip("=")
    return f'"{tag}"' if coding == IDENTITY else f'"{tag}-{coding}"'


#: Every file of a community's site, whole or 304: a browser keeps it but asks again each time (the
#: member may have been removed, the release changed); nginx adds it itself to the files it serves on a
#: grant (gate/grants.py ``nginx_file_headers_conf``, deploy/diplomatie_file_headers.conf).
FILE_CACHE_CONTROL = "private, no-cache"


def vary_of(entry: storage.FileEntry) -> str:
    """``Accept-Encoding`` joins ``Cookie`` for a file sent in several codings, whichever is sent."""
    return "Cookie, Accept-Encoding" if entry.encodings else "Cookie"


def typed(entry: storage.FileEntry, coding: str) -> list[tuple[str, str]]:
    """The content type, then the ``Content-Encoding`` of a compressed representation."""
    if coding == IDENTITY:
        return [("content-type", entry.type)]
    return [("content-type", entry.type), ("content-encoding", coding)]


class Blobs:
    """Loading, caching and answering with blobs (in process) or handing them to nginx (accel-redirect)."""

    def __init__(self, store: storage.Store, metrics: GateMetrics, security: list[tuple[str, str]], *,
                 cache_bytes: int, accel_prefix: str | None) -> None:
        self.store = store
        self.metrics = metrics
        self.security = security  # the headers every answer of the gate carries
        self.cache = BlobCache(cache_bytes)
        self.accel_prefix = accel_prefix  # nginx's internal location of the blobs; None: bytes sent here
        self.accel_headers: dict[Key, AccelHeaders] = {}

    @staticmethod
    def coding(req: Request, entry: storage.FileEntry) -> str:
        """The representation to send: the coding the client accepts best among the file's (brotli first
        on a tie), or identity: for a file without any, for a client accepting none, for every ``Range``
        request (a range is one of the file's own bytes, as most servers do)."""
        if not entry.encodings or req.header("range") is not None:
            return IDENTITY
        return choose(req.header("accept-encoding"), [name for name, _ in entry.encodings])

    async def served(self, entry: storage.FileEntry, csp: str, coding: str = IDENTITY) -> Served:
        key = cache_key(entry, csp, coding)
        served = self.cache.get(key)
        if served is not None:
            self.metrics.blob_hits += 1
            return served
        self.metrics.blob_misses += 1
        served = await asyncio.to_thread(self._load, entry, csp, coding)
        self.cache.put(key, served)
        return served

    def _load(self, entry: storage.FileEntry, csp: str, coding: str) -> Served:
        sha = blob_of(entry, coding)
        try:
            body = self.store.get(storage.blob_key(sha))
        except storage.NotFound as exc:
            raise storage.StoreUnavailable(f"blob {sha} listed in a manifest is missing") from exc
        if hashlib.sha256(body).hexdigest() != sha:
            raise storage.StoreUnavailable(f"blob {sha} does not match its hash")
        etag = etag_of(entry, coding)
        without_type = [("etag", etag), ("cache-control", FILE_CACHE_CONTROL), ("vary", vary_of(entry)),
                        ("accept-ranges", "bytes"), ("content-security-policy", csp), *self.security]
        return Served(body=body, etag=etag, headers=[*typed(entry, coding), *without_type],
                      headers_without_type=without_type)

    def answer(self, req: Request, served: Served, subject: str, community: str) -> Response:
        """200, 304 or 206/416 for a file served from the cache."""
        if is_not_modified(req.header("if-none-match"), served.etag):
            return Response(304, served.headers_without_type, b"", subject, community)
        rng = req.header("range")
        if rng is not None:
            if_range = req.header("if-range")
            span = byte_range(rng, len(served.body)) if if_range is None or if_range.strip() == served.etag else None
            if span == UNSATISFIABLE:
                return Response(416, [("content-range", f"bytes */{len(served.body)}"),
                                      *served.headers_without_type], b"", subject, community)
            if span is not None:
                start, end = span
                headers = [served.headers[0], ("content-range", f"bytes {start}-{end}/{len(served.body)}"),
                           *served.headers_without_type]
                return Response(206, headers, served.body[start:end + 1], subject, community)
        return Response(200, served.headers, served.body, subject, community)

    def accel(self, req: Request, entry: storage.FileEntry, csp: str, subject: str, community: str) -> Response:
        """Authorised: let nginx send the blob (``X-Accel-Redirect``), with this gate's headers.

        The gate still answers ``If-None-Match`` itself (its ETag is the blob hash, which nginx does not
        know) and picks the representation (the redirect names the compressed blob, with its
        ``Content-Encoding``); nginx handles ranges and HEAD. No file is read here: the CSP comes from
        the manifest.
        """
        coding = self.coding(req, entry)
        key = cache_key(entry, csp, coding)
        headers = self.accel_headers.get(key)
        if headers is None:
            without_type = [("etag", etag_of(entry, coding)), ("cache-control", FILE_CACHE_CONTROL),
                            ("vary", vary_of(entry)), ("content-security-policy", csp), *self.security]
            headers = AccelHeaders(without_type, [*typed(entry, coding), *without_type, (
                "x-accel-redirect", f"{self.accel_prefix}/{blob_of(entry, coding)}")])
            if len(self.accel_headers) >= 50_000:
                self.accel_headers.clear()
            self.accel_headers[key] = headers
        if is_not_modified(req.header("if-none-match"), headers.without_type[0][1]):
            return Response(304, headers.without_type, b"", subject, community)
        rng = req.header("range")
        if rng is not None and byte_range(rng, entry.size) == UNSATISFIABLE:  # else nginx's own error page
            return Response(416, [("content-range", f"bytes */{entry.size}"), *headers.without_type], b"",
                            subject=subject, community=community)
        return Response(200, headers.full, b"", subject, community)
