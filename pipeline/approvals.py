"""Approvals: an editor's consent to publish one exact version of a cable to one community.

``approve`` appends ``{community, by, date, digest}`` to the cable's ``approvals`` through
:mod:`pipeline.yamledit`, so every other byte of the file (comments, key order, quoting) is kept. The digest is the
cable's canonical digest (:func:`pipeline.cables.canonical_digest`): any later edit makes it stale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline import cables
from pipeline.cables import Approval, Cable
from pipeline.communities import Community
from pipeline.findings import Findings
from pipeline.messages import _


class ApprovalError(Exception):
    """Refused: the message says why and what to do."""


@dataclass(frozen=True)
class Verdict:
    """How a cable's approvals stand for one community."""

    approved: bool
    stale: bool  # an approval by an editor exists, but for another version


def verdict(cable: Cable, community: Community, counts: Callable[[Approval], bool] = lambda a: True) -> Verdict:
    """Approved when an approval for ``community`` by one of its editors matches the current digest.

    ``counts`` lets the caller discard approvals that do not count for another reason (unsigned
    approvals where the community requires signatures).
    """
    editors = community.editor_emails
    mine = [a for a in cable.approvals if a.community == community.id and a.by in editors]
    current = [a for a in mine if a.digest == cable.digest]
    return Verdict(approved=any(counts(a) for a in current), stale=bool(mine) and not current)


def by_former_editor(cable: Cable, community: Community) -> bool:
    """Whether someone who is not (or no longer) an editor of ``community`` approved this very version
    for it: such an approval never counts, and the plan says why the cable is held."""
    editors = community.editor_emails
    return any(a.community == community.id and a.by not in editors and a.digest == cable.digest
               for a in cable.approvals)


def approve(path: Path, community: Community, editor: str, when: dt.datetime | None = None,
            withdrawn_since: dt.datetime | None = None, replace_own: bool = False,
            known: Callable[[bytes], Cable | None] | None = None) -> Approval:
    """Append an approval to the cable file at ``path`` for ``community`` by ``editor``.

    Refuses an editor who is not an editor of the community, a cable that does not parse cleanly,
    and an approval that already exists for this exact version, unless it predates
    ``withdrawn_since`` (the cable's last withdrawal: such an approval no longer counts, and
    reinstating the cable takes a fresh one). Writes atomically. ``known``: the cable the file's
    bytes hold when the parse cache knows they parse cleanly
    (:meth:`pipeline.buildcache.ParsedIndex.clean_cable`), else None: then they are parsed.

    ``replace_own``: the editor's approvals of this very version for ``community`` are taken out in
    the same write (``approve --sign`` replacing an unsigned one that does not count); see
    :func:`_replacing`.
    """
    editor = _editor_of(community, editor)
    data = path.read_bytes()
    cable = known(data) if known is not None else None
    if cable is None:
        findings = Findings()
        cable = cables.parse(path.as_posix(), data, findings)
        errors = [f for f in findings if f.is_error]
        if cable is None or errors:
            raise ApprovalError(_("the cable has errors; fix them before approving:\n{errors}").format(
                errors="\n".join(map(str, errors))))
    if replace_own:
        data, when = _replacing(data, cable.approvals, community, editor, cable.digest, when, path.as_posix())
    elif any(a.community == community.id and a.by == editor and a.digest == cable.digest
             and (withdrawn_since is None or a.date > withdrawn_since) for a in cable.approvals):
        raise ApprovalError(_("{editor} already approved this version of {id} for '{community}'").format(editor=editor, id=cable.id, community=community.id))
    return _append(path, data, Approval(community.id, editor, _now(when), cable.digest), path.as_posix())


