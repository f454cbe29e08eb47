"""The build cache folder: where it is, why its contents can be trusted, and the parsed cables in it.

``build`` and ``publish`` keep what they computed in ``<root>/.cache/diplomatie`` (or ``--cache``):
conversions of cables to HTML (``cables/``), compiled templates (``jinja/``), each site's input keys
and page templates (``sites/``), parsed cables (``parsed/``), the digests of git blobs that number
cable versions (``blob-digests.json``) and of the built files at the last publish (``site-files/``), and what the audits found in the theme's stylesheets and scripts and in cable pages' texts
(``audited-assets.json``). All of it is used as it is, so it must never come from the repository: a merge request
committing ``.cache/diplomatie/`` would put its HTML in every site. :func:`folder` refuses a cache
that git tracks, and the folder ignores itself (like ``.pytest_cache``) so ``git add -A`` leaves it out.

Parsed cables
-------------
Loading a repository parses every cable: YAML, digest, the classification and HTML scans. At
2,000 cables that is most of a build with nothing to do. A parse depends only on the file's path and
bytes and on the parsing code, so the result (the cable and its findings) is kept as JSON (never
pickle: the cache is data, not code), and a load parses only the files it has never seen.

- The working tree (every command by default): :class:`ParsedIndex`, one SQLite database for the
  whole repository, ``parsed/index-<code>.sqlite``, holding per path the file's ``stat`` signature,
  the ``sha256(path, bytes)`` it was parsed from, the cable's id, its findings and the cable without
  its body; and, per file, what the cross-file checks and the plan computed from it and
  ``communities.yaml`` (``facts``), and the parsed ``communities.yaml`` (``memos``). A file whose
  signature is unchanged is not even read; a command reads the small columns of every row (from one
  snapshot of them, checked by its SHA-256: :class:`Snapshot`) and the cable of a file only when it
  asks for that cable, and the body from the file when something asks
  for it (checked against the hash). At 20,000 cables, decoding one 30 MB JSON index and making every
  cable was most of the time of ``check``, ``plan`` and ``approve``.
- A commit's git objects (``--ref``, ``--at``): :class:`ParsedCables`, one small file per parsed
  file under ``parsed/<code>/``, named by ``sha256(path, bytes)`` (the blobs are read anyway).

Why a stat signature may stand for the content: it is (size, mtime_ns, ctime_ns, inode, device).
Any write to a file, and any change of its times (``os.utime``, ``touch -d``), sets its ctime to the
current time, and no system call lets a program choose a ctime: an edit that keeps the size and puts
the old modification time back still changes the ctime. The one gap is time itself: a file
changed again within the same clock tick as the moment its content was hashed would keep its
signature (git's "racily clean" entries). So a signature is trusted only when the file's mtime and
ctime are older, by :data:`RACY_NS`, than the moment its content was last hashed; a file changed
more recently than that is read and hashed again on every load until it is old enough. What remains
is a clock set backwards by more than that margin between two loads, the limit git's own index
accepts. A cache file that cannot be read, from another version of the code, or holding an entry
this code cannot read, is ignored: the file is parsed (fail closed).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import hashlib
import importlib.util
import json
import os
import re
import sqlite3
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gate.files import write_atomic
from pipeline import cables, messages
from pipeline.cables import Approval, Cable
from pipeline.findings import Finding, Findings
from pipeline.messages import _

if TYPE_CHECKING:
    from pipeline.sources import Entry

CACHE = ".cache/diplomatie"
PARSED = "parsed"
IGNORE = b"# Created by diplomatie: the build cache is never committed.\n*\n"


def write_cache_file(path: Path, data: bytes) -> None:
    """Write one file of the cache whole or not at all (gate/files.py), with no ``fsync``: a cache
    entry lost to a crash is recomputed, so the build does not wait for the disk on each of them."""
    write_atomic(path, data, fsync=False)


class CacheError(Exception):
    """The cache folder cannot be used; the message says why and what to do."""


def folder(root: Path, cache_dir: Path | None = None) -> Path:
    """The build cache folder of the content repository at ``root``, checked and created."""
    cache = Path(cache_dir or Path(root) / CACHE).resolve()
    try:
        inside = cache.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        inside = None  # outside the content repository: nothing there comes from git
    if inside is not None:
        tracked = _tracked(Path(root), inside)
        if tracked:
            raise CacheError(_("the build cache {cache} holds files tracked by git ({tracked}): a cache must never come from the repository; remove it from git (git rm -r --cached {inside}) and add it to .gitignore, or pass --cache DIR").format(cache=cache, tracked=tracked, inside=inside))
    ignore = cache / ".gitignore"
    if not ignore.is_file():
        write_cache_file(ignore, IGNORE)
    return cache


def _tracked(root: Path, inside: str) -> str | None:
    """The first file git tracks under ``inside`` (None: none, or no git repository)."""
    from pipeline import gitrepo

    return gitrepo.tracked_file(root, inside)


def version_of(distribution: str) -> str:
    """The installed version of ``distribution`` ("absent": not installed), as
    ``importlib.metadata.version`` gives it. Read from the ``Version`` line of the first matching
    ``*.dist-info/METADATA`` on ``sys.path`` when there is one (``importlib.metadata`` and the e-mail
    parser it reads the file with were a fiftieth of every command, for six keys); else asked of
    ``importlib.metadata`` itself. The version only keys the cache: a wrong one costs a parse, never
    an answer."""
    found = _dist_info_version(distribution)
    if found is not None:
        return found
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _dist_info_version(distribution: str) -> str | None:
    """The ``Version`` of the first ``<name>-<version>.dist-info`` for ``distribution`` on ``sys.path``
    (names compared as importlib.metadata compares them: case, ``-``, ``_`` and ``.`` alike); None
    when there is none, or its METADATA has no version line."""
    wanted = re.sub(r"[-_.]+", "_", distribution).lower()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info") and re.sub(r"[-_.]+", "_", name[:-10].rpartition("-")[0]).lower() == wanted:
                try:
                    with open(os.path.join(entry or ".", name, "METADATA"), encoding="utf-8") as metadata:
                        for line in metadata:
                            if not line.strip():
                                return None  # the headers end here
                            if line.startswith("Version:"):
                                return line[len("Version:"):].strip()
                except OSError:
                    return None
                return None
    return None


def _code_version() -> str:
    """What a parse depends on besides the file: the parsing modules' sources and the versions of the
    libraries whose output the checks read (PyYAML; Python-Markdown and nh3 render and sanitise the
    body the classification and HTML checks scan)."""
    h = hashlib.sha256(yaml.__version__.encode())
    for library in ("markdown", "nh3", "confusable_homoglyphs", "pymdown-extensions"):
        h.update(f"{library}={version_of(library)}".encode())
    for module in ("cables", "classification", "dates", "findings", "html_safety", "yamlfile"):
        h.update(source_of(f"pipeline.{module}"))
    return h.hexdigest()


def source_of(module: str) -> bytes:
    """The source of ``module``, found without importing it (the parse cache exists so that a command
    need not import the parser)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ImportError(module)
    return Path(spec.origin).read_bytes()


