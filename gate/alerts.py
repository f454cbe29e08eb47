"""Alert preferences: how often a member is told of what a community publishes (docs/storage.md).

A contract module: the gate writes a member's choice (the preferences page, the one-click
unsubscribe) and ``diplomatie notify`` reads it. One object per member and community,
``alerts/preferences/<community>/<member>.json`` (gate/store.py ``preference_key``), replaced whole at
each choice::

    {"format": 1, "community": "energie", "address": "a.martin@example.org",
     "frequency": "weekly", "at": "2026-12-01T09:00:00Z"}

No record means the default, a daily digest. A record that cannot be read means "never" for the
notifier (fail closed: a member who unsubscribed must not be mailed because their record broke).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from gate.store import (
    FORMAT,
    NotFound,
    Store,
    StoreError,
    StoreUnavailable,
    preference_key,
    preferences_prefix,
)

IMMEDIATE = "immediate"
DAILY = "daily"
WEEKLY = "weekly"
NEVER = "never"
#: The choices, in the order the preferences page shows them.
FREQUENCIES = (IMMEDIATE, DAILY, WEEKLY, NEVER)
DEFAULT_FREQUENCY = DAILY
#: How long a digest waits after the previous alert (seconds); "immediate" does not wait.
PERIODS = {IMMEDIATE: 0, DAILY: 86400, WEEKLY: 7 * 86400}


@dataclass(frozen=True)
class Preference:
    """One member's choice for one community."""

    community: str
    address: str
    frequency: str
    at: str  # when it was chosen (gate/store.py utc_text)

    def to_json(self) -> bytes:
        return (json.dumps({"format": FORMAT, "community": self.community, "address": self.address,
                            "frequency": self.frequency, "at": self.at}, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> Preference:
        try:
            obj = json.loads(data)
            if not isinstance(obj, dict) or obj.get("format") != FORMAT:
                raise ValueError("not a format 1 record")
            record = cls(str(obj["community"]), str(obj["address"]), str(obj["frequency"]), str(obj["at"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"alert preference: {exc}") from exc
        if record.frequency not in FREQUENCIES:
            raise StoreError(f"alert preference: unknown frequency {record.frequency!r}")
        return record


def read_preference(store: Store, community: str, address: str) -> str:
    """The member's frequency for the community: the default when they never chose; ``never`` when
    their record is unreadable or names another member (fail closed). :class:`StoreUnavailable` passes."""
    try:
        record = Preference.from_json(store.get(preference_key(community, address)))
    except NotFound:
        return DEFAULT_FREQUENCY
    except StoreUnavailable:
        raise
    except StoreError:
        return NEVER
    if record.community != community or record.address != address:
        return NEVER
    return record.frequency


def write_preference(store: Store, community: str, address: str, frequency: str, at: str) -> None:
    """Record the member's choice (one PUT: the latest choice wins)."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"unknown frequency {frequency!r}: one of {', '.join(FREQUENCIES)}")
    record = Preference(community, address, frequency, at)
    store.put(preference_key(community, address), record.to_json(), "application/json")


def chosen(store: Store, community: str) -> Iterator[Preference]:
    """Every readable preference recorded for the community (how the notifier finds the members a
    domain admits, who are never listed): records that cannot be read, or whose key does not match
    their address, are skipped."""
    for key in store.list(preferences_prefix(community)):
        try:
            record = Preference.from_json(store.get(key))
        except StoreUnavailable:
            raise
        except StoreError:  # NotFound (deleted meanwhile) or unreadable
            continue
        if record.community == community and preference_key(community, record.address) == key:
            yield record
