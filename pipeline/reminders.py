"""Reminders (``diplomatie remind``): members whose access ends soon are told once, and owners get a digest.

A member is due when ``communities.yaml`` gives them a last day within :data:`WINDOW_DAYS` from today
(today included) and the store's ``members.json`` lets them in with that same day (a member not
published yet, or published with another date, is not reminded of a date the gate does not apply).
Each member is told once per last day, and appears in one owner's digest once per last day:

- before sending, the run creates the marker ``reminders/<community>/<member>-<date>-member``
  (create-if-absent); of two runs at once, one wins. When the SMTP server refuses the e-mail the
  marker is deleted again, so the next run retries; a run that dies between claim and send leaves the
  reminder unsent (a reminder is a courtesy: a possible loss is preferred to a duplicate here, and the
  owner's digest still names the member);
- the owner's digest lists the members whose ``…-owner`` marker this run created, in one e-mail per
  community; refused, its markers are deleted and the next run sends it again.

Renewing (``diplomatie invite`` with a new date, then ``publish``) gives a new last day, reminded
again when it comes near.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field

from gate import store as storage
from gate.letters import Postman, SmtpSettings
from gate.membership import Snapshot, SnapshotError
from gate.reminders import Expiry, expiries_message, reminder_message
from gate.store import Store, StoreError, utc_text
from pipeline.communities import Community, Member
from pipeline.messages import _
from pipeline.roster import is_published

#: Members whose last day is within this many days from today are reminded.
WINDOW_DAYS = 14


@dataclass
class Reminded:
    """What :func:`remind` did."""

    members: list[tuple[str, str, dt.date]] = field(default_factory=list)  # (community, address, last day)
    owners: list[tuple[str, str, int]] = field(default_factory=list)  # (community, owner, members listed)
    failed: dict[str, str] = field(default_factory=dict)  # "<community> <address>" -> why (retried)

    def to_json(self) -> dict:
        return {"members": [{"community": c, "email": a, "expires": d.isoformat()} for c, a, d in self.members],
                "owners": [{"community": c, "email": o, "members": n} for c, o, n in self.owners],
                "failed": self.failed}


def due(community: Community, snapshot: Snapshot, today: dt.date) -> list[Member]:
    """The community's members whose published last day is within the window."""
    access = snapshot.communities.get(community.id)
    last = today + dt.timedelta(days=WINDOW_DAYS)
    return [m for m in sorted(community.members, key=lambda m: m.email)
            if m.expires is not None and today <= m.expires <= last and is_published(m.email, m.expires, access)]


def _claim(store: Store, community: str, member: Member, recipient: str, now: dt.datetime) -> str | None:
    assert member.expires is not None
    key = storage.reminder_key(community, member.email, member.expires, recipient)
    record = {"format": storage.FORMAT, "community": community, "expires": member.expires.isoformat(),
              "recipient": recipient, "claimed_at": utc_text(now)}
    return key if store.create(key, json.dumps(record).encode() + b"\n", "application/json") else None


def remind(store: Store, communities: Mapping[str, Community], smtp: SmtpSettings, now: dt.datetime,
           site: str) -> Reminded:
    """Tell each due member once, and each owner once of the members newly due (see the module's doc)."""
    try:
        snapshot = Snapshot.from_json(store.get(storage.MEMBERS_KEY))
    except storage.NotFound:
        return Reminded()
    except SnapshotError as exc:
        raise StoreError(_("members.json cannot be read: {exc}").format(exc=exc)) from None
    done = Reminded()
    today = now.date()
    with Postman(smtp) as postman:
        for cid, community in sorted(communities.items()):
            for_owner: list[tuple[Member, str]] = []
            for member in due(community, snapshot, today):
                assert member.expires is not None
                key = _claim(store, cid, member, "member", now)
                if key is not None:
                    message = reminder_message(
                        smtp.sender, member.email, member_name=member.name, expires=member.expires,
                        community_title=community.title, owner_name=community.owner_name,
                        owner_title=community.owner_title, language=member.language or community.language,
                        site=site)
                    try:
                        postman.send(message, member.email)
                        done.members.append((cid, member.email, member.expires))
                    except (OSError, smtplib.SMTPException, ValueError) as exc:
                        store.delete([key])
                        done.failed[f"{cid} {member.email}"] = f"{type(exc).__name__}: {exc}"
                owner_key = _claim(store, cid, member, "owner", now)
                if owner_key is not None:
                    for_owner.append((member, owner_key))
            if for_owner:
                expiries = [Expiry(m.email, m.name, m.expires) for m, _key in for_owner if m.expires]
                try:
                    postman.send(expiries_message(smtp.sender, community.owner, community_title=community.title,
                                                  community_id=cid, language=community.language,
                                                  expiries=expiries, site=site), community.owner)
                    done.owners.append((cid, community.owner, len(expiries)))
                except (OSError, smtplib.SMTPException, ValueError) as exc:
                    store.delete([key for _member, key in for_owner])
                    done.failed[f"{cid} {community.owner}"] = f"{type(exc).__name__}: {exc}"
    return done