class JsonFileDict(dict):
    """A dict kept in one JSON file of the cache: read when made, written by :meth:`save`; forgotten
    when the code that filled it changes (``code``)."""

    def __init__(self, path: Path, code: str = "") -> None:
        self.path, self.code = path, code
        try:
            data = json.loads(path.read_bytes())
            items = data["items"] if data.get("code") == code and isinstance(data["items"], dict) else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            items = {}
        super().__init__(items)
        self._saved = dict(items)

    def save(self) -> None:
        """Write the mapping, if it changed since it was read or last saved."""
        if self != self._saved:
            write_cache_file(self.path, json.dumps({"code": self.code, "items": self}, separators=(",", ":")).encode())
            self._saved = dict(self)


def file_digests(cache: Path, community: str) -> JsonFileDict:
    """The digests of one built site's files at its last publish, by path: ``[size, mtime_ns,
    ctime_ns, inode, sha256]`` (see ``publish.scan_site``)."""
    return JsonFileDict(cache / "site-files" / f"{community}.json")


def publication_stamp(cache: Path, community: str) -> JsonFileDict:
    """What this publisher last published of one community: the site's fingerprint and the release
    that serves it (``publish.publish_site``'s ``stamp``)."""
    return JsonFileDict(cache / "published" / f"{community}.json", "1")


def audited_assets(cache: Path, code: str) -> JsonFileDict:
    """What the audits found in what they read before, by SHA-256: the off-site URLs of each
    stylesheet and script (with the site's own address), the markings of each cable page's text. A
    theme's files and most pages' texts are the same in every build, and reading them again is most of
    the audits' cost. ``code``: the audits' own fingerprint (``audit.code_fingerprint()``), so the
    memory is forgotten when the audit's or the classification's code changes."""
    return JsonFileDict(cache / "audited-assets.json", code)


def blob_digests(cache: Path) -> JsonFileDict:
    """The canonical digest of each git blob of a cable seen so far (None: it does not parse), by
    blob id: what numbers cable versions (see ``history.version_infos``)."""
    return JsonFileDict(cache / "blob-digests.json", _code_version())


#: How much older than the moment its content was hashed a file's mtime and ctime must be for its
#: stat signature to stand for that content: coarse file-system clocks (2 s on FAT) and the kernel's
#: timestamp tick, with room to spare.
RACY_NS = 3_000_000_000


class ContentChanged(Exception):
    """A cable file changed between the moment the repository was loaded and the moment its body was
    read: what was checked is not what would be used, so nothing goes on."""


def content_key(path: str, data: bytes) -> str:
    """What a parse depends on in a file: its path and bytes."""
    return hashlib.sha256(f"{path}\0".encode() + data).hexdigest()


def body_of(data: bytes, body_line: int) -> str:
    """The body :func:`pipeline.cables.split` gives for a file that parsed with this ``body_line``."""
    text = data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    parts = text.split("\n", body_line - 1)
    return parts[body_line - 1] if len(parts) >= body_line else ""


