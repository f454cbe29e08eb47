"""Where a content repository's files come from: the working tree, or one commit's git objects.

Reading a past version straight from git objects (``--ref``/``--at``) never touches the working
tree and does not need a clean checkout. Both sources report symbolic links as such, so that the
checker can refuse them instead of following them out of the repository.
"""

from __future__ import annotations

import datetime as dt
import operator
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pipeline import gitrepo
from pipeline.messages import _


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the repository root, forward slashes
    is_symlink: bool
    size: int
    #: (size, mtime_ns, ctime_ns, inode, device) of a working-tree file: what the parse cache compares
    #: (see pipeline/buildcache.py ParsedIndex); None for a file read from git objects
    stat: tuple[int, int, int, int, int] | None = field(default=None, compare=False)


_name = operator.attrgetter("name")


def signature(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """What the parse cache compares of a working-tree file (see :attr:`Entry.stat`)."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


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
        try:
            st = os.lstat(os.path.join(self.root, path))
        except OSError:
            return None
        return Entry(path, stat.S_ISLNK(st.st_mode), st.st_size, signature(st))

    def walk(self, top: str) -> Iterator[Entry]:
        """Every file under ``top`` (and every symbolic link, to a folder too), sorted, each with its
        stat signature from the one ``lstat`` the walk makes."""
        for rel, files in self.scan(top):
            for name, st in files:
                yield Entry(f"{rel}/{name}", stat.S_ISLNK(st.st_mode), st.st_size, signature(st))

    def scan(self, top: str) -> Iterator[tuple[str, list[tuple[str, os.stat_result]]]]:
        """What :meth:`walk` gives, a folder at a time and without an :class:`Entry` per file: each
        folder under ``top`` (forward slashes, relative to the root) with the name and ``lstat`` of
        every file (and symbolic link) in it, sorted by name; a folder's files come before its
        subfolders, as in ``os.walk``. A load through the parse cache compares most files'
        signatures straight from these (20,000 objects made for nothing cost a tenth of a command)."""
        base = self.root / top
        if not base.is_dir() or base.is_symlink():
            return
        yield from self._scan(os.fspath(base), Path(top).as_posix())

    def _scan(self, folder: str, rel: str) -> Iterator[tuple[str, list[tuple[str, os.stat_result]]]]:
        try:
            with os.scandir(folder) as it:
                children = sorted(it, key=_name)
        except OSError:
            return
        files, folders = [], []
        for child in children:
            try:
                st = child.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                folders.append(child)
            else:
                files.append((child.name, st))
        yield rel, files
        for child in folders:  # os.walk's order: a folder's files, then its subfolders
            yield from self._scan(child.path, f"{rel}/{child.name}")

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()


class GitTree:
    """The files of one commit, read from git objects."""

    def __init__(self, snapshot: gitrepo.Snapshot) -> None:
        self.snapshot = snapshot

    def entry(self, path: str) -> Entry | None:
        file = self.snapshot.file(path)
        return _entry(file) if file is not None else None

    def walk(self, top: str) -> Iterator[Entry]:
        for file in self.snapshot.files(top):
            yield _entry(file)

    def read(self, path: str) -> bytes:
        return self.snapshot.read(path)


def _entry(file: gitrepo.TreeFile) -> Entry:
    return Entry(file.path, stat.S_ISLNK(file.mode), file.size)


class Version:
    """Which version of the repository is read, and the commit it comes from (if any).

    For the working tree, the commit checked out (and whether the tree differs from it) is asked of
    git when first wanted: ``check``, ``plan`` and ``approve`` never want it, and opening git is a
    noticeable part of their time."""

    def __init__(self, tree: Tree, commit: str | None, commit_time: dt.datetime | None, dirty: bool = False,
                 root: Path | None = None) -> None:
        self.tree = tree
        self._root = root  # set: the working tree of ``root``, whose commit is read when first asked for
        self._head: tuple[str | None, dt.datetime | None] | None = None if root is not None else (commit, commit_time)
        self._dirty: bool | None = None if root is not None else dirty

    def _repo(self) -> gitrepo.GitRepo | None:
        try:
            return gitrepo.GitRepo(self._root)
        except gitrepo.NotARepository:
            return None

    def _read_head(self) -> tuple[str | None, dt.datetime | None]:
        if self._head is None:
            repo = self._repo()
            head = repo.head() if repo is not None else None
            self._head = (head.id, head.time) if head is not None else (None, None)
        return self._head

    @property
    def commit(self) -> str | None:
        return self._read_head()[0]

    @property
    def commit_time(self) -> dt.datetime | None:
        return self._read_head()[1]

    @property
    def dirty(self) -> bool:
        """Whether the working tree (untracked files included) differs from its commit."""
        if self._dirty is None:
            repo = self._repo() if self.commit is not None else None
            self._dirty = repo.is_dirty() if repo is not None else False
        return self._dirty


class RefError(Exception):
    """A ``--ref`` or ``--at`` that names no commit of the repository."""


def open_version(root: Path, ref: str | None = None, at: dt.datetime | None = None) -> Version:
    """The working tree (default), or the commit named by ``ref`` or last on or before ``at``."""
    if ref is None and at is None:
        return Version(WorkingTree(root), None, None, root=root)
    try:
        repo = gitrepo.GitRepo(root)
    except gitrepo.NotARepository:
        repo = None
    if repo is None:
        raise RefError(_("{root} is not a git repository: --ref and --at need one").format(root=root))
    try:
        commit, snapshot = repo.snapshot(ref, at)
    except gitrepo.UnknownRef as exc:
        raise RefError(str(exc)) from exc
    return Version(GitTree(snapshot), commit.id, commit.time)
