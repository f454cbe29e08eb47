"""Where a content repository's files come from: the working tree, or one commit's git objects.

Reading a past version straight from git objects (``--ref``/``--at``) never touches the working
tree and does not need a clean checkout. Both sources report symbolic links as such, so that the
checker can refuse them instead of following them out of the repository.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import git


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the repository root, forward slashes
    is_symlink: bool
    size: int


class Tree(Protocol):
    """A read-only view of the files of one version of a content repository."""

    def walk(self, top: str) -> Iterator[Entry]: ...

    def entry(self, path: str) -> Entry | None: ...

    def read(self, path: str) -> bytes: ...


class WorkingTree:
    """The files as they are on disk under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entry(self, path: str) -> Entry | None:
        full = self.root / path
        try:
            st = full.lstat()
        except OSError:
            return None
        return Entry(path, stat.S_ISLNK(st.st_mode), st.st_size)

    def walk(self, top: str) -> Iterator[Entry]:
        base = self.root / top
        if not base.is_dir() or base.is_symlink():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in sorted(filenames) + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
                entry = self.entry(f"{rel}/{name}")
                if entry is not None:
                    yield entry

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()


class GitTree:
    """The files of one commit, read from git objects."""

    def __init__(self, commit: git.Commit) -> None:
        self.commit = commit

    def _object(self, path: str) -> git.Object | None:
        try:
            return self.commit.tree / path
        except KeyError:
            return None

    def entry(self, path: str) -> Entry | None:
        obj = self._object(path)
        if obj is None or obj.type != "blob":
            return None
        return Entry(path, stat.S_ISLNK(obj.mode), obj.size)

    def walk(self, top: str) -> Iterator[Entry]:
        tree = self._object(top)
        if tree is None or tree.type != "tree":
            return
        for obj in sorted(tree.traverse(), key=lambda o: o.path):
            if obj.type == "blob":
                yield Entry(obj.path, stat.S_ISLNK(obj.mode), obj.size)

    def read(self, path: str) -> bytes:
        obj = self._object(path)
        if obj is None:
            raise FileNotFoundError(path)
        return obj.data_stream.read()


@dataclass(frozen=True)
class Version:
    """Which version of the repository is read, and the commit it comes from (if any)."""

    tree: Tree
    commit: str | None
    commit_time: dt.datetime | None
    dirty: bool = False


class RefError(Exception):
    """A ``--ref`` or ``--at`` that names no commit of the repository."""


def open_version(root: Path, ref: str | None = None, at: dt.datetime | None = None) -> Version:
    """The working tree (default), or the commit named by ``ref`` or last on or before ``at``."""
    try:
        repo = git.Repo(root, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        repo = None
    if ref is None and at is None:
        if repo is None or not repo.head.is_valid():
            return Version(WorkingTree(root), None, None)
        head = repo.head.commit
        return Version(WorkingTree(root), head.hexsha, head.committed_datetime.astimezone(dt.UTC),
                       dirty=repo.is_dirty(untracked_files=True))
    if repo is None:
        raise RefError(f"{root} is not a git repository: --ref and --at need one")
    commit = _resolve(repo, ref, at)
    return Version(GitTree(commit), commit.hexsha, commit.committed_datetime.astimezone(dt.UTC))


def _resolve(repo: git.Repo, ref: str | None, at: dt.datetime | None) -> git.Commit:
    if ref is not None:
        try:
            return repo.commit(ref)
        except (git.BadName, ValueError, git.GitCommandError) as exc:
            raise RefError(f"no commit named {ref!r} in {repo.working_dir}") from exc
    assert at is not None
    for commit in repo.iter_commits("HEAD", first_parent=True):
        if commit.committed_datetime <= at:
            return commit
    raise RefError(f"no commit on or before {at.isoformat()} in {repo.working_dir}")
