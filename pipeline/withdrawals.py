"""The withdrawn register: once a cable is withdrawn, no publication brings it back by accident.

A cable withdrawn at the commit ``publish`` publishes is recorded in the store (``withdrawn/<id>/…``,
see :class:`gate.store.WithdrawalRecord` and docs/storage.md) with the digests of every version of
its text. From then on every publication reads the register, whatever ``--ref`` or ``--at`` it was
given: the plan holds the cable as ``withdrawn`` (and any cable carrying the same text under another
id), :func:`pipeline.publish.publish_site` refuses a release that names it, and ``rollback`` refuses
a release that held it. An older version of the repository, where the cable was still active and
approved, cannot republish it.

Reinstating takes two deliberate acts, both checked at publish time: a **new commit** (a descendant
of the withdrawing one) where the cable is active again, and a **fresh approval** of that version,
dated after the withdrawal, by a current editor (signed where the community requires it). Then a
``reinstated`` record names the commit, the publisher and the approvals. Approvals given before the
withdrawal never count again, for any community.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gate.store import Store, WithdrawalRecord, parse_utc_text, read_withdrawals, utc_text, write_withdrawal
from pipeline import cables, gitrepo, history, revisions
from pipeline.cables import Approval, Cable
from pipeline.communities import Community
from pipeline.findings import Findings
from pipeline.messages import N_, Message, _
from pipeline.repository import Repository
from pipeline.sources import RefError, open_version


@functools.lru_cache(maxsize=4096)
def text_digest(body: str) -> str:
    """``sha256:`` of a cable's text reduced to its words (NFKC, case folded, whitespace collapsed),
    so re-wrapping or re-casing a withdrawn text under another id is still recognised. Kept for the
    last bodies asked: the plan asks once per community selecting the cable."""
    words = " ".join(unicodedata.normalize("NFKC", body).casefold().split())
    return "sha256:" + hashlib.sha256(words.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Register:
    """The register as read from the store: the last record of each cable decides its state."""

    records: tuple[WithdrawalRecord, ...] = ()
    _last: dict[str, WithdrawalRecord] = field(default_factory=dict, init=False, compare=False)
    _withdrawn_at: dict[str, dt.datetime] = field(default_factory=dict, init=False, compare=False)
    _texts: dict[str, str] = field(default_factory=dict, init=False, compare=False)

    def __post_init__(self) -> None:
        for record in self.records:
            self._last[record.cable] = record
            if record.action == "withdrawn":
                self._withdrawn_at[record.cable] = parse_utc_text(record.at)
        for cable_id, record in sorted(self._last.items()):
            if record.action == "withdrawn":
                for digest in record.text_digests:
                    self._texts.setdefault(digest, cable_id)

    def withdrawn(self) -> dict[str, WithdrawalRecord]:
        """The cables withdrawn now (not reinstated since), with their withdrawal record."""
        return {cid: r for cid, r in sorted(self._last.items()) if r.action == "withdrawn"}

    def is_withdrawn(self, cable_id: str) -> bool:
        record = self._last.get(cable_id)
        return record is not None and record.action == "withdrawn"

    def withdrawn_at(self, cable_id: str) -> dt.datetime | None:
        """When the cable was last withdrawn (even if reinstated since), else None."""
        return self._withdrawn_at.get(cable_id)

    def same_text(self, cable_id: str, digest: str) -> str | None:
        """The withdrawn cable, other than ``cable_id``, whose text has this digest."""
        other = self._texts.get(digest)
        return other if other is not None and other != cable_id else None

    def reason(self, cable: Cable) -> str | None:
        """Why the plan must hold ``cable`` whatever its own file says, or None."""
        if self.is_withdrawn(cable.id):
            return Message(N_("withdrawn"))
        if not self._texts:  # nothing withdrawn: no text to compare (nor a body to read and fold)
            return None
        other = self.same_text(cable.id, text_digest(cable.body))
        return Message(N_("withdrawn (same text as {other})"), other=other) if other else None

    def fresh(self, cable: Cable, approval: Approval) -> bool:
        """Whether ``approval`` was given after the cable's last withdrawal (always, if it never was)."""
        since = self.withdrawn_at(cable.id)
        return since is None or approval.date > since

    def refusal(self, cable_ids: Iterable[str], texts: Mapping[str, str] | None = None) -> str | None:
        """Why a release holding these cables (``texts``: their text digests, when known) must not be
        published or restored, naming the first withdrawn one; None when none is."""
        for cable_id in sorted(cable_ids):
            if self.is_withdrawn(cable_id):
                record = self._last[cable_id]
                return _("it holds {cable_id}, withdrawn on {at} (commit {commit}); a withdrawn cable is published "
                         "again only after a new commit sets it active and an editor approves it afresh").format(
                    cable_id=cable_id, at=record.at, commit=record.commit or _("unknown"))
            other = self.same_text(cable_id, (texts or {}).get(cable_id, "")) if self._texts else None
            if other:
                return _("it holds {cable_id}, whose text is that of the withdrawn cable {other}").format(
                    cable_id=cable_id, other=other)
        return None


