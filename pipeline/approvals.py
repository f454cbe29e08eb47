"""Approvals: an editor's consent to publish one exact version of a cable to one community.

``approve`` appends ``{community, by, date, digest}`` to the cable's ``approvals`` by editing the
text, so every other byte of the file (comments, key order, quoting) is kept. The digest is the
cable's canonical digest (:func:`pipeline.cables.canonical_digest`): any later edit makes it stale.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from gate.addresses import InvalidAddress, parse_address
from pipeline import cables
from pipeline.cables import Approval, Cable
from pipeline.communities import Community
from pipeline.findings import Findings
from pipeline.yamlfile import compose, mapping_pairs


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
            withdrawn_since: dt.datetime | None = None) -> Approval:
    """Append an approval to the cable file at ``path`` for ``community`` by ``editor``.

    Refuses an editor who is not an editor of the community, a cable that does not parse cleanly,
    and an approval that already exists for this exact version, unless it predates
    ``withdrawn_since`` (the cable's last withdrawal: such an approval no longer counts, and
    reinstating the cable takes a fresh one). Writes atomically.
    """
    try:
        editor = parse_address(editor.strip())
    except InvalidAddress as exc:
        raise ApprovalError(f"{editor!r} is not a plain e-mail address ({exc}); set git's user.email "
                            "to your address as communities.yaml lists it") from None
    if editor not in community.editor_emails:
        raise ApprovalError(
            f"{editor} is not an editor of community '{community.id}' "
            f"(editors: {', '.join(sorted(community.editor_emails)) or 'none'}); "
            f"ask its owner {community.owner} to add you in communities.yaml"
        )
    data = path.read_bytes()
    findings = Findings()
    cable = cables.parse(path.as_posix(), data, findings)
    errors = [f for f in findings if f.is_error]
    if cable is None or errors:
        raise ApprovalError("the cable has errors; fix them before approving:\n" + "\n".join(map(str, errors)))
    if any(a.community == community.id and a.by == editor and a.digest == cable.digest
           and (withdrawn_since is None or a.date > withdrawn_since) for a in cable.approvals):
        raise ApprovalError(f"{editor} already approved this version of {cable.id} for '{community.id}'")
    when = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    approval = Approval(community.id, editor, when, cable.digest)
    text = data.decode("utf-8")
    new_text = _insert(text, approval)
    _check_roundtrip(path, new_text, cable, approval)
    _write_atomically(path, new_text.encode("utf-8"))
    return approval


def _entry(approval: Approval, indent: str) -> list[str]:
    stamp = approval.date.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        f"{indent}- community: {approval.community}",
        f"{indent}  by: {approval.by}",
        f"{indent}  date: {stamp}",
        f"{indent}  digest: {approval.digest}",
    ]


def _insert(text: str, approval: Approval) -> str:
    """The cable's text with the approval added at the end of ``approvals`` (created if absent)."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.replace("\r\n", "\n").split("\n")
    fm_text, _, body_line = cables.split("\n".join(lines))
    closing = body_line - 2  # index of the closing '---' line
    node = compose(fm_text)
    assert isinstance(node, yaml.MappingNode)
    for key, key_node, value in mapping_pairs(node):
        if key != "approvals":
            continue
        first = key_node.start_mark.line + 1  # index in `lines` of the 'approvals:' line
        if isinstance(value, yaml.SequenceNode) and not value.flow_style and value.value:
            indent = " " * value.start_mark.column
            end = value.end_mark.line + 1  # index after the last item's last line
            while end - 1 > first and not lines[end - 1].strip():
                end -= 1
            lines[end:end] = _entry(approval, indent)
        else:  # 'approvals: []' or empty: rewrite that key as a block list
            last = value.end_mark.line + 1 if value.end_mark.line > key_node.start_mark.line else first + 1
            lines[first:last] = ["approvals:", *_entry(approval, "  ")]
        return newline.join(lines)
    lines[closing:closing] = ["approvals:", *_entry(approval, "  ")]
    return newline.join(lines)


def _check_roundtrip(path: Path, new_text: str, before: Cable, approval: Approval) -> None:
    """Never write a file whose meaning changed beyond the one added approval."""
    findings = Findings()
    after = cables.parse(path.as_posix(), new_text.encode("utf-8"), findings)
    if (after is None or after.digest != before.digest
            or [(a.community, a.by, a.digest) for a in after.approvals]
            != [(a.community, a.by, a.digest) for a in before.approvals] + [
                (approval.community, approval.by, approval.digest)]):
        raise ApprovalError(f"could not add the approval to {path} without changing it otherwise; "
                            "write the approvals list in block style and retry")


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
