"""The history of a cable, read from git: its versions, its approvals and its publications.

Archivists must be able to show, years later, what each community saw, who approved it and when.
Everything here comes from git objects (and, for publications, from the store's append-only ledger),
so the answer is the same on every clone and never depends on the working tree.

A *version* is a distinct content of the cable (its canonical digest: front matter without
``approvals``, and body). A commit that only adds an approval does not make a new version.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.store import utc_text
from pipeline import buildcache, cables, communities, signatures
from pipeline.cables import Approval, Cable
from pipeline.findings import Findings
from pipeline.gitrepo import GitError, GitRepo, NotARepository, UnknownRef
from pipeline.messages import N_, Message, _, shown
from pipeline.revisions import (
    Revision,
    approval_key,
    approvals_added,
    cable_path,
    file_logs,
    revisions,
    written,
)
from pipeline.sources import RefError, open_version

if TYPE_CHECKING:
    from pipeline.repository import Repository

#: Cable fields compared between versions, in the order the history lists their changes.
METADATA = ("id", "title", "date", "post", "author", "classification", "subjects", "language", "summary",
            "ministry", "communities", "embargo", "status", "supersedes")


class HistoryError(Exception):
    """The history cannot be read (not a git repository, unknown ref or cable); the message says why."""


@dataclass(frozen=True)
class Change:
    key: str
    before: Any
    after: Any


@dataclass(frozen=True)
class CableVersion:
    number: int  # 1 for the first version
    commit: str | None  # None: the working tree's edit, not committed yet
    date: dt.datetime | None  # None: not committed yet
    author: str
    digest: str | None  # None for a version that could not be parsed (or a deletion)
    changes: tuple[Change, ...] = ()  # metadata changed since the previous version
    added: int = 0  # body lines added since the previous version
    removed: int = 0
    deleted: bool = False


@dataclass(frozen=True)
class ApprovalRecord:
    """An approval, the commit that added it, and which version it approved."""

    community: str
    by: str
    date: dt.datetime
    digest: str
    commit: str | None  # the commit that wrote this approval (the last one, when its line was written again)
    version: int | None  # the version whose digest it names (the one current when it was added)
    matched: bool  # its digest was the cable's digest in the commit that added it
    current: bool  # its digest is the digest of the latest version
    signed: bool | None = None  # signed by the editor's listed key; None: the editor lists no SSH key
    earlier: tuple[str, ...] = ()  # commits that wrote the same approval before (removed, then written again)


@dataclass(frozen=True)
class Publication:
    """A ledger record about a release holding (or dropping) the cable."""

    action: str  # "publish", "rollback", "unrestorable", …
    community: str
    release: str | None
    at: str
    commit: str | None
    change: str  # "added", "kept", "removed", "rolled back to", …


@dataclass(frozen=True)
class CableHistory:
    id: str
    path: str
    versions: tuple[CableVersion, ...]
    approvals: tuple[ApprovalRecord, ...]
    publications: tuple[Publication, ...] | None = None  # None when no store was given


@dataclass(frozen=True)
class VersionInfo:
    """What a cable page shows: the version number and the date of its last change."""

    number: int
    date: dt.datetime | None  # None for a version not committed yet


# --- reading git ---------------------------------------------------------------------------------

def open_git(root: Path) -> GitRepo:
    try:
        return GitRepo(root)
    except NotARepository:
        raise HistoryError(_("{root} is not a git repository: the history of a cable comes from git").format(root=root)) from None


def _revisions(repo: GitRepo, path: str, ref: str | None) -> list[Revision]:
    try:
        return revisions(repo, path, ref)
    except UnknownRef as exc:
        raise HistoryError(str(exc)) from None


# --- versions ------------------------------------------------------------------------------------

def _new_versions(steps: Iterable[tuple[str | None, bool]]) -> Iterator[bool]:
    """For each (digest, deleted) step in order, whether it starts a version: a content other than
    the last version's (one that cannot be read always is), or a deletion after a live version."""
    last: tuple[str | None, bool] | None = None  # (digest, deleted) of the last version
    for digest, deleted in steps:
        new = last is None or not ((digest is not None and digest == last[0]) or (deleted and last[1]))
        if new:
            last = (digest, deleted)
        yield new


