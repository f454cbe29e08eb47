"""What an editor reviews: the text an approval covers, the diff since the version last approved, and
the cables and members' replies awaiting one editor's approval in each community they edit.

An approval covers the cable's canonical content (front matter without ``approvals``, and body: see
:func:`pipeline.cables.canonical_digest`), so that is what the diff shows: the front matter rendered
one key per line in a fixed order, then the body. A formatting-only edit (comments, key order,
quoting), which does not make an approval stale, shows no difference either.

Versions are numbered as ``diplomatie history`` numbers them, the working tree's uncommitted edit
being the last one (:func:`pipeline.history.working_revision`), so ``history``, ``pending``,
``approve`` and ``plan`` all judge the same state.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gate.store import utc_text
from pipeline.cables import Approval, Cable
from pipeline.communities import Community
from pipeline.gitrepo import GitRepo, NotARepository, UnknownRef
from pipeline.history import METADATA, HistoryError, versions, working_revision
from pipeline.messages import N_, Message, _, ngettext, shown
from pipeline.plan import approval_reason, plan_replies, reason_held
from pipeline.repository import Repository
from pipeline.revisions import Revision, cable_path, revisions, revisions_of

if TYPE_CHECKING:  # the replies' parser (and the HTML checks it imports) only where a reply is read
    from pipeline.replyfiles import ReplyFile


class ReviewError(Exception):
    """A version range that names no version; the message says which exist."""


# --- the text an approval covers -----------------------------------------------------------------

def _value(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return utc_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10**6)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def reviewed_text(cable: Cable) -> list[str]:
    """The lines an approval of ``cable`` covers: its front matter without ``approvals``, one key per
    line in the README's order (empty optional keys left out), then its body."""
    lines = ["---"]
    for key in METADATA:
        value = getattr(cable, key)
        if value in (None, "", ()):
            continue
        lines.append(f"{key}: {_value(value)}")
    lines.append("---")
    return lines + cable.body.splitlines()


def unified(before: Cable | None, after: Cable, before_label: str, after_label: str) -> list[str]:
    """The unified diff from ``before`` (None: nothing, so the whole text is added) to ``after``."""
    old = reviewed_text(before) if before is not None else []
    return list(difflib.unified_diff(old, reviewed_text(after), before_label, after_label, lineterm=""))


def colour(line: str) -> tuple[str, str | None]:
    """A diff line and the colour a terminal shows it in (None: default)."""
    if line.startswith(("+++", "---")):
        return line, None
    return line, {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])


# --- versions of one cable -----------------------------------------------------------------------

@dataclass(frozen=True)
class Version:
    number: int
    cable: Cable
    commit: str | None  # None: the working tree's edit, not committed yet


def _numbered(revs: list[Revision]) -> list[Version]:
    """Each version (as ``history`` numbers them) with the cable as it stood then; deletions and
    versions that do not parse have no text to show and are left out, keeping the numbers."""
    out = []
    for version in versions(revs):
        rev = next((r for r in reversed(revs) if r.commit == version.commit), None)
        if rev is not None and rev.cable is not None and not version.deleted:
            out.append(Version(version.number, rev.cable, version.commit))
    return out


def cable_versions(root: Path, cable_id: str, read: Callable[[], list[Revision]] | None = None) -> list[Version]:
    """Every version of the cable with its text, the working tree's uncommitted edit last. ``read``:
    its history as already read (:func:`pipeline.revisions.read_once`: versions parsed without the
    scans of their texts, and so is the working tree's file then)."""
    path = cable_path(cable_id)
    try:
        revs = read() if read is not None else revisions(GitRepo(root), path)
    except NotARepository:
        revs = []
    except UnknownRef as exc:
        raise HistoryError(str(exc)) from None
    working = working_revision(root, path, revs, scans=read is None)
    return _numbered([*revs, working] if working is not None else revs)


def find_version(found: list[Version], digest: str) -> Version | None:
    """The last version whose content has ``digest``."""
    return next((v for v in reversed(found) if v.cable.digest == digest), None)


