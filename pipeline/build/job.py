"""What one run of ``build_sites`` works from (:class:`BuildJob`), and what it hands back.

The job is made once, in the calling process, and passed to every function of the build; worker
processes receive it when they are forked (see pipeline/parallel.py), never through a global.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cables import Cable
from pipeline.plan import CommunityPlan
from pipeline.replyfiles import ReplyFile

if TYPE_CHECKING:  # the numbers are read from git before the build; the build only shows them
    from pipeline.history import VersionInfo

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


class BuildError(Exception):
    """A build failed: the message names the community and, for an audit, the file."""


class UnknownCommunity(BuildError):
    """A community asked for is not in the plan (the message says which, in the run's language)."""


@dataclass(frozen=True)
class SiteBuild:
    """One community's built site."""

    community: str
    path: Path
    cables: tuple[str, ...]
    commit: str | None
    built_at: str  # the commit's time (ISO 8601, UTC), never the clock: builds are reproducible
    cached: bool
    #: the hash of everything the site was built from (``cachekeys.SiteKeys.key``): equal keys, equal
    #: sites, so a publication that recorded it need not read the site again (pipeline/publish.py)
    key: str = ""
    warnings: tuple[str, ...] = field(default=(), compare=False)
    #: the replies shown under its cables: reply id -> digest of the approved reply file (the release
    #: manifest lists them, so the gate can tell a member their reply is published)
    replies: Mapping[str, str] = field(default_factory=dict)


def base_dir_for(root: Path) -> Path:
    """The content repository's own mkdocs.yml and theme/ when it has them, else the project's."""
    return root if (root / "mkdocs.yml").is_file() else PROJECT_DIR


@dataclass(frozen=True)
class BuildJob:
    """Everything a build reads: the repository's cables and replies (the audits look for every one), the plan,
    where the configuration and theme come from, where sites and the cache go, the commit, the
    site's public address and each published cable's version."""

    repo_cables: Mapping[str, Cable]
    plans: Mapping[str, CommunityPlan]
    base_dir: Path
    out: Path
    cache: Path
    commit: str | None
    commit_time: dt.datetime | None
    site_url: str | None
    versions: Mapping[str, VersionInfo] = field(default_factory=dict)  # by cable id
    preview_mark: str | None = None  # a preview's mark, at the top and in the title of every cable page
    #: every reply the repository keeps, by id (pipeline/replyfiles.py): the isolation audit looks for
    #: those a community does not show
    repo_replies: Mapping[str, ReplyFile] = field(default_factory=dict)

    @property
    def own_url(self) -> str | None:
        """The address the audits accept as the site's own."""
        return self.site_url.rstrip("/") + "/" if self.site_url else None
