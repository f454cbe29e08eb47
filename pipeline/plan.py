"""The plan: for each community, the cables it publishes and why every other selected one is held.

This is the single source of truth that build, publish and the merge-request check all read.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline import approvals
from pipeline.cables import Approval, Cable
from pipeline.communities import Community
from pipeline.messages import N_, Message
from pipeline.repository import Repository
from pipeline.sitetexts import NONE as NONE_TEXTS
from pipeline.sitetexts import SiteTexts
from pipeline.vocabulary import NONE, Vocabulary

if TYPE_CHECKING:
    from pipeline.replyfiles import ReplyFile
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
    #: the labels the site prints for subjects and ministries (the repository's vocabulary.yaml)
    vocabulary: Vocabulary = NONE
    #: the members' replies shown on the pages of ``publish`` (shareable, approved, of this community),
    #: by id; and each other shareable reply of this community with why it is not (pipeline/replyfiles.py)
    replies: tuple[ReplyFile, ...] = ()
    held_replies: tuple[Held, ...] = ()
    #: the texts of the site's legal notice and accessibility statement the repository gives (``pages/``)
    texts: SiteTexts = NONE_TEXTS


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
    return (standing_reason(cable, register) or embargo_reason(cable.embargo, now)
            or approval_reason(cable, community, counts, register))


def standing_reason(cable: Cable, register: Register | None = None) -> str | None:
    """Why no community may publish ``cable`` at any moment, or None: the checks of
    :func:`reason_held` that come before the embargo."""
    if not _publishable(cable.classification) or not cable.valid and _has_marking(cable):
        return Message(N_("classified"))
    if not cable.valid:
        return Message(N_("invalid (see diplomatie check)"))
    if cable.status == "withdrawn":
        return Message(N_("withdrawn"))
    withdrawn = register.reason(cable) if register is not None else None
    if withdrawn:
        return withdrawn
    return None


def embargo_reason(embargo: dt.datetime | None, now: dt.datetime) -> str | None:
    """Why a cable under this embargo may not be published at ``now``, or None."""
    if embargo is not None and embargo > now:
        from gate.store import utc_text

        return Message(N_("embargoed until {when}"), when=utc_text(embargo))
    return None


@functools.lru_cache(maxsize=1024)
def _publishable(label: str) -> bool:
    """``classification.is_publishable``, once per label (a repository has a handful; the plan asks
    for every cable and community)."""
    from pipeline import classification

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


def reply_reason(reply: ReplyFile, community: Community, published: bool,
                 counts: Callable[[Approval], bool] | None = None, register: Register | None = None,
                 cable: Cable | None = None) -> str | None:
    """Why ``community`` may not show the shareable ``reply`` on its cable's page, or None when it may:
    the reply is valid, its cable is ``published`` here, and an approval counts as a cable's would
    (by a current editor, of this version of the reply, signed where required, given after the
    cable's last withdrawal). Replies for the author and editors only are never asked about."""
    if not reply.valid:
        return Message(N_("invalid (see diplomatie check)"))
    if not published:
        return Message(N_("its cable is not published here"))

    def fresh(approval: Approval) -> bool:
        return register is None or cable is None or register.fresh(cable, approval)

    signed = counts or (lambda a: True)
    verdict = approvals.verdict(reply, community, lambda a: signed(a) and fresh(a))
    if verdict.approved:
        return None
    if approvals.by_former_editor(reply, community):
        return Message(N_("approver no longer an editor"))
    if counts is not None and approvals.verdict(reply, community, fresh).approved:
        return Message(N_("unsigned approval"))
    if approvals.verdict(reply, community).approved:
        return Message(N_("approved before its withdrawal"))
    return Message(N_("stale approval")) if verdict.stale else Message(N_("not approved"))


def plan_replies(replies: Iterable[ReplyFile], community: Community, published: Mapping[str, Cable | None],
                 counts: Callable[[Approval], bool] | None = None,
                 register: Register | None = None) -> tuple[tuple[ReplyFile, ...], tuple[Held, ...]]:
    """The community's shareable replies: those shown (their cable in ``published``, by id) and those
    held, with why. A reply of another community, or for the author and editors only, is in neither:
    it is never published here, whatever its approvals say."""
    shown, held = [], []
    for reply in sorted(replies, key=lambda r: r.id):
        if reply.community != community.id or not reply.shareable:
            continue
        reason = reply_reason(reply, community, reply.cable in published, counts, register,
                              published.get(reply.cable))
        if reason is None:
            shown.append(reply)
        else:
            held.append(Held(reply.id, reason))
    return tuple(shown), tuple(held)


def _unchecked(approval: Approval) -> bool:
    """The signature check of a plan made without one: nothing is verified, so nothing counts."""
    return False


def _has_marking(cable: Cable) -> bool:
    from pipeline import classification

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
        shown, held_replies = plan_replies(repo.replies.values(), community, {c.id: c for c in publish},
                                           counts, register)
        out[cid] = CommunityPlan(community, tuple(publish), tuple(held), repo.vocabulary, shown, held_replies,
                                 repo.texts)
    return Plan(out, now)


def to_json(plan: Plan | Outline) -> dict:
    """The plan as ``plan --format json`` prints it."""
    plan = plan if isinstance(plan, Outline) else outline_of(plan)
    return {
        "communities": {
            cid: {"publish": [cable_id for cable_id, _ in op.publish],
                  "held": [{"id": h.id, "reason": h.reason} for h in op.held],
                  **({"replies": {"publish": list(op.replies),
                                  "held": [{"id": h.id, "reason": h.reason} for h in op.held_replies]}}
                     if op.replies or op.held_replies else {})}
            for cid, op in plan.communities.items()
        }
    }


# --- the plan as the plan command prints it, from what the parse cache keeps --------------------

@dataclass(frozen=True)
class CommunityOutline:
    community: Community
    publish: tuple[tuple[str, str], ...]  # (id, title), in the plan's order
    held: tuple[Held, ...]
    replies: tuple[str, ...] = ()  # the ids of the replies shown
    held_replies: tuple[Held, ...] = ()


@dataclass(frozen=True)
class Outline:
    """What the plan command prints of a :class:`Plan`: ids, titles and reasons, not the cables."""

    communities: dict[str, CommunityOutline]


def outline_of(plan: Plan) -> Outline:
    return Outline({cid: CommunityOutline(cp.community, tuple((c.id, c.title) for c in cp.publish), cp.held,
                                          tuple(r.id for r in cp.replies), cp.held_replies)
                    for cid, cp in plan.communities.items()})


#: The name of the plan's facts in the parse cache (see :func:`outline`).
FACTS = "plan"


def outline(repo: Repository, now: dt.datetime,
            signatures: Callable[[Community], Callable[[Approval], bool] | None] | None = None,
            register: Register | None = None) -> Outline:
    """The outline of :func:`make_plan`'s plan, the same in every respect, without making every cable.

    Through the parse cache (``repo.memo``), what the plan needs of each cable is kept with the
    cable's file, computed from the cable as the load made it (its validity after every check) and
    from communities.yaml: its order, title and embargo, why no community may publish it if so, and,
    per community selecting it, why its approvals do not let that community publish it. Only the
    embargo depends on the moment, so it is compared at each plan. Facts are computed again when the
    file, communities.yaml, the code or the cable's validity changed. A store's withdrawn register,
    or a community requiring signed approvals (whose check reads git's history), plan every cable."""
    if (repo.memo is None or repo.validity is None or register is not None
            or any(c.require_signed_approvals for c in repo.communities.values())):
        return outline_of(make_plan(repo, now, signatures, register))
    try:
        return _outline(repo, now)
    except (KeyError, TypeError, ValueError, AttributeError):  # facts this code did not write: plan every cable
        return outline_of(make_plan(repo, now, signatures, register))


def _outline(repo: Repository, now: dt.datetime) -> Outline:
    """:func:`outline` through the parse cache. Facts are read as :func:`_facts_of` wrote them (each
    row of the cache is checked on reading, and the facts' key names this code), so a shape this
    code did not write raises, and :func:`outline` plans every cable instead."""
    communities = sorted(repo.communities.items())
    rows = []
    paths, validity = repo.cables.paths(), repo.validity
    kept = repo.memo.facts_of(paths.values(), FACTS, repo.facts_key)
    for cable_id, path in paths.items():
        facts = kept.get(path)
        if facts is None or facts["valid"] is not validity[cable_id]:
            facts = _facts_of(repo.cables[cable_id], communities)
            repo.memo.keep_facts(path, FACTS, repo.facts_key, facts)
        rows.append((facts["order"], cable_id, facts))
    rows.sort(key=_by_order)
    # One pass over the cables, each given to the communities selecting it (a cable is selected by a
    # few of them): a pass per community would look at every cable each time.
    lists: dict[str, tuple[list, list]] = {cid: ([], []) for cid, _ in communities}
    for _, cable_id, facts in rows:
        selected = facts["communities"]
        if not selected:
            continue
        embargo = facts["embargo"]
        common = (facts["standing"]
                  or (embargo_reason(dt.datetime.fromisoformat(embargo), now) if embargo is not None else None))
        for cid, approval in selected.items():
            publish, held = lists[cid]  # a community the facts' communities.yaml lacks: KeyError, plan every cable
            reason = common or approval
            if reason is None:
                publish.append((cable_id, facts["title"]))
            else:
                held.append(Held(cable_id, reason))
    out = {}
    for cid, community in communities:
        publish, held = lists[cid]
        shown, held_replies = (plan_replies(repo.replies.values(), community, dict.fromkeys(c for c, _ in publish))
                               if repo.replies else ((), ()))
        out[cid] = CommunityOutline(community, tuple(publish), tuple(held), tuple(r.id for r in shown), held_replies)
    repo.memo.save()
    return Outline(out)


#: The order of the plan's cables: newest first, then by id (ids are distinct).
_by_order = operator.itemgetter(0, 1)


def _facts_of(cable: Cable, communities: list[tuple[str, Community]]) -> dict:
    """What :func:`outline` keeps of one cable (see there)."""
    return {"valid": cable.valid, "order": -cable.date.toordinal(), "title": cable.title,
            "embargo": cable.embargo.isoformat() if cable.embargo is not None else None,
            "standing": standing_reason(cable),
            "communities": {cid: approval_reason(cable, community, None)
                            for cid, community in communities if community.selects(cable)}}