def last_approval(cable: Cable, community: Community, counts: Callable[[Approval], bool] | None = None) -> Approval | None:
    """The latest approval of ``cable`` for ``community`` by one of its current editors (approvals are
    dated to the second: of two in the same second, the one written later in the file) that counts
    (``counts``: where only signed approvals count, an unsigned one, which anyone with commit access
    can write under an editor's name, is never the version a diff starts from)."""
    mine = [a for a in cable.approvals if a.community == community.id and a.by in community.editor_emails
            and (counts is None or counts(a))]
    if not mine:
        return None
    return max(enumerate(mine), key=lambda pair: (pair[1].date, pair[0]))[1]  # same second: the later entry


def pick_range(found: list[Version], spec: str) -> tuple[Version, Version]:
    """The two versions of ``vA..vB`` (``current`` names the last; ``vA`` alone means ``vA..current``)."""
    if not found:
        raise ReviewError(_("the cable has no version with a text to compare"))
    by_number = {v.number: v for v in found}
    ends = spec.split("..", 1) if ".." in spec else [spec, "current"]

    def one(name: str) -> Version:
        word = name.strip().lower()
        if word in ("current", ""):
            return found[-1]
        number = word.removeprefix("v")
        if number.isdigit() and int(number) in by_number:
            return by_number[int(number)]
        known = ", ".join(f"v{v.number}" for v in found)
        raise ReviewError(_("no version {name!r} of this cable (versions: {known}, or current); write the range as v1..v2").format(name=name, known=known))

    return one(ends[0]), one(ends[1])


def label(cable_id: str, version: Version, note: str = "") -> str:
    where = _("not committed yet") if version.commit is None else version.commit[:10]
    return f"{cable_id} v{version.number} ({where}{', ' + note if note else ''})"


# --- what awaits an editor -----------------------------------------------------------------------

@dataclass(frozen=True)
class Pending:
    """A cable awaiting an editor's approval for one community."""

    community: str
    id: str
    title: str
    kind: str  # "new" (never approved), "stale" (another version was approved), "unsigned"
    reason: str  # the plan's reason it is held (or the embargo that also holds it)
    approved_version: int | None = None  # the version last approved (stale)
    current_version: int | None = None
    changes: tuple[str, ...] = ()  # what changed since: front matter keys, "body +a −r"
    sign: bool = False  # the community counts signed approvals only


#: How each kind reads in the text of ``pending`` (the JSON keeps the kind itself).
KINDS = {"new": N_("new"), "stale": N_("stale"), "unsigned": N_("unsigned")}


def _kind(reason: str) -> str | None:
    return {"not approved": "new", "approver no longer an editor": "new", "approved before its withdrawal": "new",
            "stale approval": "stale", "unsigned approval": "unsigned"}.get(reason)


def waits_for_approval(reason: str) -> bool:
    """Whether a plan's reason for holding a cable or a reply is one an editor's approval answers."""
    return _kind(reason) is not None


def changes_between(before: Cable, after: Cable) -> tuple[str, ...]:
    """The front matter keys that differ, and the body lines added and removed."""
    out = [key for key in METADATA if getattr(before, key) != getattr(after, key)]
    added = removed = 0
    for line in difflib.unified_diff(before.body.splitlines(), after.body.splitlines(), lineterm="", n=0):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    if added or removed:
        out.append(Message(N_("body +{added} −{removed}"), added=added, removed=removed))
    return tuple(out)


@dataclass(frozen=True)
class PendingReply:
    """A member's shareable reply awaiting an editor's approval to be shown under its cable in its
    community (pipeline/replyfiles.py). Its text is not carried: ``pending`` names the reply, the
    editor reads its file."""

    community: str
    id: str  # <cable>/<time>-<nonce>: what ``approve`` takes
    cable: str
    author: str
    at: str
    kind: str  # as a cable's: "new", "stale" (the reply was edited since it was approved), "unsigned"
    reason: str  # the plan's reason it is held (pipeline/plan.py reply_reason)
    sign: bool = False


