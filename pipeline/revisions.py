"""A cable as it stood in each commit that changed it, and the commits that wrote each approval.

Both the history (``diplomatie history``) and the signed-approval check need them: the history to
number versions and say which version an approval approved, the signature check to find the commit
whose signature makes an approval count. They live here, below both, so neither imports the other
for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline import cables
from pipeline.cables import Approval, Cable
from pipeline.findings import Findings
from pipeline.gitrepo import GitError, GitLog, GitRepo, Touch

#: Where the cables are: one pathspec for a history walk over all of them.
CONTENT_SPEC = "content/"

#: Above this many cables, one ``git log`` over the whole content folder beats a pathspec per cable.
MANY = 50


@dataclass(frozen=True)
class Revision:
    """One commit that changed a cable's file, with the cable as it stood in that commit."""

    commit: str
    date: dt.datetime  # committer date, UTC: the moment the change entered the history
    author: str  # "Name <email>"
    cable: Cable | None  # None when the file was deleted or could not be parsed
    body: str | None = None
    deleted: bool = False
    wrote: frozenset[tuple] = frozenset()  # keys of the approvals this commit wrote (in none of its parents)


def cable_path(cable_id: str) -> str:
    """Where a cable lives in a content repository."""
    return f"content/{cable_id[:4]}/{cable_id}.md"


def file_logs(repo: GitRepo, paths: list[str], ref: str | None = None) -> dict[str, list[Touch]]:
    """The changes of each of ``paths`` (sorted, distinct) in one ``git log``: over the content folder
    for many cables, over the paths themselves for a few."""
    return repo.file_log([CONTENT_SPEC] if len(paths) > MANY else paths, ref)


class _Blobs:
    """Parsed contents of blobs, each parsed once however many files and commits share it."""

    def __init__(self, repo: GitRepo | GitLog, scans: bool = True) -> None:
        self.repo, self.scans = repo, scans
        self.parsed: dict[tuple[str, str], tuple[Cable | None, str | None]] = {}

    def read(self, path: str, blob: str) -> tuple[Cable | None, str | None]:
        key = (path, blob)
        if key not in self.parsed:
            data = self.repo.blob(blob)
            self.parsed[key] = (cables.parse(path, data, Findings(), self.scans), _body(data))
        return self.parsed[key]


def _revisions(blobs: _Blobs, path: str, touches: Iterable[Touch]) -> list[Revision]:
    out = []
    for touch in touches:
        cable, body = blobs.read(path, touch.blob) if touch.blob else (None, None)
        approvals = cable.approvals if cable is not None else ()
        inherited = [blobs.read(path, b)[0] for b in touch.before if b]
        out.append(Revision(commit=touch.commit, date=touch.date, author=touch.author, cable=cable, body=body,
                            deleted=touch.blob is None,
                            wrote=written(approvals, [c.approvals if c else () for c in inherited])))
    return out


def revisions(repo: GitRepo | GitLog, path: str, ref: str | None = None, scans: bool = True) -> list[Revision]:
    """Every commit reachable from ``ref`` (default HEAD) that changed ``path``, oldest first
    (:class:`pipeline.gitrepo.UnknownRef` when ``ref`` names no commit). ``scans=False``: each
    version parsed without reading its texts as a reader sees them (see :func:`pipeline.cables.parse`)."""
    return _revisions(_Blobs(repo, scans), path, repo.file_log([path], ref).get(path, []))


def read_once(root: Path, path: str) -> Callable[[], list[Revision]]:
    """:func:`revisions` of ``path`` in the repository at ``root`` (HEAD), read from git when first
    asked for and given again after: ``approve`` shows the changes since the approved version and
    then asks when the cable was last withdrawn, from one read of its history. A read that fails
    raises the same error each time, so each caller handles it as it would a read of its own.

    Each version is parsed without the scans of its texts (``scans=False``): what is shown (the
    fields and the body) and what is asked (the status, the digest) are the same, and rendering
    each past body with Markdown (and importing the libraries for it) was a third of ``approve``.
    The history is read with the ``git`` command alone (:class:`pipeline.gitrepo.GitLog`)."""
    done: list[list[Revision] | GitError] = []

    def read() -> list[Revision]:
        if not done:
            try:
                done.append(revisions(GitLog(root), path, scans=False))
            except GitError as exc:
                done.append(exc)
        if isinstance(done[0], GitError):
            raise done[0]
        return done[0]
    return read


