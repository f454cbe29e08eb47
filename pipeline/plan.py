"""The plan: for each community, the cables it publishes and why every other selected one is held.

This is the single source of truth that build, publish and the merge-request check all read.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gate.store import utc_text
from pipeline import approvals, classification
from pipeline.cables import Approval, Cable
from pipeline.communities import Community
from pipeline.messages import N_, Message
from pipeline.repository import Repository

if TYPE_CHECKING:
    from pipeline.withdrawals import Register


@dataclass(frozen=True)
class Held:
    id: str
    reason: str  # "not approved", "stale approval", "approver no longer an editor", "withdrawn", "classified", …


@dataclass(frozen=True)
class CommunityPlan:
    community: Community
    publish: tuple[Cable, ...]  # newest first (date, then id)
    held: tuple[Held, ...]


@dataclass(frozen=True)
class Plan:
    communities: dict[str, CommunityPlan]
    now: dt.datetime

    def published(self, communities: Iterable[str] | None = None) -> list[Cable]:
        """The cables the named communities (default: all) publish, each once; unknown names are skipped."""
        names = self.communities if communities is None else [n for n in communities if n in self.communities]
        return list({c.id: c for n in names for c in self.communities[n].publish}.values())


def reason_held(cable: Cable, community: Community, now: dt.datetime,
                counts: Callable[[Approval], bool] | None = None, register: Register | None = None) -> str | None:
    """Why ``community`` may not publish ``cable`` now, or None when it may. Fail closed: the checks
    run from the gravest to the mildest, and a cable with any error is never published. ``register``
    is the store's withdrawn register: what it holds stays out whatever this version's file says."""
    if not _publishable(cable.classification) or not cable.valid and _has_marking(cable):
        return Message(N_("classified"))
    if not cable.valid:
        return Message(N_("invalid (see diplomatie check)"))
    if cable.status == "withdrawn":
        return Message(N_("withdrawn"))
    withdrawn = register.reason(cable) if register is not None else None
    if withdrawn:
        return withdrawn
    if cable.embargo is not None and cable.embargo > now:
        return Message(N_("embargoed until {when}"), when=utc_text(cable.embargo))
    return approval_reason(cable, community, counts, register)


@functools.lru_cache(maxsize=1024)
def _publishable(label: str) -> bool:
    """``classification.is_publishable``, once per label (a repository has a handful; the plan asks
    for every cable and community)."""
    return classification.is_publishable(label)


def approval_reason(cable: Cable, community: Community, counts: Callable[[Approval], bool] | None,
                    register: Register | None = None) -> str | None:
    """Why the cable's approvals do not let ``community`` publish it, or None when one counts: by a
    current editor, of this version, signed where required, and given after any withdrawal."""
    def fresh(approval: Approval) -> bool:
        return register is None or register.fresh(cable, approval)

    signed = counts or (lambda a: True)
    verdict = approvals.verdict(cable, community, lambda a: signed(a) and fresh(a))
    if verdict.approved:
        return None
    if approvals.by_former_editor(cable, community):
        return Message(N_("approver no longer an editor"))
    if counts is not None and approvals.verdict(cable, community, fresh).approved:
        return Message(N_("unsigned approval"))
    if approvals.verdict(cable, community).approved:
        return Message(N_("approved before its withdrawal"))
    return Message(N_("stale approval")) if verdict.stale else Message(N_("not approved"))


def _unchecked(approval: Approval) -> bool:
    """The signature check of a plan made without one: nothing is verified, so nothing counts."""
    return False


def _has_marking(cable: Cable) -> bool:
    texts = (cable.title, cable.summary, cable.body)
    return any(classification.find_markings(t) for t in texts)


def _order(cable: Cable) -> tuple:
    return (-cable.date.toordinal(), cable.id)


def make_plan(repo: Repository, now: dt.datetime | None = None,
              signatures: Callable[[Community], Callable[[Approval], bool] | None] | None = None,
              register: Register | None = None) -> Plan:
    """For each community: the cables it publishes now, and each selected cable it holds, with why.

    ``signatures`` gives, per community, a predicate telling whether an approval counts (used when a
    community requires signed approvals, the default); without it, such a community counts none.
    ``register``: the store's withdrawn register (``publish`` passes it; see pipeline/withdrawals.py).
    """
    now = now or dt.datetime.now(dt.UTC)
    out: dict[str, CommunityPlan] = {}
    ordered = sorted(repo.cables.values(), key=_order)
    for cid, community in sorted(repo.communities.items()):
        if signatures is not None:
            counts = signatures(community)
        else:  # fail closed: where signatures are required and nobody checks them, no approval counts
            counts = _unchecked if community.require_signed_approvals else None
        publish, held = [], []
        for cable in ordered:
            if not community.selects(cable):
                continue
            reason = reason_held(cable, community, now, counts, register)
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
