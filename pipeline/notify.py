"""Alerts: telling each member, by e-mail, what their communities published since they were last told.

``diplomatie notify`` (and ``publish`` when alerts are configured) runs :func:`notify`. What is new
comes from the store, never from git: the cables the community's *serving* release lists (its
manifest), so a cable withdrawn or still under embargo, which no release holds, is never announced
(the withdrawn register and the embargo are checked again on top). Only the cables' title,
reference, date, post and summary are read, from the content repository at the commit the release
was built from; the body never reaches an e-mail (gate/letters.py ``Announcement`` has no field
for it). Who is told is the gate's own ``members.json`` and its one rule (gate/membership.py): an
expired or removed member gets nothing.

Exactly once, through the store's conditional create (docs/storage.md, *Alerts*): for each member,
community and cable, a notifier first **claims** the cable (``alerts/claims/…/<attempt>.json``,
create-if-absent: of two notifiers at once, one wins), then **sends** one e-mail with every cable it
claimed for that member, then **marks** each cable sent (``alerts/sent/…``). A delivery the SMTP
server refuses releases the claims (deleted), so the next run sends them. A notifier that dies
between claim and mark leaves a claim with no mark: the next run leaves it alone for
:data:`CLAIM_LEASE`, then claims it again (attempt 2) and sends it: the alert is late, never lost.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from gate import alerts, letters, tokens
from gate import store as storage
from gate.identity import Service
from gate.membership import CommunityAccess, Snapshot, SnapshotError, is_current
from gate.store import Store, StoreError, parse_utc_text, utc_text
from pipeline.messages import _, ngettext
from pipeline.site import cable_url

#: How long a claim without a "sent" mark belongs to the notifier that wrote it (seconds). After it,
#: the notifier is taken to have died between claim and send, and the cable is claimed again.
CLAIM_LEASE = 3600
#: A digest due within this many seconds is sent now: a daily run at a fixed hour still sends daily.
SLACK = 600

#: Sends one message to one address, raising OSError or SMTPException when it was not accepted.
Deliver = Callable[[EmailMessage, str], None]


class NotifyError(Exception):
    """Nothing could be sent: the membership snapshot or the withdrawn register cannot be read."""


@dataclass(frozen=True)
class NotifySettings:
    """What a notifier needs besides the store: the gate's address (links, tokens' issuer), the SMTP
    server, the key set that signs unsubscribe links, and how the service names itself."""

    gate_url: str
    smtp: letters.SmtpSettings
    ring: tokens.Keyring
    service: Service = field(default_factory=Service)
    lease: int = CLAIM_LEASE

    @property
    def origin(self) -> str:
        return self.gate_url.rstrip("/")


@dataclass
class NotifyReport:
    """What one run did: e-mails sent, failures (retried at the next run), members seen first."""

    #: (community, address, cables announced), one per e-mail
    sent: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    #: "<community> <address>" or "<community>" -> why nothing was sent
    failed: dict[str, str] = field(default_factory=dict)
    #: members seen for the first time (their baseline recorded; nothing sent to them this run)
    baselined: int = 0
    #: members with something new whose digest is not due yet
    waiting: int = 0

    def failure(self) -> str | None:
        if not self.failed:
            return None
        return ngettext("{count} alert not sent: {which}; run notify again to retry",
                        "{count} alerts not sent: {which}; run notify again to retry", len(self.failed)).format(
            count=len(self.failed), which=", ".join(sorted(self.failed)))

    def to_json(self) -> dict[str, Any]:
        return {"sent": [{"community": c, "to": a, "cables": list(ids)} for c, a, ids in self.sent],
                "failed": self.failed, "baselined": self.baselined, "waiting": self.waiting}


# ------------------------------------------------------------------------------------------ the run


def notify(store: Store, root: Path, settings: NotifySettings, *, clock: Callable[[], float] = time.time,
           only: Iterable[str] | None = None, deliver: Deliver | None = None,
           by: str = "notify") -> NotifyReport:
    """Tell every current member of every published community (or those in ``only``) what is new for
    them, by the frequency they chose; see the module's docstring for what "exactly once" rests on.
    Messages go through one SMTP connection for the run (``deliver`` replaces it)."""
    if deliver is None:
        with letters.Postman(settings.smtp) as postman:
            return notify(store, root, settings, clock=clock, only=only, deliver=postman.send, by=by)
    report = NotifyReport()
    snapshot = read_snapshot(store)
    withdrawn = withdrawn_cables(store)
    wanted = set(only) if only else None
    versions: dict[str | None, Any] = {}
    for cid, access in sorted(snapshot.communities.items()):
        if wanted is not None and cid not in wanted:
            continue
        try:
            catalogue = published_catalogue(store, root, cid, withdrawn, versions, clock())
            if catalogue is None:
                continue  # never published: nothing to tell
            told = recipients(store, access, dt.datetime.fromtimestamp(clock(), dt.UTC).date())
        except (StoreError, ValueError) as exc:
            report.failed[cid] = f"{cid}: {exc}"
            continue
        for address in told:
            try:
                tell(store, settings, access, address, catalogue, clock, deliver, by, report)
            except StoreError as exc:
                report.failed[f"{cid} {address}"] = _("the store cannot answer: {error}").format(error=exc)
    return report


def read_snapshot(store: Store) -> Snapshot:
    """The gate's ``members.json`` (none yet: nobody to tell); unreadable: :class:`NotifyError`."""
    try:
        return Snapshot.from_json(store.get(storage.MEMBERS_KEY))
    except storage.NotFound:
        return Snapshot()
    except (StoreError, SnapshotError) as exc:
        raise NotifyError(_("members.json cannot be read ({exc}); nothing was sent").format(exc=exc)) from None