#: What one row of the working tree's index holds (see :class:`ParsedIndex`).
#: Every row carries a check (``chk``) of its other values, and the cable's JSON its own (``csum``): a
#: row damaged on disk is not read, its file is parsed again (a CRC detects damage, not forgery: the
#: cache is this machine's, never the repository's, see :func:`folder`).
SCHEMA = ("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sig TEXT NOT NULL, seen INTEGER NOT NULL, "
          "sha TEXT NOT NULL, id TEXT, idline INTEGER, own TEXT, cable TEXT, csum INTEGER, chk INTEGER)",
          "CREATE TABLE IF NOT EXISTS facts (path TEXT NOT NULL, name TEXT NOT NULL, sha TEXT NOT NULL, "
          "fkey TEXT NOT NULL, data TEXT NOT NULL, chk INTEGER, PRIMARY KEY (path, name))",
          "CREATE TABLE IF NOT EXISTS memos (name TEXT PRIMARY KEY, key TEXT NOT NULL, data TEXT NOT NULL, chk INTEGER)",
          "CREATE TABLE IF NOT EXISTS snapshot (name TEXT PRIMARY KEY, digest TEXT NOT NULL, data BLOB NOT NULL)")


def row_check(*values: object) -> int:
    """The check of one row's values (see :data:`SCHEMA`)."""
    return zlib.crc32(repr(values).encode())  # repr: the type of each value counts (None is not "None")


