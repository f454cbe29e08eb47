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

- The working tree (every command by default): :class:`ParsedIndex`, one file for the whole
  repository, ``parsed/index-<code>.json``, holding per path the file's ``stat`` signature, the
  ``sha256(path, bytes)`` it was parsed from, the cable without its body and the findings. A file
  whose signature is unchanged is not even read; its body is read when something asks for it (and
  checked against the hash). Reading 20,000 small JSON files, or hashing 20,000 files, was most of
  the time of ``check`` and ``plan``.
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

import contextlib
import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gate.files import write_atomic
from pipeline import cables, classification, dates, findings, gitrepo, html_safety, messages, yamlfile
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
    try:
        return gitrepo.GitRepo(root).first_tracked(inside)
    except gitrepo.NotARepository:
        return None


def _version_of(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _code_version() -> str:
    """What a parse depends on besides the file: the parsing modules' sources and the versions of the
    libraries whose output the checks read (PyYAML; Python-Markdown and nh3 render and sanitise the
    body the classification and HTML checks scan)."""
    h = hashlib.sha256(yaml.__version__.encode())
    for library in ("markdown", "nh3", "confusable_homoglyphs", "pymdown-extensions"):
        h.update(f"{library}={_version_of(library)}".encode())
    for module in (cables, classification, dates, findings, html_safety, yamlfile):
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()


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


class ParsedIndex:
    """The parsed cables of a working tree, in one file (see the module's docstring: why a stat
    signature may stand for the content). Use :meth:`parse` for every file of a load, then :meth:`save`."""

    def __init__(self, cache: Path, root: Path) -> None:
        language = messages.language()  # findings are kept as worded: one index per language
        self.code = f"{_code_version()}-{language}"
        self.file = cache / PARSED / f"index-{self.code[:16]}-{language}.json"
        self.root = Path(root)
        self.stamp = time.time_ns()  # before any file is read: a later change has a later ctime
        self.entries = self._read()
        self.kept: dict[str, dict[str, Any]] = {}
        self.changed = False

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.file.read_bytes())
            if data.get("code") == self.code and isinstance(data.get("entries"), dict):
                return data["entries"]
        except (OSError, ValueError, AttributeError):
            pass
        return {}  # none yet, unreadable or from other code: parse everything

    def parse(self, entry: Entry, read: Callable[[], bytes], found: Findings) -> Cable | None:
        """The cable in the file ``entry`` (``read`` gives its bytes), its findings added to ``found``."""
        old = self.entries.get(entry.path)
        if not isinstance(old, dict):
            old = None
        if old is not None and self._trusted(old, entry.stat):
            try:
                cable, own = self._restore(old, self._deferred_body(entry.path, old))
            except (KeyError, TypeError, ValueError, AttributeError):
                pass  # an entry this code cannot read: parse the file
            else:
                self.kept[entry.path] = old
                found.extend(own)
                return cable
        data = read()
        key = content_key(entry.path, data)
        if old is not None and old.get("sha") == key:
            try:
                cable, own = self._restore(old, lambda: body_of(data, old["cable"]["body_line"]))
            except (KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError):
                pass
            else:
                self._keep(entry, dict(old), key)
                found.extend(own)
                return cable
        own = Findings()
        cable = cables.parse(entry.path, data, own)
        self._keep(entry, {"cable": _cable_to(cable, body=False),
                           "findings": [dataclasses.asdict(f) for f in own]}, key)
        found.extend(own)
        return cable

    def _trusted(self, old: Any, signature: tuple[int, ...] | None) -> bool:
        try:
            return (signature is not None and old["stat"] == list(signature)
                    and max(signature[1], signature[2]) + RACY_NS < old["seen"])
        except (KeyError, TypeError, IndexError):
            return False

    def _keep(self, entry: Entry, item: dict[str, Any], key: str) -> None:
        item.update(sha=key, stat=list(entry.stat) if entry.stat else None, seen=self.stamp)
        self.kept[entry.path] = item
        self.changed = True

    @staticmethod
    def _restore(item: dict[str, Any], body: Callable[[], str]) -> tuple[Cable | None, list[Finding]]:
        own = [Finding(**f) for f in item["findings"]]
        return _cable_from(item["cable"], body), own

    def _deferred_body(self, path: str, item: dict[str, Any]) -> Callable[[], str]:
        root, key = self.root, item["sha"]
        line = item["cable"]["body_line"] if item["cable"] is not None else 1
        if not isinstance(key, str) or not isinstance(line, int):
            raise TypeError(_("not a cache entry"))

        def read_body() -> str:
            data = (root / path).read_bytes()
            if content_key(path, data) != key:
                raise ContentChanged(_("{path} changed while it was being read; run the command again").format(path=path))
            return body_of(data, line)
        return read_body

    def save(self) -> None:
        """Write the index if a file was parsed, hashed again or is gone (best effort: a cache that
        cannot be written costs time, never correctness)."""
        if not self.changed and self.kept.keys() == self.entries.keys():
            return
        text = json.dumps({"code": self.code, "entries": self.kept}, ensure_ascii=False, separators=(",", ":"))
        with contextlib.suppress(OSError):
            write_atomic(self.file, text.encode("utf-8"))
        self.entries, self.changed = dict(self.kept), False


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
