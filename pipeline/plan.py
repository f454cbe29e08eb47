"""The plan: for each community, the cables it publishes and why every other selected one is held.

This is the single source of truth that build, publish and the merge-request check all read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipeline.cables import Cable
from pipeline.communities import Community


@dataclass(frozen=True)
class Held:
    id: str
    reason: str  # "not approved", "stale approval", "embargoed until …", "withdrawn", "classified", …


@dataclass(frozen=True)
class CommunityPlan:
    community: Community
    publish: tuple[Cable, ...]  # newest first (date, then id)
    held: tuple[Held, ...]


@dataclass(frozen=True)
class Plan:
    communities: dict[str, CommunityPlan]
    now: dt.datetime