def pending_replies(repo: Repository, editor: str, now: dt.datetime | None = None,
                    signatures=None) -> dict[str, list[PendingReply]]:
    """For each community ``editor`` edits that has replies waiting, the shareable replies the plan
    holds for want of an approval (never approved, edited since, unsigned where signatures are
    required), judged by the plan's own rules (:func:`pipeline.plan.plan_replies`).

    Left out, as an editor expects: replies for the author and editors only (never published, so
    never approved), replies sent to another community (only ever shown in their own), and replies
    whose cable this community does not publish now (held, withdrawn, under embargo, not selected):
    approving them would show nothing, and they are listed once their cable is published. Invalid
    replies are ``check``'s to report."""
    now = now or dt.datetime.now(dt.UTC)
    out: dict[str, list[PendingReply]] = {}
    for cid, community in sorted(repo.communities.items()):
        if editor not in community.editor_emails:
            continue
        theirs = [r for r in repo.replies.values() if r.community == cid and r.shareable]
        if not theirs:
            continue
        counts = signatures(community) if signatures is not None else None
        wanted = {r.cable for r in theirs}
        published = {c: repo.cables[c] for c in sorted(wanted) if c in repo.cables
                     and community.selects(repo.cables[c])
                     and reason_held(repo.cables[c], community, now, counts) is None}
        _shown, held = plan_replies(theirs, community, published, counts)
        by_id = {r.id: r for r in theirs}
        waiting = [_waiting_reply(cid, by_id[h.id], h.reason, community.require_signed_approvals)
                   for h in held if _kind(h.reason) is not None]
        if waiting:
            out[cid] = waiting
    return out


def _waiting_reply(community: str, reply: ReplyFile, reason: str, sign: bool) -> PendingReply:
    return PendingReply(community, reply.id, reply.cable, reply.author, reply.at, _kind(reason) or "new", reason,
                        sign=sign)


def pending(repo: Repository, editor: str, now: dt.datetime | None = None, signatures=None) -> dict[str, list[Pending]]:
    """For each community ``editor`` edits, the cables it selects that wait for an approval: never
    approved, approved for another version, or approved without the signature the community
    requires. Cables that no approval could publish (classified, with errors, withdrawn) are not
    listed: ``check`` reports them. An embargo does not wait for anyone: such a cable is listed when
    it also waits for an approval."""
    now = now or dt.datetime.now(dt.UTC)
    out: dict[str, list[Pending]] = {}
    found: dict[str, list[Pending]] = {}
    for cid, community in sorted(repo.communities.items()):
        if editor not in community.editor_emails:
            continue
        counts = signatures(community) if signatures is not None else None
        waiting = []
        for cable in sorted(repo.cables.values(), key=lambda c: c.id):
            if not community.selects(cable):
                continue
            held = reason_held(cable, community, now, counts)
            if held is not None and held.startswith("embargoed"):
                held = approval_reason(cable, community, counts)
            kind = _kind(held) if held else None
            if kind is None:
                continue
            waiting.append(Pending(cid, cable.id, cable.title, kind, held or "",
                                   sign=community.require_signed_approvals))
        out[cid] = waiting
        for item in waiting:
            found.setdefault(item.id, []).append(item)
    stale = [repo.cables[i] for i, items in found.items() if any(p.kind == "stale" for p in items)]
    return _with_changes(repo, out, stale, signatures)


def _with_changes(repo: Repository, out: dict[str, list[Pending]], stale: list[Cable],
                  signatures=None) -> dict[str, list[Pending]]:
    """Say of each stale approval which version was approved and what changed since (one git log),
    from the last approval that counts."""
    if not stale:
        return out
    root = Path(repo.root)
    try:
        logs = revisions_of(GitRepo(root), [c.path for c in stale])
    except NotARepository:
        logs = {}
    known = {}
    for cable in stale:
        revs = logs.get(cable.path, [])
        working = working_revision(root, cable.path, revs)
        known[cable.id] = _numbered([*revs, working] if working is not None else revs)
    for cid, items in out.items():
        community = repo.communities[cid]
        for index, item in enumerate(items):
            if item.kind != "stale":
                continue
            cable = repo.cables[item.id]
            approval = last_approval(cable, community, signatures(community) if signatures is not None else None)
            then = find_version(known[item.id], approval.digest) if approval else None
            now = find_version(known[item.id], cable.digest)
            changes = (changes_between(then.cable, cable) if then else
                       (Message(N_("the approved version is not in git")),) if approval else
                       (Message(N_("no earlier approval counts: review the whole text")),))
            items[index] = replace(item, approved_version=then.number if then else None,
                                   current_version=now.number if now else None, changes=changes)
    return out


