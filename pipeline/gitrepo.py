"""The content repository's git: the one module of the pipeline that talks to git.

Everything the pipeline learns from git goes through here: which commit a ``--ref`` or ``--at``
names, the files of one commit, the one ``git log`` that lists every change of many cables with
their blob ids, the bytes of a blob, the signatures git checks, the files git tracks, and the
publication tags. Callers see plain values (commit ids, UTC dates, bytes), never GitPython's
objects, so the rest of the pipeline does not depend on how git is read, and a change of that
library (or a switch to the command line) is made in this file alone.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import git
else:
    class _GitPython:
        """GitPython, imported on first use: most commands never read git's objects, and importing the
        library is a noticeable part of their time."""

        def __getattr__(self, name: str) -> Any:
            import git as module

            return getattr(module, name)

    git = _GitPython()

from pipeline.messages import _


class GitError(Exception):
    """Git could not answer; the message says what is missing."""


class NotARepository(GitError):
    """The folder is not (the top of) a git repository."""


class UnknownRef(GitError):
    """No commit of the repository has that name, or none is on or before that date."""


@dataclass(frozen=True)
class Commit:
    id: str  # the full hexadecimal commit id
    time: dt.datetime  # committer date, UTC


@dataclass(frozen=True)
class Touch:
    """One commit changing one file: the file's new blob (None when the commit deleted it), and its
    blob in each of the commit's parents (None where a parent did not have the file): what tells a
    line this commit wrote from one it inherited."""

    commit: str
    date: dt.datetime
    author: str
    blob: str | None
    before: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class TreeFile:
    """A file (a blob: a regular file or a symbolic link) of one commit's tree."""

    path: str  # relative to the repository root, forward slashes
    mode: int  # the git mode, as ``stat`` reads it (``stat.S_ISLNK`` tells a symbolic link)
    size: int


class Snapshot:
    """The files of one commit, read from git objects (never from the working tree)."""

    def __init__(self, commit: git.Commit) -> None:
        self._commit = commit

    def _object(self, path: str) -> git.Object | None:
        try:
            return self._commit.tree / path
        except KeyError:
            return None

    def file(self, path: str) -> TreeFile | None:
        """The file at ``path`` (None: absent, or a folder)."""
        obj = self._object(path)
        if obj is None or obj.type != "blob":
            return None
        return TreeFile(path, obj.mode, obj.size)

    def files(self, top: str) -> Iterator[TreeFile]:
        """Every file under the folder ``top``, sorted by path (nothing when it is not a folder)."""
        tree = self._object(top)
        if tree is None or tree.type != "tree":
            return
        for obj in sorted(tree.traverse(), key=lambda o: o.path):
            if obj.type == "blob":
                yield TreeFile(obj.path, obj.mode, obj.size)

    def read(self, path: str) -> bytes:
        obj = self._object(path)
        if obj is None:
            raise FileNotFoundError(path)
        return obj.data_stream.read()


