"""The plan: for each community, the cables it publishes and why every other selected one is held.

This is the single source of truth that build, publish and the merge-request check all read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from pipeline import approvals, classification
from pipeline.cables import Approval, Cable
from pipeline.communities import Community
from pipeline.repository import Repository


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


def reason_held(cable: Cable, community: Community, now: dt.datetime,
                counts: Callable[[Approval], bool] | None = None) -> str | None:
    """Why ``community`` may not publish ``cable`` now, or None when it may. Fail closed: the checks
    run from the gravest to the mildest, and a cable with any error is never published."""
    if not classification.is_publishable(cable.classification) or not cable.valid and _has_marking(cable):
        return "classified"
    if not cable.valid:
        return "invalid (see diplomatie check)"
    if cable.status == "withdrawn":
        return "withdrawn"
    if cable.embargo is not None and cable.embargo > now:
        return f"embargoed until {cable.embargo.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    verdict = approvals.verdict(cable, community, counts or (lambda a: True))
    if verdict.approved:
        return None
    if counts is not None and approvals.verdict(cable, community).approved:
        return "unsigned approval"
    return "stale approval" if verdict.stale else "not approved"


def _has_marking(cable: Cable) -> bool:
    texts = (cable.title, cable.summary, cable.body)
    return any(classification.find_markings(t) for t in texts)


def _order(cable: Cable) -> tuple:
    return (-cable.date.toordinal(), cable.id)


def make_plan(repo: Repository, now: dt.datetime | None = None,
              signatures: Callable[[Community], Callable[[Approval], bool] | None] | None = None) -> Plan:
    """For each community: the cables it publishes now, and each selected cable it holds, with why.

    ``signatures`` gives, per community, a predicate telling whether an approval counts (used when a
    community requires signed approvals); by default every approval by an editor counts.
    """
    now = now or dt.datetime.now(dt.UTC)
    out: dict[str, CommunityPlan] = {}
    for cid, community in sorted(repo.communities.items()):
        counts = signatures(community) if signatures else None
        publish, held = [], []
        for cable in sorted(repo.cables.values(), key=_order):
            if not community.selects(cable):
                continue
            reason = reason_held(cable, community, now, counts)
            if reason is None:
                publish.append(cable)
            else:
                held.append(Held(cable.id, reason))
        out[cid] = CommunityPlan(community, tuple(publish), tuple(held))
    return Plan(out, now)


def to_json(plan: Plan) -> dict:
    """The plan as ``plan --format json`` prints it."""
    return {
        "communities": {
            cid: {"publish": [c.id for c in cp.publish],
                  "held": [{"id": h.id, "reason": h.reason} for h in cp.held]}
            for cid, cp in plan.communities.items()
        }
    }
