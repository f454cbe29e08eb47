"""The storage contract: where every published byte lives, for the pipeline (writer) and the gate (reader).

One small interface, :class:`Store`, with two backends behind it: a folder on disk (the embedded default,
served by nginx through X-Accel) and S3-compatible object storage through boto3 (production). Keys are
the same ``/``-separated strings on both, and the layout below is the whole contract (docs/storage.md)::

    blobs/<sha256 hex>                          immutable file contents, stored once (and their
                                                gzip and brotli representations, likewise)
    releases/<community>/<release>.json         manifest of one release (Manifest)
    unrestorable/<community>/<release>.json     marker: this release held withdrawn content
    communities/<community>/current.json        pointer to the serving release (Pointer), written last
    members.json                                membership snapshot for the gate
    ledger/<time>-<community>-<action>-<n>.json append-only publication records
    publishing/<community>/<release>.json       lease of a running publication (its files), for gc
    claims/<jti>                                one-time token claims (atomic create-if-absent)
    withdrawn/<cable>/<time>-<action>-<n>.json  the withdrawn register: one record per withdrawal or
                                                reinstatement of a cable, never rewritten (WithdrawalRecord)
    sign-ins/<community>/<member>.json          a member's last sign-in to a community (the gate, at sign-in)
    invitations/<community>/<member>.json       an invitation waiting to be e-mailed (``invite``)
    invitations-sent/<community>/<member>-<id>  marker: that invitation was claimed for sending, once
    alerts/preferences/<community>/<member>.json   a member's alert frequency (gate/alerts.py), replaced
    alerts/baseline/<community>/<member>.json      the cables serving when notify first saw the member
                                                   (never announced to them), created once
    alerts/claims/<community>/<member>/<cable>/<attempt>.json
                                                   a notifier's claim to announce the cable (create-if-absent)
    alerts/sent/<community>/<member>/<cable>.json  the cable was announced: the SMTP server took the mail
    alerts/digests/<community>/<member>.json       when the member's last alert was sent (digest timing)
    replies/<community>/<cable>/<time>-<member>-<nonce>.json
                                                   one member's reply to a cable (gate/replies.py), created
                                                   once, never rewritten
    reads/<community>/<week>/<cable>/<member>.json a member read the cable's page that ISO week (the
                                                   gate, create-if-absent); reduced to counts after the
                                                   retention period
    reminders/<community>/<member>-<expires>-<recipient>
                                                   marker: the reminder that the member's access ends on
                                                   <expires> was claimed for the member, or for the
                                                   owner's digest (create-if-absent, once)
    reply-notices/<community>/<recipient>-<reply>-<state>
                                                   the notice that a reply (<time>-<nonce>) arrived, owed to
                                                   the recipient (``owed``, with the address, written by
                                                   replies pull) and claimed for sending (``sent``,
                                                   create-if-absent, deleted when the SMTP server refused)
    terms/<community>/<sha256 hex>.md              the text of a version of the community's terms of use
                                                   (publish, create-if-absent, before members.json names it)
    acceptances/<community>/<member>-<sha256 hex>.json
                                                   the member accepted that version of the terms (the
                                                   gate, create-if-absent)
    activity/<community>/<week>.json               how many distinct members read each cable that week
                                                   (the counts a week's reads are reduced to), no person
    feeds/<community>/<member>.json                the member's personal feed address for the community:
                                                   the SHA-256 of its secret, never the address itself
                                                   (the gate; replaced by a new one, deleted when stopped)

Every key kind that holds one person's record is in :data:`PERSONAL_PREFIXES` (what ``diplomatie
forget`` removes); every other prefix is in :data:`IMPERSONAL_PREFIXES`, with why it names nobody.

``<member>`` is :func:`member_id`, the SHA-256 of the canonical address: keys never hold an address
(an address holds ``@``, ``+`` or ``'``, which keys do not; a record that needs it holds it).

Errors: :class:`NotFound` for a missing key, :class:`StoreUnavailable` whenever storage cannot answer
(unreachable, 5xx, permission, full disk). Both derive from :class:`StoreError`. Nothing else escapes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from gate.files import TEMP_PREFIX, create_atomic, write_atomic

FORMAT = 1

MEMBERS_KEY = "members.json"
BLOBS_PREFIX = "blobs/"
RELEASES_PREFIX = "releases/"
UNRESTORABLE_PREFIX = "unrestorable/"
POINTERS_PREFIX = "communities/"
LEDGER_PREFIX = "ledger/"
LEASES_PREFIX = "publishing/"
CLAIMS_PREFIX = "claims/"
WITHDRAWN_PREFIX = "withdrawn/"
SIGN_INS_PREFIX = "sign-ins/"
INVITATIONS_PREFIX = "invitations/"
INVITATIONS_SENT_PREFIX = "invitations-sent/"
ALERTS_PREFIX = "alerts/"
REPLIES_PREFIX = "replies/"
READS_PREFIX = "reads/"
REMINDERS_PREFIX = "reminders/"
REPLY_NOTICES_PREFIX = "reply-notices/"
TERMS_PREFIX = "terms/"
ACCEPTANCES_PREFIX = "acceptances/"
ACTIVITY_PREFIX = "activity/"
FEEDS_PREFIX = "feeds/"

#: Every key kind that holds a record of one person, named by their :func:`member_id` (a whole segment,
#: ``<member>.json`` or ``<member>-<id>``, or between dashes in a reply's ``<time>-<member>-<nonce>.json``): ``diplomatie forget`` removes each of them; a new kind of
#: per-person record is added here, or forget would leave it behind (tests/test_forget.py writes one
#: of each and looks for anything of the person left in the store).
PERSONAL_PREFIXES = (SIGN_INS_PREFIX, INVITATIONS_PREFIX, INVITATIONS_SENT_PREFIX, ALERTS_PREFIX, READS_PREFIX,
                     REMINDERS_PREFIX, ACCEPTANCES_PREFIX, REPLIES_PREFIX, FEEDS_PREFIX, REPLY_NOTICES_PREFIX)

#: The other prefixes, and why none names a person: the published sites and their records (blobs,
#: manifests, pointers, leases, the withdrawal register and its markers), the ledger (``by`` is the
#: publisher's ``user@host``), the weekly readership counts (numbers per cable), the terms' texts. ``claims/`` holds one-time tokens' subjects: forget rewrites the
#: person's claims without the address, since deleting one would let its link or session work again.
IMPERSONAL_PREFIXES = (BLOBS_PREFIX, RELEASES_PREFIX, UNRESTORABLE_PREFIX, POINTERS_PREFIX, LEDGER_PREFIX,
                       LEASES_PREFIX, WITHDRAWN_PREFIX, "purge-pending/", ACTIVITY_PREFIX,
                       TERMS_PREFIX)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class StoreError(Exception):
    """Base of every error a store raises."""


class NotFound(StoreError, KeyError):
    """The key does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "not found"


class StoreUnavailable(StoreError):
    """Storage cannot answer right now (unreachable, timeout, 5xx, denied, disk full): retry later."""