def versions(revs: Iterable[Revision]) -> list[CableVersion]:
    """The distinct contents among ``revs``: a commit that leaves the digest as it was is no version."""
    revs = list(revs)
    out: list[CableVersion] = []
    previous: Revision | None = None
    for rev, new in zip(revs, _new_versions((r.cable.digest if r.cable else None, r.deleted) for r in revs),
                        strict=True):
        if new:
            changes, added, removed = _diff(previous, rev)
            out.append(CableVersion(number=len(out) + 1, commit=rev.commit, date=rev.date, author=rev.author,
                                    digest=rev.cable.digest if rev.cable else None, changes=changes,
                                    added=added, removed=removed, deleted=rev.deleted))
        previous = rev
    return out


def _diff(before: Revision | None, after: Revision) -> tuple[tuple[Change, ...], int, int]:
    old = before.cable if before else None
    new = after.cable
    changes = []
    if new is not None:
        for key in METADATA:
            was = getattr(old, key) if old is not None else None
            now = getattr(new, key)
            if was != now and (old is not None or now not in (None, "", ())):
                changes.append(Change(key, _plain(was), _plain(now)))
    old_body = (before.body if before else None) or ""
    new_body = after.body or ""
    added = removed = 0
    for line in difflib.unified_diff(old_body.splitlines(), new_body.splitlines(), lineterm="", n=0):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return tuple(changes), added, removed