def withdrawn_cables(store: Store) -> set[str]:
    """The cables the withdrawn register holds as withdrawn (its last record per cable); fail closed."""
    try:
        last: dict[str, str] = {}
        for record in storage.read_withdrawals(store):
            last[record.cable] = record.action
    except StoreError as exc:
        raise NotifyError(_("the withdrawn register cannot be read ({exc}); nothing was sent").format(exc=exc)) from None
    return {cable for cable, action in last.items() if action == "withdrawn"}


@dataclass(frozen=True)
class Catalogue:
    """What a community serves now, as alerts tell it: cable id -> announcement, in release order."""

    community: str
    release: str
    cables: dict[str, letters.Announcement]


def published_catalogue(store: Store, root: Path, community: str, withdrawn: set[str], versions: dict,
                        now: float) -> Catalogue | None:
    """The announcements of the cables the community's serving release lists, read from the content at
    the commit that release was built from; withdrawn, embargoed or unknown cables are left out."""
    pointer = storage.read_pointer(store, community)
    if pointer is None:
        return None
    head = storage.read_release_head(store, community, pointer.release)  # its files are not needed
    repo = versions.get(head.commit)
    if repo is None:
        repo = versions[head.commit] = load_content(root, head.commit)
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    entries = {}
    for cable_id in storage.read_release_cables(store, community, pointer.release):
        cable = repo.cables.get(cable_id)
        if cable is None or cable_id in withdrawn or cable.status != "active":
            continue
        if cable.embargo is not None and cable.embargo > moment:
            continue
        entries[cable_id] = letters.Announcement(reference=cable.id, title=cable.title, date=cable.date,
                                                 post=cable.post, summary=cable.summary, url="")
    return Catalogue(community, pointer.release, entries)


def load_content(root: Path, commit: str | None):
    """The content repository as the release saw it: its commit, or the working tree when it had none."""
    from pipeline.buildcache import CacheError, folder
    from pipeline.repository import load
    from pipeline.sources import RefError

    try:  # through the build cache: the publish before this run parsed these cables already
        return load(root, ref=commit, cache=folder(root))
    except (RefError, CacheError) as exc:
        raise ValueError(_("the content of its serving release cannot be read ({exc})").format(exc=exc)) from None


def recipients(store: Store, access: CommunityAccess, today: dt.date) -> list[str]:
    """Who may be told: every listed member who is current, and every address that chose a preference
    and that the community admits (the members a domain admits are known only once they chose)."""
    listed = {address for address, expires in access.members.items() if is_current(expires, today)}
    chosen = {p.address for p in alerts.chosen(store, access.id) if access.admits(p.address, today)}
    return sorted(listed | chosen)


# ------------------------------------------------------------------------------------- one member


def tell(store: Store, settings: NotifySettings, access: CommunityAccess, address: str, catalogue: Catalogue,
         clock: Callable[[], float], deliver: Deliver, by: str, report: NotifyReport) -> None:
    """Claim, send, mark: what is new for one member of one community, if their frequency says now."""
    community = access.id
    frequency = alerts.read_preference(store, community, address)
    if frequency == alerts.NEVER:
        return
    now = clock()
    known = baseline(store, community, address, catalogue, now)
    if known is None:
        report.baselined += 1
        return
    sent = {key.rsplit("/", 1)[1][:-len(".json")]
            for key in store.list(storage.alert_sent_prefix(community, address)) if key.endswith(".json")}
    pending = [cid for cid in catalogue.cables if cid not in known and cid not in sent]
    if not pending:
        return
    if not due(store, community, address, frequency, now):
        report.waiting += 1
        return
    batch = uuid.uuid4().hex[:16]
    attempts = latest_attempts(store, community, address)
    won: dict[str, int] = {}
    for cid in pending:
        attempt = claim(store, community, address, cid, attempts.get(cid), batch, now, settings.lease, by)
        if attempt is not None:
            won[cid] = attempt
    if not won:
        return
    message = alert_for(settings, access, address, [catalogue.cables[cid] for cid in won], clock())
    try:
        deliver(message, address)
    except (OSError, smtplib.SMTPException) as exc:
        # Not sent: give the claims back so that the next run sends these cables.
        store.delete(storage.alert_claim_key(community, address, cid, attempt) for cid, attempt in won.items())
        report.failed[f"{community} {address}"] = f"{type(exc).__name__}: {exc}"
        return
    sent_at = utc_text(clock())
    for cid in won:
        record = {"format": storage.FORMAT, "community": community, "address": address, "cable": cid,
                  "batch": batch, "release": catalogue.release, "message_id": message["Message-ID"],
                  "sent_at": sent_at}
        store.create(storage.alert_sent_key(community, address, cid), _json(record), "application/json")
    store.put(storage.digest_key(community, address),
              _json({"format": storage.FORMAT, "community": community, "address": address, "sent_at": sent_at,
                     "batch": batch, "cables": list(won)}), "application/json")
    report.sent.append((community, address, tuple(won)))


