"""Readership for owners (``diplomatie activity``), and the retention of the records it rests on.

The gate records two kinds of per-person readership records (gate/store.py, gate/readership.py):
``sign-ins/<community>/<member>.json`` (the last sign-in) and
``reads/<community>/<week>/<cable>/<member>.json`` (the member read the cable's page that ISO week).
Their purpose, stated in the gate's legal notice, is to let a community's owner see whether the
cables reach their members; they are kept for the retention period (``retention_months`` in
``communities.yaml``, 6 months by default) and then:

- a week's reads are **reduced to counts**: ``activity/<community>/<week>.json`` holds, per cable, how
  many distinct members read it that week, and the per-member records of the week are deleted. The
  counts are created once (create-if-absent); a reducer that finds them already written only
  deletes what is left of that week (an earlier run stopped between the two), so nothing is counted
  twice;
- a last sign-in older than the period is deleted (what remains is the weekly counts).

:func:`reduce_all` runs at each ``publish`` and at each ``activity``, so records do not outlive the
period by more than the time between two publications. Per-person records leave the store only
through ``activity`` (the last sign-in of each member, to the owner) and ``members``; reads are
only ever shown as counts.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field

from gate import store as storage
from gate.store import Store, utc_text
from pipeline.communities import Community
from pipeline.messages import N_, _


def cutoff(now: dt.datetime, months: int) -> dt.datetime:
    """The moment ``months`` calendar months before ``now`` (the 31st becomes the month's last day)."""
    month_index = now.year * 12 + now.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return now.replace(year=year, month=month + 1, day=day)


@dataclass
class Reduced:
    """What :func:`reduce_all` did."""

    weeks: dict[str, list[str]] = field(default_factory=dict)  # community -> weeks reduced to counts
    reads_deleted: int = 0
    sign_ins_deleted: int = 0


def _read_parts(key: str) -> tuple[str, str, str] | None:
    """(community, week, cable) of a read record's key, or None for a key of another shape."""
    parts = key.split("/")
    if len(parts) != 5 or not parts[4].endswith(".json"):
        return None
    try:
        storage.week_start(parts[2])
    except ValueError:
        return None
    return parts[1], parts[2], parts[3]


def reduce_all(store: Store, now: dt.datetime, months: int) -> Reduced:
    """Reduce every community's reads of the weeks that ended before the retention period to counts,
    and delete the last sign-ins older than it (see the module's doc)."""
    limit = cutoff(now, months)
    done = Reduced()
    weeks: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)  # (community, week) -> (key, cable)
    for key in store.list(storage.READS_PREFIX):
        parts = _read_parts(key)
        if parts is None:
            continue
        community, week, cable = parts
        week_end = dt.datetime.combine(storage.week_start(week) + dt.timedelta(days=7), dt.time(), dt.UTC)
        if week_end <= limit:
            weeks[(community, week)].append((key, cable))
    for (community, week), records in sorted(weeks.items()):
        counts: dict[str, int] = defaultdict(int)
        for _key, cable in records:
            counts[cable] += 1
        record = {"format": storage.FORMAT, "community": community, "week": week,
                  "cables": dict(sorted(counts.items())), "reduced_at": utc_text(now)}
        store.create(storage.activity_key(community, week), json.dumps(record, indent=1).encode() + b"\n",
                     "application/json")  # False: counted by an earlier run that stopped before deleting
        store.delete(key for key, _cable in records)
        done.weeks.setdefault(community, []).append(week)
        done.reads_deleted += len(records)
    old = []
    for info in store.scan(storage.SIGN_INS_PREFIX):
        try:
            at = storage.parse_utc_text(json.loads(store.get(info.key))["at"])
        except storage.NotFound:
            continue
        except (ValueError, KeyError, TypeError, storage.StoreError) as exc:
            if isinstance(exc, storage.StoreUnavailable):
                raise
            at = info.modified  # unreadable: its own age decides
        if at < limit:
            old.append(info.key)
    store.delete(old)
    done.sign_ins_deleted = len(old)
    return done


@dataclass(frozen=True)
class MemberActivity:
    email: str
    name: str
    last_sign_in: dt.datetime | None


@dataclass(frozen=True)
class Activity:
    """One community's readership: distinct readers per cable and week, and each member's last sign-in."""

    community: str
    retention_months: int
    cables: dict[str, dict[str, int]]  # cable -> week -> distinct members
    members: list[MemberActivity]

    @property
    def weeks(self) -> list[str]:
        return sorted({week for by_week in self.cables.values() for week in by_week})

    def to_json(self) -> str:
        return json.dumps({
            "community": self.community, "retention_months": self.retention_months, "weeks": self.weeks,
            "cables": [{"cable": cable, "weeks": dict(sorted(by_week.items()))}
                       for cable, by_week in sorted(self.cables.items())],
            "members": [{"email": m.email, "name": m.name,
                         "last_sign_in": utc_text(m.last_sign_in) if m.last_sign_in else None}
                        for m in self.members],
        }, indent=1, ensure_ascii=False)


def activity(store: Store, community: Community, months: int) -> Activity:
    """The community's readership from the store: live reads counted per (cable, week), plus the counts
    of weeks already reduced; every listed member (and anyone else who signed in) with their last sign-in."""
    cables: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key in store.list(storage.reads_prefix(community.id)):
        parts = _read_parts(key)
        if parts is not None:
            cables[parts[2]][parts[1]] += 1
    prefix = f"{storage.ACTIVITY_PREFIX}{community.id}/"
    for key in store.list(prefix):
        try:
            record = json.loads(store.get(key))
            week = str(record["week"])
            for cable, count in dict(record["cables"]).items():
                cables[str(cable)][week] += int(count)
        except storage.NotFound:
            continue
        except (ValueError, KeyError, TypeError) as exc:
            raise storage.StoreError(f"{key}: not a readable count record ({exc})") from None
    signed = storage.read_sign_ins(store, community.id)
    members = [MemberActivity(m.email, m.name, signed.pop(m.email, None))
               for m in sorted(community.members, key=lambda m: m.email)]
    members += [MemberActivity(email, "", at) for email, at in sorted(signed.items())]
    return Activity(community.id, months, {c: dict(w) for c, w in cables.items()}, members)


#: What ``activity`` says (English msgids, translated where shown: pipeline/messages.py).
TEXT = {
    "title": N_("Readership of {community}: distinct members per cable and ISO week (beyond {months} "
                "months, only the counts remain)"),
    "none": N_("no reads recorded"),
    "members": N_("Last sign-in:"),
    "never": N_("none (or before the retention period)"),
}


def as_text(found: Activity) -> str:
    """The readership of :func:`activity` as a person reads it, in the run's language."""
    text = {key: _(msgid) for key, msgid in TEXT.items()}
    lines = [text["title"].format(community=found.community, months=found.retention_months)]
    for cable, by_week in sorted(found.cables.items()):
        lines.append(f"  {cable}  " + "  ".join(f"{week}: {n}" for week, n in sorted(by_week.items())))
    if not found.cables:
        lines.append("  " + text["none"])
    lines.append(text["members"])
    for m in found.members:
        who = f"{m.email} ({m.name})" if m.name else m.email
        lines.append(f"  {who}: {utc_text(m.last_sign_in) if m.last_sign_in else text['never']}")
    return "\n".join(lines)