# --------------------------------------------------------------------------------------------- keys


def _name(kind: str, value: str) -> str:
    if not _NAME.match(value) or ".." in value:
        raise ValueError(f"invalid {kind} {value!r}: letters, digits, '.', '_' and '-' only")
    return value


def blob_key(sha: str) -> str:
    """Key of the blob holding the bytes whose SHA-256 is ``sha`` (lower-case hex)."""
    if not _SHA256.match(sha):
        raise ValueError(f"invalid sha256 {sha!r}")
    return f"{BLOBS_PREFIX}{sha}"


def manifest_key(community: str, release: str) -> str:
    return f"{RELEASES_PREFIX}{_name('community', community)}/{_name('release', release)}.json"


def unrestorable_key(community: str, release: str) -> str:
    return f"{UNRESTORABLE_PREFIX}{_name('community', community)}/{_name('release', release)}.json"


def pointer_key(community: str) -> str:
    return f"{POINTERS_PREFIX}{_name('community', community)}/current.json"


def lease_key(community: str, release: str) -> str:
    return f"{LEASES_PREFIX}{_name('community', community)}/{_name('release', release)}.json"


WITHDRAWAL_ACTIONS = ("withdrawn", "reinstated")


def withdrawal_key(cable: str, moment: dt.datetime, action: str, nonce: str) -> str:
    """Key of one record of the withdrawn register: the cable, then the time (so a listing reads in
    order), the action and a nonce (two records of the same second never collide)."""
    if action not in WITHDRAWAL_ACTIONS:
        raise ValueError(f"invalid register action {action!r}")
    sortable_time = f"{moment.astimezone(dt.UTC):%Y%m%dT%H%M%S}.{moment.microsecond:06d}Z"
    return f"{WITHDRAWN_PREFIX}{_name('cable', cable)}/{sortable_time}-{action}-{_name('nonce', nonce)}.json"


_JTI = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")


def claim_key(jti: str) -> str:
    """Key of a one-time token's claim; a token id that is not URL-safe text is hashed into one."""
    if not _JTI.match(jti):
        jti = "sha256-" + hashlib.sha256(jti.encode()).hexdigest()
    return f"{CLAIMS_PREFIX}{jti}"


def member_id(address: str) -> str:
    """The key segment naming a member (alerts, sign-ins, invitations): the SHA-256 (hex) of their
    canonical address. An address holds ``@``, ``+`` or ``'``, which keys do not; a record that needs
    the address holds it."""
    return hashlib.sha256(address.encode()).hexdigest()


def _alert_key(area: str, community: str, address: str) -> str:
    return f"{ALERTS_PREFIX}{area}/{_name('community', community)}/{member_id(address)}"


def preference_key(community: str, address: str) -> str:
    """Where a member's alert frequency for a community is kept (gate/alerts.py)."""
    return _alert_key("preferences", community, address) + ".json"


def preferences_prefix(community: str) -> str:
    return f"{ALERTS_PREFIX}preferences/{_name('community', community)}/"


def baseline_key(community: str, address: str) -> str:
    """The cables that served when ``diplomatie notify`` first saw the member: never announced to them."""
    return _alert_key("baseline", community, address) + ".json"


def alert_claims_prefix(community: str, address: str) -> str:
    return _alert_key("claims", community, address) + "/"


def alert_claim_key(community: str, address: str, cable: str, attempt: int) -> str:
    """One notifier's claim to announce ``cable`` to the member (create-if-absent; attempt 1, 2, …)."""
    if not 1 <= attempt <= 9999:
        raise ValueError(f"invalid attempt {attempt}")
    return f"{alert_claims_prefix(community, address)}{_name('cable', cable)}/{attempt:04d}.json"


def alert_sent_prefix(community: str, address: str) -> str:
    return _alert_key("sent", community, address) + "/"


def alert_sent_key(community: str, address: str, cable: str) -> str:
    """The mark that ``cable`` was announced to the member (create-if-absent, after SMTP accepted it)."""
    return f"{alert_sent_prefix(community, address)}{_name('cable', cable)}.json"


def digest_key(community: str, address: str) -> str:
    """When the member's last alert of the community was sent: what daily and weekly digests wait on."""
    return _alert_key("digests", community, address) + ".json"


def replies_prefix(community: str, cable: str | None = None) -> str:
    """Where the replies to the community's cables are kept: all of them, or those to one cable."""
    prefix = f"{REPLIES_PREFIX}{_name('community', community)}/"
    return prefix if cable is None else f"{prefix}{_name('cable', cable)}/"


def reply_key(community: str, cable: str, moment: dt.datetime, address: str, nonce: str) -> str:
    """Key of one reply (gate/replies.py): the cable, then the time (a listing reads in order), the
    member (so their own replies are found without reading anyone else's) and a nonce."""
    sortable_time = f"{moment.astimezone(dt.UTC):%Y%m%dT%H%M%S}.{moment.microsecond:06d}Z"
    return f"{replies_prefix(community, cable)}{sortable_time}-{member_id(address)}-{_name('nonce', nonce)}.json"


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid store key {key!r}")
    return key


# ------------------------------------------------------------------------------------ the interface


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing or a HEAD says about one object."""

    key: str
    size: int
    modified: dt.datetime  # timezone-aware UTC


class Store(Protocol):
    """The operations both backends offer; every method may raise :class:`StoreUnavailable`."""

    url: str

    def get(self, key: str) -> bytes:
        """The object's bytes; :class:`NotFound` when absent."""
        ...

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Write the whole object at once: readers see the old bytes or the new, never a mix."""
        ...

    def create(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        """Atomic create-if-absent: True when written, False when the key already existed."""
        ...

    def exists(self, key: str) -> bool: ...

    def head(self, key: str) -> ObjectInfo | None:
        """Size and modification time, or None when absent."""
        ...

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""
        ...

    def list(self, prefix: str) -> Iterator[str]:
        """Every key that starts with ``prefix``, in key order."""
        ...

    def delete(self, keys: Iterable[str]) -> None:
        """Delete the keys; absent ones are ignored."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file holding the key (folder store, for nginx X-Accel), else None."""
        ...


# ------------------------------------------------------------------------------------ folder store