class GitRepo:
    """One content repository's git objects."""

    def __init__(self, root: Path) -> None:
        """Open the repository whose top folder is ``root`` (its parents are not searched)."""
        try:
            self._repo = git.Repo(root, search_parent_directories=False)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise NotARepository(_("{root} is not a git repository").format(root=root)) from None
        self.root = Path(root)

    @property
    def where(self) -> str:
        """The repository's folder as messages name it."""
        return str(self._repo.working_dir)

    # --- commits ---------------------------------------------------------------------------------

    def _commit(self, ref: str) -> git.Commit:
        try:
            return self._repo.commit(ref)
        except (git.BadName, ValueError, git.GitCommandError) as exc:
            raise UnknownRef(_("no commit named {ref!r} in {where}").format(ref=ref, where=self.where)) from exc

    def _commit_at(self, at: dt.datetime) -> git.Commit:
        """The last commit on HEAD's first-parent line committed on or before ``at``."""
        for commit in self._repo.iter_commits("HEAD", first_parent=True):
            if commit.committed_datetime <= at:
                return commit
        raise UnknownRef(_("no commit on or before {at} in {where}").format(at=at.isoformat(), where=self.where))

    def head(self) -> Commit | None:
        """The commit checked out (None: a repository without any commit yet)."""
        if not self._repo.head.is_valid():
            return None
        return _commit_of(self._repo.head.commit)

    def _resolve(self, ref: str | None, at: dt.datetime | None) -> git.Commit:
        if ref is not None:
            return self._commit(ref)
        if at is None:
            raise ValueError(_("resolve needs a ref or a date"))
        return self._commit_at(at)

    def snapshot(self, ref: str | None = None, at: dt.datetime | None = None) -> tuple[Commit, Snapshot]:
        """The commit named by ``ref`` (or last on or before ``at``) and its files."""
        commit = self._resolve(ref, at)
        return _commit_of(commit), Snapshot(commit)

    def is_dirty(self) -> bool:
        """Whether the working tree (untracked files included) differs from HEAD."""
        return self._repo.is_dirty(untracked_files=True)

    # --- the history of files --------------------------------------------------------------------

    def file_log(self, paths: Iterable[str], ref: str | None = None) -> dict[str, list[Touch]]:
        """For each file under ``paths`` (files or folders), the commits reachable from ``ref`` (default
        HEAD) that changed it, oldest first, in one ``git log`` (so a build over thousands of cables
        reads the history once). Merge commits count where they changed the file against every parent.
        Nothing for a repository without any commit; :class:`UnknownRef` for a ``ref`` naming none."""
        if ref is None and self.head() is None:
            return {}
        head = self._commit(ref or "HEAD")
        return _touches(self._repo.git.log(head.hexsha, *LOG_ARGS, "--", *paths))

    def blob(self, blob_id: str) -> bytes:
        """The bytes of the blob ``blob_id`` (as :meth:`file_log` names it)."""
        return self._repo.odb.stream(bytes.fromhex(blob_id)).read()

    def first_tracked(self, inside: str) -> str | None:
        """The first file git tracks under the folder ``inside`` (None: none)."""
        try:
            listed = self._repo.git.ls_files("--", inside or ".")
        except git.GitCommandError:
            return None
        return listed.splitlines()[0] if listed else None

    # --- tags ------------------------------------------------------------------------------------

    def tag_commit(self, name: str) -> str | None:
        """The commit the tag ``name`` points to (None: no such tag)."""
        existing = next((t for t in self._repo.tags if t.path == f"refs/tags/{name}"), None)
        return existing.commit.hexsha if existing is not None else None

    def valid_tag_name(self, name: str) -> bool:
        try:
            self._repo.git.check_ref_format(f"refs/tags/{name}")
        except git.GitCommandError:
            return False
        return True

    def create_tag(self, name: str, commit: str, message: str) -> None:
        """Create the annotated tag ``name`` on ``commit`` (as "Diplomatie" when git knows no user)."""
        identity = [] if self._repo.git.config("user.email", with_exceptions=False) else [
            "-c", "user.name=Diplomatie", "-c", "user.email=diplomatie@localhost"]
        try:
            self._repo.git.execute(["git", *identity, "tag", "-a", name, "-m", message, commit])
        except git.GitCommandError as exc:
            raise GitError(exc.stderr.strip()) from None


def _blob(sha: str) -> str | None:
    """A blob id of ``git log --raw``, None for the all-zero id that stands for "no file"."""
    return None if set(sha) == {"0"} else sha


def _commit_of(commit: git.Commit) -> Commit:
    return Commit(commit.hexsha, commit.committed_datetime.astimezone(dt.UTC))


# --- the git command line: signatures, status, configuration ------------------------------------

#: How :meth:`GitRepo.file_log` and :meth:`GitLog.file_log` ask ``git log`` for the changes of files.
LOG_ARGS = ("--format=%x00%H%x00%ct%x00%an%x00%ae", "--raw", "-c", "--no-abbrev", "--no-renames")


def _touches(text: str) -> dict[str, list[Touch]]:
    """The changes of each file in the output of ``git log`` with :data:`LOG_ARGS`, oldest first."""
    out: dict[str, list[Touch]] = {}
    fields = text.split("\x00")
    for index in range(1, len(fields) - 3, 4):
        commit, unix_time, name = fields[index:index + 3]
        email, _, raw = fields[index + 3].partition("\n")
        date = dt.datetime.fromtimestamp(int(unix_time), dt.UTC)
        for line in raw.splitlines():
            if not line.startswith(":") or "\t" not in line:
                continue
            meta, path = line.split("\t", 1)
            parents = len(meta) - len(meta.lstrip(":"))
            shas = meta.lstrip(":").split()[parents + 1: 2 * parents + 2]
            blob, before = (_blob(shas[-1]), tuple(map(_blob, shas[:-1]))) if shas else (None, ())
            out.setdefault(path, []).append(Touch(commit, date, f"{name} <{email}>", blob, before))
    for touches in out.values():
        touches.reverse()
    return out


