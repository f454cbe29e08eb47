"""The alerts' part of the storage contract (gate/store.py keys, gate/alerts.py records), on both backends."""

from __future__ import annotations

import pytest

from gate import alerts
from gate import store as storage

MEMBER = "a.martin@example.org"



def test_alert_keys_name_members_by_a_hash_never_by_their_address():
    keys = [storage.preference_key("energie", MEMBER), storage.baseline_key("energie", MEMBER),
            storage.alert_claim_key("energie", MEMBER, "2026-BERLIN-0001", 2),
            storage.alert_sent_key("energie", MEMBER, "2026-BERLIN-0001"), storage.digest_key("energie", MEMBER)]
    member = storage.member_id(MEMBER)
    assert keys == [f"alerts/preferences/energie/{member}.json", f"alerts/baseline/energie/{member}.json",
                    f"alerts/claims/energie/{member}/2026-BERLIN-0001/0002.json",
                    f"alerts/sent/energie/{member}/2026-BERLIN-0001.json", f"alerts/digests/energie/{member}.json"]
    assert all("@" not in key and "martin" not in key for key in keys)
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            storage.preference_key(bad, MEMBER)
        with pytest.raises(ValueError):
            storage.alert_sent_key("energie", MEMBER, bad)
    for attempt in (0, 10000):
        with pytest.raises(ValueError):
            storage.alert_claim_key("energie", MEMBER, "2026-BERLIN-0001", attempt)


def test_a_preference_is_daily_until_chosen_then_the_last_choice_wins(store):
    assert alerts.read_preference(store, "energie", MEMBER) == alerts.DAILY
    alerts.write_preference(store, "energie", MEMBER, alerts.WEEKLY, "2026-12-01T09:00:00Z")
    alerts.write_preference(store, "energie", MEMBER, alerts.IMMEDIATE, "2026-12-01T09:05:00Z")
    assert alerts.read_preference(store, "energie", MEMBER) == alerts.IMMEDIATE
    assert alerts.read_preference(store, "onu", MEMBER) == alerts.DAILY
    assert [(p.address, p.frequency) for p in alerts.chosen(store, "energie")] == [(MEMBER, alerts.IMMEDIATE)]
    with pytest.raises(ValueError):
        alerts.write_preference(store, "energie", MEMBER, "hourly", "2026-12-01T09:00:00Z")


def test_a_preference_that_cannot_be_read_or_sits_under_another_members_key_means_never(store):
    store.put(storage.preference_key("energie", MEMBER), b"{not json")
    assert alerts.read_preference(store, "energie", MEMBER) == alerts.NEVER
    # A record copied under another member's key names someone else: it neither silences nor enrols
    other = "b@example.org"
    record = alerts.Preference("energie", MEMBER, alerts.IMMEDIATE, "2026-12-01T09:00:00Z").to_json()
    store.put(storage.preference_key("energie", other), record)
    assert alerts.read_preference(store, "energie", other) == alerts.NEVER
    assert list(alerts.chosen(store, "energie")) == []