class FolderStore:
    """Objects as files under ``root``, each written whole by gate/files.py (replace, or create if absent)."""

    def __init__(self, root: Path | str, *, fsync: bool = True) -> None:
        self.root = Path(root).absolute()
        self.url = self.root.as_uri()
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"FolderStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError as exc:
            raise NotFound(key) from exc
        except OSError as exc:
            raise StoreUnavailable(f"{self.root}: {key}: {exc.strerror or exc}") from exc

    def _write(self, path: Path, data: bytes, *, replace: bool) -> bool:
        """Write one object's file whole (gate/files.py): replace it, or create it only if absent (False
        if it exists). New files get 0644 less the umask: the gate and nginx may run as other users."""
        if replace:
            write_atomic(path, data, new_mode=0o644, fsync=self.fsync)
            return True
        return create_atomic(path, data, new_mode=0o644, fsync=self.fsync)

    def get(self, key: str) -> bytes:
        path = self._path(key)
        with self._errors(key):
            if path.is_dir():
                raise NotFound(key)
            return path.read_bytes()

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        with self._errors(key):
            self._write(self._path(key), data, replace=True)

    def create(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        with self._errors(key):
            return self._write(self._path(key), data, replace=False)

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            with self._errors(key):
                st = path.stat()
        except NotFound:
            return None
        if not path.is_file():
            return None
        return ObjectInfo(key, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        base, _, _ = prefix.rpartition("/")
        top = self.root / base if base else self.root
        found: list[ObjectInfo] = []
        with self._errors(prefix):
            if not top.is_dir():
                return
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                rel = Path(dirpath).relative_to(self.root).as_posix()
                for name in filenames:
                    if name.startswith(TEMP_PREFIX):  # a write under way (gate/files.py)
                        continue
                    key = name if rel == "." else f"{rel}/{name}"
                    if not key.startswith(prefix):
                        continue
                    try:
                        st = os.stat(os.path.join(dirpath, name))
                    except FileNotFoundError:
                        continue  # deleted while we walked
                    found.append(ObjectInfo(key, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)))
        found.sort(key=lambda o: o.key)
        yield from found

    def list(self, prefix: str) -> Iterator[str]:
        return (o.key for o in self.scan(prefix))

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            with self._errors(key), contextlib.suppress(FileNotFoundError):
                self._path(key).unlink()

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


# ---------------------------------------------------------------------------------------- S3 store


def s3_config(**overrides: Any):
    """The botocore client settings the S3 store uses (path-style, retries, a pool for parallel uploads).

    Checksums only where S3 requires them: S3-compatible servers differ in their support for the newer
    flexible checksums, and SHA-256 content addressing already verifies every blob.
    """
    from botocore.config import Config

    settings: dict[str, Any] = {
        "s3": {"addressing_style": "path"},
        "signature_version": "s3v4",
        "retries": {"max_attempts": 5, "mode": "standard"},
        "max_pool_connections": 32,
        "connect_timeout": 5,
        "read_timeout": 30,
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
    }
    settings.update(overrides)
    return Config(**settings)


class S3Store:
    """Objects in an S3 bucket under an optional prefix, through one shared, thread-safe boto3 client."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None, endpoint_url: str | None = None,
                 config: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        if client is None:
            import boto3

            client = boto3.session.Session().client("s3", endpoint_url=endpoint_url,
                                                    config=config or s3_config())
        self.client = client
        from botocore import exceptions as bexc

        self._bexc = bexc

    def __repr__(self) -> str:
        return f"S3Store({self.url!r})"

    def _key(self, key: str) -> str:
        return self.prefix + _check_key(key)

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        bexc = self._bexc
        try:
            yield
        except bexc.ClientError as exc:
            err = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = err.get("Code")
            # HEAD answers carry no body: a bare 404 is a missing key (or bucket: the next write says so)
            if code in ("NoSuchKey", "404", "NotFound") or (status == 404 and code != "NoSuchBucket"):
                raise NotFound(key) from exc
            detail = f"{code or status}: {err.get('Message') or ''}".rstrip(": ")
            raise StoreUnavailable(f"{self.url}{key}: {detail}") from exc
        except bexc.BotoCoreError as exc:  # connection refused/reset, timeouts, missing credentials…
            raise StoreUnavailable(f"{self.url}{key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        with self._errors(key):
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return resp["Body"].read()

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        with self._errors(key):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def create(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        try:
            with self._errors(key):
                self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                                       ContentType=content_type, IfNoneMatch="*")
        except StoreUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, self._bexc.ClientError) and cause.response.get("Error", {}).get("Code") in (
                    "PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def head(self, key: str) -> ObjectInfo | None:
        try:
            with self._errors(key):
                resp = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except NotFound:
            return None
        return ObjectInfo(key, int(resp["ContentLength"]), resp["LastModified"].astimezone(dt.UTC))

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        full = self.prefix + prefix
        with self._errors(prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full)
            for page in pages:
                for obj in page.get("Contents", ()):
                    yield ObjectInfo(obj["Key"][len(self.prefix):], int(obj["Size"]),
                                     obj["LastModified"].astimezone(dt.UTC))

    def list(self, prefix: str) -> Iterator[str]:
        return (o.key for o in self.scan(prefix))

    def delete(self, keys: Iterable[str]) -> None:
        batch: list[str] = []
        for key in keys:
            batch.append(self._key(key))
            if len(batch) == 1000:  # the DeleteObjects limit
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, batch: list[str]) -> None:
        with self._errors(batch[0]):
            resp = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        errors = [e for e in resp.get("Errors", ()) if e.get("Code") != "NoSuchKey"]
        if errors:
            e = errors[0]
            raise StoreUnavailable(f"{self.url}: cannot delete {e.get('Key')}: {e.get('Code')} {e.get('Message', '')}")

    def local_path(self, key: str) -> Path | None:
        return None


# ------------------------------------------------------------------------------------------ opening

_open_lock = threading.Lock()


def open_store(url: str | os.PathLike[str], *, endpoint_url: str | None = None) -> Store:
    """A store from its URL: a folder path, ``file:///abs/path``, or ``s3://bucket/prefix``.

    S3 uses boto3's standard configuration (credential chain, ``AWS_ENDPOINT_URL``, region) plus
    ``endpoint_url`` when given; addressing is path-style so S3-compatible servers work.
    """
    text = os.fspath(url)
    if text.startswith("s3://"):
        parsed = urlparse(text)
        if not parsed.netloc:
            raise ValueError(f"store URL {text!r} names no bucket (s3://bucket/prefix)")
        with _open_lock:  # boto3 session creation is not thread-safe
            return S3Store(parsed.netloc, parsed.path, endpoint_url=endpoint_url)
    if text.startswith("file://"):
        parsed = urlparse(text)
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"store URL {text!r}: only local file:/// URLs are supported")
        return FolderStore(Path(parsed.path))
    if "://" in text:
        raise ValueError(f"store URL {text!r}: use a folder path, file:///path or s3://bucket/prefix")
    return FolderStore(Path(text))


# ----------------------------------------------------------------------------- manifests, pointers


def utc_text(moment: float | dt.datetime) -> str:
    """The one way a moment is written: ISO 8601, UTC, whole seconds, ``Z`` (``2026-11-28T14:05:12Z``).

    Every record in the store, the key set's dates and the gate's log use it. ``moment`` is a Unix
    time or an aware datetime; a naive datetime is refused (ValueError), since its zone is a guess.
    """
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{moment!r} has no time zone; give an aware datetime (UTC)")
        moment = moment.astimezone(dt.UTC)
    else:
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_utc_text(text: str) -> dt.datetime:
    """The aware UTC datetime of a text written by :func:`utc_text` (ValueError if it is not one)."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} names no time zone; expected UTC such as 2026-11-28T14:05:12Z")
    return moment.astimezone(dt.UTC)


def utc_now() -> str:
    """Now, as the text every record in the store uses (:func:`utc_text`)."""
    return utc_text(dt.datetime.now(dt.UTC))