def baseline(store: Store, community: str, address: str, catalogue: Catalogue, now: float) -> set[str] | None:
    """The cables that served when the member was first seen (never announced to them), or None when
    this run is the first to see them: their baseline is recorded and nothing is sent."""
    key = storage.baseline_key(community, address)
    try:
        data = store.get(key)  # read first: the member is known at every run but their first
    except storage.NotFound:
        record = {"format": storage.FORMAT, "community": community, "address": address, "at": utc_text(now),
                  "release": catalogue.release, "cables": list(catalogue.cables)}
        if store.create(key, _json(record), "application/json"):
            return None
        data = store.get(key)  # another notifier recorded it a moment ago
    try:
        obj = json.loads(data)
        return set(obj["cables"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(_("{key}: unreadable baseline ({exc})").format(key=key, exc=exc)) from None


def due(store: Store, community: str, address: str, frequency: str, now: float) -> bool:
    """Whether the member's next alert may go now: at once always; a digest once its period has
    passed since their last alert (:data:`SLACK` early at most)."""
    period = alerts.PERIODS[frequency]
    if period == 0:
        return True
    try:
        last = parse_utc_text(json.loads(store.get(storage.digest_key(community, address)))["sent_at"]).timestamp()
    except storage.NotFound:
        return True
    except (ValueError, KeyError, TypeError):
        return True  # an unreadable timing record delays nothing: the claims still prevent duplicates
    return now - last >= period - SLACK


def latest_attempts(store: Store, community: str, address: str) -> dict[str, int]:
    """cable -> the highest attempt number claimed so far for this member (one listing)."""
    prefix = storage.alert_claims_prefix(community, address)
    found: dict[str, int] = {}
    for key in store.list(prefix):
        cable, _, name = key[len(prefix):].partition("/")
        if name.endswith(".json") and name[:-5].isdigit():
            found[cable] = max(found.get(cable, 0), int(name[:-5]))
    return found


def claim(store: Store, community: str, address: str, cable: str, latest: int | None, batch: str, now: float,
          lease: int, by: str) -> int | None:
    """Claim ``cable`` for this run: the first attempt, or the next one once the previous claim's lease
    has run out with no "sent" mark (its notifier died). Returns the attempt won, or None when another
    notifier holds it."""
    attempt = 1
    if latest is not None:
        try:
            previous = json.loads(store.get(storage.alert_claim_key(community, address, cable, latest)))
            claimed_at = parse_utc_text(previous["claimed_at"]).timestamp()
        except storage.NotFound:
            claimed_at = None  # given back after a failed delivery: this attempt number is free again
        except (ValueError, KeyError, TypeError):
            claimed_at = 0.0  # unreadable: as old as can be
        if claimed_at is None:
            attempt = latest
        elif now < claimed_at + lease:
            return None  # another notifier's, live (or one that died less than a lease ago)
        else:
            attempt = latest + 1
    record = {"format": storage.FORMAT, "community": community, "address": address, "cable": cable,
              "attempt": attempt, "batch": batch, "claimed_at": utc_text(now), "by": by}
    if not store.create(storage.alert_claim_key(community, address, cable, attempt), _json(record),
                        "application/json"):
        return None
    # A takeover: the one that died may in fact have sent and marked since we listed; then we stand down.
    if attempt > 1 and store.exists(storage.alert_sent_key(community, address, cable)):
        return None
    return attempt


def alert_for(settings: NotifySettings, access: CommunityAccess, address: str,
              cables: list[letters.Announcement], now: float) -> EmailMessage:
    """The e-mail for one member: links into the site, to the preferences, and the one-click unsubscribe
    (a token for this member and this community only, gate/tokens.py)."""
    origin = settings.origin
    linked = [letters.Announcement(c.reference, c.title, c.date, c.post, c.summary,
                                   f"{origin}/c/{quote(access.id)}/{cable_url(c.reference)}") for c in cables]
    token = tokens.issue(settings.ring, tokens.UNSUBSCRIBE, address, issuer=origin, audience=origin,
                         ttl=tokens.UNSUBSCRIBE_TTL, now=now, community=access.id)
    return letters.alert_message(
        settings.smtp.sender, address, access, linked, site=origin,
        preferences_url=f"{origin}/preferences#c-{quote(access.id)}",
        unsubscribe_url=f"{origin}/unsubscribe?t={token}", list_domain=urlsplit(origin).hostname or "localhost",
        now=dt.datetime.fromtimestamp(now, dt.UTC), service=settings.service)


def _json(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=1) + "\n").encode()