def approve_reply(root: Path, relative: str, community: Community, editor: str, when: dt.datetime | None = None,
                  withdrawn_since: dt.datetime | None = None, replace_own: bool = False) -> Approval:
    """Append an approval of the reply file ``relative`` to ``root`` (pipeline/replyfiles.py) for ``community`` by
    ``editor``, exactly as :func:`approve` does for a cable: it names the reply's digest, so an edit
    makes it stale. Refused besides: a reply of another community (a reply is only ever published in
    its own), one marked for the author and editors only (never published, so never approved), and
    one with errors."""
    from gate.replies import COMMUNITY
    from pipeline import replyfiles
    editor = _editor_of(community, editor)
    path = root / relative
    data = path.read_bytes()
    findings = Findings()
    reply = replyfiles.parse(relative, data, findings)
    errors = [f for f in findings if f.is_error]
    if reply is None or errors or not reply.valid:
        raise ApprovalError(_("the reply has errors; it cannot be published:\n{errors}").format(
            errors="\n".join(map(str, errors))))
    if reply.community != community.id:
        raise ApprovalError(_("this reply was sent to community '{theirs}': it may only be published there, "
                              "never in '{community}'").format(theirs=reply.community, community=community.id))
    if reply.visibility != COMMUNITY:
        raise ApprovalError(_("this reply is for the author and the editors only: it is never published"))
    if replace_own:
        data, when = _replacing(data, reply.approvals, community, editor, reply.digest, when, relative)
    elif any(a.community == community.id and a.by == editor and a.digest == reply.digest
             and (withdrawn_since is None or a.date > withdrawn_since) for a in reply.approvals):
        raise ApprovalError(_("{editor} already approved this version of the reply {id} for '{community}'").format(
            editor=editor, id=reply.id, community=community.id))
    return _append(path, data, Approval(community.id, editor, _now(when), reply.digest), relative)


def revoke_reply(path: Path, community: Community, editor: str) -> int:
    """Remove every approval of the reply file at ``path`` for ``community`` by ``editor``, as
    :func:`revoke` does for a cable (only one's own; every other byte kept)."""
    from gate.addresses import InvalidAddress, parse_address
    from pipeline import yamledit

    try:
        editor = parse_address(editor.strip())
    except InvalidAddress as exc:
        raise ApprovalError(_("{editor!r} is not a plain e-mail address ({exc})").format(editor=editor, exc=exc)) from None

    def mine(entry: dict) -> bool:
        try:
            return entry.get("community") == community.id and parse_address(str(entry.get("by", ""))) == editor
        except InvalidAddress:
            return False

    try:
        new_text, removed = yamledit.remove_approvals(path.read_text(encoding="utf-8"), mine, what=path.name)
    except yamledit.YamlEditError as exc:
        raise ApprovalError(_("could not remove the approval: {exc}").format(exc=exc)) from None
    if not removed:
        raise ApprovalError(_("{editor} has no approval of {id} for '{community}' to remove").format(
            editor=editor, id=path.name, community=community.id))
    yamledit.save(path, new_text)
    return removed


def revoke(path: Path, community: Community, editor: str) -> int:
    """Remove every approval of the cable at ``path`` for ``community`` by ``editor`` (of any
    version: an old one would count again if the text came back to it) and return how many.

    Refuses when ``editor`` has none there, naming who approved instead: an editor removes their
    own approvals only, never someone else's. Every other byte of the file is kept.
    """
    from gate.addresses import InvalidAddress, parse_address
    from pipeline import yamledit
    try:
        editor = parse_address(editor.strip())
    except InvalidAddress as exc:
        raise ApprovalError(_("{editor!r} is not a plain e-mail address ({exc})").format(editor=editor, exc=exc)) from None
    data = path.read_bytes()
    cable = cables.parse(path.as_posix(), data, Findings())
    if cable is None:
        raise ApprovalError(_("{path} cannot be read; run diplomatie check").format(path=path))
    theirs = sorted({a.by for a in cable.approvals if a.community == community.id})
    if editor not in theirs:
        names = {"editor": editor, "id": cable.id, "community": community.id, "others": ", ".join(theirs)}
        raise ApprovalError((_("{editor} has no approval of {id} for '{community}' to remove (approved by {others}: "
                               "only they may remove their approvals)") if theirs else
                             _("{editor} has no approval of {id} for '{community}' to remove")).format(**names))

    def mine(entry: dict) -> bool:
        try:
            return entry.get("community") == community.id and parse_address(str(entry.get("by", ""))) == editor
        except InvalidAddress:
            return False

    try:
        new_text, removed = yamledit.remove_approvals(data.decode("utf-8"), mine, what=path.as_posix())
    except yamledit.YamlEditError as exc:
        raise ApprovalError(_("could not remove the approval: {exc}").format(exc=exc)) from None
    yamledit.save(path, new_text)
    return removed