#: The content codings a release may hold precompressed (``FileEntry.encodings``), in the gate's order
#: of preference when a client accepts several equally: brotli is smaller, gzip understood everywhere.
ENCODINGS = ("br", "gzip")


@dataclass(frozen=True)
class Encoded:
    """One precompressed representation of a file: the blob holding it, and its size."""

    sha256: str
    size: int


@dataclass(frozen=True)
class FileEntry:
    """One file of a release: its content address, size and HTTP content type, and the blobs of its
    precompressed representations (``encodings``: coding name -> :class:`Encoded`, in
    :data:`ENCODINGS` order; empty for a file not worth compressing, and in manifests of before)."""

    sha256: str
    size: int
    type: str
    encodings: tuple[tuple[str, Encoded], ...] = ()

    def __getitem__(self, name: str) -> Any:
        """Mapping-style access, so readers may follow the JSON shape (``entry["sha256"]``)."""
        if name not in ("sha256", "size", "type"):
            raise KeyError(name)
        return getattr(self, name)

    def encoded(self, coding: str) -> Encoded | None:
        """The representation compressed with ``coding`` ("br", "gzip"), or None when there is none."""
        for name, enc in self.encodings:
            if name == coding:
                return enc
        return None

    def blobs(self) -> tuple[str, ...]:
        """The SHA-256 of the file's blob and of each of its precompressed representations."""
        return (self.sha256, *(enc.sha256 for _, enc in self.encodings))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sha256": self.sha256, "size": self.size, "type": self.type}
        if self.encodings:
            out["encodings"] = {name: {"sha256": enc.sha256, "size": enc.size} for name, enc in self.encodings}
        return out

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> FileEntry:
        """A manifest's file entry; codings this version does not know are skipped (a newer publisher's),
        a malformed one raises ValueError (the manifest is then unreadable)."""
        listed = obj.get("encodings") or {}
        if not isinstance(listed, dict):
            raise ValueError("encodings is not an object")
        encodings = []
        for name in ENCODINGS:
            if name in listed:
                enc = Encoded(str(listed[name]["sha256"]), int(listed[name]["size"]))
                if not _SHA256.match(enc.sha256) or enc.size < 0:
                    raise ValueError(f"encoding {name}: malformed sha256 or size")
                encodings.append((name, enc))
        return cls(str(obj["sha256"]), int(obj["size"]), str(obj["type"]), tuple(encodings))


def _json_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=False, ensure_ascii=False) + "\n").encode()