class GitLog:
    """:meth:`GitRepo.file_log` (of HEAD) and :meth:`GitRepo.blob` through the ``git`` command alone,
    without opening the repository through GitPython: ``approve`` reads one cable's history, and
    importing GitPython cost more than the reading. The same answers, from the same ``git log``."""

    def __init__(self, root: Path) -> None:
        """The repository whose top folder is ``root`` (its parents are not searched)."""
        self.root = Path(root)
        if not (self.root / ".git").exists():
            raise NotARepository(_("{root} is not a git repository").format(root=root))
        self._env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(self.root.resolve().parent)}

    def _git(self, *args: str) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(["git", *args], cwd=self.root, env=self._env, capture_output=True, check=False)
        except OSError as exc:
            raise GitError(_("git could not be run: {exc}").format(exc=exc)) from None

    def file_log(self, paths: Iterable[str], ref: None = None) -> dict[str, list[Touch]]:
        """For each file under ``paths``, the commits reachable from HEAD that changed it, oldest first
        (nothing for a repository without any commit). HEAD only: ``ref`` must be None."""
        if ref is not None:
            raise ValueError("GitLog reads the history of HEAD only")
        head = self._git("rev-parse", "--verify", "-q", "HEAD^{commit}")
        if head.returncode != 0:
            if self._git("rev-parse", "--git-dir").returncode != 0:
                raise NotARepository(_("{root} is not a git repository").format(root=self.root))
            return {}
        done = self._git("log", head.stdout.decode().strip(), *LOG_ARGS, "--", *paths)
        if done.returncode != 0:
            raise GitError(done.stderr.decode("utf-8", "replace").strip())
        text = done.stdout.decode("utf-8", "surrogateescape")  # as GitPython reads it
        return _touches(text.removesuffix("\n"))

    def blob(self, blob_id: str) -> bytes:
        """The bytes of the blob ``blob_id`` (as :meth:`file_log` names it)."""
        done = self._git("cat-file", "blob", blob_id)
        if done.returncode != 0:
            raise GitError(done.stderr.decode("utf-8", "replace").strip())
        return done.stdout


