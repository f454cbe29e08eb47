"""Inviting a member (``diplomatie invite``): the entry in ``communities.yaml``, and the e-mail.

:func:`enrol` adds (or renews) the member through :func:`pipeline.yamledit.add_member`, which keeps
every other byte of the file, then validates the result as ``check`` does; on any problem (an
invalid address, an unknown sector, a past expiry, an inviter who is neither owner nor editor of
the community, a file that would not check) nothing is written.

The invitation is **queued in the store** (``invitations/<community>/<member>.json``,
docs/storage.md) rather than sent at once, because the gate refuses a member until ``publish``
writes them into ``members.json``: an e-mail sent before would hold a link that does not work. The
store is where ``publish`` runs against, wherever it runs (an editor's machine, CI), so the queue
travels with it. :func:`send_due` sends each queued invitation whose member is published (with the
expiry the invitation names) exactly once: it first creates the marker
``invitations-sent/…-<id>`` (create-if-absent), then sends, then drops the queue entry; a delivery
the SMTP server refuses removes the marker again, so the next ``publish`` retries. A renewal
(``invite`` again with a new date) queues a new invitation, with a new id.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate import store as storage
from gate import tokens
from gate.addresses import InvalidAddress, parse_address
from gate.letters import SmtpSettings, deliver
from gate.membership import Snapshot, SnapshotError, is_current
from gate.store import Store, StoreError, utc_text
from gate.welcome import Welcome, invitation_message
from pipeline import yamledit
from pipeline.communities import PATH, SECTORS, Community, parse
from pipeline.findings import Findings
from pipeline.invitations import invitation_url
from pipeline.messages import _
from pipeline.roster import is_published

#: How long the sign-in link of an invitation stays valid.
LINK_DAYS = 14

#: The expiry when ``--expires`` is not given: one year from today.
DEFAULT_TERM = dt.timedelta(days=365)


class InviteError(Exception):
    """The invitation is refused; the message says why and what to do. Nothing was written."""


@dataclass(frozen=True)
class Invitation:
    """Who is invited where, by whom, until when."""

    community: str
    email: str
    name: str
    organisation: str
    sector: str
    by: str
    expires: dt.date | None

    def entry(self) -> dict[str, Any]:
        """The member's entry in ``communities.yaml`` (fields in the file's usual order)."""
        entry: dict[str, Any] = {"email": self.email, "name": self.name}
        if self.organisation:
            entry["organisation"] = self.organisation
        entry.update(sector=self.sector, invited_by=self.by)
        if self.expires is not None:
            entry["expires"] = self.expires
        return entry


def prepare(community: str, email: str, *, name: str, organisation: str, sector: str, by: str,
            expires: dt.date | None, today: dt.date) -> Invitation:
    """The invitation, its addresses in canonical form, or :class:`InviteError` saying what is wrong."""
    try:
        email = parse_address(email)
    except InvalidAddress as exc:
        raise InviteError(_("{email!r} is not a plain e-mail address: {exc}").format(email=email, exc=exc)) from None
    try:
        by = parse_address(by)
    except InvalidAddress as exc:
        raise InviteError(_("the inviter {by!r} is not a plain e-mail address: {exc}").format(by=by, exc=exc)) from None
    if sector not in SECTORS:
        raise InviteError(_("unknown sector {sector!r}: one of {SECTORS}").format(sector=sector, SECTORS=', '.join(SECTORS)))
    if not name.strip():
        raise InviteError(_("give the member's name (--name)"))
    if expires is not None and expires < today:
        raise InviteError(_("--expires {expires} is in the past; give a future date").format(expires=expires.isoformat()))
    return Invitation(community, email, name.strip(), organisation.strip(), sector, by, expires)


def enrol(root: Path, invitation: Invitation) -> Community:
    """Write ``invitation``'s member into ``root/communities.yaml`` (added, or renewed when the address
    is listed), refusing with :class:`InviteError` (the file untouched) unless the result checks."""
    path = root / PATH
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InviteError(_("{path} cannot be read: {exc}").format(path=path, exc=exc)) from None
    before = Findings()
    known = parse(raw, before)
    errors = [f for f in before if f.is_error]
    if errors:
        raise InviteError(_("{path} has errors; fix them first (diplomatie check):\n{errors}").format(
            path=PATH, errors="\n".join(map(str, errors))))
    community = known.get(invitation.community)
    if community is None:
        raise InviteError(_("no community {community!r} in {PATH} (known: {known})").format(community=invitation.community, PATH=PATH, known=', '.join(sorted(known)) or _('none')))
    if invitation.by not in community.editor_emails | {community.owner}:
        raise InviteError(_("{by} is neither the owner nor an editor of '{id}': only they may invite members (pass --by, or set git config user.email)").format(by=invitation.by, id=community.id))
    try:
        text = yamledit.add_member(raw.decode("utf-8"), invitation.community, invitation.entry())
    except (yamledit.YamlEditError, UnicodeDecodeError) as exc:
        raise InviteError(f"{PATH}: {exc}") from None
    after = Findings()
    result = parse(text.encode("utf-8"), after)
    errors = [f for f in after if f.is_error]
    if errors:
        raise InviteError(_("refused, nothing was written: {path} would not check:\n{errors}").format(
            path=PATH, errors="\n".join(map(str, errors))))
    yamledit.save(path, text)
    return result[invitation.community]


# --- the queue ---------------------------------------------------------------------------------


def queue(store: Store, invitation: Invitation, now: dt.datetime) -> str:
    """Queue the invitation e-mail (replacing one not yet sent to the same member); returns its id."""
    ident = uuid.uuid4().hex[:16]
    record = {"format": storage.FORMAT, "id": ident, "community": invitation.community, "email": invitation.email,
              "by": invitation.by, "queued_at": utc_text(now),
              "expires": invitation.expires.isoformat() if invitation.expires else None}
    store.put(storage.invitation_key(invitation.community, invitation.email),
              json.dumps(record, indent=1).encode() + b"\n", "application/json")
    return ident


@dataclass(frozen=True)
class Queued:
    """One invitation waiting in the store."""

    key: str
    id: str
    community: str
    email: str
    expires: dt.date | None


def queued(store: Store) -> list[Queued]:
    """Every invitation waiting, by key. A record that does not read back, or does not match its key,
    raises :class:`StoreError` (it is never sent to an address it does not name)."""
    out = []
    for key in sorted(store.list(storage.INVITATIONS_PREFIX)):
        try:
            obj = json.loads(store.get(key))
            item = Queued(key, str(obj["id"]), str(obj["community"]), str(obj["email"]),
                          dt.date.fromisoformat(obj["expires"]) if obj.get("expires") else None)
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(_("{key}: not a valid invitation record ({exc})").format(key=key, exc=exc)) from None
        if key != storage.invitation_key(item.community, item.email):
            raise StoreError(_("{key}: names {email} of {community}, not the member of its key").format(key=key, email=item.email, community=item.community))
        out.append(item)
    return out


@dataclass(frozen=True)
class Sender:
    """What sending needs: the SMTP server, the key ring that signs links, the gate's public address."""

    smtp: SmtpSettings
    ring: tokens.Keyring
    base_url: str