def read(store: Store) -> Register:
    """The register of ``store`` (:class:`StoreError` when it cannot be read: callers fail closed)."""
    return Register(tuple(read_withdrawals(store)))


@dataclass(frozen=True)
class Changes:
    withdrawn: tuple[str, ...] = ()
    reinstated: tuple[str, ...] = ()


def record(store: Store, repo: Repository, register: Register, *, by: str,
           counts: Callable[[Community], Callable[[Approval], bool] | None] | None = None,
           now: dt.datetime | None = None) -> tuple[Register, Changes]:
    """Record in the register what the published version ``repo`` withdraws or reinstates; return
    the register as it now stands. ``counts`` says, per community, whether an approval counts (the
    signed-approvals check, as :func:`pipeline.plan.make_plan` takes it)."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    written: list[WithdrawalRecord] = []
    for cable in sorted(repo.cables.values(), key=lambda c: c.id):
        if cable.status == "withdrawn" and not register.is_withdrawn(cable.id):
            digests, text_digests = _digests(repo, cable)
            written.append(WithdrawalRecord(cable=cable.id, action="withdrawn", at=utc_text(moment),
                                            commit=repo.commit, by=by, digests=digests,
                                            text_digests=text_digests))
        elif cable.status == "active" and cable.valid and register.is_withdrawn(cable.id):
            approvals = reinstating_approvals(repo, cable, register, counts)
            if approvals:
                written.append(WithdrawalRecord(
                    cable=cable.id, action="reinstated", at=utc_text(moment), commit=repo.commit, by=by,
                    digests=(cable.digest,), text_digests=(text_digest(cable.body),),
                    approvals=tuple({"community": a.community, "by": a.by, "date": utc_text(a.date)}
                                    for a in approvals)))
    for entry in written:
        write_withdrawal(store, entry, moment)
    changes = Changes(tuple(r.cable for r in written if r.action == "withdrawn"),
                      tuple(r.cable for r in written if r.action == "reinstated"))
    return Register(register.records + tuple(written)), changes


def _digests(repo: Repository, cable: Cable) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The digests of every version of the cable the history holds, and of the version withdrawn."""
    digests, texts = {cable.digest}, {text_digest(cable.body)}
    if repo.commit is not None:
        try:
            revs = history.revisions(history.open_git(repo.root), cable.path, repo.commit)
        except history.HistoryError:
            revs = []
        for rev in revs:
            if rev.cable is not None:
                digests.add(rev.cable.digest)
            if rev.body is not None:
                texts.add(text_digest(rev.body))
    return tuple(sorted(digests)), tuple(sorted(texts))


def reinstating_approvals(repo: Repository, cable: Cable, register: Register,
                          counts: Callable[[Community], Callable[[Approval], bool] | None] | None = None
                          ) -> tuple[Approval, ...]:
    """The fresh approvals that reinstate ``cable`` at ``repo``'s version, or () when it stays withdrawn.

    Both must hold: the commit published is a new commit, a strict descendant of the withdrawing one,
    where the committed file (not an uncommitted edit) is this active version; and an editor of a
    community approved this version after the withdrawal, in that commit, in a way that counts."""
    withdrawal = register.withdrawn().get(cable.id)
    if withdrawal is None or repo.commit is None or not _descends(repo, withdrawal):
        return ()
    committed = _committed(repo, cable)
    if committed is None or committed.status != "active" or committed.digest != cable.digest:
        return ()
    since = parse_utc_text(withdrawal.at)
    out = []
    for approval in committed.approvals:
        community = repo.communities.get(approval.community)
        if community is None or approval.by not in community.editor_emails:
            continue
        counted = counts(community) if counts else None
        if approval.digest == cable.digest and approval.date > since and (counted is None or counted(approval)):
            out.append(approval)
    return tuple(out)


def _descends(repo: Repository, withdrawal: WithdrawalRecord) -> bool:
    """Whether the published commit is a new one after the withdrawal: a strict descendant of the
    withdrawing commit (or, when the withdrawal had no commit, a commit made after it)."""
    if withdrawal.commit is None:
        return repo.commit_time is not None and repo.commit_time > parse_utc_text(withdrawal.at)
    if withdrawal.commit == repo.commit:
        return False
    return gitrepo.is_ancestor(repo.root, withdrawal.commit, repo.commit or "")


def _committed(repo: Repository, cable: Cable) -> Cable | None:
    """The cable as the published commit holds it (the working tree may carry uncommitted edits)."""
    try:
        tree = open_version(repo.root, ref=repo.commit).tree
        return cables.parse(cable.path, tree.read(cable.path), Findings())
    except (OSError, RefError):  # unreadable: not reinstated (fail closed)
        return None


def last_withdrawn(root: Path, cable: Cable) -> dt.datetime | None:
    """When the cable's file was last committed with ``status: withdrawn`` (None: never, or no git):
    an approval older than that no longer counts (``approve`` takes a fresh one)."""
    return revisions.last_withdrawn(revisions.read_once(root, cable.path))
