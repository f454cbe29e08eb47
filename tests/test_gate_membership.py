"""members.json as the gate reads it: the snapshot publish writes, expiry days, domains, bad snapshots."""

from __future__ import annotations

import datetime as dt
import json

from gate import store as storage
from gate.membership import Membership, Snapshot
from pipeline.communities import Community, Member, Selection, membership_snapshot

TODAY = dt.date(2026, 11, 28)


def community(cid: str, members=(), domains=()) -> Community:
    return Community(id=cid, title=cid.title(), description="", language="fr", owner="o@diplomatie.gouv.fr",
                     editors=(), select=Selection(), domains=tuple(domains), members=tuple(members))


def test_gate_agrees_with_the_pipeline_on_who_is_a_member():
    communities = {
        "presse": community("presse", [Member("a@press.org"), Member("old@press.org", expires=TODAY - dt.timedelta(1)),
                                       Member("last@press.org", expires=TODAY)], ["diplomatie.gouv.fr"]),
        "business": community("business", [Member("b@biz.org", expires=TODAY + dt.timedelta(100))]),
    }
    snapshot = Snapshot.from_json(json.dumps(membership_snapshot(communities, "abc123")).encode())
    assert snapshot.commit == "abc123"
    addresses = ["a@press.org", "old@press.org", "last@press.org", "b@biz.org", "x@diplomatie.gouv.fr",
                 "x@sub.diplomatie.gouv.fr", "x@diplomatie.gouv.fr.evil.org", "nobody@example.org"]
    for day in (TODAY, TODAY + dt.timedelta(1)):
        for cid, c in communities.items():
            for address in addresses:
                assert snapshot.admits(cid, address, day) == c.is_member(address, day), (cid, address, day)
    assert [c.id for c in snapshot.communities_of("last@press.org", TODAY)] == ["presse"]
    assert snapshot.communities_of("last@press.org", TODAY + dt.timedelta(1)) == []
    assert not snapshot.admits("nowhere", "a@press.org", TODAY)


def test_membership_reloads_only_on_change_and_keeps_the_last_good_snapshot(tmp_path):
    store = storage.open_store(tmp_path)
    membership = Membership(store)
    assert membership.refresh() is False and membership.snapshot.communities == {}  # none published: nobody
    good = {"format": 1, "commit": None, "communities": {"presse": {"title": "P", "members": {"a@p.org": None}}}}
    store.put(storage.MEMBERS_KEY, json.dumps(good).encode())
    assert membership.refresh() is True
    assert membership.refresh() is False
    assert membership.snapshot.admits("presse", "a@p.org", TODAY)
    store.put(storage.MEMBERS_KEY, b"{broken")
    assert membership.refresh() is False
    assert membership.error and "JSON" in membership.error
    assert membership.snapshot.admits("presse", "a@p.org", TODAY)  # last good one still in force
    bad_date = {**good, "communities": {"presse": {"members": {"a@p.org": "someday"}}}}
    store.put(storage.MEMBERS_KEY, json.dumps(bad_date).encode())
    assert membership.refresh() is False and "expiry" in membership.error
    store.delete([storage.MEMBERS_KEY])
    assert membership.refresh() is True
    assert not membership.snapshot.admits("presse", "a@p.org", TODAY)  # withdrawn snapshot: nobody