def _load(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise StoreError(f"{what}: not valid JSON: {exc}") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise StoreError(f"{what}: not a format {FORMAT} record")
    return obj


#: The manifest formats this version reads; it writes :data:`MANIFEST_FORMAT`. Format 1 is one JSON
#: object listing every file; format 2 a small root naming content-addressed table nodes (below).
MANIFEST_FORMATS = (1, 2)
MANIFEST_FORMAT = 2
#: A table's leaves hold at most about this many entries: the depth is the smallest that gives it.
LEAF_TARGET = 16
#: Table node fetches in flight at once (a release read cold, by the gate or the publisher).
NODE_JOBS = 16


class ManifestUnreadable(StoreError):
    """A manifest that exists but cannot be read whole: a node missing or not matching its hash, a
    malformed field, or a format this version does not know. Nothing of the release is served."""


def _slot(key: str) -> str:
    """Where a table key lives: the hex SHA-256 of the key (its first ``depth`` digits name its leaf)."""
    return hashlib.sha256(key.encode()).hexdigest()


def table_depth(count: int) -> int:
    """The smallest depth whose 16**depth leaves hold ``count`` entries at about :data:`LEAF_TARGET` each."""
    depth = 0
    while count > LEAF_TARGET * 16 ** depth:
        depth += 1
    return depth


def _node_bytes(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def build_table(entries: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A map of text keys to JSON values as a tree of content-addressed nodes (a hash trie, fanout 16).

    Returns the table's reference (``{"sha256": <top node>, "depth": d, "count": n}``) and every node,
    SHA-256 -> bytes. A key's leaf is named by the first ``d`` hex digits of the SHA-256 of the key, so
    one changed entry changes its leaf and the ``d`` nodes above it, nothing else: that is what makes
    an edit's upload small. Same entries, same bytes, same reference.
    """
    depth = table_depth(len(entries))
    nodes: dict[str, bytes] = {}

    def make(level: int, keys: list[tuple[str, str]]) -> str:
        if level == depth:
            body: dict[str, Any] = {"format": MANIFEST_FORMAT, "kind": "leaf",
                                    "entries": {k: entries[k] for _, k in keys}}
        else:
            groups: dict[str, list[tuple[str, str]]] = {}
            for slot, key in keys:
                groups.setdefault(slot[level], []).append((slot, key))
            body = {"format": MANIFEST_FORMAT, "kind": "node",
                    "children": {digit: make(level + 1, group) for digit, group in sorted(groups.items())}}
        data = _node_bytes(body)
        sha = hashlib.sha256(data).hexdigest()
        nodes[sha] = data
        return sha

    top = make(0, sorted((_slot(k), k) for k in entries))
    return {"sha256": top, "depth": depth, "count": len(entries)}, nodes


class BlobReader:
    """Reads content-addressed blobs (table nodes, cable lists) for manifests, each checked against its
    hash, several at once, remembered in ``memory`` (and in ``cache_dir`` on disk, when given: a blob's
    bytes never change, so a copy checked once is good forever, and a publisher reads a release it
    published before without asking the store). A blob missing, or not matching its hash, raises
    :class:`ManifestUnreadable`: a release is read whole or not at all."""

    def __init__(self, store: Store, *, cache_dir: Path | None = None, jobs: int = NODE_JOBS) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self.jobs = jobs
        self.memory: dict[str, bytes] = {}
        self.fetched = 0  # blobs asked of the store (not found in memory or on disk)

    def _local(self, sha: str) -> bytes | None:
        if self.cache_dir is None:
            return None
        try:
            data = (self.cache_dir / sha[:2] / sha).read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == sha else None

    def _keep(self, sha: str, data: bytes) -> None:
        if self.cache_dir is not None:
            with contextlib.suppress(OSError):
                write_atomic(self.cache_dir / sha[:2] / sha, data, fsync=False)

    def remember(self, blobs: dict[str, bytes]) -> None:
        """Keep blobs just written (a publication's nodes), so reading them back asks nothing of the store."""
        for sha, data in blobs.items():
            if hashlib.sha256(data).hexdigest() == sha:
                self.memory[sha] = data
                self._keep(sha, data)

    def _remote(self, sha: str) -> bytes:
        try:
            data = self.store.get(blob_key(sha))
        except NotFound:
            raise ManifestUnreadable(f"manifest blob {sha} is missing from the store") from None
        if hashlib.sha256(data).hexdigest() != sha:
            raise ManifestUnreadable(f"manifest blob {sha} does not match its hash")
        self._keep(sha, data)
        return data

    def read(self, shas: Iterable[str]) -> dict[str, bytes]:
        """The bytes of each blob, checked."""
        out: dict[str, bytes] = {}
        wanted = []
        for sha in dict.fromkeys(shas):
            if not _SHA256.match(sha):
                raise ManifestUnreadable(f"malformed blob reference {sha!r}")
            data = self.memory.get(sha)
            if data is None:
                data = self._local(sha)
            if data is None:
                wanted.append(sha)
            else:
                out[sha] = data
        if len(wanted) == 1:
            out[wanted[0]] = self._remote(wanted[0])
        elif wanted:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(self.jobs, len(wanted))) as pool:
                out.update(zip(wanted, pool.map(self._remote, wanted), strict=True))
        self.fetched += len(wanted)
        self.memory.update(out)
        return out

    def keep_only(self, shas: set[str]) -> None:
        """Forget from memory every blob but these (what the releases in use need)."""
        for sha in [s for s in self.memory if s not in shas]:
            del self.memory[sha]


def read_table(ref: Any, reader: BlobReader) -> tuple[dict[str, Any], set[str]]:
    """The entries of a table (:func:`build_table`) and the SHA-256 of its nodes, read level by level
    (one batch of fetches per level). Fails closed (:class:`ManifestUnreadable`) on a node missing or
    not matching its hash, of an unknown format or kind, holding a key outside its place in the tree,
    or when the count differs from the reference's."""
    try:
        top, depth, count = str(ref["sha256"]), int(ref["depth"]), int(ref["count"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestUnreadable(f"malformed table reference: {exc}") from None
    if not 0 <= depth <= 16:
        raise ManifestUnreadable(f"table depth {depth} out of range")
    entries: dict[str, Any] = {}
    seen: set[str] = set()
    level: dict[str, str] = {top: ""}  # node -> the hex digits leading to it
    for at in range(depth + 1):
        data = reader.read(level)
        seen.update(level)
        below: dict[str, str] = {}
        for sha, prefix in level.items():
            try:
                node = json.loads(data[sha])
            except ValueError:
                raise ManifestUnreadable(f"manifest node {sha} is not JSON") from None
            kind = "leaf" if at == depth else "node"
            if not isinstance(node, dict) or node.get("format") != MANIFEST_FORMAT or node.get("kind") != kind:
                raise ManifestUnreadable(f"manifest node {sha}: expected a format {MANIFEST_FORMAT} {kind}")
            if kind == "leaf":
                held = node.get("entries")
                if not isinstance(held, dict) or any(not _slot(k).startswith(prefix) for k in held):
                    raise ManifestUnreadable(f"manifest node {sha}: entries malformed or out of place")
                entries.update(held)
                continue
            children = node.get("children")
            if not isinstance(children, dict) or any(
                    not (isinstance(d, str) and len(d) == 1 and d in "0123456789abcdef") or
                    not (isinstance(c, str) and _SHA256.match(c)) for d, c in children.items()):
                raise ManifestUnreadable(f"manifest node {sha}: children malformed")
            for digit, child in children.items():
                if child in below:  # two places cannot hold the same node (their keys would differ)
                    raise ManifestUnreadable(f"manifest node {child} is named twice")
                below[child] = prefix + digit
        level = below
    if len(entries) != count:
        raise ManifestUnreadable(f"table holds {len(entries)} entries, its reference says {count}")
    return entries, seen


@dataclass(frozen=True)
class Manifest:
    """Everything one release serves: site path -> content address, plus where it came from.

    Stored as format 2 (docs/storage.md): a small root at ``releases/<community>/<release>.json``
    naming a table (:func:`build_table`) of the files and the cables' text digests, and a blob listing
    the cables, all content-addressed blobs; format 1 (one JSON object with every file) is still read.
    """

    community: str
    release: str
    commit: str | None
    built_at: str | None
    published_at: str
    cables: tuple[str, ...]
    files: dict[str, FileEntry] = field(default_factory=dict)
    #: CSP sources (``sha256-<base64>``) of the theme's inline scripts and styles: the only inline code
    #: the gate lets the release's pages run (see gate/csp.py).
    script_hashes: tuple[str, ...] = ()
    style_hashes: tuple[str, ...] = ()
    format: int = MANIFEST_FORMAT
    #: Cable id -> digest of its text (pipeline.withdrawals.text_digest), when the publisher knew it
    #: (format 2; format 1 kept them in the ledger).
    texts: dict[str, str] = field(default_factory=dict)
    #: Reply id (gate/replies.py ``reply_id``: ``<cable>/<time>-<nonce>``) -> the ``sha256:`` digest of the
    #: reply file an editor approved: the members' replies this release shows on its cable pages
    #: (format 2 only; table entries ``r:<id>``). The gate tells a member their reply is published.
    replies: dict[str, str] = field(default_factory=dict)
    #: The blobs holding the manifest's table and cable list (format 2), set by :meth:`encode` and
    #: :func:`read_manifest`: gc, leases and rollback keep them as they keep the files' blobs.
    nodes: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        return manifest_key(self.community, self.release)

    def blobs(self) -> set[str]:
        """The SHA-256 of every blob the release uses, precompressed representations and manifest
        nodes included (so gc, the withdrawal purge and rollback's completeness check cover them as
        they cover the files)."""
        return {sha for f in self.files.values() for sha in f.blobs()} | set(self.nodes)

    def _head(self) -> dict[str, Any]:
        return {"format": self.format, "community": self.community, "release": self.release,
                "commit": self.commit, "built_at": self.built_at, "published_at": self.published_at}

    def to_json(self) -> bytes:
        """Format 1: the whole manifest in one object (what releases before format 2 hold)."""
        return _json_bytes({
            **self._head(), "format": 1, "cables": list(self.cables),
            "script_hashes": sorted(self.script_hashes), "style_hashes": sorted(self.style_hashes),
            "files": {path: self.files[path].to_dict() for path in sorted(self.files)},
        })

    def encode(self) -> tuple[Manifest, bytes, dict[str, bytes]]:
        """Format 2: this manifest with its ``nodes`` set, the root's bytes, and the blobs (SHA-256 ->
        bytes) the root names: the table's nodes and the cable list. Same manifest, same bytes."""
        entries: dict[str, Any] = {f"f:{p}": e.to_dict() for p, e in self.files.items()}
        entries.update({f"t:{c}": d for c, d in self.texts.items()})
        entries.update({f"r:{r}": d for r, d in self.replies.items()})
        table, blobs = build_table(entries)
        cables = _node_bytes({"format": MANIFEST_FORMAT, "kind": "cables", "cables": list(self.cables)})
        cables_sha = hashlib.sha256(cables).hexdigest()
        blobs[cables_sha] = cables
        root = _json_bytes({
            **self._head(), "format": MANIFEST_FORMAT,
            "script_hashes": sorted(self.script_hashes), "style_hashes": sorted(self.style_hashes),
            "files": len(self.files), "cables": {"sha256": cables_sha, "count": len(self.cables)},
            "table": table})
        return replace(self, format=MANIFEST_FORMAT, nodes=frozenset(blobs)), root, blobs

    @classmethod
    def from_json(cls, data: bytes | str, reader: BlobReader | None = None) -> Manifest:
        """A manifest from its root's bytes; format 2 reads its nodes through ``reader``."""
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise ManifestUnreadable(f"manifest: not valid JSON: {exc}") from exc
        version = obj.get("format") if isinstance(obj, dict) else None
        if version not in MANIFEST_FORMATS:
            raise ManifestUnreadable(f"manifest: format {version!r} is not one this version reads "
                                     f"({', '.join(map(str, MANIFEST_FORMATS))}); upgrade the gate and the pipeline")
        try:
            head = dict(community=obj["community"], release=obj["release"], commit=obj.get("commit"),
                        built_at=obj.get("built_at"), published_at=obj["published_at"],
                        script_hashes=tuple(obj.get("script_hashes", ())),
                        style_hashes=tuple(obj.get("style_hashes", ())), format=version)
            if version == 1:
                files = {p: FileEntry.from_dict(f) for p, f in obj["files"].items()}
                return cls(cables=tuple(obj.get("cables", ())), files=files, **head)
            if reader is None:
                raise ManifestUnreadable("manifest: format 2 needs its nodes read (give a BlobReader)")
            entries, nodes = read_table(obj["table"], reader)
            cables_sha = str(obj["cables"]["sha256"])
            listed = json.loads(reader.read([cables_sha])[cables_sha])
            if not isinstance(listed, dict) or listed.get("kind") != "cables" or \
                    len(listed["cables"]) != int(obj["cables"]["count"]):
                raise ManifestUnreadable(f"manifest: cable list {cables_sha} malformed")
            files, texts, replies = {}, {}, {}
            for key, value in entries.items():
                kind, _, name = key.partition(":")
                if kind == "f":
                    files[name] = FileEntry.from_dict(value)
                elif kind == "t" and isinstance(value, str):
                    texts[name] = value
                elif kind == "r" and isinstance(value, str):
                    replies[name] = value
                else:
                    raise ManifestUnreadable(f"manifest: table entry {key!r} of unknown kind")
            if len(files) != int(obj["files"]):
                raise ManifestUnreadable(f"manifest: {len(files)} files in the table, the root says {obj['files']}")
            return cls(cables=tuple(map(str, listed["cables"])), files=files, texts=texts, replies=replies,
                       nodes=frozenset(nodes | {cables_sha}), **head)
        except ManifestUnreadable:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ManifestUnreadable(f"manifest: missing or malformed field: {exc}") from exc


@dataclass(frozen=True)
class Pointer:
    """Which release a community serves; the one key the gate reads first."""

    community: str
    release: str
    switched_at: str
    format: int = FORMAT

    @property
    def manifest(self) -> str:
        return manifest_key(self.community, self.release)

    def to_json(self) -> bytes:
        return _json_bytes({"format": self.format, "community": self.community, "release": self.release,
                            "manifest": self.manifest, "switched_at": self.switched_at})

    @classmethod
    def from_json(cls, data: bytes | str) -> Pointer:
        obj = _load(data, "pointer")
        try:
            return cls(community=obj["community"], release=obj["release"], switched_at=obj["switched_at"])
        except KeyError as exc:
            raise StoreError(f"pointer: missing field {exc}") from exc


def read_pointer(store: Store, community: str) -> Pointer | None:
    """The community's pointer, or None when it was never published."""
    try:
        return Pointer.from_json(store.get(pointer_key(community)))
    except NotFound:
        return None


def read_manifest(store: Store, community: str, release: str, reader: BlobReader | None = None) -> Manifest:
    """One release's manifest, whole; :class:`NotFound` when it does not exist, :class:`ManifestUnreadable`
    when it cannot be read whole. ``reader`` reads its nodes (a new one, with no cache, when not given:
    pass one to share what was read between releases)."""
    data = store.get(manifest_key(community, release))
    try:
        manifest = Manifest.from_json(data, reader or BlobReader(store))
    except ManifestUnreadable as exc:
        raise ManifestUnreadable(f"{manifest_key(community, release)}: {exc}") from None
    if (manifest.community, manifest.release) != (community, release):
        raise ManifestUnreadable(f"{manifest_key(community, release)}: names release {manifest.release} "
                                 f"of {manifest.community}")
    return manifest


@dataclass(frozen=True)
class ReleaseHead:
    """What a release's root says of it, read without its table: for listings."""

    community: str
    release: str
    commit: str | None
    published_at: str
    cables: int
    files: int
    format: int


def read_release_head(store: Store, community: str, release: str) -> ReleaseHead:
    """One GET: the release's commit, time and counts. :class:`NotFound`, :class:`ManifestUnreadable`."""
    key = manifest_key(community, release)
    try:
        obj = json.loads(store.get(key))
        version = obj.get("format") if isinstance(obj, dict) else None
        if version not in MANIFEST_FORMATS:
            raise ManifestUnreadable(f"{key}: format {version!r} is not one this version reads "
                                     f"({', '.join(map(str, MANIFEST_FORMATS))}); upgrade")
        cables = len(obj.get("cables", ())) if version == 1 else int(obj["cables"]["count"])
        files = len(obj["files"]) if version == 1 else int(obj["files"])
        return ReleaseHead(community=str(obj["community"]), release=str(obj["release"]), commit=obj.get("commit"),
                           published_at=str(obj["published_at"]), cables=cables, files=files, format=version)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ManifestUnreadable(f"{key}: missing or malformed field: {exc}") from None


def write_manifest(store: Store, manifest: Manifest) -> Manifest:
    """Write a release's manifest in format 2: its nodes (blobs, create-if-absent), then its root
    (create-if-absent), so a reader that finds the root finds every node. Returns the manifest with
    its ``nodes``. (``diplomatie publish`` does the same with its uploads checked, pipeline/publish.py.)"""
    encoded, root, blobs = manifest.encode()
    for sha, data in blobs.items():
        store.create(blob_key(sha), data, "application/json")
    if not store.create(encoded.key, root, "application/json") and store.get(encoded.key) != root:
        raise StoreError(f"{encoded.key} already exists with other contents")
    return encoded


def read_release_cables(store: Store, community: str, release: str,
                        reader: BlobReader | None = None) -> tuple[str, ...]:
    """The cables a release holds, without reading its files' table: the root and, in format 2, the
    cable list it names (two GETs, the second shared by releases holding the same cables)."""
    data = store.get(manifest_key(community, release))
    try:
        obj = json.loads(data)
        version = obj.get("format") if isinstance(obj, dict) else None
        if version == 1:
            return tuple(map(str, obj.get("cables", ())))
        if version != 2:
            raise ManifestUnreadable(f"format {version!r} is not one this version reads "
                                     f"({', '.join(map(str, MANIFEST_FORMATS))}); upgrade")
        sha = str(obj["cables"]["sha256"])
        listed = json.loads((reader or BlobReader(store)).read([sha])[sha])
        cables = tuple(map(str, listed["cables"]))
        if listed.get("kind") != "cables" or len(cables) != int(obj["cables"]["count"]):
            raise ManifestUnreadable(f"cable list {sha} malformed")
        return cables
    except ManifestUnreadable as exc:
        raise ManifestUnreadable(f"{manifest_key(community, release)}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ManifestUnreadable(f"{manifest_key(community, release)}: missing or malformed field: {exc}") from None


def write_pointer(store: Store, pointer: Pointer) -> None:
    """Switch the community to ``pointer.release``: a single PUT, so readers see old or new."""
    store.put(pointer_key(pointer.community), pointer.to_json(), "application/json")


def is_restorable(store: Store, community: str, release: str) -> bool:
    """False once the release was marked as holding content that is no longer published."""
    return not store.exists(unrestorable_key(community, release))


def release_ids(store: Store, community: str) -> list[str]:
    """Every release of the community that has a manifest, oldest first (ids sort by time)."""
    prefix = f"{RELEASES_PREFIX}{_name('community', community)}/"
    return sorted(k[len(prefix):-len(".json")] for k in store.list(prefix) if k.endswith(".json"))


def communities(store: Store) -> list[str]:
    """Every community that has at least one release."""
    return sorted({k.split("/")[1] for k in store.list(RELEASES_PREFIX) if k.count("/") == 2})


@dataclass(frozen=True)
class WithdrawalRecord:
    """One event of the withdrawn register (``withdrawn/<cable>/…``): a cable withdrawn, or reinstated.

    ``digests`` are the canonical digests of the cable's versions, ``text_digests`` those of its text
    (``pipeline.withdrawals.text_digest``), so the same text under another id is recognised too.
    A reinstatement names the commit that set the cable active again and the fresh approvals
    (``{"community", "by", "date"}``) it rests on."""

    cable: str
    action: str  # "withdrawn" or "reinstated"
    at: str  # ISO 8601 UTC, when the record was written (the real clock of the publication)
    commit: str | None
    by: str
    digests: tuple[str, ...] = ()
    text_digests: tuple[str, ...] = ()
    approvals: tuple[dict[str, str], ...] = ()
    format: int = FORMAT

    def to_json(self) -> bytes:
        return _json_bytes({"format": self.format, "cable": self.cable, "action": self.action, "at": self.at,
                            "commit": self.commit, "by": self.by, "digests": list(self.digests),
                            "text_digests": list(self.text_digests), "approvals": list(self.approvals)})

    @classmethod
    def from_json(cls, data: bytes | str) -> WithdrawalRecord:
        obj = _load(data, "withdrawn register record")
        try:
            record = cls(cable=str(obj["cable"]), action=str(obj["action"]), at=str(obj["at"]),
                         commit=obj.get("commit"), by=str(obj.get("by", "")),
                         digests=tuple(map(str, obj.get("digests", ()))),
                         text_digests=tuple(map(str, obj.get("text_digests", ()))),
                         approvals=tuple(dict(a) for a in obj.get("approvals", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"withdrawn register record: missing or malformed field: {exc}") from exc
        if record.action not in WITHDRAWAL_ACTIONS:
            raise StoreError(f"withdrawn register record: unknown action {record.action!r}")
        return record


def write_withdrawal(store: Store, record: WithdrawalRecord, moment: dt.datetime) -> str:
    """Append one record to the register (create-if-absent: records are never rewritten)."""
    key = withdrawal_key(record.cable, moment, record.action, uuid.uuid4().hex[:8])
    if not store.create(key, record.to_json(), "application/json") and store.get(key) != record.to_json():
        raise StoreError(f"withdrawn register record {key} already exists")
    return key


def read_withdrawals(store: Store) -> list[WithdrawalRecord]:
    """Every record of the withdrawn register, oldest first per cable (by key). A record that cannot be
    read raises :class:`StoreError`: the register guards publication, so it fails closed."""
    records = []
    for key in store.list(WITHDRAWN_PREFIX):
        if not key.endswith(".json"):
            continue
        record = WithdrawalRecord.from_json(store.get(key))
        if key.split("/")[1] != record.cable:
            raise StoreError(f"{key}: names cable {record.cable!r}, not the one of its key")
        records.append(record)
    return records


# ------------------------------------------------------------------------- members' records


def sign_in_key(community: str, address: str) -> str:
    """Key of ``address``'s last sign-in to ``community``."""
    return f"{SIGN_INS_PREFIX}{_name('community', community)}/{member_id(address)}.json"


def write_sign_in(store: Store, community: str, address: str, moment: float | dt.datetime) -> None:
    """Record that ``address`` signed in, able to read ``community``, at ``moment`` (one PUT, rewritten at
    each sign-in: only the last one is kept)."""
    record = {"format": FORMAT, "community": community, "email": address, "at": utc_text(moment)}
    store.put(sign_in_key(community, address), _json_bytes(record), "application/json")


def read_sign_ins(store: Store, community: str) -> dict[str, dt.datetime]:
    """Address -> last sign-in to ``community``. A record that does not read back, or whose key is not
    its address's, is skipped (it says nothing about anyone)."""
    found: dict[str, dt.datetime] = {}
    for key in store.list(f"{SIGN_INS_PREFIX}{_name('community', community)}/"):
        try:
            obj = _load(store.get(key), key)
            address, at = obj["email"], parse_utc_text(obj["at"])
        except (StoreError, KeyError, TypeError, ValueError, AttributeError):
            continue
        if isinstance(address, str) and key == sign_in_key(community, address):
            found[address] = at
    return found


def invitation_key(community: str, address: str) -> str:
    """Key of the invitation waiting to be e-mailed to ``address`` for ``community``."""
    return f"{INVITATIONS_PREFIX}{_name('community', community)}/{member_id(address)}.json"


def invitation_sent_key(community: str, address: str, invitation_id: str) -> str:
    """Key of the marker claiming one invitation (``invitation_id``, its record's ``id``) for sending."""
    return (f"{INVITATIONS_SENT_PREFIX}{_name('community', community)}/{member_id(address)}-"
            f"{_name('invitation id', invitation_id)}")


# ---------------------------------------------------------------------------- personal feeds

_MEMBER = re.compile(r"^[0-9a-f]{64}$")


def feed_key(community: str, address: str) -> str:
    """Key of ``address``'s personal feed address for ``community`` (gate/feeds.py)."""
    return feed_member_key(community, member_id(address))


def feed_member_key(community: str, member: str) -> str:
    """The same key from the :func:`member_id` a feed token carries (gate/tokens.py ``feed_token_parts``)."""
    if not _MEMBER.match(member):
        raise ValueError(f"invalid member id {member!r}")
    return f"{FEEDS_PREFIX}{_name('community', community)}/{member}.json"


@dataclass(frozen=True)
class FeedAddress:
    """A member's personal feed address: whose, for which community, the SHA-256 (hex) of its secret
    (never the secret: whoever reads the store cannot read the feed with it), and when it was made."""

    community: str
    address: str
    digest: str
    at: str

    def to_json(self) -> bytes:
        return _json_bytes({"format": FORMAT, "community": self.community, "address": self.address,
                            "digest": self.digest, "at": self.at})


def write_feed_address(store: Store, community: str, address: str, digest: str, moment: float | dt.datetime) -> None:
    """Make ``digest`` the member's one feed address for ``community`` (one PUT: the previous one, if any,
    stops working as soon as the PUT returns)."""
    if not _SHA256.match(digest):
        raise ValueError("a feed address is kept as the SHA-256 (hex) of its secret")
    store.put(feed_key(community, address), FeedAddress(community, address, digest, utc_text(moment)).to_json(),
              "application/json")


def read_feed_address(store: Store, community: str, member: str) -> FeedAddress | None:
    """The feed address recorded under ``member``'s key, or None when there is none, or when the record is
    unreadable or not the one its key names (fail closed: such a record opens nothing).
    :class:`StoreUnavailable` passes."""
    key = feed_member_key(community, member)
    try:
        obj = _load(store.get(key), key)
        record = FeedAddress(obj["community"], obj["address"], obj["digest"], obj["at"])
    except NotFound:
        return None
    except StoreUnavailable:
        raise
    except (StoreError, KeyError, TypeError, AttributeError):
        return None
    if not all(isinstance(v, str) for v in (record.community, record.address, record.digest, record.at)):
        return None
    if record.community != community or member_id(record.address) != member or not _SHA256.match(record.digest):
        return None
    try:
        parse_utc_text(record.at)
    except ValueError:
        return None
    return record


def delete_feed_address(store: Store, community: str, address: str) -> None:
    """Stop the member's feed address for ``community`` (nothing to do when there is none)."""
    store.delete([feed_key(community, address)])


# ------------------------------------------------------------------------------------- readership

_WEEK = re.compile(r"^[0-9]{4}-W[0-9]{2}$")


def week_of(moment: float | dt.datetime) -> str:
    """The ISO week (``2026-W49``, UTC) ``moment`` falls in: the unit readership is counted in."""
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    year, week, _ = moment.astimezone(dt.UTC).isocalendar()
    return f"{year:04d}-W{week:02d}"


def week_start(week: str) -> dt.date:
    """The Monday of an ISO week written by :func:`week_of` (ValueError for anything else)."""
    if not _WEEK.match(week):
        raise ValueError(f"invalid week {week!r}")
    return dt.date.fromisocalendar(int(week[:4]), int(week[6:]), 1)


def reads_prefix(community: str) -> str:
    return f"{READS_PREFIX}{_name('community', community)}/"


def read_key(community: str, week: str, cable: str, address: str) -> str:
    """Key of the mark that ``address`` read ``cable``'s page in ``community`` during ``week``."""
    week_start(week)
    return f"{reads_prefix(community)}{week}/{_name('cable', cable)}/{member_id(address)}.json"


def write_read(store: Store, community: str, cable: str, address: str, moment: float | dt.datetime) -> bool:
    """Mark the read (create-if-absent: one record per member, cable and week, holding no address)."""
    record = {"format": FORMAT, "at": utc_text(moment)}
    return store.create(read_key(community, week_of(moment), cable, address), _json_bytes(record),
                        "application/json")


def activity_key(community: str, week: str) -> str:
    """Key of a week's readership counts once its per-member reads are reduced (``{"cables": {id: n}}``)."""
    week_start(week)
    return f"{ACTIVITY_PREFIX}{_name('community', community)}/{week}.json"


# -------------------------------------------------------------------------------------- reminders

REMINDER_RECIPIENTS = ("member", "owner")


def reminder_key(community: str, address: str, expires: dt.date, recipient: str) -> str:
    """Marker claiming the reminder that ``address``'s access to ``community`` ends on ``expires``, for
    the member themself or for the owner's digest (``recipient``): created once, before sending; a
    renewal (another date) is reminded again."""
    if recipient not in REMINDER_RECIPIENTS:
        raise ValueError(f"invalid reminder recipient {recipient!r}")
    return f"{REMINDERS_PREFIX}{_name('community', community)}/{member_id(address)}-{expires.isoformat()}-{recipient}"


# ------------------------------------------------------------------------------- reply notices

REPLY_NOTICE_STATES = ("owed", "sent")


def reply_notice_key(community: str, address: str, reply: str, state: str) -> str:
    """The notice to ``address`` that the reply ``reply`` (its ``<time>-<nonce>``) arrived: ``owed``
    (the record ``replies pull`` writes, with the address, until the notice is sent) or ``sent`` (the
    marker claiming the sending, created once, deleted again when the SMTP server refused)."""
    if state not in REPLY_NOTICE_STATES:
        raise ValueError(f"invalid reply notice state {state!r}")
    return f"{REPLY_NOTICES_PREFIX}{_name('community', community)}/{member_id(address)}-{_name('reply', reply)}-{state}"


# ---------------------------------------------------------------------------------- terms of use

#: A version of a community's terms of use: the SHA-256 of the file's bytes.
TERMS_VERSION = re.compile(r"^sha256:[0-9a-f]{64}$")


def terms_version(text: bytes) -> str:
    """The version of terms whose file holds ``text``."""
    return "sha256:" + hashlib.sha256(text).hexdigest()


def _terms_hex(version: str) -> str:
    if not TERMS_VERSION.match(version):
        raise ValueError(f"invalid terms version {version!r}")
    return version.removeprefix("sha256:")


def terms_key(community: str, version: str) -> str:
    """Where the text of that version of the community's terms is (written by publish)."""
    return f"{TERMS_PREFIX}{_name('community', community)}/{_terms_hex(version)}.md"


def acceptances_prefix(community: str) -> str:
    return f"{ACCEPTANCES_PREFIX}{_name('community', community)}/"


def acceptance_key(community: str, address: str, version: str) -> str:
    """The mark that ``address`` accepted that version of the community's terms."""
    return f"{acceptances_prefix(community)}{member_id(address)}-{_terms_hex(version)}.json"


def write_acceptance(store: Store, community: str, address: str, version: str, moment: float | dt.datetime) -> bool:
    """Record the acceptance, once (create-if-absent; False when it was already recorded)."""
    record = {"format": FORMAT, "community": community, "version": version, "at": utc_text(moment)}
    return store.create(acceptance_key(community, address, version), _json_bytes(record), "application/json")


def accepted(store: Store, community: str, addresses: Iterable[str], version: str) -> dict[str, dt.datetime | None]:
    """For each of ``addresses``, when they accepted that version of the community's terms (None: not)."""
    wanted = {member_id(a): a for a in addresses}
    found: dict[str, dt.datetime | None] = dict.fromkeys(wanted.values())
    suffix = f"-{_terms_hex(version)}.json"
    for key in store.list(acceptances_prefix(community)):
        name = key.rpartition("/")[2]
        address = wanted.get(name.removesuffix(suffix)) if name.endswith(suffix) else None
        if address is None:
            continue
        try:
            found[address] = parse_utc_text(json.loads(store.get(key))["at"])
        except (StoreError, KeyError, TypeError, ValueError):
            continue  # unreadable: not known to be accepted
    return found