def approve_command(item: Pending | PendingReply, editor: str | None) -> str:
    """The command that approves ``item``, as it runs when typed (``editor``: add ``--editor``, when
    the address is not the one git gives by default; ``--sign`` where only signed approvals count)."""
    command = f"diplomatie approve {item.id} --community {item.community}"
    if editor:
        command += f" --editor {editor}"
    if item.sign or item.kind == "unsigned":
        command += " --sign"
    return command


def to_json(editor: str, found: dict[str, list[Pending]], explicit: str | None = None,
            replies: dict[str, list[PendingReply]] | None = None) -> dict[str, Any]:
    """``pending --format json``: per community, each cable waiting, with the command that approves it;
    and, only where replies wait, ``replies``: per community, each reply waiting (never its text)."""
    out = {
        "editor": editor,
        "communities": {
            cid: [{"id": p.id, "title": p.title, "kind": p.kind, "reason": p.reason,
                   "approved_version": p.approved_version, "current_version": p.current_version,
                   "changes": list(p.changes), "command": approve_command(p, explicit)} for p in items]
            for cid, items in found.items()
        },
    }
    if replies:
        out["replies"] = {cid: [{"id": r.id, "cable": r.cable, "author": r.author, "at": r.at, "kind": r.kind,
                                 "reason": r.reason, "command": approve_command(r, explicit)} for r in items]
                          for cid, items in replies.items()}
    return out


def _reply_detail(reply: PendingReply) -> str:
    if reply.kind == "stale":
        return _("edited since it was approved")
    if reply.kind == "unsigned":
        return _("approved without the signed commit this community requires")
    return _("never approved") if reply.reason == "not approved" else shown(reply.reason)


def to_text(editor: str, found: dict[str, list[Pending]], titles: dict[str, str],
            explicit: str | None = None, replies: dict[str, list[PendingReply]] | None = None) -> Iterator[str]:
    replies = replies or {}
    total = sum(len(items) for items in found.values())
    yield ngettext("{count} cable awaits approval by {editor}", "{count} cables await approval by {editor}",
                   total).format(count=total, editor=editor)
    answers = sum(len(items) for items in replies.values())
    if answers:
        yield ngettext("{count} member's reply awaits approval by {editor}",
                       "{count} members' replies await approval by {editor}", answers).format(count=answers,
                                                                                            editor=editor)
    for cid, items in found.items():
        theirs = replies.get(cid, [])
        yield _("{community} — {title}: {count} waiting").format(community=cid, title=titles[cid],
                                                                 count=len(items) + len(theirs))
        for p in items:
            if p.kind == "stale":
                detail = _("v{approved} approved, now v{current}; changed: {changes}").format(
                    approved=p.approved_version or "?", current=p.current_version or "?",
                    changes=", ".join(map(shown, p.changes)) or _("formatting only"))
            elif p.kind == "unsigned":
                detail = _("approved without the signed commit this community requires")
            else:
                detail = _("never approved") if p.reason == "not approved" else shown(p.reason)
            yield f"  {shown(KINDS[p.kind]):<9}{p.id}  {p.title}  ({detail})"
            yield f"           {approve_command(p, explicit)}"
        for r in theirs:
            what = _("reply by {author} to {cable}").format(author=r.author, cable=r.cable)
            yield f"  {shown(KINDS[r.kind]):<9}{r.id}  {what}  ({_reply_detail(r)})"
            yield f"           {approve_command(r, explicit)}"