class ParsedIndex:
    """The parsed cables of a working tree, in one SQLite database (see the module's docstring: why a
    stat signature may stand for the content).

    One row per file: its stat signature, when its content was last hashed (``seen``), the
    ``sha256(path, bytes)`` it was parsed from, the cable's id and the line of its id, its own
    findings, the cable without its body (JSON), and the facts computed from it and
    ``communities.yaml`` (``fkey`` says which ``communities.yaml`` and which code: see
    :func:`pipeline.repository.load`). The cable of a file is read only when something asks for it:
    a command about one cable pays for that one.

    The small columns of every row and the facts are also kept together in a snapshot (table
    ``snapshot``): one blob per kind, checked by its SHA-256 and decoded at once, which costs a
    fraction of reading and checking 20,000 rows one by one. A snapshot may be older than the rows:
    each of its entries holds for the content (``sha``) it names, like a row, so an old entry is
    merely not used (the file's row is read instead); when more than :data:`STALE` files of a load
    were not served by it, the load writes it anew.

    Use :meth:`head` (or :meth:`parse`) for every file of a load, then :meth:`save`. A database,
    snapshot or row that cannot be read, or that this code cannot read, is ignored: the file is
    parsed (fail closed)."""

    def __init__(self, cache: Path, root: Path) -> None:
        language = messages.language()  # findings are kept as worded: one index per language
        self.code = f"{_code_version()}-{language}"
        self.file = cache / PARSED / f"index-{self.code[:16]}-{language}.sqlite"
        self.root = Path(root)
        self.stamp = time.time_ns()  # before any file is read: a later change has a later ctime
        self.rows: dict[str, tuple] = {}  # path -> (sig, seen, sha, id, idline, own, csum), checked
        self.kept_facts: dict[tuple[str, str], tuple] = {}  # (path, name) -> (sha, fkey, data), rows read
        self.snapshot: Snapshot | None = None  # the rows and facts as last written at once
        self.all_read = False  # every row and fact of the database is in rows and kept_facts
        self.stale: set[str] = set()  # files of this load the snapshot did not serve
        self.visited: set[str] = set()
        self.valid: dict[str, str] = {}  # path -> the sha its row (or its fresh parse) stands for
        self.parsed: dict[str, Cable | None] = {}  # parsed by this load (body included)
        self.new_rows: dict[str, tuple] = {}  # path -> a whole row to write
        self.reseen: dict[str, tuple[str, int]] = {}  # path -> (sig, seen): hashed again, same content
        self.new_facts: dict[tuple[str, str], tuple[str, str, str]] = {}  # (path, name) -> (sha, fkey, JSON)
        self.new_memos: dict[str, tuple[str, str]] = {}  # name -> (key, JSON)
        self._cables: dict[str, str | None] | None = None  # path -> cable JSON, once read in bulk
        self._fetched = 0
        self.db = self._open()

    def _open(self) -> sqlite3.Connection | None:
        """The database, with its snapshot (else every row) read; a fresh one when it is missing or
        damaged; None when none can be made here (then every file is parsed and nothing is kept)."""
        for attempt in range(2):
            try:
                self.file.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.file, timeout=10, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                for table in SCHEMA:
                    db.execute(table)
                self.snapshot = Snapshot.read(db, self.code)
                if self.snapshot is not None:
                    self.rows = dict(self.snapshot.rows)
                else:
                    self._read_all(db)
                return db
            except (sqlite3.Error, OSError, ValueError):
                self.rows, self.kept_facts, self.snapshot, self.all_read = {}, {}, None, False
                with contextlib.suppress(NameError, sqlite3.Error):
                    db.close()
                if attempt == 0:  # damaged (not a database, a table of another shape): start afresh
                    for leftover in (self.file, Path(f"{self.file}-wal"), Path(f"{self.file}-shm")):
                        with contextlib.suppress(OSError):
                            leftover.unlink()
        return None

    def _read_all(self, db: sqlite3.Connection) -> None:
        """Every row and fact of the database, each checked (over what the snapshot gave: a row is
        never older than the snapshot's entry for its file)."""
        rows = db.execute("SELECT path, sig, seen, sha, id, idline, own, csum, chk FROM files").fetchall()
        self.rows.update({r[0]: r[1:8] for r in rows if r[8] == row_check(r[0], *r[3:8])})
        self.kept_facts = {(p, n): (sha, k, d) for p, n, sha, k, d, chk in
                           db.execute("SELECT path, name, sha, fkey, data, chk FROM facts")
                           if chk == row_check(p, n, sha, k, d)}
        self.all_read = True

    def _missed(self, path: str) -> bool:
        """Note that the snapshot did not serve ``path``; True when the caller should read the
        file's row or facts from the database one by one (few missed so far), False when every
        row has been read at once instead (or there is no database)."""
        self.stale.add(path)
        if self.all_read or self.db is None:
            return False
        if len(self.stale) > STALE:
            try:
                self._read_all(self.db)
            except sqlite3.Error:
                self.all_read = True  # nothing more to read: what is not known is parsed again
            return False
        return True

    def _row_of(self, path: str) -> tuple | None:
        """The database's row of ``path``, checked (None: none, damaged, or unreadable)."""
        try:
            r = self.db.execute("SELECT path, sig, seen, sha, id, idline, own, csum, chk FROM files WHERE path = ?",
                                (path,)).fetchone()
        except sqlite3.Error:
            return None
        return r[1:8] if r is not None and r[8] == row_check(r[0], *r[3:8]) else None

    def parse(self, entry: Entry, read: Callable[[], bytes], found: Findings) -> Cable | None:
        """The cable in the file ``entry`` (``read`` gives its bytes), its findings added to ``found``."""
        return self.cable(entry.path) if self.head(entry, read, found) is not None else None

    def head(self, entry: Entry, read: Callable[[], bytes], found: Findings) -> tuple[str, int] | None:
        """(id, line of the id) of the cable in the file ``entry`` (None: the file holds none), its
        findings added to ``found``; the cable itself is made by :meth:`cable` when asked for."""
        path = entry.path
        self.visited.add(path)
        sig = _sig(entry.stat)
        row = self.rows.get(path)
        trusted = row is not None and self._trusted(row, entry.stat, sig)
        if not trusted:
            if self._missed(path):  # the snapshot is older than the file's row, if it has one
                newer = self._row_of(path)
                if newer is not None:
                    self.rows[path] = row = newer
            else:
                row = self.rows.get(path)
            trusted = row is not None and self._trusted(row, entry.stat, sig)
        if trusted:
            sha, cid, line, own = row[2], row[3], row[4], row[5]
            if own is None and type(sha) is str and type(cid) is str and type(line) is int:
                self.valid[path] = sha  # most files: a cable with no finding of its own
                return cid, line
            restored = self._head_of(row, found)
            if restored is not None:
                self.valid[path] = row[2]
                return restored[0]
        data = read()
        key = content_key(path, data)
        if row is not None and row[2] == key and self._cable_json(path, key) is not _MISSING:
            restored = self._head_of(row, found)
            if restored is not None:
                self.valid[path] = key
                self.reseen[path] = (sig, self.stamp)
                return restored[0]
        own = Findings()
        cable = cables.parse(path, data, own)
        self.parsed[path] = cable
        self.valid[path] = key
        try:
            cable_json = json.dumps(_cable_to(cable, body=False), ensure_ascii=False, separators=(",", ":"))
            own_json = json.dumps([dataclasses.asdict(f) for f in own], ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):  # a value JSON cannot hold: parse this file every time
            pass
        else:
            values = (key, cable.id if cable else None, cable.lines.get("id", 1) if cable else None,
                      own_json if own else None)
            csum = row_check(cable_json)
            self.new_rows[path] = (path, sig, self.stamp, *values, cable_json, csum,
                                   row_check(path, *values, csum))
        found.extend(own)
        return (cable.id, cable.lines.get("id", 1)) if cable is not None else None

    def known(self, path: str, st: os.stat_result) -> tuple[str, int] | None:
        """What :meth:`head` gives for the file ``path`` of ``lstat`` result ``st``, in the common case
        only: its row's signature stands for it and holds a cable with no finding of its own; None
        otherwise (then call :meth:`head`). The same checks as :meth:`head`'s, without an
        :class:`~pipeline.sources.Entry` nor a function to read the file (a load of 20,000 files
        makes no object for the files that did not change)."""
        row = self.rows.get(path)
        if row is None:
            return None
        sig, seen, sha, cid, line, own, _csum = row  # a row's shape is checked where it is read
        mtime, ctime = st.st_mtime_ns, st.st_ctime_ns
        if (own is not None or type(seen) is not int or type(sha) is not str or type(cid) is not str
                or type(line) is not int or (mtime if mtime > ctime else ctime) + RACY_NS >= seen
                or sig != f"{st.st_size},{mtime},{ctime},{st.st_ino},{st.st_dev}"):
            return None
        self.visited.add(path)
        self.valid[path] = sha
        return cid, line

    def clean_cable(self, path: str, data: bytes) -> Cable | None:
        """The cable the bytes ``data`` of the file ``path`` hold, when this load's row of the file
        stands for these very bytes (their content hash) and holds no error of its own: what
        :func:`pipeline.cables.parse` gives them, without parsing. None otherwise (then parse)."""
        key = content_key(path, data)
        row = self.rows.get(path)
        if row is None or row[2] != key or self.valid.get(path) != key:
            return None
        found = Findings()
        restored = self._head_of(row, found)
        if restored is None or restored[0] is None or any(f.is_error for f in found):
            return None
        return self.cable(path)

    @staticmethod
    def _head_of(row: tuple, found: Findings) -> tuple[tuple[str, int] | None] | None:
        """((id, id line) or None,) from a row, its own findings added to ``found``; None when the row
        cannot be read by this code."""
        try:
            _, _, sha, cid, line, own, _ = row
            findings = [Finding(**f) for f in json.loads(own)] if own is not None else []
            if not isinstance(sha, str) or (cid is not None and not (isinstance(cid, str) and isinstance(line, int))):
                return None
        except (TypeError, ValueError, AttributeError):
            return None
        found.extend(findings)
        return ((cid, line) if cid is not None else None,)

    @staticmethod
    def _trusted(row: tuple, signature: tuple[int, ...] | None, sig: str) -> bool:
        """Whether the row's signature (``sig``: ``signature`` as the row writes it) stands for the file."""
        try:
            return (signature is not None and row[0] == sig
                    and max(signature[1], signature[2]) + RACY_NS < row[1])
        except (TypeError, IndexError):
            return False

    def cable(self, path: str) -> Cable | None:
        """The cable of a file :meth:`head` saw (its body read from the file when asked for, and
        checked against the hash the index holds); ``ContentChanged`` when the row no longer stands for it."""
        if path in self.parsed:
            return self.parsed[path]
        key = self.valid[path]
        text = self._cable_json(path, key)
        try:
            if text is _MISSING:
                raise ValueError("row gone")
            data = json.loads(text) if text is not None else None
            return _cable_from(data, self._deferred_body(path, key, data["body_line"]) if data else None)
        except (KeyError, TypeError, ValueError, AttributeError):
            # A row this code cannot read: parse the file, which must still be what was checked.
            data = (self.root / path).read_bytes()
            if content_key(path, data) != key:
                raise ContentChanged(f"{path} changed while it was being read; run the command again") from None
            cable = cables.parse(path, data, Findings())
            self.parsed[path] = cable
            return cable

    def _cable_json(self, path: str, key: str) -> object:
        """The cable column of ``path``'s row if the row still holds the content ``key`` (else _MISSING):
        one query per cable, or all of them at once when a load asks for many."""
        if self.db is None:
            return _MISSING
        try:
            if self._cables is None and self._fetched >= 64:
                self._cables = {p: (s, c, k) for p, s, c, k in self.db.execute("SELECT path, sha, cable, csum FROM files")}
            if self._cables is not None:
                sha, text, csum = self._cables.get(path, (None, None, None))
            else:
                self._fetched += 1
                found = self.db.execute("SELECT sha, cable, csum FROM files WHERE path = ?", (path,)).fetchone()
                sha, text, csum = found if found else (None, None, None)
        except sqlite3.Error:
            return _MISSING
        row = self.rows.get(path)
        if (sha != key or not isinstance(text, str) or row is None or row[2] != key or row[6] != csum
                or row_check(text) != csum):
            return _MISSING  # another content, or damaged: parse the file
        return text

    def _deferred_body(self, path: str, key: str, line: Any) -> Callable[[], str]:
        root = self.root
        if not isinstance(line, int):
            raise TypeError("not a cache entry")

        def read_body() -> str:
            data = (root / path).read_bytes()
            if content_key(path, data) != key:
                raise ContentChanged(_("{path} changed while it was being read; run the command again").format(path=path))
            return body_of(data, line)
        return read_body

    def _fact(self, path: str, name: str, fkey: str) -> tuple[Any, str | None]:
        """(decoded value, None) from the snapshot, or (None, JSON text) from this load or the
        database, of the facts ``name`` of ``path``'s content under ``fkey``; (None, None): none."""
        sha = self.valid.get(path)
        new = self.new_facts.get((path, name))
        if new is not None:
            return (None, new[2]) if new[0] == sha and new[1] == fkey and sha is not None else (None, None)
        if self.snapshot is not None:
            value = self.snapshot.fact(path, name, fkey, sha)
            if value is not None:
                return value, None
            if self._missed(path):
                kept = self._fact_row(path, name)
                if kept is not None:
                    self.kept_facts[(path, name)] = kept
        sha_, key, text = self.kept_facts.get((path, name)) or (None,) * 3
        if key != fkey or sha_ is None or sha_ != sha or not isinstance(text, str):
            return None, None
        return None, text

    def _fact_row(self, path: str, name: str) -> tuple | None:
        try:
            r = self.db.execute("SELECT path, name, sha, fkey, data, chk FROM facts WHERE path = ? AND name = ?",
                                (path, name)).fetchone()
        except sqlite3.Error:
            return None
        return r[2:5] if r is not None and r[5] == row_check(*r[:5]) else None

    def facts(self, path: str, name: str, fkey: str) -> Any:
        """What :meth:`keep_facts` kept as ``name`` for ``path``'s content under ``fkey`` (None: nothing,
        kept for other content or another ``fkey``, or unreadable). Shared: never change it."""
        value, text = self._fact(path, name, fkey)
        if text is None:
            return value
        try:
            return json.loads(text)
        except ValueError:
            return None

    def facts_of(self, paths: Iterable[str], name: str, fkey: str) -> dict[str, Any]:
        """:meth:`facts` of many files at once, by path (files without are left out): decoded in one
        go, as decoding them one by one costs more than the rest of a command."""
        out, texts = {}, {}
        kept = self.snapshot.facts(name) if self.snapshot is not None else None
        if kept is not None and kept[0] == fkey:  # most files: as the snapshot has them
            rows, values, valid = self.snapshot.rows, kept[1], self.valid
            fresh = {p for p, n in self.new_facts if n == name}
            rest = []
            for path in paths:
                row = rows.get(path)
                value = values.get(path)
                if value is not None and row is not None and row[2] == valid.get(path) and path not in fresh:
                    out[path] = value
                else:
                    rest.append(path)
            paths = rest
        for path in paths:
            value, text = self._fact(path, name, fkey)
            if text is not None:
                texts[path] = text
            elif value is not None:
                out[path] = value
        try:
            decoded = json.loads("[" + ",".join(texts.values()) + "]")
            if len(decoded) != len(texts):
                raise ValueError("a text holding more than one value")
            out.update(zip(texts, decoded, strict=True))
        except ValueError:  # one is damaged: decode each, leaving out what does not decode
            out.update({path: data for path in texts if (data := self.facts(path, name, fkey)) is not None})
        return out

    def keep_facts(self, path: str, name: str, fkey: str, facts: Any) -> None:
        """Keep ``facts`` (JSON data) computed from ``path``'s content and what ``fkey`` stands for, as
        ``name``: written by the next :meth:`save`."""
        with contextlib.suppress(TypeError, ValueError):
            text = json.dumps(facts, ensure_ascii=False, separators=(",", ":"))
            self.new_facts[(path, name)] = (self.valid[path], fkey, text)

    def memo(self, name: str, key: str) -> Any:
        """What :meth:`keep_memo` kept as ``name`` under ``key`` (None: nothing, another key, unreadable)."""
        if name in self.new_memos:
            found: tuple | None = self.new_memos[name]
        else:
            try:
                found = self.db.execute("SELECT key, data, chk FROM memos WHERE name = ?", (name,)).fetchone() \
                    if self.db is not None else None
            except sqlite3.Error:
                found = None
            if found and found[2] != row_check(name, found[0], found[1]):
                found = None
        if not found or found[0] != key or not isinstance(found[1], str):
            return None
        try:
            return json.loads(found[1])
        except ValueError:
            return None

    def keep_memo(self, name: str, key: str, data: Any) -> None:
        """Keep ``data`` (JSON data) computed from what ``key`` stands for, as ``name``."""
        with contextlib.suppress(TypeError, ValueError):
            self.new_memos[name] = (key, json.dumps(data, ensure_ascii=False, separators=(",", ":")))

    def save(self) -> None:
        """Write what changed: rows of files parsed or hashed again, facts, rows of files gone, and the
        snapshot when this load found it missing or too old (best effort: a cache that cannot be
        written costs time, never correctness)."""
        gone = [(p,) for p in self.rows.keys() - self.visited]
        self.stale.update(p for p, _ in self.new_facts)
        rewrite = self.snapshot is None or len(self.stale) + len(gone) > STALE
        if self.db is None or not (gone or self.new_rows or self.reseen or self.new_facts or self.new_memos
                                   or rewrite):
            return
        rows = {p: r for p, r in self.rows.items() if p in self.visited}
        rows.update({p: (r[1], r[2], *r[3:7], r[8]) for p, r in self.new_rows.items()})
        rows.update({p: (sig, seen, *rows[p][2:]) for p, (sig, seen) in self.reseen.items()
                     if p in rows and rows[p][2] == self.valid[p]})
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany("DELETE FROM files WHERE path = ?", gone)
                self.db.executemany("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?)", self.new_rows.values())
                self.db.executemany("UPDATE files SET sig = ?, seen = ? WHERE path = ? AND sha = ?",
                                    [(sig, seen, p, self.valid[p]) for p, (sig, seen) in self.reseen.items()])
                self.db.executemany("DELETE FROM facts WHERE path = ?", gone)
                self.db.executemany("INSERT OR REPLACE INTO facts VALUES (?,?,?,?,?,?)",
                                    [(p, n, sha, k, t, row_check(p, n, sha, k, t))
                                     for (p, n), (sha, k, t) in self.new_facts.items()])
                self.db.executemany("INSERT OR REPLACE INTO memos VALUES (?,?,?,?)",
                                    [(n, k, d, row_check(n, k, d)) for n, (k, d) in self.new_memos.items()])
                snapshot = None
                if rewrite:  # rows of files gone since an old snapshot too (this load knew only its paths)
                    left = [(p,) for (p,) in self.db.execute("SELECT path FROM files") if p not in self.visited]
                    self.db.executemany("DELETE FROM files WHERE path = ?", left)
                    self.db.executemany("DELETE FROM facts WHERE path = ?", left)
                    snapshot = Snapshot.write(self.db, self.code, rows, self._facts_texts(rows))
        except sqlite3.Error:
            return
        self.rows = rows
        self.kept_facts.update(self.new_facts)
        if snapshot is not None:
            self.snapshot, self.stale = snapshot, set()
        self.new_rows, self.reseen, self.new_facts, self.new_memos = {}, {}, {}, {}

    def _facts_texts(self, rows: dict[str, tuple]) -> dict[str, tuple[str, dict[str, str]]]:
        """For a new snapshot: per name, the ``fkey`` of this load's facts (else the snapshot's) and
        the JSON text of each file's facts under it, for its content as ``rows`` has it."""
        out = {}
        names = {n for _, n in self.new_facts} | {n for _, n in self.kept_facts}
        names |= self.snapshot.names if self.snapshot is not None else set()
        for name in sorted(names):
            keys = collections.Counter(k for (_, n), (_, k, _) in self.new_facts.items() if n == name)
            kept = self.snapshot.facts(name) if self.snapshot is not None else None
            if not keys and kept is not None:
                keys[kept[0]] = 1
            if not keys:
                keys.update(k for (_, n), (_, k, _) in self.kept_facts.items() if n == name)
            if not keys:
                continue
            fkey = keys.most_common(1)[0][0]
            texts = {}
            for path, row in rows.items():
                value, text = self._fact_for_snapshot(path, name, fkey, row[2])
                if text is not None:
                    texts[path] = text
                elif value is not None:
                    with contextlib.suppress(TypeError, ValueError):
                        texts[path] = self.snapshot.text(path, name)
            out[name] = (fkey, texts)
        return out

    def _fact_for_snapshot(self, path: str, name: str, fkey: str, sha: str) -> tuple[Any, str | None]:
        """(value, None) of the snapshot, or (None, text) of this load or the rows read, of ``path``'s
        facts ``name`` for the content ``sha`` under ``fkey`` (without reading the database)."""
        for kept in (self.new_facts.get((path, name)), self.kept_facts.get((path, name))):
            if kept is not None and kept[0] == sha and kept[1] == fkey and isinstance(kept[2], str):
                return None, kept[2]
        if self.snapshot is not None:
            return self.snapshot.fact(path, name, fkey, sha), None
        return None, None