def last_withdrawn(read: Callable[[], list[Revision]]) -> dt.datetime | None:
    """When the cable was last committed with ``status: withdrawn``, from its history as ``read``
    gives it (:func:`read_once`); None: never, or no git history to read."""
    try:
        revs = read()
    except GitError:
        return None
    times = [r.date for r in revs if r.cable is not None and r.cable.status == "withdrawn"]
    return max(times, default=None)


def revisions_of(repo: GitRepo, paths: Iterable[str], ref: str | None = None) -> dict[str, list[Revision]]:
    """:func:`revisions` of many files, reading the history once."""
    paths = sorted(set(paths))
    if not paths:
        return {}
    log = file_logs(repo, paths, ref)
    blobs = _Blobs(repo)
    return {path: _revisions(blobs, path, log.get(path, [])) for path in paths}


def _body(data: bytes) -> str | None:
    try:
        return cables.split(data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n"))[1]
    except (UnicodeDecodeError, cables.FrontMatterError):
        return None


# --- approvals -----------------------------------------------------------------------------------

def approval_key(approval: Approval) -> tuple[str, str, dt.datetime, str]:
    """What identifies an approval across versions of the file (its line may move)."""
    return (approval.community, approval.by, approval.date, approval.digest)


def written(approvals: Iterable[Approval], inherited: Iterable[Iterable[Approval]]) -> frozenset[tuple]:
    """The keys of ``approvals`` (a file's after a commit) found in none of ``inherited`` (the file's
    approvals in each parent of the commit; a parent without the file, or whose file does not parse,
    gives none): the approvals that commit wrote."""
    had = {approval_key(a) for approvals_ in inherited for a in approvals_}
    return frozenset(approval_key(a) for a in approvals) - had


def approvals_added(revs: Iterable[Revision]) -> dict[tuple, tuple[Revision, ...]]:
    """For each approval ever present, every revision that wrote it, oldest first.

    Usually one. More when the approval's line was removed (a revocation, a revert) and the same line
    written again, by its editor or by anyone copying it back: an approval is only as good as the
    least trustworthy of the commits that wrote it, so the signature check asks them all."""
    out: dict[tuple, tuple[Revision, ...]] = {}
    for rev in revs:
        for key in sorted(rev.wrote):
            out[key] = (*out.get(key, ()), rev)
    return out


def reply_approvals_added(repo: GitRepo, paths: Iterable[str], ref: str | None = None) -> dict[tuple, tuple[str, ...]]:
    """For each approval ever present in the reply files ``paths`` (pipeline/replyfiles.py), every
    commit reachable from ``ref`` that wrote it, oldest first: what the signed-approval check verifies
    for a reply, as :func:`approvals_added` gives it for a cable."""
    from pipeline import replyfiles

    paths = sorted(set(paths))
    out: dict[tuple, tuple[str, ...]] = {}
    if not paths:
        return out
    parsed: dict[tuple[str, str], tuple[Approval, ...]] = {}

    def approvals_of(path: str, blob: str | None) -> tuple[Approval, ...]:
        if blob is None:
            return ()
        if (path, blob) not in parsed:
            reply = replyfiles.parse(path, repo.blob(blob), Findings())
            parsed[path, blob] = reply.approvals if reply is not None else ()
        return parsed[path, blob]

    for path, touches in repo.file_log(paths, ref).items():
        for touch in touches:
            wrote = written(approvals_of(path, touch.blob), [approvals_of(path, b) for b in touch.before])
            for key in sorted(wrote):
                out[key] = (*out.get(key, ()), touch.commit)
    return out