def tracked_file(root: Path, inside: str) -> str | None:
    """The first file git tracks under the folder ``inside`` of the repository whose top folder is
    ``root`` (None: none, or ``root`` is not the top of a git repository; its parents are not
    searched). :meth:`GitRepo.first_tracked` without opening the repository through GitPython."""
    try:
        result = GitLog(root)._git("ls-files", "-z", "--", inside or ".")
    except (NotARepository, GitError):
        return None
    if result.returncode != 0 or not result.stdout:
        return None
    return result.stdout.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def signature_lines(root: Path, commits: Iterable[str], allowed_signers: str) -> list[tuple[str, str, str, str]]:
    """(commit, %G? status, signer, key fingerprint) of each commit, as ``git log`` checks its signature
    against the allowed-signers text ``allowed_signers`` (see ssh-keygen(1), ALLOWED SIGNERS)."""
    commits = sorted(set(commits))
    if not commits:
        return []
    fd, path = tempfile.mkstemp(prefix="allowed-signers-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(allowed_signers)
        result = subprocess.run(
            ["git", "-c", f"gpg.ssh.allowedSignersFile={path}", "log", "--no-walk=unsorted",
             "--format=%H%x00%G?%x00%GS%x00%GF", *commits, "--"],
            cwd=root, capture_output=True, text=True, check=False)
    finally:
        os.unlink(path)
    if result.returncode != 0:
        raise GitError(_("git could not check signatures in {root}: {error}").format(root=root, error=result.stderr.strip()))
    out = []
    for line in result.stdout.splitlines():
        parts = line.split("\x00")
        if len(parts) == 4:
            out.append((parts[0], parts[1], parts[2], parts[3]))
    return out


def commit_file_signed(root: Path, path: str, message: str, key: str | None = None) -> str:
    """Commit the file at ``path`` alone, signed with SSH (``key``: a private key file, or git's
    ``user.signingkey``), and return the commit's id. Other staged changes stay staged, uncommitted."""
    command = ["git", "-c", "gpg.format=ssh"]
    if key:
        command += ["-c", f"user.signingkey={key}"]
    for args in (["add", "--", path], ["commit", "--quiet", "-S", "-m", message, "--", path]):
        result = subprocess.run(command + args, cwd=root, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise GitError(_("git {args} failed: {error}").format(args=args[0], error=result.stderr.strip() or result.stdout.strip()))
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
    return head.stdout.strip()


def uncommitted(root: Path, paths: Iterable[str]) -> bool:
    """Whether the files under ``paths`` differ from the last commit (untracked ones included);
    False when git cannot say (not a repository)."""
    result = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", *paths],
                            cwd=root, capture_output=True, text=True, check=False)
    return result.returncode == 0 and bool(result.stdout.strip())


def is_ancestor(root: Path, ancestor: str, commit: str) -> bool:
    """Whether ``ancestor`` is ``commit`` or one of its ancestors (False when git cannot say: an unknown
    commit, or not a repository, counts as not descending)."""
    if not ancestor or not commit:
        return False
    result = subprocess.run(["git", "merge-base", "--is-ancestor", ancestor, commit],
                            cwd=root, capture_output=True, check=False)
    return result.returncode == 0


def user_email(root: Path | None = None) -> str | None:
    """``git config user.email`` as git reads it in ``root`` (default: where the command runs), so a
    content repository's own setting wins over the global one (None: unset, or git missing)."""
    try:
        out = subprocess.run(["git", "config", "user.email"], cwd=root, capture_output=True, text=True,
                             check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def _git(root: Path, *args: str, env: dict[str, str] | None = None, data: bytes | None = None) -> str:
    """Run ``git args`` in ``root``; its output, or :class:`GitError` with git's own words."""
    result = subprocess.run(["git", *args], cwd=root, input=data, capture_output=True, check=False,
                            env={**os.environ, **env} if env else None)
    if result.returncode != 0:
        raise GitError(f"git {args[0]} failed: {(result.stderr or result.stdout).decode(errors='replace').strip()}")
    return result.stdout.decode().strip()


def branch_commit(root: Path, branch: str) -> str | None:
    """The commit the local branch ``branch`` points at (None: no such branch)."""
    result = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"],
                            cwd=root, capture_output=True, text=True, check=False)
    return result.stdout.strip() or None


def commit_files_to_branch(root: Path, branch: str, files: dict[str, bytes], message: str,
                           base: str = "HEAD") -> str:
    """Commit ``files`` (repository path -> bytes) on the local branch ``branch`` (created from ``base``
    when absent) and return the new commit's id, without touching the working tree, the index or the
    branch checked out: the tree is built in an index of its own, and the branch moves only if it
    still points where it did (``update-ref`` with the old value), so two runs at once never lose one's
    commit. The branch checked out is refused: its working tree would no longer match it."""
    _git(root, "check-ref-format", "--branch", branch)
    checked_out = subprocess.run(["git", "symbolic-ref", "--quiet", "HEAD"], cwd=root, capture_output=True,
                                 text=True, check=False).stdout.strip()
    if checked_out == f"refs/heads/{branch}":
        raise GitError(f"{branch} is the branch checked out in {root}: name another one (--branch)")
    old = branch_commit(root, branch)
    parent = old or _git(root, "rev-parse", "--verify", f"{base}^{{commit}}")
    with tempfile.TemporaryDirectory(prefix="diplomatie-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _git(root, "read-tree", parent, env=env)
        for path, data in sorted(files.items()):
            blob = _git(root, "hash-object", "-w", "--stdin", data=data)
            _git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = _git(root, "write-tree", env=env)
    commit = _git(root, "commit-tree", tree, "-p", parent, "-m", message)
    _git(root, "update-ref", "-m", message, f"refs/heads/{branch}", commit, old or "0" * 40)
    return commit


def commits_naming(root: Path, text: str, paths: Iterable[str]) -> list[tuple[str, dt.date]]:
    """The commits (short id, committer date in UTC), newest first, whose changes to ``paths`` add or
    remove ``text`` (``git log -S``, case ignored, every branch): where a person's address stays in the
    history after it left the working tree. Empty when git cannot say (not a repository, no commit)."""
    result = subprocess.run(["git", "log", "--all", "-i", f"-S{text}", "--format=%h %ct", "--", *paths],
                            cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return []
    found = []
    for line in result.stdout.splitlines():
        short, _, unix_time = line.partition(" ")
        if short and unix_time.isdigit():
            found.append((short, dt.datetime.fromtimestamp(int(unix_time), dt.UTC).date()))
    return found
