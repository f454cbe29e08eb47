"""Publication: one built site into the store, atomically; withdrawal purge, rollback and garbage collection.

A publication uploads only the blobs the store lacks (concurrently), checks each upload, writes the
release manifest, checks that every blob it names is there, and only then switches the community's
pointer, in one PUT. Anything failing before the switch leaves the previous release serving untouched;
running the publication again finishes the job (blobs already uploaded are not sent twice).

When a cable stops being published to a community, every older release of that community holding it
is marked not restorable, and every blob no restorable release uses is deleted, so withdrawn text
leaves storage at once. A release naming a cable of the withdrawn register (pipeline/withdrawals.py)
is neither published nor restored, whatever version it was built from. The layout and the rules are
documented in docs/storage.md.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import mimetypes
import os
import socket
import stat
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from gate.store import (
    BLOBS_PREFIX,
    FORMAT,
    LEASES_PREFIX,
    LEDGER_PREFIX,
    MEMBERS_KEY,
    UNRESTORABLE_PREFIX,
    BlobReader,
    Encoded,
    FileEntry,
    Manifest,
    ManifestUnreadable,
    NotFound,
    Pointer,
    Store,
    StoreError,
    blob_key,
    communities,
    lease_key,
    manifest_key,
    parse_utc_text,
    read_manifest,
    read_pointer,
    read_release_cables,
    read_release_head,
    release_ids,
    unrestorable_key,
    utc_text,
    write_pointer,
)
from pipeline import withdrawals
from pipeline.audit import CSP_FILE, SITE_DATA, ThemeCode, read_code
from pipeline.messages import _
from pipeline.parallel import parallel_map
from pipeline.precompress import precompress, worth_compressing
from pipeline.withdrawals import Register

#: Content types the sites use, with charsets; anything else comes from :mod:`mimetypes`.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ico": "image/x-icon",
}

#: A publication's lease older than this belongs to a publisher that died: gc ignores it.
LEASE_TTL = dt.timedelta(hours=1)
#: gc keeps blobs no release uses when younger than this (an upload of a running publication).
MIN_ORPHAN_AGE = dt.timedelta(minutes=10)
PURGE_PENDING_PREFIX = "purge-pending/"
#: Up to this many bytes of text to compress, one process does it (see :func:`with_encodings`).
COMPRESS_ALONE = 1 << 20


class PublishError(Exception):
    """A publication, rollback or gc that cannot go on; the message says what to do."""


class UnknownRelease(PublishError):
    """``rollback --to`` names no release of the community (the command says how to list them)."""


class BuiltSite(Protocol):
    """What publication needs of a build (pipeline.build.SiteBuild has these fields, and ``replies``:
    reply id -> digest of the members' replies its cable pages show, which the manifest lists; a
    build without it shows none)."""

    community: str
    path: Path
    cables: tuple[str, ...]
    commit: str | None
    built_at: str


@dataclass(frozen=True)
class LocalFile:
    path: Path
    entry: FileEntry


@dataclass(frozen=True)
class PublishResult:
    """What one community's publication did."""

    community: str
    release: str
    previous: str | None
    changed: bool  # False: the site equals the serving release, nothing was written
    uploaded: int
    skipped: int
    bytes_uploaded: int
    cables: int
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unrestorable: tuple[str, ...] = ()  # older releases marked not restorable by this publication
    deleted_blobs: int = 0
    manifest_bytes: int = 0  # the manifest's root and the nodes it uploaded (not in ``bytes_uploaded``)

    def summary(self) -> dict[str, Any]:
        """The per-community object of ``diplomatie publish --format json``."""
        return {"release": self.release, "uploaded": self.uploaded, "skipped": self.skipped,
                "bytes_uploaded": self.bytes_uploaded, "manifest_bytes": self.manifest_bytes, "cables": self.cables}


# ------------------------------------------------------------------------------------ small pieces


def utc(now: dt.datetime | None = None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)