def _editor_of(community: Community, editor: str) -> str:
    """``editor`` as a plain address, if it is one of ``community``'s editors; else why not, and what to do."""
    from gate.addresses import InvalidAddress, parse_address

    try:
        editor = parse_address(editor.strip())
    except InvalidAddress as exc:
        raise ApprovalError(_("{editor!r} is not a plain e-mail address ({exc}); set git's user.email to your address as communities.yaml lists it").format(editor=editor, exc=exc)) from None
    if editor not in community.editor_emails:
        raise ApprovalError(
            _("{editor} is not an editor of community '{id}' (editors: {editors}); ask its owner {owner} to add you in communities.yaml").format(editor=editor, id=community.id, editors=', '.join(sorted(community.editor_emails)) or _('none'), owner=community.owner)
        )
    return editor


def _replacing(data: bytes, approvals: Iterable[Approval], community: Community, editor: str,
               digest: str, when: dt.datetime | None, what: str) -> tuple[bytes, dt.datetime]:
    """The file's bytes without ``editor``'s approvals of version ``digest`` for ``community`` (only
    those: their approvals of other versions stay), and the new approval's time.

    The time is now, never one read from the file: whoever wrote the approval being replaced chose
    its date (a date years ahead would make the signed one outlive any withdrawal until then). Only
    when now is the very second of an approval taken out is it one second later, as two approvals
    differing only in their date are one and the same to the signature check."""
    from gate.addresses import InvalidAddress, parse_address
    from pipeline import yamledit

    def replaced(entry: dict) -> bool:
        try:
            return (entry.get("community") == community.id and entry.get("digest") == digest
                    and parse_address(str(entry.get("by", ""))) == editor)
        except InvalidAddress:
            return False

    try:
        text, removed = yamledit.remove_approvals(data.decode("utf-8"), replaced, what=what)
    except yamledit.YamlEditError as exc:
        raise ApprovalError(_("could not remove the approval: {exc}").format(exc=exc)) from None
    if not removed:
        raise ApprovalError(_("{editor} has no approval of this version for '{community}' to replace").format(
            editor=editor, community=community.id))
    now = _now(when)
    taken = {a.date for a in approvals if a.community == community.id and a.by == editor and a.digest == digest}
    return text.encode("utf-8"), now + dt.timedelta(seconds=1) if now in taken else now


def _now(when: dt.datetime | None) -> dt.datetime:
    """The approval's time: ``when`` or now, in UTC, to the second (as the file records it)."""
    return (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)


def _append(path: Path, data: bytes, approval: Approval, what: str) -> Approval:
    """Write ``approval`` into the file at ``path`` (whose bytes are ``data``) as a round-trip edit,
    every other byte kept, atomically."""
    from pipeline import yamledit

    entry = {"community": approval.community, "by": approval.by, "date": approval.date, "digest": approval.digest}
    try:
        new_text = yamledit.add_approval(data.decode("utf-8"), entry, what=what)
    except yamledit.YamlEditError as exc:
        raise ApprovalError(_("could not add the approval: {exc}").format(exc=exc)) from None
    yamledit.save(path, new_text)
    return approval
