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
bytes and on the parsing code, so :class:`ParsedCables` keeps each result (the cable and its
findings) in ``parsed/<code>/`` under ``sha256(path, bytes)``, as JSON (never pickle: the cache is
data, not code), and a load parses only the files it has never seen.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any

import yaml

from gate.files import write_atomic
from pipeline import cables, classification, dates, findings, gitrepo, html_safety, yamlfile
from pipeline.cables import Approval, Cable
from pipeline.findings import Finding, Findings

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
            raise CacheError(f"the build cache {cache} holds files tracked by git ({tracked}): a cache must never "
                             f"come from the repository; remove it from git (git rm -r --cached {inside}) "
                             f"and add it to .gitignore, or pass --cache DIR")
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


class ParsedCables:
    """``cables.parse`` with memory: each result is a small JSON file under ``<cache>/parsed/<code>/``,
    named by ``sha256(path, bytes)``, so a load reads only the entries of its files and writes only
    those it parsed."""

    def __init__(self, cache: Path) -> None:
        self.folder = cache / PARSED / _code_version()[:16]

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


def _cable_to(cable: Cable | None) -> dict[str, Any] | None:
    if cable is None:
        return None
    out = {f.name: getattr(cable, f.name) for f in dataclasses.fields(cable)}
    out["date"] = cable.date.isoformat()
    out["embargo"] = cable.embargo.isoformat() if cable.embargo else None
    out["approvals"] = [dict(dataclasses.asdict(a), date=a.date.isoformat()) for a in cable.approvals]
    return out


def _cable_from(data: dict[str, Any] | None) -> Cable | None:
    if data is None:
        return None
    values = dict(data)
    values["date"] = dt.date.fromisoformat(values["date"])
    values["embargo"] = dt.datetime.fromisoformat(values["embargo"]) if values["embargo"] else None
    values["subjects"], values["communities"] = tuple(values["subjects"]), tuple(values["communities"])
    values["approvals"] = tuple(Approval(**dict(a, date=dt.datetime.fromisoformat(a["date"])))
                                for a in values["approvals"])
    return Cable(**values)