def _plain(value: Any) -> Any:
    """A JSON-friendly form of a metadata value."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dt.datetime):
        return utc_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# --- approvals -----------------------------------------------------------------------------------

def _approval_records(revs: list[Revision], vers: list[CableVersion],
                      present: tuple[Approval, ...]) -> list[ApprovalRecord]:
    added = approvals_added(revs)
    position = {r.commit: i for i, r in enumerate(revs)}
    latest = vers[-1].digest if vers else None
    out = []
    for approval in present:
        wrote = added.get(approval_key(approval), ())
        rev = wrote[-1] if wrote else None
        commit = rev.commit if rev else None
        matched = bool(rev and rev.cable and rev.cable.digest == approval.digest)
        version = None
        for v in vers:  # the last version with that digest not after the commit that added the approval
            if v.digest == approval.digest and (rev is None or position[v.commit] <= position[rev.commit]):
                version = v.number
        out.append(ApprovalRecord(community=approval.community, by=approval.by, date=approval.date,
                                  digest=approval.digest, commit=commit, version=version, matched=matched,
                                  current=approval.digest == latest,
                                  earlier=tuple(r.commit for r in wrote[:-1])))
    return out


def _with_signatures(root: Path, ref: str | None, records: list[ApprovalRecord]) -> list[ApprovalRecord]:
    """Say of each approval whether its commit is signed by the editor's key, where the community of
    that version of ``communities.yaml`` lists one."""
    try:
        version = open_version(root, ref or "HEAD")
        known = communities.parse(version.tree.read(communities.PATH), Findings())
    except (RefError, FileNotFoundError):
        return records
    keyed = [r for r in records if r.commit and r.community in known
             and signatures.editor_key(known[r.community], r.by)]
    if not keyed:
        return records
    checked = signatures.verify_commits(root, {c for r in keyed for c in (r.commit, *r.earlier)},
                                        signatures.allowed_signers(known.values()))
    out = []
    for record in records:
        if record in keyed:
            approval = Approval(record.community, record.by, record.date, record.digest)
            ok = all(signatures.signed_by_editor(known[record.community], approval, checked.get(c))
                     for c in (record.commit, *record.earlier))
            record = replace(record, signed=ok)
        out.append(record)
    return out


# --- publications --------------------------------------------------------------------------------

def publications(store: Any, cable_id: str) -> list[Publication]:
    """Every ledger record of the store about a release that holds or dropped ``cable_id``, oldest first."""
    from gate.store import LEDGER_PREFIX, BlobReader, NotFound, read_release_cables

    reader = BlobReader(store)

    out = []
    for key in sorted(store.list(LEDGER_PREFIX)):
        record = json.loads(store.get(key))
        action, community = record.get("action", ""), record.get("community", "")
        release = record.get("release")
        if action == "publish":
            if cable_id in record.get("added", ()):
                change = Message(N_("added"))
            elif cable_id in record.get("removed", ()):
                change = Message(N_("removed"))
            elif "cables" in record:  # a record of before format 2 manifests lists every cable
                if cable_id not in record["cables"]:
                    continue
                change = Message(N_("kept"))
            else:
                try:
                    held = bool(release) and cable_id in read_release_cables(store, community, release, reader)
                except NotFound:  # the release was collected: its record says only what it changed
                    held = False
                if not held:
                    continue
                change = "kept"
        elif action == "rollback" and release:
            try:
                held = cable_id in read_release_cables(store, community, release, reader)
            except NotFound:
                held = False
            if not held:
                continue
            change = Message(N_("rolled back to a release holding it"))
        elif action == "unrestorable" and cable_id in record.get("cables", ()):
            change = Message(N_("older releases holding it made unrestorable"))
        else:
            continue
        out.append(Publication(action=action, community=community, release=release, at=record.get("at", ""),
                               commit=record.get("commit"), change=change))
    return out


# --- the whole history ---------------------------------------------------------------------------

def working_revision(root: Path, path: str, revs: list[Revision], scans: bool = True) -> Revision | None:
    """The working tree's file as one more revision, when it differs from the last commit's (an edit
    or an approval not committed yet): what ``plan``, ``approve`` and ``pending`` read, so that the
    history judges an uncommitted edit as they do. None when it is the committed file, or absent.
    ``scans``: as ``revs`` were parsed (see :func:`pipeline.revisions.revisions`), so that the file
    compares with the last of them as parsed the same way."""
    file = root / path
    if file.is_symlink() or not file.is_file():
        return None
    data = file.read_bytes()
    committed = revs[-1] if revs else None
    cable = cables.parse(path, data, Findings(), scans)
    if committed is not None and committed.cable is not None and cable is not None and cable == committed.cable:
        return None
    if committed is not None and committed.cable is None and cable is None and committed.body == _body_of(data):
        return None
    before = committed.cable.approvals if committed is not None and committed.cable is not None else ()
    wrote = written(cable.approvals if cable is not None else (), [before])
    return Revision(None, None, "", cable, _body_of(data), wrote=wrote)  # type: ignore[arg-type]


def _body_of(data: bytes) -> str | None:
    try:
        return cables.split(data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n"))[1]
    except (UnicodeDecodeError, cables.FrontMatterError):
        return None


def cable_history(root: Path, cable_id: str, ref: str | None = None, store: Any = None) -> CableHistory:
    """The versions, approvals and (with a store) publications of one cable, as of ``ref``.

    Without ``ref``, an edit of the working tree not committed yet is the last version (undated, no
    commit) and its approvals are the ones judged, as ``plan`` judges them."""
    repo = open_git(root)
    path = cable_path(cable_id)
    revs = _revisions(repo, path, ref)
    working = working_revision(root, path, revs) if ref is None else None
    if working is not None:
        revs = [*revs, working]
    if not revs:
        raise HistoryError(_("no commit of {root} (as of {ref}) holds {path}").format(root=root, ref=ref or 'HEAD', path=path))
    vers = versions(revs)
    last = next((r.cable for r in reversed(revs) if r.cable is not None), None)
    present = last.approvals if last else ()
    records = _with_signatures(root, ref, _approval_records(revs, vers, present))
    pubs = tuple(publications(store, cable_id)) if store is not None else None
    return CableHistory(id=cable_id, path=path, versions=tuple(vers), approvals=tuple(records), publications=pubs)


def version_info(root: Path, path: str, ref: str | None = None, digest: str | None = None) -> VersionInfo | None:
    """The version number of the cable at ``path`` (as of ``ref``) and the date of its last change.

    With ``digest`` (the cable's current digest, e.g. from the working tree) a content not committed
    yet counts as the next version, dated None. None when git knows nothing of the file.
    """
    try:
        repo = open_git(root)
    except HistoryError:
        return None
    return _version_info(repo, path, ref, digest)


def version_infos(root: Path, paths: Iterable[str], ref: str | None = None,
                  digests: dict[str, str] | None = None,
                  known: MutableMapping[str, str | None] | None = None,
                  current: Callable[[str, str], str | None] | None = None) -> dict[str, VersionInfo]:
    """:func:`version_info` for many cables at once (one repository opened, one ``git log``), keyed
    by path. ``known`` maps blob ids to canonical digests (None: the blob does not parse): a build
    passes the ones it saved last time, so only blobs it has never seen are read and parsed, and
    gets the new ones added. ``current(path, blob)``: the digest of the cable at ``path`` as already
    parsed when its file is that blob, else None (asked only of blobs not ``known``)."""
    try:
        repo = open_git(root)
    except HistoryError:
        return {}
    paths = sorted(set(paths))
    if not paths:
        return {}
    try:
        log = file_logs(repo, paths, ref)
    except UnknownRef as exc:
        raise HistoryError(str(exc)) from None
    known = {} if known is None else known

    def digest_of(path: str, blob: str) -> str | None:
        if blob not in known:
            mine = current(path, blob) if current is not None else None
            known[blob] = mine if mine is not None else cables.digest(path, repo.blob(blob))
        return known[blob]

    out = {}
    for path in paths:
        steps = [(t.date, digest_of(path, t.blob) if t.blob else None, t.blob is None)
                 for t in log.get(path, [])]
        info = _info_of(steps, (digests or {}).get(path))
        if info is not None:
            out[path] = info
    return out


def published_versions(repo: Repository, published: Iterable[Cable],
                       cache_dir: Path | None = None) -> dict[str, VersionInfo]:
    """The version of each cable of ``published`` (``plan.published(communities)``), by cable id: what
    a build shows on cable pages, read from git as of the commit built (a content not committed yet is
    the next version, undated) before the build starts. The digests of the blobs already seen are
    kept in the build cache, so a rebuild reads and parses only new blobs."""
    published = list(published)
    known = buildcache.blob_digests(buildcache.folder(Path(repo.root), cache_dir))
    digests = {c.path: c.digest for c in published}

    def current(path: str, blob: str) -> str | None:
        """A blob never seen may be the cable just parsed (a new commit's): its digest is known. Only
        then is its file read, so a rebuild of what was built before reads no cable."""
        data = repo.version.tree.read(path)
        same = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest() == blob
        return digests[path] if same else None

    infos = version_infos(Path(repo.root), [c.path for c in published], ref=repo.commit,
                          digests=digests, known=known, current=current)
    known.save()
    return {c.id: infos[c.path] for c in published if c.path in infos}


def _version_info(repo: GitRepo, path: str, ref: str | None, digest: str | None) -> VersionInfo | None:
    return _info(_revisions(repo, path, ref), digest)


def _info(revs: list[Revision], digest: str | None) -> VersionInfo | None:
    return _info_of([(r.date, r.cable.digest if r.cable else None, r.deleted) for r in revs], digest)


def _info_of(steps: Iterable[tuple[dt.datetime, str | None, bool]], digest: str | None) -> VersionInfo | None:
    """The last version among ``steps`` (date, digest, deleted), numbered as :func:`versions` does;
    ``digest`` not matching it means an uncommitted edit: the next version, not dated yet."""
    steps = list(steps)
    number = 0
    live: tuple[int, dt.datetime, str | None] | None = None  # last version not a deletion
    for (date, step_digest, deleted), new in zip(steps, _new_versions((d, x) for _when, d, x in steps), strict=True):
        if new:
            number += 1
            if not deleted:
                live = (number, date, step_digest)
    if digest is not None and (live is None or live[2] != digest):
        return VersionInfo(number + 1, None)
    if live is None:
        return None
    return VersionInfo(live[0], live[1])


# --- output --------------------------------------------------------------------------------------

def _date_text(moment: dt.datetime | None) -> str | None:
    """A version's or an approval's date as the one UTC text; None when git gave none."""
    return utc_text(moment) if moment else None


def to_json(history: CableHistory) -> dict[str, Any]:
    """The history as ``diplomatie history --format json`` prints it."""
    out: dict[str, Any] = {
        "id": history.id,
        "path": history.path,
        "versions": [
            {"version": v.number, "commit": v.commit, "date": _date_text(v.date), "author": v.author,
             "digest": v.digest, "deleted": v.deleted,
             "metadata": {c.key: {"before": c.before, "after": c.after} for c in v.changes},
             "body": {"added": v.added, "removed": v.removed}, "committed": v.commit is not None}
            for v in history.versions
        ],
        "approvals": [
            {"community": a.community, "by": a.by, "date": _date_text(a.date), "digest": a.digest,
             "commit": a.commit, "version": a.version, "matched": a.matched, "current": a.current,
             "signed": a.signed}
            for a in history.approvals
        ],
    }
    if history.publications is not None:
        out["publications"] = [
            {"action": p.action, "community": p.community, "release": p.release, "at": p.at,
             "commit": p.commit, "change": p.change}
            for p in history.publications
        ]
    return out


def to_text(history: CableHistory) -> Iterator[str]:
    """The history for a terminal, one line per version, approval and publication."""
    yield f"{history.id} — {history.path}"
    yield _("versions ({count}):").format(count=len(history.versions))
    for v in history.versions:
        if v.commit is None:  # the working tree's edit
            yield _("  v{number}  not committed yet (working tree)  {what}").format(
                number=v.number, what=_("created") if v.number == 1 else _changes(v))
            continue
        what = _("deleted") if v.deleted else (_("created") if v.number == 1 else _changes(v))
        yield f"  v{v.number}  {_date_text(v.date)}  {v.commit[:10]}  {v.author}  {what}"
    yield _("approvals ({count}):").format(count=len(history.approvals))
    for a in history.approvals:
        target = f"v{a.version}" if a.version else _("no known version")
        state = _("current") if a.current else _("stale")
        where = _("added in {commit}").format(commit=a.commit[:10]) if a.commit else _("not committed")
        match = "" if a.matched else _(", did not match the version it was added to")
        signed = {True: _("  signed by the editor's key"), False: _("  NOT signed by the editor's key"),
                  None: ""}[a.signed]
        yield _("  {community}  by {by}  {date}  approves {target} ({state}{match})  {where}{signed}").format(
            community=a.community, by=a.by, date=_date_text(a.date), target=target, state=state, match=match,
            where=where, signed=signed)
    if history.publications is not None:
        yield _("publications ({count}):").format(count=len(history.publications))
        for p in history.publications:
            commit = _("  commit {commit}").format(commit=p.commit[:10]) if p.commit else ""
            yield f"  {p.at}  {p.community}  {p.action} {p.release or ''}  {shown(p.change)}{commit}"


def _changes(version: CableVersion) -> str:
    parts = [f"{c.key}: {c.before!r} → {c.after!r}" for c in version.changes]
    if version.added or version.removed:
        parts.append(_("body +{added} −{removed}").format(added=version.added, removed=version.removed))
    return "; ".join(parts) or _("formatting only")


# --- publication tags ----------------------------------------------------------------------------

def publication_tag(community: str, release: str) -> str:
    """The annotated tag ``publish --tag`` puts on the commit a release was built from."""
    return f"published/{community}/{release}"


def tag_publication(root: Path, community: str, release: str, commit: str, *, cables: Iterable[str] = (),
                    published_at: str = "") -> str:
    """Create the annotated tag ``published/<community>/<release>`` on ``commit`` and return its name.

    Tagging again the same release on the same commit is a no-op (a publication that changed nothing
    keeps its release); a tag of that name on another commit is an error, never moved.
    """
    repo = open_git(root)
    name = publication_tag(community, release)
    if not repo.valid_tag_name(name):
        raise HistoryError(_("{name!r} is not a valid tag name").format(name=name))
    existing = repo.tag_commit(name)
    if existing is not None:
        if existing == commit:
            return name
        raise HistoryError(_("tag {name} already exists on commit {existing}, not {commit}").format(name=name, existing=existing[:10], commit=commit[:10]))
    lines = [f"Published release {release} of {community}", "", f"Commit: {commit}"]
    if published_at:
        lines.append(f"Published-at: {published_at}")
    lines += [f"Cable: {c}" for c in cables]
    try:
        repo.create_tag(name, commit, "\n".join(lines) + "\n")
    except GitError as exc:
        raise HistoryError(_("could not create tag {name}: {exc}").format(name=name, exc=exc)) from None
    return name