@dataclass
class Outcome:
    """What :func:`send_due` did."""

    sent: list[Queued]
    waiting: list[Queued]  # not published yet (or not with this expiry): kept for the next publish
    failed: dict[str, str]  # "<community> <email>" -> why (kept, retried at the next publish)


def send_due(store: Store, communities: Mapping[str, Community], sender: Sender, now: dt.datetime,
             only: Callable[[Queued], bool] = lambda q: True) -> Outcome:
    """Send each queued invitation (for which ``only`` holds) whose member the store's ``members.json``
    lists with the invitation's expiry, once; the rest wait."""
    try:
        snapshot = Snapshot.from_json(store.get(storage.MEMBERS_KEY))
    except storage.NotFound:
        snapshot = Snapshot()
    except SnapshotError as exc:
        raise StoreError(_("members.json cannot be read: {exc}").format(exc=exc)) from None
    outcome = Outcome([], [], {})
    for item in queued(store):
        if not only(item):
            continue
        access = snapshot.communities.get(item.community)
        community = communities.get(item.community)
        if (community is None or not is_published(item.email, item.expires, access)
                or not is_current(item.expires, now.date())):
            outcome.waiting.append(item)
            continue
        marker = storage.invitation_sent_key(item.community, item.email, item.id)
        if not store.create(marker, utc_text(now).encode(), "text/plain"):
            store.delete([item.key])  # sent by an earlier run that stopped before dropping it
            continue
        try:
            send(sender, community, item, now)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            store.delete([marker])
            outcome.failed[f"{item.community} {item.email}"] = f"{type(exc).__name__}: {exc}"
            continue
        store.delete([item.key])
        outcome.sent.append(item)
    return outcome


def send(sender: Sender, community: Community, item: Queued, now: dt.datetime) -> None:
    """E-mail one invitation: from the owner's name, in the community's language, with a fresh link."""
    member = next((m for m in community.members if m.email == item.email), None)
    link = invitation_url(sender.ring, sender.base_url, community.id, item.email, LINK_DAYS * 86400,
                          now=now.timestamp())
    welcome = Welcome(community_title=community.title, description=community.description,
                      language=community.language, owner_name=community.owner_name,
                      owner_title=community.owner_title, member_name=member.name if member else "",
                      expires=item.expires, terms=bool(community.terms))
    message = invitation_message(sender.smtp.sender, item.email, link, welcome, days=LINK_DAYS,
                                 site=sender.base_url.rstrip("/"))
    deliver(sender.smtp, message, item.email)
