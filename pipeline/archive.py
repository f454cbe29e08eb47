"""Archive export: what one community saw at one version, as a BagIt package (RFC 8493).

An archivist receives, for a community and a version of the content repository, the site as built
from that version, the source cables behind it (their bytes from git), the community's entry of
``communities.yaml`` (its exact text), a SHA-256 manifest of every file and a ``bag-info.txt`` naming
the commit, its date, the community, the cable ids and the tool version. The ``bagit`` library writes
and validates the package; it is assembled next to its destination and renamed into place only
once it validates, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bagit

from gate.store import utc_text
from pipeline import __version__, communities, gitrepo, yamledit
from pipeline.messages import _
from pipeline.plan import Plan, make_plan
from pipeline.repository import Repository
from pipeline.sources import WorkingTree

#: What a site is built from, in a content repository.
INPUTS = ("content", "communities.yaml", "mkdocs.yml", "theme")
SITE = "site"
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
SOURCE = "source"


class ArchiveError(Exception):
    """The export cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Archive:
    community: str
    path: Path
    commit: str | None
    cables: tuple[str, ...]
    files: int


def community_entry(text: str, community: str) -> str:
    """A ``communities.yaml`` holding only ``community``'s entry, with that entry's exact lines
    (comments included), so the archive shows the rules and members as they were written."""
    try:
        entry = yamledit.community_entry(text, community)
    except yamledit.YamlEditError as exc:
        raise ArchiveError(_("communities.yaml of this version: {exc}").format(exc=exc)) from None
    if entry is None:
        raise ArchiveError(_("communities.yaml of this version has no community '{community}'").format(community=community))
    return entry


def bag_info(repo: Repository, community: str, cables: tuple[str, ...], plan: Plan) -> dict[str, str | list[str]]:
    """The bag-info.txt fields: standard ones, then the ``Diplomatie-*`` fields naming the version."""
    title = repo.communities[community].title
    commit_date = utc_text(repo.commit_time) if repo.commit_time else "uncommitted"
    return {
        "Source-Organization": "Diplomatie",
        "External-Identifier": f"diplomatie:{community}:{repo.commit or 'working-tree'}",
        "External-Description": f"Site of the community '{community}' ({title}) as built from commit "
                                f"{repo.commit or '(working tree)'} of {commit_date}, with the source cables "
                                "and the community's communities.yaml entry.",
        "Bagging-Date": dt.datetime.now(dt.UTC).date().isoformat(),
        "Diplomatie-Commit": repo.commit or "working-tree",
        "Diplomatie-Commit-Date": commit_date,
        "Diplomatie-Plan-Time": utc_text(plan.now),
        "Diplomatie-Community": community,
        "Diplomatie-Cable-Count": str(len(cables)),
        "Diplomatie-Cable": list(cables) or ["(none)"],
        "Diplomatie-Tool-Version": __version__,
    }


def without_members(entry: str, community: str) -> str:
    """The extract of ``communities.yaml`` without the community's members (their names and addresses
    are personal data): ``archive --without-members``."""
    try:
        return yamledit.remove_members(entry, community)
    except yamledit.YamlEditError as exc:
        raise ArchiveError(_("communities.yaml of this version: {exc}").format(exc=exc)) from None


def archive(repo: Repository, out: Path, community: str, *, now: dt.datetime | None = None,
            cache_dir: Path | None = None, members: bool = True) -> Archive:
    """Write the BagIt package of ``community`` at the version ``repo`` was loaded from to ``out``.

    ``out`` must not exist yet. With ``members`` False, the package's ``communities.yaml`` holds no
    member entry (:func:`without_members`). The plan is made as of ``now`` (default: the current time), counting
    signed approvals where the community requires them, exactly as ``build`` and ``publish`` do.
    """
    from pipeline.build import BuildError, build_sites
    from pipeline.buildcache import CacheError
    from pipeline.history import published_versions
    from pipeline.signatures import signatures_for

    if community not in repo.communities:
        raise ArchiveError(_("unknown community '{community}' (known: {known})").format(community=community, known=', '.join(sorted(repo.communities)) or _('none')))
    if isinstance(repo.version.tree, WorkingTree) and _uncommitted(repo.root):
        raise ArchiveError(_("the working tree has uncommitted changes: commit them, or archive a commit with --ref or --at (an archive must name the version it comes from)"))
    out = Path(out)
    if out.exists():
        raise ArchiveError(_("{out} already exists; choose a new folder for the package").format(out=out))
    out.parent.mkdir(parents=True, exist_ok=True)
    plan = make_plan(repo, now=now, signatures=signatures_for(repo))
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        bag_dir = staging / "bag"
        bag_dir.mkdir()
        try:
            versions = published_versions(repo, plan.published([community]), cache_dir)
            built = build_sites(repo, plan, staging / "build", versions=versions, communities=[community],
                                progress=False, cache_dir=cache_dir)[community]
        except (BuildError, CacheError) as exc:
            raise ArchiveError(_("the site of '{community}' could not be built: {exc}").format(community=community, exc=exc)) from None
        shutil.copytree(built.path, bag_dir / SITE, symlinks=False)
        cables = tuple(c.id for c in plan.communities[community].publish)
        tree = repo.version.tree
        for cable in plan.communities[community].publish:
            target = bag_dir / SOURCE / cable.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tree.read(cable.path))
        entry = community_entry(tree.read(communities.PATH).decode("utf-8"), community)
        entry = entry if members else without_members(entry, community)
        (bag_dir / SOURCE / communities.PATH).parent.mkdir(parents=True, exist_ok=True)
        (bag_dir / SOURCE / communities.PATH).write_text(entry, encoding="utf-8")
        bagit.make_bag(str(bag_dir), bag_info(repo, community, cables, plan), checksums=["sha256"])
        # bagit.py writes BagIt 0.97; the package follows RFC 8493, BagIt 1.0, which bagit.py validates.
        (bag_dir / "bagit.txt").write_text(BAGIT_TXT, encoding="utf-8")
        bag = bagit.Bag(str(bag_dir))
        bag.save()  # rewrites tagmanifest-sha256.txt for the new bagit.txt
        bag = bagit.Bag(str(bag_dir))
        try:
            bag.validate()
        except bagit.BagError as exc:
            raise ArchiveError(_("the package does not validate: {exc}").format(exc=exc)) from None
        files = sum(1 for _ in bag.payload_files())
        bag_dir.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Archive(community=community, path=out, commit=repo.commit, cables=cables, files=files)


def _uncommitted(root: Path) -> bool:
    """Whether the files a site is built from differ from the last commit (build caches do not count)."""
    return gitrepo.uncommitted(root, INPUTS)


def validate(path: Path) -> None:
    """Raise :class:`ArchiveError` unless ``path`` is a complete, valid BagIt package."""
    try:
        bagit.Bag(str(path)).validate()
    except bagit.BagError as exc:
        raise ArchiveError(f"{path}: {exc}") from None
