"""Readership for owners: the gate records a member's read of a cable page once per week, ``activity``
shows distinct readers per cable and week and each member's last sign-in, and per-person records
older than the retention period are reduced to counts (injectable clock, real stores)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from gate import store as storage
from gate import tokens
from pipeline.activity import activity, cutoff, reduce_all
from pipeline.communities import parse, retention_months
from pipeline.findings import Findings
from tests.contentrepo import make_repo
from tests.gatekit import FakeClock, gate_in_process, publish_site, write_members

ANNE = "a.martin@example.org"
BRUNO = "b.durand@example.org"
CABLE = "2026-BERLIN-0001"
OTHER_CABLE = "2026-BERLIN-0002"
RELEASE = "20261130T000000.000Z-00000000"



def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def publish_cables(store) -> None:
    files = {"index.html": b"<p>index</p>", f"2026/{CABLE}.html": b"<p>one</p>",
             f"2026/{OTHER_CABLE}.html": b"<p>two</p>", "assets/site.css": b"p{}"}
    manifest = publish_site(store, "energie", files, RELEASE)
    store.put(manifest.key, dataclasses.replace(manifest, cables=(CABLE, OTHER_CABLE)).to_json())


def settle(gate) -> None:
    import asyncio

    async def drain() -> None:
        while gate.gate.after_answer:
            await asyncio.gather(*list(gate.gate.after_answer))

    gate.run(drain())


def test_the_gate_records_a_members_cable_page_once_a_week_and_nothing_else(tmp_path):
    store = storage.FolderStore(tmp_path / "store")
    write_members(store, {"energie": {"members": {ANNE: None, BRUNO: None}}})
    publish_cables(store)
    keys = tmp_path / "keys"
    tokens.init(keys)
    clock = FakeClock(at("2026-12-01T09:00:00").timestamp())
    with gate_in_process(tmp_path / "store", keys, clock=clock) as gate:
        gate.refresh()
        anne, bruno = gate.session_cookie(ANNE), gate.session_cookie(BRUNO)
        for path in ("/c/energie/", f"/c/energie/2026/{CABLE}.html", f"/c/energie/2026/{CABLE}.html",
                     "/c/energie/assets/site.css", "/c/energie/2026/nothing.html"):
            assert gate.get(path, cookie=anne).status in (200, 404)
        assert gate.get(f"/c/energie/2026/{CABLE}.html").status == 302  # no session: nobody's read
        gate.request("HEAD", f"/c/energie/2026/{OTHER_CABLE}.html", cookie=anne)  # HEAD is no read
        assert gate.get(f"/c/energie/2026/{CABLE}.html", cookie=bruno).status == 200
        settle(gate)
        week = storage.week_of(clock())
        assert sorted(store.list("reads/")) == sorted([storage.read_key("energie", week, CABLE, ANNE),
                                                       storage.read_key("energie", week, CABLE, BRUNO)])
        clock.advance(7 * 86400)
        gate.refresh()
        assert gate.get(f"/c/energie/2026/{CABLE}.html", cookie=gate.session_cookie(ANNE)).status == 200
        settle(gate)
    assert len(list(store.list("reads/"))) == 3
    record = json.loads(store.get(storage.read_key("energie", week, CABLE, ANNE)))
    assert set(record) == {"format", "at"}  # no address in the record


def test_reads_older_than_the_retention_period_are_reduced_to_counts_once(store):
    old_week, recent = at("2026-03-04T10:00:00"), at("2026-11-25T10:00:00")
    for who in (ANNE, BRUNO):
        storage.write_read(store, "energie", CABLE, who, old_week)
        storage.write_read(store, "energie", CABLE, who, recent)
    storage.write_read(store, "energie", OTHER_CABLE, ANNE, old_week)
    storage.write_sign_in(store, "energie", ANNE, at("2026-04-01T08:00:00"))
    storage.write_sign_in(store, "energie", BRUNO, at("2026-11-30T08:00:00"))
    now = at("2026-12-01T09:00:00")

    done = reduce_all(store, now, 6)

    assert done.weeks == {"energie": [storage.week_of(old_week)]} and done.reads_deleted == 3
    assert done.sign_ins_deleted == 1
    remaining = set(store.list(""))
    assert not any(storage.member_id(ANNE) in k and storage.week_of(old_week) in k for k in remaining)
    counts = json.loads(store.get(storage.activity_key("energie", storage.week_of(old_week))))
    assert counts["cables"] == {CABLE: 2, OTHER_CABLE: 1}
    assert storage.read_sign_ins(store, "energie").keys() == {BRUNO}
    # a rerun, and a reducer that had stopped between counting and deleting, count nothing twice
    storage.write_read(store, "energie", CABLE, ANNE, old_week)
    again = reduce_all(store, now, 6)
    assert again.reads_deleted == 1
    assert json.loads(store.get(storage.activity_key("energie", storage.week_of(old_week))))["cables"] == counts["cables"]
    community = parse(b"communities:\n  energie:\n    title: T\n    description: D\n    language: fr\n"
                      b"    owner: o@example.org\n    editors: [o@example.org]\n    select: {subjects: [x]}\n"
                      b"    members:\n      - {email: a.martin@example.org, name: Anne}\n", Findings())["energie"]
    shown = activity(store, community, 6)
    assert shown.cables == {CABLE: {storage.week_of(old_week): 2, storage.week_of(recent): 2},
                            OTHER_CABLE: {storage.week_of(old_week): 1}}
    assert [(m.email, m.last_sign_in) for m in shown.members] == [(ANNE, None), (BRUNO, at("2026-11-30T08:00:00"))]


def test_a_week_is_reduced_only_once_it_has_ended_before_the_period():
    now = at("2026-12-01T09:00:00")
    assert cutoff(now, 6) == at("2026-06-01T09:00:00")
    assert cutoff(at("2026-08-31T00:00:00"), 6) == at("2026-02-28T00:00:00")


def test_reduction_follows_the_clock_not_the_records_count(tmp_path):
    store = storage.FolderStore(tmp_path / "store")
    moment = at("2026-05-27T10:00:00")  # a Wednesday: its week ends on Monday 2026-06-01
    storage.write_read(store, "energie", CABLE, ANNE, moment)
    assert reduce_all(store, at("2026-11-30T12:00:00"), 6).reads_deleted == 0  # week not over before the cutoff
    assert reduce_all(store, at("2026-12-01T00:00:00"), 6).reads_deleted == 1
    assert reduce_all(store, at("2027-12-01T00:00:00"), 25).reads_deleted == 0


def test_retention_months_in_communities_yaml(tmp_path):
    assert retention_months(b"communities: {}\n") == 6
    assert retention_months(b"retention_months: 3\ncommunities: {}\n") == 3
    repo = make_repo(tmp_path / "repo")
    text = (repo.root / "communities.yaml").read_text()
    for bad in ("0", "26", "six", "1.5", "[3]"):
        repo.write("communities.yaml", f"retention_months: {bad}\n" + text)
        result = repo.run("check")
        assert result.code == 1 and "E206" in result.output and "retention_months" in result.output, bad
    repo.write("communities.yaml", "retention_months: 12\n" + text)
    assert repo.run("check").code == 0


def test_activity_command_shows_counts_and_last_sign_ins(tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    repo = make_repo(tmp_path / "repo")
    store = storage.FolderStore(tmp_path / "store")
    now = dt.datetime.now(dt.UTC)
    storage.write_read(store, "energie", CABLE, ANNE, now)
    storage.write_read(store, "energie", CABLE, BRUNO, now)
    storage.write_read(store, "energie", CABLE, ANNE, now - dt.timedelta(days=400))
    storage.write_sign_in(store, "energie", ANNE, now)
    result = repo.run("activity", "energie", "--store", str(tmp_path / "store"), "--format", "json")
    assert result.code == 0, result.output
    data = json.loads(result.stdout)
    old = storage.week_of(now - dt.timedelta(days=400))
    assert data["cables"] == [{"cable": CABLE, "weeks": {old: 1, storage.week_of(now): 2}}]
    assert data["retention_months"] == 6
    assert data["members"][0] == {"email": ANNE, "name": "Anne Martin", "last_sign_in": storage.utc_text(now)}
    assert json.loads(store.get(storage.activity_key("energie", old)))["cables"] == {CABLE: 1}
    text = repo.run("activity", "energie", "--store", str(tmp_path / "store")).stdout
    assert f"  {CABLE}  {old}: 1  {storage.week_of(now)}: 2" in text
    assert f"{ANNE} (Anne Martin): {storage.utc_text(now)}" in text
    monkeypatch.delenv("DIPLOMATIE_LANG", raising=False)
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    assert "Dernière connexion" in repo.run("activity", "energie", "--store", str(tmp_path / "store")).stdout


def test_the_legal_notice_states_what_is_recorded_and_every_page_links_it(tmp_path):
    store = storage.FolderStore(tmp_path / "store")
    write_members(store, {"energie": {"members": {ANNE: None}}})
    keys = tmp_path / "keys"
    tokens.init(keys)
    with gate_in_process(tmp_path / "store", keys) as gate:
        gate.refresh()
        french = gate.get("/legal")
        english = gate.get("/legal?lang=en")
        login = gate.get("/login")
    assert french.status == 200 and "Mentions légales et données personnelles" in french.body.decode()
    assert "une fois par télégramme et par semaine" in french.body.decode()
    text = english.body.decode()
    assert "which cables you read, once per cable and per week" in text and "six months" in text
    assert '<a href="/legal">' in login.body.decode()


def test_publish_reduces_readership_by_the_period_communities_yaml_sets(tmp_path):
    from pipeline.publication import PublicationReport, reduce_readership

    repo = make_repo(tmp_path / "repo")
    store = storage.FolderStore(tmp_path / "store")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=300)
    storage.write_read(store, "energie", CABLE, ANNE, old)
    text = (repo.root / "communities.yaml").read_text()
    repo.write("communities.yaml", "retention_months: 12\n" + text)
    report = PublicationReport()
    reduce_readership(repo.root, store, report)
    assert list(store.list("reads/")) != [] and not report.errors  # 300 days < 12 months: kept
    repo.write("communities.yaml", text)  # the default, 6 months
    reduce_readership(repo.root, store, report)
    assert list(store.list("reads/")) == [] and not report.errors
    assert json.loads(store.get(storage.activity_key("energie", storage.week_of(old))))["cables"] == {CABLE: 1}