_MISSING = object()


def _sig(signature: tuple[int, ...] | None) -> str:
    if signature is None:
        return ""
    size, mtime, ctime, inode, device = signature
    return f"{size},{mtime},{ctime},{inode},{device}"


#: How many files of a load the snapshot may fail to serve (changed since it was written, facts
#: computed again, gone) before the load writes it anew; beyond, every row is read at once.
STALE = 64


class Snapshot:
    """The small columns of a :class:`ParsedIndex`'s rows and the facts kept for them, each kind
    written as one JSON blob with its SHA-256 (table ``snapshot``): ``files`` (every row but the
    cable's JSON, as columns) and one per name of facts (``facts:<name>``: the ``fkey`` they were
    computed under, each distinct value once, and which one each file has). Read at once and decoded
    when first asked for; a blob whose digest, format, code or shape is not what this code writes
    is not used."""

    FORMAT = 1
    COLUMNS = 7  # (sig, seen, sha, id, idline, own, csum)

    def __init__(self, digest: str, paths: list[str], rows: dict[str, tuple], raw: dict[str, tuple[str, bytes]]) -> None:
        self.digest, self.paths, self.rows = digest, paths, rows
        self._raw = raw  # name -> (digest, blob) of the facts, decoded when first asked for
        self._facts: dict[str, tuple[str, dict[str, Any]] | None] = {}  # name -> (fkey, path -> value)
        self._texts: dict[int, str] = {}  # id of a value -> its JSON text (for a new snapshot)

    @property
    def names(self) -> set[str]:
        """The names of the facts it holds."""
        return set(self._raw)

    @classmethod
    def read(cls, db: sqlite3.Connection, code: str) -> Snapshot | None:
        """The snapshot of the database (None: none, or one this code cannot use)."""
        try:
            blobs = {name: (digest, data) for name, digest, data in
                     db.execute("SELECT name, digest, data FROM snapshot")}
            digest, data = blobs.pop("files")
            if not isinstance(data, bytes) or hashlib.sha256(data).hexdigest() != digest:
                return None
            doc = json.loads(data)
            if doc["format"] != cls.FORMAT or doc["code"] != code or len(doc["columns"]) != cls.COLUMNS:
                return None
            paths = doc["paths"]
            rows = dict(zip(paths, zip(*doc["columns"], strict=True), strict=True))
            if len(rows) != len(paths):
                return None
            raw = {name[len("facts:"):]: blob for name, blob in blobs.items()
                   if isinstance(name, str) and name.startswith("facts:") and isinstance(blob[1], bytes)}
            return cls(digest, paths, rows, raw)
        except (KeyError, TypeError, ValueError, AttributeError, sqlite3.Error):
            return None

    def facts(self, name: str) -> tuple[str, dict[str, Any]] | None:
        """(fkey, value by path) of the facts ``name`` (None: none, or unusable)."""
        if name not in self._facts:
            self._facts[name] = self._decode(name) if name in self._raw else None
        return self._facts[name]

    def fact(self, path: str, name: str, fkey: str, sha: str | None) -> Any:
        """The facts ``name`` of ``path`` if the snapshot has them for the content ``sha`` under
        ``fkey`` (None: not so). Shared between files and loads: never change them."""
        entry = self._facts[name] if name in self._facts else self.facts(name)
        if entry is None or entry[0] != fkey:
            return None
        row = self.rows.get(path)
        if row is None or row[2] != sha:
            return None
        return entry[1].get(path)

    def _decode(self, name: str) -> tuple[str, dict[str, Any]] | None:
        digest, data = self._raw[name]
        try:
            if hashlib.sha256(data).hexdigest() != digest:
                return None
            doc = json.loads(data)
            fkey, index, table = doc["fkey"], doc["index"], doc["table"]
            if (doc["format"] != self.FORMAT or doc["files"] != self.digest or not isinstance(fkey, str)
                    or len(index) != len(self.paths) or not isinstance(table, list)):
                return None
            return fkey, {path: table[i] for path, i in zip(self.paths, index, strict=True) if i >= 0}
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            return None

    def text(self, path: str, name: str) -> str:
        """The JSON text of the value :meth:`fact` gave for ``path`` (for a new snapshot)."""
        value = self._facts[name][1][path]
        text = self._texts.get(id(value))
        if text is None:
            text = self._texts[id(value)] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return text

    @classmethod
    def write(cls, db: sqlite3.Connection, code: str, rows: dict[str, tuple],
              facts: dict[str, tuple[str, dict[str, str]]]) -> Snapshot | None:
        """Write the snapshot of ``rows`` and ``facts`` (name -> (fkey, JSON text by path)) in place
        of the old one; the new one, as read back (None: nothing could be written)."""
        rows = {p: r for p, r in rows.items() if _row_shape(p, r)}
        paths = list(rows)
        columns = [list(column) for column in zip(*rows.values(), strict=True)] if rows else [[]] * cls.COLUMNS
        data = json.dumps({"format": cls.FORMAT, "code": code, "paths": paths, "columns": columns},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        blobs = [("files", digest, data)]
        for name, (fkey, texts) in facts.items():
            blob = _facts_blob(digest, fkey, paths, texts)
            if blob is not None:
                blobs.append((f"facts:{name}", hashlib.sha256(blob).hexdigest(), blob))
        db.execute("DELETE FROM snapshot")
        db.executemany("INSERT INTO snapshot VALUES (?,?,?)", blobs)
        return cls(digest, paths, rows, {name[len("facts:"):]: (d, b) for name, d, b in blobs[1:]})


def _row_shape(path: object, row: tuple) -> bool:
    """Whether a row holds the types this code writes (the check of a row leaves out its signature)."""
    sig, seen, sha, cid, line, own, csum = row
    return (isinstance(path, str) and isinstance(sig, str) and type(seen) is int and isinstance(sha, str)
            and (cid is None or isinstance(cid, str)) and (line is None or type(line) is int)
            and (own is None or isinstance(own, str)) and type(csum) is int)


def _facts_blob(files: str, fkey: str, paths: list[str], texts: dict[str, str]) -> bytes | None:
    """One kind of facts as the snapshot keeps them (see :class:`Snapshot`); None when one of the
    texts is not JSON (then the facts are computed again rather than kept)."""
    table: dict[str, int] = {}
    index = [table.setdefault(texts[p], len(table)) if p in texts else -1 for p in paths]
    body = "[" + ",".join(table) + "]"
    try:
        if len(json.loads(body)) != len(table):
            return None
    except ValueError:
        return None
    head = json.dumps({"format": Snapshot.FORMAT, "fkey": fkey, "files": files}, separators=(",", ":"))
    return (head[:-1] + ',"index":' + json.dumps(index, separators=(",", ":")) + ',"table":' + body + "}").encode("utf-8")


class ParsedCables:
    """``cables.parse`` with memory: each result is a small JSON file under ``<cache>/parsed/<code>/``,
    named by ``sha256(path, bytes)``, so a load reads only the entries of its files and writes only
    those it parsed."""

    def __init__(self, cache: Path) -> None:
        self.folder = cache / PARSED / f"{_code_version()[:16]}-{messages.language()}"  # findings as worded

    def parse(self, path: str, data: bytes, found: Findings) -> Cable | None:
        key = hashlib.sha256(f"{path}\0".encode() + data).hexdigest()
        file = self.folder / key[:2] / f"{key}.json"
        try:
            entry = json.loads(file.read_bytes())
            cable, own = _cable_from(entry["cable"]), [Finding(**f) for f in entry["findings"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            own = Findings()  # never seen, or an entry this code cannot read: parse
            cable = cables.parse(path, data, own)
            try:
                text = json.dumps({"cable": _cable_to(cable), "findings": [dataclasses.asdict(f) for f in own]},
                                  ensure_ascii=False, separators=(",", ":"))
            except (TypeError, ValueError):  # a value JSON cannot hold: parse this file every time
                text = None
            if text is not None:
                write_cache_file(file, text.encode("utf-8"))
        found.extend(own)
        return cable


def _cable_to(cable: Cable | None, body: bool = True) -> dict[str, Any] | None:
    if cable is None:
        return None
    out = {f.name: getattr(cable, f.name) for f in dataclasses.fields(cable) if body or f.name != "body"}
    out["date"] = cable.date.isoformat()
    out["embargo"] = cable.embargo.isoformat() if cable.embargo else None
    out["approvals"] = [dict(dataclasses.asdict(a), date=a.date.isoformat()) for a in cable.approvals]
    return out


def _cable_from(data: dict[str, Any] | None, body: Callable[[], str] | None = None) -> Cable | None:
    if data is None:
        return None
    values = dict(data)
    if body is not None:
        values["body"] = body
    values["date"] = dt.date.fromisoformat(values["date"])
    values["embargo"] = dt.datetime.fromisoformat(values["embargo"]) if values["embargo"] else None
    values["subjects"], values["communities"] = tuple(values["subjects"]), tuple(values["communities"])
    values["approvals"] = tuple(Approval(**dict(a, date=dt.datetime.fromisoformat(a["date"])))
                                for a in values["approvals"])
    return Cable(**values)
