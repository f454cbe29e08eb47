"""A community's members at a glance (``diplomatie members``): who they are, whether their access
is current, whether the gate knows them yet, and when they last signed in.

``communities.yaml`` says who *should* be a member; the store's ``members.json`` snapshot (written by
``publish``, gate/membership.py) says who the gate lets in today. A member added or renewed in the
file is not in force until the next ``publish``, and one removed from the file keeps access until
then: both are shown. Without a store, whether a member is published cannot be told, and the
status says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any

from gate.membership import CommunityAccess, is_current
from gate.store import utc_text
from pipeline.communities import Community
from pipeline.messages import N_, _, ngettext

#: How far ahead an expiry counts as "expires soon" (``members``, ``publish``'s report).
SOON = dt.timedelta(days=30)

#: The statuses, in the order a reader acts on them.
ACTIVE = "active"
EXPIRING = "expiring"  # active, its last day within SOON
EXPIRED = "expired"
NOT_PUBLISHED = "not-published"  # in communities.yaml, not (or not with this expiry) in members.json
REMOVED = "removed-not-published"  # in members.json, no longer in communities.yaml: still let in

#: What each status means, for the text output and the README.
MEANING = {
    ACTIVE: N_("active"),
    EXPIRING: N_("expires within 30 days"),
    EXPIRED: N_("expired"),
    NOT_PUBLISHED: N_("not yet published: the gate refuses them until the next publish"),
    REMOVED: N_("removed from communities.yaml but still let in until the next publish"),
}

#: The fields of one member, in the order of the JSON objects and the CSV columns (README).
FIELDS = ("email", "name", "organisation", "sector", "invited_by", "expires", "status", "published",
          "last_sign_in", "terms_accepted")


@dataclass(frozen=True)
class Row:
    """One member as ``members`` shows them."""

    email: str
    name: str = ""
    organisation: str = ""
    sector: str = ""
    invited_by: str = ""
    expires: dt.date | None = None
    status: str = ACTIVE
    published: bool | None = None  # None: not checked (no store given)
    last_sign_in: dt.datetime | None = None
    terms_accepted: dt.datetime | None = None  # when they accepted the current terms of use (None: not, or none)

    def to_json(self) -> dict[str, Any]:
        return {"email": self.email, "name": self.name, "organisation": self.organisation, "sector": self.sector,
                "invited_by": self.invited_by, "expires": self.expires.isoformat() if self.expires else None,
                "status": self.status, "published": self.published,
                "last_sign_in": utc_text(self.last_sign_in) if self.last_sign_in else None,
                "terms_accepted": utc_text(self.terms_accepted) if self.terms_accepted else None}


def dated_status(expires: dt.date | None, today: dt.date) -> str:
    """Active, expiring (within :data:`SOON`) or expired, from the expiry alone (the gate's rule)."""
    if not is_current(expires, today):
        return EXPIRED
    if expires is not None and expires - today <= SOON:
        return EXPIRING
    return ACTIVE


def is_published(email: str, expires: dt.date | None, access: CommunityAccess | None) -> bool:
    """Whether the gate's snapshot lists ``email`` with this expiry (a renewal not yet published is not)."""
    return access is not None and email in access.members and access.members[email] == expires


def rows(community: Community, today: dt.date, *, published: CommunityAccess | None = None,
         checked: bool = False, sign_ins: dict[str, dt.datetime] | None = None,
         accepted: dict[str, dt.datetime | None] | None = None) -> list[Row]:
    """Every member of ``community`` (as listed; the last listing of an address wins, as in
    ``members.json``), sorted by address. With ``checked``, ``published`` is the community in the
    store's snapshot (None: not there at all) and members it lists that the file no longer does are
    added as :data:`REMOVED`."""
    sign_ins, accepted = sign_ins or {}, accepted or {}
    listed = {m.email: m for m in community.members}
    out = []
    for email, m in sorted(listed.items()):
        known = is_published(email, m.expires, published) if checked else None
        status = NOT_PUBLISHED if known is False else dated_status(m.expires, today)
        out.append(Row(email, m.name, m.organisation, m.sector, m.invited_by, m.expires, status, known,
                       sign_ins.get(email), accepted.get(email)))
    if checked and published is not None:
        for email in sorted(set(published.members) - set(listed)):
            if is_current(published.members[email], today):
                out.append(Row(email, expires=published.members[email], status=REMOVED, published=True,
                               last_sign_in=sign_ins.get(email), terms_accepted=accepted.get(email)))
    return out


# --- output ------------------------------------------------------------------------------------


def as_json(community: str, found: list[Row], checked: bool, terms: str | None = None) -> str:
    return json.dumps({"community": community, "published_checked": checked, "terms": terms,
                       "members": [r.to_json() for r in found]}, indent=2, ensure_ascii=False)


#: What a spreadsheet reads as the start of a formula (OWASP "CSV injection"): such a cell is
#: neutralised with a leading apostrophe, which spreadsheets show as text and never evaluate.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """``value`` as a CSV cell no spreadsheet evaluates."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def as_csv(found: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for row in found:
        data = row.to_json()
        writer.writerow([safe_cell("" if data[f] is None else str(data[f]).lower() if isinstance(data[f], bool)
                                   else str(data[f])) for f in FIELDS])
    return out.getvalue()


def as_text(community: Community, found: list[Row], checked: bool, terms: str | None = None) -> str:
    lines = [ngettext("{id}: {title} — {count} member", "{id}: {title} — {count} members", len(found)).format(
        id=community.id, title=community.title, count=len(found))]
    if not checked:
        lines.append(_("note: no --store given, so whether each member is published (let in by the gate) "
                       "cannot be told; statuses below are from the dates alone"))
    for r in found:
        who = ", ".join(part for part in (r.name, r.organisation, r.sector) if part)
        status = _(MEANING[r.status]) + ("" if checked else _(" (publication not checked)"))
        expires = _("until {date}").format(date=r.expires.isoformat()) if r.expires else _("no expiry")
        signed = (_("last sign-in {when}").format(when=utc_text(r.last_sign_in)) if r.last_sign_in
                  else _("never signed in") if checked else _("last sign-in unknown (no --store)"))
        by = _("invited by {email}").format(email=r.invited_by) if r.invited_by else _("inviter not recorded")
        accepted = ("" if not terms or not checked else
                    _("; terms accepted {when}").format(when=utc_text(r.terms_accepted)) if r.terms_accepted
                    else _("; terms not accepted yet"))
        lines.append(f"  {r.email}" + (f" ({who})" if who else "") + f": {status}; {expires}; {by}; {signed}{accepted}")
    return "\n".join(lines)


# --- what a publication changes ------------------------------------------------------------------


@dataclass(frozen=True)
class MemberChanges:
    """What one ``publish`` changed in a community's membership, and whose access ends soon."""

    added: tuple[str, ...] = ()  # now let in, not before (new, renewed after expiry)
    removed: tuple[str, ...] = ()  # let in before, no longer listed
    renewed: tuple[str, ...] = ()  # listed before and now, with another expiry
    expiring: tuple[tuple[str, dt.date], ...] = ()  # current, last day within SOON

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.renewed or self.expiring)

    @property
    def changed(self) -> bool:
        """Whether the gate now lets in someone else (or until another day) than before."""
        return bool(self.added or self.removed or self.renewed)

    def to_json(self) -> dict[str, Any]:
        return {"added": list(self.added), "removed": list(self.removed), "renewed": list(self.renewed),
                "expiring": {email: day.isoformat() for email, day in self.expiring}}


