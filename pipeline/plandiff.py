"""What a change does to what each community publishes: the plan of one version against another's.

A merge request is reviewed as a diff of files, but what reviewers must approve is its effect: which
cables each community starts publishing, which it changes, which it stops publishing or holds (and
why), and which members gain or lose access. ``diplomatie plan --diff REF`` compares the plan of
``REF`` (read from git objects, never from the working tree) with the plan of the version at hand,
both made at the same moment, so only the change shows.

Members' replies are compared too: a reply a community starts or stops showing under a cable, or
shows in another version. Only its id, its cable and the change are given, never its text: the
text of a reply is for the members of its community, and this diff is read by people who need not
be (it becomes a merge-request comment, read by whoever can read the content repository's merge
requests and CI logs, editors of other communities among them, and copied into notifications).
A reviewer reads the reply in the merge request's files, where the repository's access rules apply.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pipeline.cables import Cable
from pipeline.communities import Community, Member
from pipeline.messages import _, shown
from pipeline.plan import CommunityPlan, Plan

#: The words every output uses for the state of a cable in one plan (None: not selected, or absent).
PUBLISHED = "published"
#: The state of a reply its community shows (None: not one of its shareable replies, or absent).
SHOWN = "shown"


@dataclass(frozen=True)
class CableChange:
    """One cable whose fate in one community differs between the two plans."""

    id: str
    title: str
    before: str | None  # "published", the reason it was held, or None (not selected, or absent)
    after: str | None
    digest_before: str | None = None
    digest_after: str | None = None


@dataclass(frozen=True)
class ReplyChange:
    """One member's reply whose showing in one community differs between the two plans: its id, its
    cable and the change, never its text (see the module's docstring)."""

    id: str  # <cable>/<time>-<nonce>
    cable: str
    before: str | None  # "shown", the reason it was held, or None (not a shareable reply of it, or absent)
    after: str | None
    digest_before: str | None = None  # of the reply shown (None: not shown)
    digest_after: str | None = None


@dataclass(frozen=True)
class MemberChange:
    email: str
    expires_before: dt.date | None
    expires_after: dt.date | None


@dataclass
class CommunityDiff:
    """The change of one community: each list holds only what differs."""

    id: str
    title: str
    status: str  # "kept", "added" (a new community) or "removed"
    published: list[CableChange] = field(default_factory=list)  # published now, not before
    changed: list[CableChange] = field(default_factory=list)  # published before and now, another version
    held: list[CableChange] = field(default_factory=list)  # held now, and not held for that reason before
    removed: list[CableChange] = field(default_factory=list)  # selected before, not any more
    members_added: list[Member] = field(default_factory=list)
    members_removed: list[Member] = field(default_factory=list)
    expiry_changed: list[MemberChange] = field(default_factory=list)
    replies_shown: list[ReplyChange] = field(default_factory=list)  # shown now, not before
    replies_changed: list[ReplyChange] = field(default_factory=list)  # shown before and now, another version
    replies_hidden: list[ReplyChange] = field(default_factory=list)  # shown before, not now

    @property
    def replies(self) -> bool:
        return bool(self.replies_shown or self.replies_changed or self.replies_hidden)

    @property
    def empty(self) -> bool:
        return self.status == "kept" and not (self.published or self.changed or self.held or self.removed
                                              or self.members_added or self.members_removed
                                              or self.expiry_changed or self.replies)


@dataclass(frozen=True)
class PlanDiff:
    ref: str
    commit: str | None  # the commit REF names
    now: dt.datetime
    communities: tuple[CommunityDiff, ...]  # only those that change

    @property
    def empty(self) -> bool:
        return not self.communities


def _states(cp: CommunityPlan | None, cables: dict[str, Cable]) -> dict[str, tuple[str, Cable]]:
    """Each cable the community selects in one plan: its state and the cable itself."""
    if cp is None:
        return {}
    out = {c.id: (PUBLISHED, c) for c in cp.publish}
    for held in cp.held:
        out[held.id] = (held.reason, cables[held.id])
    return out


def _cable_changes(diff: CommunityDiff, before: dict[str, tuple[str, Cable]],
                   after: dict[str, tuple[str, Cable]]) -> None:
    for cid in sorted(before.keys() | after.keys()):
        was, old = before.get(cid, (None, None))
        now, new = after.get(cid, (None, None))
        cable = new or old
        assert cable is not None
        change = CableChange(cid, cable.title, was, now, old.digest if old else None, new.digest if new else None)
        if now == PUBLISHED:
            if was != PUBLISHED:
                diff.published.append(change)
            elif change.digest_before != change.digest_after:
                diff.changed.append(change)
        elif now is not None:
            if now != was:
                diff.held.append(change)
        elif was is not None:
            diff.removed.append(change)


def _reply_states(cp: CommunityPlan | None) -> dict[str, tuple[str, str | None]]:
    """Each shareable reply of the community in one plan: its state, and the digest of the one shown."""
    if cp is None:
        return {}
    out: dict[str, tuple[str, str | None]] = {r.id: (SHOWN, r.digest) for r in cp.replies}
    for held in cp.held_replies:
        out[held.id] = (held.reason, None)
    return out


def _reply_changes(diff: CommunityDiff, before: dict[str, tuple[str, str | None]],
                   after: dict[str, tuple[str, str | None]]) -> None:
    """The replies the community starts or stops showing, or shows in another version. A reply held
    in both plans, for whatever reasons, shows nothing either way: it is not listed."""
    for rid in sorted(before.keys() | after.keys()):
        was, old = before.get(rid, (None, None))
        now, new = after.get(rid, (None, None))
        change = ReplyChange(rid, rid.split("/", 1)[0], was, now, old, new)
        if now == SHOWN and was != SHOWN:
            diff.replies_shown.append(change)
        elif now == SHOWN and old != new:
            diff.replies_changed.append(change)
        elif was == SHOWN and now != SHOWN:
            diff.replies_hidden.append(change)


def _member_changes(diff: CommunityDiff, before: Community | None, after: Community | None) -> None:
    old = {m.email: m for m in (before.members if before else ())}
    new = {m.email: m for m in (after.members if after else ())}
    diff.members_added = [new[e] for e in sorted(new.keys() - old.keys())]
    diff.members_removed = [old[e] for e in sorted(old.keys() - new.keys())]
    diff.expiry_changed = [MemberChange(e, old[e].expires, new[e].expires) for e in sorted(old.keys() & new.keys())
                           if old[e].expires != new[e].expires]


def diff_plans(before: Plan, after: Plan, before_cables: dict[str, Cable], after_cables: dict[str, Cable],
               ref: str, commit: str | None) -> PlanDiff:
    """The change from ``before`` (the plan of ``ref``) to ``after``, community by community.

    A cable is *published* when the community publishes it now and did not before, *changed* when it
    publishes another version of it, *held* when the community holds it now for a reason it did not
    before (a new cable waiting for approval, a withdrawn or reclassified one, an approval gone
    stale), *removed* when the community selected it before and no longer does (file deleted,
    selection rules changed). A member's reply is *shown* when the community shows it now and did
    not before, *changed* when it shows another version, *hidden* when it showed it before and no
    longer does (held, its cable no longer published, its file removed or made private).
    """
    out = []
    for cid in sorted(before.communities.keys() | after.communities.keys()):
        old, new = before.communities.get(cid), after.communities.get(cid)
        status = "added" if old is None else "removed" if new is None else "kept"
        community = (new or old).community  # type: ignore[union-attr]
        diff = CommunityDiff(cid, community.title, status)
        _cable_changes(diff, _states(old, before_cables), _states(new, after_cables))
        _member_changes(diff, old.community if old else None, new.community if new else None)
        _reply_changes(diff, _reply_states(old), _reply_states(new))
        if not diff.empty:
            out.append(diff)
    return PlanDiff(ref, commit, after.now, tuple(out))


# --- output --------------------------------------------------------------------------------------

def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _cable_json(change: CableChange) -> dict[str, Any]:
    return {"id": change.id, "title": change.title, "before": change.before, "after": change.after,
            "digest_before": change.digest_before, "digest_after": change.digest_after}


def _reply_json(change: ReplyChange) -> dict[str, Any]:
    return {"id": change.id, "cable": change.cable, "before": change.before, "after": change.after,
            "digest_before": change.digest_before, "digest_after": change.digest_after}


def _member_json(member: Member) -> dict[str, Any]:
    return {"email": member.email, "name": member.name, "expires": _date(member.expires)}


def to_json(diff: PlanDiff) -> dict[str, Any]:
    """The diff as ``plan --diff REF --format json`` prints it (fields documented in the README);
    ``replies`` only for a community whose replies change, so the output of a repository without
    replies is what it was."""
    return {
        "ref": diff.ref,
        "commit": diff.commit,
        "now": diff.now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "communities": {
            d.id: {
                "title": d.title,
                "status": d.status,
                "published": [_cable_json(c) for c in d.published],
                "changed": [_cable_json(c) for c in d.changed],
                "held": [_cable_json(c) for c in d.held],
                "removed": [_cable_json(c) for c in d.removed],
                "members": {
                    "added": [_member_json(m) for m in d.members_added],
                    "removed": [_member_json(m) for m in d.members_removed],
                    "expires_changed": [{"email": m.email, "before": _date(m.expires_before),
                                         "after": _date(m.expires_after)} for m in d.expiry_changed],
                },
                **({"replies": {"shown": [_reply_json(r) for r in d.replies_shown],
                                "changed": [_reply_json(r) for r in d.replies_changed],
                                "hidden": [_reply_json(r) for r in d.replies_hidden]}} if d.replies else {}),
            }
            for d in diff.communities
        },
    }


def _short(digest: str | None) -> str:
    return digest.removeprefix("sha256:")[:12] if digest else "-"


def _was(state: str | None) -> str:
    if state is None:
        return _("new to this community")
    return _("was published") if state == PUBLISHED else _("was held: {reason}").format(reason=shown(state))


def _lines(d: CommunityDiff) -> Iterator[tuple[str, str, str]]:
    """(verb, subject, detail) of each change of one community, in the order every format prints them."""
    for c in d.published:
        yield _("publishes"), c.id, c.title
    for c in d.changed:
        yield _("changes"), c.id, _("{title} (text {before} → {after})").format(
            title=c.title, before=_short(c.digest_before), after=_short(c.digest_after))
    for c in d.held:
        yield _("holds"), c.id, f"{shown(c.after)} ({_was(c.before)})"
    for c in d.removed:
        yield _("removes"), c.id, _("no longer selected ({was})").format(was=_was(c.before))
    for m in d.members_added:
        yield (_("adds member"), m.email,
               _("until {date}").format(date=_date(m.expires)) if m.expires else _("no expiry"))
    for m in d.members_removed:
        yield _("removes member"), m.email, _("loses access at the next publication")
    for e in d.expiry_changed:
        none = _("none")
        yield _("member expiry"), e.email, f"{_date(e.expires_before) or none} → {_date(e.expires_after) or none}"
    for r in d.replies_shown:  # never the reply's text (see the module's docstring)
        yield _("shows reply"), r.id, _("under {cable} ({was})").format(cable=r.cable, was=_reply_was(r.before))
    for r in d.replies_changed:
        yield _("changes reply"), r.id, _("under {cable} (text {before} → {after})").format(
            cable=r.cable, before=_short(r.digest_before), after=_short(r.digest_after))
    for r in d.replies_hidden:
        now = (_("held: {reason}").format(reason=shown(r.after)) if r.after is not None
               else _("no longer a shareable reply of this community (file removed or made private)"))
        yield _("hides reply"), r.id, _("under {cable}: {now}").format(cable=r.cable, now=now)


def _reply_was(state: str | None) -> str:
    if state is None:
        return _("new reply")
    return _("held until now: {reason}").format(reason=shown(state))


def _heading(d: CommunityDiff) -> str:
    extra = {"added": _(" (new community)"), "removed": _(" (community removed)")}.get(d.status, "")
    return f"{d.id} — {d.title}{extra}"


def _against(diff: PlanDiff) -> str:
    """REF and the commit it names (once, when REF is that commit's id)."""
    if not diff.commit:
        return diff.ref
    if diff.commit.startswith(diff.ref.lower()):
        return diff.commit[:10]
    return f"{diff.ref} ({diff.commit[:10]})"


def to_text(diff: PlanDiff) -> Iterator[str]:
    """The diff for a terminal or a CI log."""
    if diff.empty:
        yield _("No change to what any community publishes, compared with {ref}.").format(ref=_against(diff))
        return
    yield _("Compared with {ref}:").format(ref=_against(diff))
    for d in diff.communities:
        yield _heading(d)
        for verb, subject, detail in _lines(d):
            yield f"  {verb:<15}{subject}  {detail}"


def markdown_cell(text: str) -> str:
    """Text safe in a Markdown table cell: no pipe ends the cell, no markup is interpreted."""
    out = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)  # line breaks, NUL
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = out.replace("\\", "\\\\").replace("|", "\\|")
    for char in "`*_[]#!~":
        out = out.replace(char, "\\" + char)
    return out


def to_markdown(diff: PlanDiff) -> Iterator[str]:
    """The diff as a merge-request comment: one table per community that changes."""
    yield "### " + _("What this merge request changes in what each community publishes")
    yield ""
    if diff.empty:
        yield _("No change to what any community publishes, compared with {ref}.").format(ref=f"`{_against(diff)}`")
        return
    yield _("Compared with {ref}.").format(ref=f"`{_against(diff)}`")
    for d in diff.communities:
        yield ""
        yield f"#### {markdown_cell(_heading(d))}"
        yield ""
        yield "| " + " | ".join((_("change"), _("cable or member"), _("detail"))) + " |"
        yield "|---|---|---|"
        for verb, subject, detail in _lines(d):
            yield f"| {verb} | {markdown_cell(subject)} | {markdown_cell(detail)} |"