def content_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def default_publisher() -> str:
    """Who runs the publication, for the ledger: ``user@host``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def scan_site(root: Path, file_digests: MutableMapping[str, list] | None = None) -> dict[str, LocalFile]:
    """Every file of a built site: relative path -> where it is and its content address.

    ``file_digests`` remembers each file's digest with its size, times and inode (as git's index does):
    a file whose four are unchanged is not read again. It is updated in place. Whatever it says, an
    uploaded blob is hashed again as it is sent (:meth:`_Upload.send`), so a wrong entry can never
    store bytes under another blob's name."""
    if not root.is_dir():
        raise PublishError(_("{root}: no built site here (build it first)").format(root=root))
    files: dict[str, LocalFile] = {}
    seen: dict[str, list] = {}
    for rel in _walk(root):
        path = root / rel
        try:
            st = os.stat(path)
        except OSError:  # a dangling link: not a file of the site
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        identity = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]  # as git's index: unchanged, not read
        entry = (file_digests or {}).get(rel)
        if entry is not None and entry[:4] == identity:
            digest = entry[4]
        else:
            with path.open("rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
        seen[rel] = [*identity, digest]
        files[rel] = LocalFile(path, FileEntry(digest, st.st_size, content_type(rel)))
    if not files:
        raise PublishError(_("{root}: the built site is empty").format(root=root))
    if file_digests is not None:
        file_digests.clear()
        file_digests.update(seen)
    return files


def _walk(root: Path) -> list[str]:
    """Every path under ``root`` but folders, relative, with forward slashes, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        rel = os.path.relpath(dirpath, root)
        if rel == ".":  # what the build keeps for publication, not a page of the site
            dirnames[:] = [d for d in dirnames if d != SITE_DATA]
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        out += [prefix + name for name in filenames]
    return sorted(out)


def release_id(moment: dt.datetime, files: dict[str, FileEntry]) -> str:
    """``20261128T140512.123Z-1a2b3c4d``: sorts by time; the suffix tells two same-millisecond releases apart."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(f"{path}\0{files[path].sha256}\n".encode())
    moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y%m%dT%H%M%S}.{moment.microsecond // 1000:03d}Z-{h.hexdigest()[:8]}"


def _json(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode()


def write_ledger(store: Store, action: str, community: str, record: dict[str, Any],
                 now: dt.datetime | None = None) -> str:
    """Append one record to the ledger (a new key, created if absent: records are never rewritten)."""
    moment = utc(now)
    sortable_time = f"{moment:%Y%m%dT%H%M%S}.{moment.microsecond:06d}Z"
    key = f"{LEDGER_PREFIX}{sortable_time}-{community}-{action}-{uuid.uuid4().hex[:8]}.json"
    body = {"format": FORMAT, "action": action, "community": community, "at": utc_text(moment), **record}
    data = _json(body)
    # the key is unique; finding it means a retried write whose first answer was lost
    if not store.create(key, data, "application/json") and store.get(key) != data:
        raise PublishError(_("ledger record {key} already exists").format(key=key))
    return key


def ledger(store: Store) -> Iterator[dict[str, Any]]:
    """Every ledger record, oldest first."""
    for key in store.list(LEDGER_PREFIX):
        yield json.loads(store.get(key))


def write_members(store: Store, snapshot: dict[str, Any]) -> None:
    """Write the membership snapshot the gate reads (one PUT: the gate sees old or new)."""
    if snapshot.get("format") != FORMAT or not isinstance(snapshot.get("communities"), dict):
        raise PublishError(_("membership snapshot: not a format 1 snapshot with communities"))
    store.put(MEMBERS_KEY, (json.dumps(snapshot, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode(),
              "application/json")


# ------------------------------------------------------------------------------------- publication


@dataclass
class _Upload:
    store: Store
    files: dict[str, LocalFile]
    jobs: int
    progress: bool
    present: frozenset[str] = frozenset()  # blobs of the serving release: in the store, kept by gc
    encoded: dict[str, bytes] = field(default_factory=dict)  # new precompressed blobs, by their SHA-256
    nodes: frozenset[str] = frozenset()  # of those, the manifest's nodes (counted apart from the files)
    uploaded: set[str] = field(default_factory=set)
    bytes: int = 0
    nodes_uploaded: set[str] = field(default_factory=set)
    node_bytes: int = 0

    #: Up to this many blobs to look for, one HEAD each; above, one listing of every blob is cheaper.
    HEAD_AT_MOST = 256

    def by_sha(self) -> dict[str, LocalFile]:
        return {f.entry.sha256: f for f in self.files.values()}

    def all_blobs(self) -> set[str]:
        """Every blob the release names: its files' and their precompressed representations'."""
        return {sha for f in self.files.values() for sha in f.entry.blobs()} | set(self.encoded)

    def size_of(self, sha: str, local: dict[str, LocalFile]) -> int:
        if sha in self.encoded:
            return len(self.encoded[sha])
        if sha in local:
            return local[sha].entry.size
        return next(enc.size for f in self.files.values() for _, enc in f.entry.encodings if enc.sha256 == sha)

    def remake(self, sha: str) -> bytes:
        """A compressed copy named by a serving release but missing from the store (lost): made again
        from its file, which works as long as the compressor gives the same bytes (it is deterministic)."""
        for f in self.files.values():
            for name, enc in f.entry.encodings:
                if enc.sha256 == sha:
                    data = precompress(f.path.read_bytes(), f.entry.type).get(name)
                    if data is not None and hashlib.sha256(data).hexdigest() == sha:
                        return data
        raise PublishError(_("blob {sha}, a compressed copy a serving release names, is missing from the store and this compressor does not make the same bytes; restore it from a backup").format(sha=sha))

    def missing(self) -> list[str]:
        """The blobs of this site the store lacks. Those of the serving release are there (it was
        checked whole when published, and gc keeps it), so only the others are looked for: after a
        small change, a few HEAD requests in place of listing the whole store."""
        candidates = sorted(self.all_blobs() - self.present)
        if len(candidates) > self.HEAD_AT_MOST:
            listed = {k[len(BLOBS_PREFIX):] for k in self.store.list(BLOBS_PREFIX)}
            return [sha for sha in candidates if sha not in listed]
        found = parallel_map(lambda sha: (sha, self.store.head(blob_key(sha)) is not None), candidates,
                             jobs=self.jobs)
        return sorted(sha for sha, there in found if not there)

    def send(self, shas: list[str], label: str) -> None:
        """Upload the blobs, then HEAD each one: the manifest names only blobs seen complete in the store."""
        local = self.by_sha()

        def put(sha: str) -> None:
            if sha in self.encoded or sha not in local:  # a compressed copy: made now, or lost and made again
                self.store.put(blob_key(sha), self.encoded[sha] if sha in self.encoded else self.remake(sha))
                return
            f = local[sha]
            data = f.path.read_bytes()
            if hashlib.sha256(data).hexdigest() != sha:
                raise PublishError(_("{path} changed while it was being published; build and publish again").format(path=f.path))
            self.store.put(blob_key(sha), data, f.entry.type)

        def check(sha: str) -> None:
            info = self.store.head(blob_key(sha))
            if info is None or info.size != self.size_of(sha, local):
                what = local[sha].path if sha in local else _("a compressed copy")
                raise PublishError(_("blob {sha} ({what}) is missing or truncated in the store after upload; publish again").format(sha=sha, what=what))

        list(parallel_map(put, shas, jobs=self.jobs, progress=_("uploading {label}").format(label=label) if self.progress else None))
        list(parallel_map(check, shas, jobs=self.jobs))
        for sha in shas:
            if sha in self.nodes:
                if sha not in self.nodes_uploaded:
                    self.nodes_uploaded.add(sha)
                    self.node_bytes += len(self.encoded[sha])
            elif sha not in self.uploaded:
                self.uploaded.add(sha)
                self.bytes += self.size_of(sha, local)


def publish_site(store: Store, site: BuiltSite, *, jobs: int = 16, now: dt.datetime | None = None,
                 by: str | None = None, progress: bool = False,
                 file_digests: MutableMapping[str, list] | None = None, register: Register | None = None,
                 text_digests: Mapping[str, str] | None = None, reader: BlobReader | None = None,
                 stamp: MutableMapping[str, Any] | None = None) -> PublishResult:
    """Publish one community's built site; see the module docstring for the order of the steps.
    ``file_digests``: the digests of the site's files at the last publish (see :func:`scan_site`).
    ``register``: the withdrawn register (read from the store when not given); a site holding a cable
    it lists, by id or (``text_digests``: cable id -> text digest) by text, is refused before anything is written.
    ``reader``: reads manifests' nodes (give one with a cache folder, so a release published from here
    is not read from the store again). ``stamp``: what this publisher recorded of its last publication
    of the community (:func:`site_fingerprint`, release, blobs), updated in place: when the serving
    release is the one recorded for the same fingerprint, the site is unchanged without being read."""
    community = site.community
    reader = reader or BlobReader(store)
    manifest_key(community, "x")  # validates the community id before anything is written
    by = by or default_publisher()
    # 1. A site holding a withdrawn cable is refused before anything is read or written.
    _refuse_withdrawn(store, community, site.cables, register, text_digests)
    cables = tuple(site.cables)
    replies = dict(getattr(site, "replies", None) or {})
    # 2. What serves now. The release this publisher last published from a site of the same
    #    fingerprint: the site is unchanged, and neither its files nor the manifest are read.
    pointer = read_pointer(store, community)
    fingerprint = site_fingerprint(store, site)
    clean = _clean_of(stamp, fingerprint)
    if stamp is not None and fingerprint and pointer is not None and stamp.get("fingerprint") == fingerprint \
            and stamp.get("release") == pointer.release:
        blobs = int(stamp.get("blobs", 0))
        result = _unchanged(store, community, pointer.release, cables, blobs, by, now, reader, clean)
        _record_stamp(stamp, fingerprint, pointer.release, blobs, clean)
        return result
    # 3. What the built site holds: each file's content address, the theme's inline-code hashes.
    local = scan_site(Path(site.path), file_digests)
    code = _theme_code(Path(site.path))
    current = _current_manifest(store, community, pointer, reader)
    local, encoded = with_encodings(local, current, jobs, lambda: _other_serving(store, community, reader))
    files = {path: f.entry for path, f in local.items()}
    blobs_needed = {sha for e in files.values() for sha in e.blobs()}
    if current is not None and current.files == files and set(current.cables) == set(cables) \
            and current.replies == replies:  # an unchanged site writes nothing but finishes a pending purge
        result = _unchanged(store, community, current.release, cables, len(blobs_needed), by, now, reader, clean)
        _record_stamp(stamp, fingerprint, current.release, len(blobs_needed), clean)
        return result

    # 4. Upload what the store lacks, write the manifest, switch the pointer: a failure on the way
    #    leaves the previous release serving.
    moment = utc(now)
    release = release_id(moment, files)
    lease = lease_key(community, release)
    manifest, root, nodes = Manifest(
        community=community, release=release, commit=site.commit, built_at=site.built_at,
        published_at=utc_text(moment), cables=cables, files=files,
        script_hashes=tuple(sorted(code.scripts)), style_hashes=tuple(sorted(code.styles)),
        texts={c: text_digests[c] for c in cables if c in (text_digests or {})}, replies=replies).encode()
    present = frozenset(current.blobs()) if current else frozenset()
    upload = _Upload(store, local, jobs, progress, present, {**encoded, **nodes}, frozenset(nodes))
    try:
        # the lease tells a concurrent gc which blobs this publication needs, before it looks for them:
        # those of the serving release it builds on (``base``, kept while the lease lives), and the others
        new_blobs = (blobs_needed | set(nodes)) - present
        store.put(lease, _json({"format": FORMAT, "community": community, "release": release,
                                "started_at": utc_text(moment), "by": by,
                                "base": current.release if current else None, "blobs": sorted(new_blobs)}),
                  "application/json")
        upload.send(upload.missing(), community)
        if not store.create(manifest.key, root, "application/json") and store.get(manifest.key) != root:
            raise PublishError(_("release {release} of {community} already exists with other contents; publish again").format(release=release, community=community))
        upload.send(upload.missing(), f"{community} (repair)")  # blobs a concurrent gc removed meanwhile
        reader.remember(nodes)
        _check_pointer_unchanged(store, community, pointer)
        write_pointer(store, Pointer(community=community, release=release, switched_at=utc_text(utc(now))))
    except StoreError as exc:
        previous = (_("release {release} still serves").format(release=pointer.release) if pointer
                    else _("nothing was published"))
        raise PublishError(_("{community}: publication stopped before the switch ({exc}); {previous}; run publish again to finish").format(community=community, exc=exc, previous=previous)) from exc
    finally:
        with suppress(StoreError):
            store.delete([lease])

    # 5. The ledger's record, then older releases holding what this one dropped made unrestorable.
    before = set(current.cables) if current else set()
    added = tuple(c for c in cables if c not in before)
    removed = tuple(sorted(before - set(cables)))
    try:  # the cables and their texts are in the manifest: the record says what changed
        write_ledger(store, "publish", community, {
            "by": by, "release": release, "previous": pointer.release if pointer else None,
            "commit": site.commit, "cable_count": len(cables), "added": list(added), "removed": list(removed),
            "uploaded": len(upload.uploaded), "bytes_uploaded": upload.bytes,
            "manifest_bytes": len(root) + upload.node_bytes}, now)
        marked = _mark_withdrawn(store, community, release, set(cables), by, now, reader, clean)
        deleted = _purge_if_pending(store, community, now)
    except StoreError as exc:  # the next publication, even a no-op, marks and purges what is left
        raise PublishError(_("{community}: now serves {release}, but recording or purging withdrawn content failed ({exc}); run publish again to finish").format(community=community, release=release, exc=exc)) from exc
    _record_stamp(stamp, fingerprint, release, len(blobs_needed), clean)
    return PublishResult(community=community, release=release, previous=pointer.release if pointer else None,
                         changed=True, uploaded=len(upload.uploaded),
                         skipped=len(blobs_needed) - len(upload.uploaded), bytes_uploaded=upload.bytes,
                         cables=len(cables), added=added, removed=removed, unrestorable=marked,
                         deleted_blobs=deleted, manifest_bytes=len(root) + upload.node_bytes)


def site_fingerprint(store: Store, site: BuiltSite) -> str:
    """What identifies a built site for a publication from here: the build's key (a hash of every
    input of the site, ``SiteBuild.key``: equal keys, equal files), with the store's address, the
    cables, the replies, the commit and the build time the manifest records. "" for a site with no
    key: read it. (The release recorded with it must also be the one serving: a release's id names its
    moment and files, so no other store serves it with other contents.)"""
    key = getattr(site, "key", "")
    if not key:
        return ""
    identity = [store.url, key, sorted(site.cables), site.commit, site.built_at,
                sorted((getattr(site, "replies", None) or {}).items())]
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def _record_stamp(stamp: MutableMapping[str, Any] | None, fingerprint: str, release: str, blobs: int,
                  clean: set[str]) -> None:
    if stamp is not None:
        stamp.clear()
        if fingerprint:
            stamp.update({"fingerprint": fingerprint, "release": release, "blobs": blobs, "clean": sorted(clean)})


def _clean_of(stamp: Mapping[str, Any] | None, fingerprint: str) -> set[str]:
    """The older releases found holding no cable outside the site's, when the stamp is of this very site
    (its fingerprint names the cables): a release never changes, so they need no second look."""
    if stamp is None or not fingerprint or stamp.get("fingerprint") != fingerprint:
        return set()
    clean = stamp.get("clean", [])
    return {r for r in clean if isinstance(r, str)} if isinstance(clean, list) else set()


def _unchanged(store: Store, community: str, release: str, cables: tuple[str, ...], blobs: int, by: str,
               now: dt.datetime | None, reader: BlobReader, clean: set[str]) -> PublishResult:
    """The serving release is the site: nothing is written, but a pending purge is finished and any
    older release holding a cable this one dropped is marked not restorable."""
    try:
        marked = _mark_withdrawn(store, community, release, set(cables), by, now, reader, clean)
        deleted = _purge_if_pending(store, community, now)
    except StoreError as exc:
        raise PublishError(_("{community}: unchanged, release {release} serves; purging withdrawn content failed ({exc}); run publish again to finish").format(community=community, release=release, exc=exc)) from exc
    return PublishResult(community=community, release=release, previous=release, changed=False, uploaded=0,
                         skipped=blobs, bytes_uploaded=0, cables=len(cables), unrestorable=marked,
                         deleted_blobs=deleted)


def with_encodings(local: dict[str, LocalFile], current: Manifest | None, jobs: int,
                   others: Callable[[], Iterable[Manifest]] = tuple) -> tuple[dict[str, LocalFile], dict[str, bytes]]:
    """The site's files with their precompressed representations (``FileEntry.encodings``), and the
    bytes of those this publication made (SHA-256 -> bytes).

    A file the serving release already holds, by the same hash and type, keeps that release's
    representations (compressing is the costly part, so an unchanged site compresses nothing);
    unless that release predates precompression, in which case every text file is compressed once.
    Before compressing, the serving releases of the other communities (``others``, read only then)
    are asked too: the theme's stylesheets and scripts are compressed once for all communities.
    Compression runs in worker processes (brotli's best quality is CPU-bound).
    """
    known: dict[tuple[str, str], tuple[tuple[str, Encoded], ...]] = {}
    for manifest in [current] if current is not None else []:
        _learn_encodings(known, manifest)

    def todo() -> list[tuple[tuple[str, str], Path]]:
        return sorted({(f.entry.sha256, f.entry.type): f.path for f in local.values()
                       if (f.entry.sha256, f.entry.type) not in known and worth_compressing(f.entry)}.items())

    if todo():
        for manifest in others():
            _learn_encodings(known, manifest)

    def compress(item: tuple[tuple[str, str], Path]) -> tuple[tuple[str, str], dict[str, bytes]]:
        (sha, kind), path = item
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            raise PublishError(_("{path} changed while it was being published; build and publish again").format(path=path))
        return (sha, kind), precompress(data, kind)

    items = todo()
    # worker processes only when there is enough to do: forking costs more than compressing a few pages
    workers = min(jobs, os.cpu_count() or 1) if sum(p.stat().st_size for _, p in items) > COMPRESS_ALONE else 1
    encoded: dict[str, bytes] = {}
    for key, representations in parallel_map(compress, items, jobs=workers, processes=True):
        digests = []
        for name, data in representations.items():
            digest = hashlib.sha256(data).hexdigest()
            encoded[digest] = data
            digests.append((name, Encoded(digest, len(data))))
        known[key] = tuple(digests)
    out = {path: LocalFile(f.path, replace(f.entry, encodings=known.get((f.entry.sha256, f.entry.type), ())))
           for path, f in local.items()}
    return out, encoded


def _learn_encodings(known: dict[tuple[str, str], tuple[tuple[str, Encoded], ...]], manifest: Manifest) -> None:
    """Remember the representations of a release written since precompression (an older one has none
    anywhere, and its files must be compressed, not taken as not worth it)."""
    if any(e.encodings for e in manifest.files.values()):
        for e in manifest.files.values():
            known.setdefault((e.sha256, e.type), e.encodings)


def _other_serving(store: Store, community: str, reader: BlobReader | None = None) -> Iterator[Manifest]:
    """The serving release of every other community (their blobs are in the store, kept by gc)."""
    for other in communities(store):
        if other == community:
            continue
        try:  # only a saving: a community that cannot be read is compressed for again
            pointer = read_pointer(store, other)
            manifest = read_manifest(store, other, pointer.release, reader) if pointer else None
        except StoreError:
            continue
        if manifest is not None:
            yield manifest


def _refuse_withdrawn(store: Store, community: str, cables: Iterable[str], register: Register | None,
                      text_digests: Mapping[str, str] | None = None, what: str = "publication") -> None:
    """Refuse a release holding a cable of the withdrawn register, whatever version it was built from."""
    try:
        register = register if register is not None else withdrawals.read(store)
    except StoreError as exc:  # fail closed: the register guards what may be served
        raise PublishError(_("{community}: the withdrawn register cannot be read ({exc}); {what} refused").format(community=community, exc=exc, what=what)) from exc
    why = register.refusal(cables, text_digests)
    if why:
        raise PublishError(_("{community}: {what} refused: {why}").format(community=community, what=what, why=why))


def _theme_code(site_dir: Path) -> ThemeCode:
    """The hashes of the theme's inline scripts and styles the build recorded: the gate's CSP for the
    release. Without them a release could not run its theme, and a guess could allow too much."""
    try:
        return read_code(site_dir)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PublishError(_("{site_dir}: no readable {CSP_FILE} (the theme's script hashes): build the site again ({exc})").format(site_dir=site_dir, CSP_FILE=CSP_FILE, exc=exc)) from None


def _check_pointer_unchanged(store: Store, community: str, before: Pointer | None) -> None:
    """Refuse to switch when another publication or a rollback switched the community meanwhile.

    Its release may be newer than ours (a withdrawal ours still holds): the last one to switch must
    not silently win. Running publish again starts from the new state.
    """
    now_serving = read_pointer(store, community)
    if (now_serving.release if now_serving else None) != (before.release if before else None):
        raise PublishError(_("{community}: switched to {release} by another publication or rollback while this one ran; {release} still serves; run publish again").format(community=community, release=now_serving.release if now_serving else _('nothing')))


def _current_manifest(store: Store, community: str, pointer: Pointer | None,
                      reader: BlobReader | None = None) -> Manifest | None:
    """The serving release's manifest; None when there is none, or when it cannot be read whole (a
    node lost): the publication then looks for every blob it needs, as a first one does, and writes
    a whole new release."""
    if pointer is None:
        return None
    try:
        return read_manifest(store, community, pointer.release, reader)
    except (NotFound, ManifestUnreadable):
        return None


def _mark_withdrawn(store: Store, community: str, serving: str, published: set[str], by: str,
                    now: dt.datetime | None, reader: BlobReader | None = None,
                    clean: set[str] | None = None) -> tuple[str, ...]:
    """Mark every restorable release holding a cable that the ``serving`` release (which holds the
    cables ``published``) no longer publishes.

    The purge-pending key is written first, so a purge that fails after the marking is finished by
    the next publication. ``clean``: releases already found to hold only cables of ``published``,
    skipped, and completed with those found now (so a no-op publication asks the store for the list
    of releases, not about each of them: its requests do not grow with the community's history).
    """
    marked: list[str] = []
    reader = reader or BlobReader(store)
    clean = set() if clean is None else clean
    listed = release_ids(store, community)
    clean.intersection_update(listed)  # a release gc removed is no longer remembered
    for release in listed:
        if release == serving or release in clean or store.exists(unrestorable_key(community, release)):
            continue
        try:
            gone = sorted(set(read_release_cables(store, community, release, reader)) - published)
        except NotFound:
            continue
        if not gone:
            clean.add(release)
            continue
        if not marked:
            store.put(f"{PURGE_PENDING_PREFIX}{community}", _json({"format": FORMAT, "since": utc_text(utc(now))}))
        store.put(unrestorable_key(community, release), _json({
            "format": FORMAT, "community": community, "release": release, "cables": gone,
            "marked_at": utc_text(utc(now)), "by": by, "serving": serving}), "application/json")
        write_ledger(store, "unrestorable", community, {"by": by, "release": release, "cables": gone}, now)
        marked.append(release)
    return tuple(marked)


def _purge_if_pending(store: Store, community: str, now: dt.datetime | None) -> int:
    key = f"{PURGE_PENDING_PREFIX}{community}"
    if not store.exists(key):
        return 0
    deleted = sweep(store, now=now)
    store.delete([key])
    return deleted


# ------------------------------------------------------------------------------------ sweeping


@dataclass(frozen=True)
class _Leases:
    blobs: set[str]
    oldest: dt.datetime | None


def _live_leases(store: Store, now: dt.datetime, reader: BlobReader | None = None) -> _Leases:
    """The blobs running publications need: those their leases list, and those of the release each
    builds on (``base``). A base that cannot be read whole stops the sweep (fail closed)."""
    blobs: set[str] = set()
    oldest: dt.datetime | None = None
    for key in store.list(LEASES_PREFIX):
        try:
            lease = json.loads(store.get(key))
            started = parse_utc_text(lease["started_at"])
        except (NotFound, ValueError, KeyError):
            continue
        if now - started > LEASE_TTL:
            continue  # its publisher died; its blobs are orphans now
        blobs.update(lease.get("blobs", ()))
        if lease.get("base"):
            with suppress(NotFound):  # a base collected since: nothing of it to keep
                blobs |= read_manifest(store, str(lease["community"]), str(lease["base"]), reader).blobs()
        oldest = started if oldest is None or started < oldest else oldest
    return _Leases(blobs, oldest)


def sweep(store: Store, *, drop: Iterable[tuple[str, str]] = (), now: dt.datetime | None = None,
          min_age: dt.timedelta = MIN_ORPHAN_AGE) -> int:
    """Delete every blob no restorable release uses; return how many.

    Blobs used by unrestorable (or ``drop``-ped) releases only go at once, whatever their age: they hold
    withdrawn or collected content. Blobs no manifest names go only when older than ``min_age`` before
    the oldest running publication: they may be its uploads, not yet named by its manifest. The blobs
    that running publications (their leases) need are always kept.
    """
    moment = utc(now)
    dropped = set(drop)
    reader = BlobReader(store)
    present = {o.key[len(BLOBS_PREFIX):]: o for o in store.scan(BLOBS_PREFIX)}
    live: set[str] = set()
    dead: set[str] = set()
    nodes: set[str] = set()
    for community in communities(store):
        pointer = read_pointer(store, community)
        marked = {k.rsplit("/", 1)[1][:-len(".json")] for k in store.list(f"{UNRESTORABLE_PREFIX}{community}/")}
        for release in release_ids(store, community):
            serving = pointer is not None and pointer.release == release
            kept = serving or (release not in marked and (community, release) not in dropped)
            try:
                manifest = read_manifest(store, community, release, reader)
            except NotFound:
                continue
            except ManifestUnreadable:
                if kept:  # what it uses is unknown: deleting anything could leave it with holes
                    raise
                continue  # a purge cut short: its remaining blobs are orphans, collected by age
            used = manifest.blobs()
            nodes |= manifest.nodes
            if kept:
                live |= used
            elif (community, release) in dropped:
                dead |= used
            else:  # unrestorable: its files go, its manifest stays the record of what it served
                dead |= used - manifest.nodes
                live |= manifest.nodes
    leases = _live_leases(store, moment, reader)
    cutoff = min(moment, leases.oldest or moment) - min_age
    doomed = {sha for sha, info in present.items()
              if sha not in live and sha not in leases.blobs and (sha in dead or info.modified < cutoff)}
    doomed -= _live_leases(store, moment, reader).blobs  # a publication that started meanwhile
    # the files' blobs first, the manifests' nodes last: a sweep cut short leaves no release whose
    # nodes are gone while blobs only they name remain
    store.delete(blob_key(sha) for sha in sorted(doomed, key=lambda sha: (sha in nodes, sha)))
    return len(doomed)


# -------------------------------------------------------------------------- releases, rollback, gc


@dataclass(frozen=True)
class ReleaseInfo:
    community: str
    release: str
    published_at: str
    commit: str | None
    cables: int
    files: int
    restorable: bool
    current: bool

    def to_dict(self) -> dict[str, Any]:
        return {"release": self.release, "published_at": self.published_at, "commit": self.commit,
                "cables": self.cables, "files": self.files, "restorable": self.restorable, "current": self.current}


def list_releases(store: Store, community: str) -> list[ReleaseInfo]:
    """The community's releases, newest first, with the serving one and the restorable ones marked."""
    pointer = read_pointer(store, community)
    marked = {k.rsplit("/", 1)[1][:-len(".json")] for k in store.list(f"{UNRESTORABLE_PREFIX}{community}/")}
    infos = []
    for release in reversed(release_ids(store, community)):
        try:
            m = read_release_head(store, community, release)
        except NotFound:
            continue
        infos.append(ReleaseInfo(community=community, release=release, published_at=m.published_at,
                                 commit=m.commit, cables=m.cables, files=m.files,
                                 restorable=release not in marked,
                                 current=pointer is not None and pointer.release == release))
    return infos


def rollback(store: Store, community: str, to: str | None = None, *, by: str | None = None,
             now: dt.datetime | None = None) -> Pointer:
    """Switch the community back to ``to``, or to the newest restorable release older than the current one;
    never to a release holding a cable the withdrawn register holds (by id, or by text)."""
    releases = list_releases(store, community)
    if not releases:
        raise PublishError(_("{community}: no release in {url}").format(community=community, url=store.url))
    current = next((r for r in releases if r.current), None)
    try:  # fail closed: the register guards what may be served again
        register = withdrawals.read(store)
    except StoreError as exc:
        raise PublishError(_("{community}: the withdrawn register cannot be read ({exc}); rollback refused").format(community=community, exc=exc)) from exc

    digests_by_release = _published_text_digests(store, community)
    reader = BlobReader(store)

    def refusal(release: str) -> str | None:
        manifest = read_manifest(store, community, release, reader)
        return register.refusal(manifest.cables, manifest.texts or digests_by_release.get(release))

    if to is None:
        older = [r for r in releases if current is None or r.release < current.release]
        target = next((r for r in older if r.restorable and refusal(r.release) is None), None)
        if target is None:
            raise PublishError(_("{community}: no restorable release older than {release}").format(community=community, release=current.release if current else _('the current one')))
    else:
        target = next((r for r in releases if r.release == to), None)
        if target is None:
            raise UnknownRelease(_("{community}: no release {to}").format(community=community, to=to))
        why = refusal(to)  # first: the error names the withdrawn cable
        if why:
            raise PublishError(_("{community}: rollback to {to} refused: {why}").format(community=community, to=to, why=why))
        if not target.restorable:
            raise PublishError(_("{community}: release {to} held content that is no longer published; it cannot be restored").format(community=community, to=to))
    manifest = read_manifest(store, community, target.release, reader)
    # the manifest's blobs must all be there: a rollback must not switch to a release with holes
    present = {k[len(BLOBS_PREFIX):] for k in store.list(BLOBS_PREFIX)}
    missing = manifest.blobs() - present
    if missing:
        raise PublishError(_("{community}: release {release} lacks {n_missing} blob(s) in the store; it cannot be restored").format(community=community, release=target.release, n_missing=len(missing)))
    pointer = Pointer(community=community, release=target.release, switched_at=utc_text(utc(now)))
    write_pointer(store, pointer)
    write_ledger(store, "rollback", community, {"by": by or default_publisher(), "release": target.release,
                                                "previous": current.release if current else None}, now)
    return pointer


def _published_text_digests(store: Store, community: str) -> dict[str, dict[str, str]]:
    """Release -> cable id -> text digest, as the ledger's publish records of format 1 releases hold
    them (so a rollback recognises a withdrawn text under another id; format 2 manifests hold them
    themselves). A record that cannot be read is skipped."""
    out: dict[str, dict[str, str]] = {}
    for key in store.list(LEDGER_PREFIX):
        if f"-{community}-publish-" not in key:
            continue
        try:
            record = json.loads(store.get(key))
            if record.get("community") == community:
                out[str(record["release"])] = {str(k): str(v) for k, v in (record.get("texts") or {}).items()}
        except (NotFound, ValueError, KeyError, TypeError, AttributeError):
            continue
    return out


@dataclass(frozen=True)
class GcResult:
    dropped: tuple[tuple[str, str], ...]  # (community, release) whose manifests were deleted
    deleted_blobs: int


def gc(store: Store, keep: int = 5, *, now: dt.datetime | None = None, min_age: dt.timedelta = MIN_ORPHAN_AGE,
       by: str | None = None) -> GcResult:
    """Keep the ``keep`` newest releases of each community (and the serving one); delete the rest.

    Safe while a publication runs: its lease lists the blobs it needs, and blobs younger than it are kept.
    """
    if keep < 1:
        raise PublishError(_("--keep must be at least 1 (the serving release is always kept)"))
    drop: list[tuple[str, str]] = []
    for community in communities(store):
        pointer = read_pointer(store, community)
        ids = release_ids(store, community)
        kept = set(ids[-keep:]) | ({pointer.release} if pointer else set())
        drop += [(community, r) for r in ids if r not in kept]
    deleted = sweep(store, drop=drop, now=now, min_age=min_age)
    store.delete(k for c, r in drop for k in (manifest_key(c, r), unrestorable_key(c, r)))
    for community in sorted({c for c, _member in drop}):
        write_ledger(store, "gc", community, {"by": by or default_publisher(), "keep": keep,
                                              "dropped": [r for c, r in drop if c == community]}, now)
    return GcResult(dropped=tuple(drop), deleted_blobs=deleted)