def membership_changes(before: dict[str, CommunityAccess], after: dict[str, Community],
                       today: dt.date) -> dict[str, MemberChanges]:
    """Per community (only those with something to say), the members the new snapshot adds, removes
    or renews against ``before`` (the previous snapshot's communities), and those expiring soon."""
    out = {}
    for cid in sorted(set(before) | set(after)):
        old = dict(before[cid].members) if cid in before else {}
        new = {m.email: m.expires for m in after[cid].members} if cid in after else {}
        expiring = tuple(sorted((email, day) for email, day in new.items()
                                if day is not None and dated_status(day, today) == EXPIRING))
        changes = MemberChanges(added=tuple(sorted(set(new) - set(old))), removed=tuple(sorted(set(old) - set(new))),
                                renewed=tuple(sorted(e for e in set(old) & set(new) if old[e] != new[e])),
                                expiring=expiring)
        if changes:
            out[cid] = changes
    return out


def describe(community: str, changes: MemberChanges) -> list[str]:
    """The lines ``publish`` prints about one community's members."""
    lines = []
    for label, emails in (("added", changes.added), ("removed", changes.removed), ("renewed", changes.renewed)):
        if emails:
            lines.append(f"{community}: members {label}: {', '.join(emails)}")
    if changes.expiring:
        soon = ", ".join(_("{email} (until {date})").format(email=email, date=day.isoformat())
                         for email, day in changes.expiring)
        lines.append(_("{community}: access ending within 30 days: {members}; to renew, invite them again with a "
                       "new --expires date").format(community=community, members=soon))
    return lines


def previous_snapshot(store) -> dict[str, CommunityAccess]:
    """The communities of the store's ``members.json`` before a publication rewrites it (none when
    there is none yet, or when it does not read: then every member counts as added)."""
    from gate.membership import Snapshot, SnapshotError
    from gate.store import MEMBERS_KEY, NotFound

    try:
        return dict(Snapshot.from_json(store.get(MEMBERS_KEY)).communities)
    except (NotFound, SnapshotError):
        return {}
