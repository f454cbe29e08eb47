"""``/signed-in`` (gate/signedin.py): the "Signed in as <name>" line the sites' header fetches, with the
member's name from communities.yaml (through members.json) or else their address; and the names in the
snapshot the pipeline writes and the gate reads."""

from __future__ import annotations

import json

import pytest

from gate import store as storage
from gate import tokens
from gate.membership import Snapshot
from pipeline.communities import membership_snapshot
from tests.gatekit import FakeClock, gate_in_process, publish_site, write_members
from tests.test_gate_pages import sample

NAMED = "anne@example.org"
UNNAMED = "bruno@example.org"


@pytest.fixture
def gate(tmp_path):
    store = storage.open_store(tmp_path / "store")
    write_members(store, {
        "energie": {"title": "Énergie", "members": {NAMED: None, UNNAMED: None}, "domains": ["diplomatie.gouv.fr"],
                    "names": {NAMED: "Anne Martin", "ghost@example.org": "Not a member", UNNAMED: "a@b.org"}},
        "onu": {"title": "ONU", "language": "en", "members": {NAMED: None}},
    })
    publish_site(store, "energie", {"index.html": b"<html>energie</html>"}, "r1")
    tokens.init(tmp_path / "keys")
    with gate_in_process(tmp_path / "store", tmp_path / "keys", clock=FakeClock()) as client:
        yield client


def line(gate, query: str, who: str | None):
    reply = gate.get(f"/signed-in?{query}", cookie=gate.session_cookie(who) if who else None)
    return reply, (json.loads(reply.body) if reply.body else None)


def test_the_line_names_the_member_in_the_page_s_language_and_is_never_cached(gate):
    reply, answer = line(gate, "c=energie&lang=fr", NAMED)
    assert reply.status == 200 and answer == {"name": "Anne Martin", "text": "Connecté en tant que Anne Martin"}
    assert reply.header("cache-control") == "no-store" and reply.header("content-type") == "application/json"
    assert "set-cookie" not in reply.headers and "frame-ancestors 'none'" in reply.header("content-security-policy")
    assert line(gate, "c=energie&lang=en", NAMED)[1]["text"] == "Signed in as Anne Martin"
    # no language given: the community's
    assert line(gate, "c=onu", NAMED)[1]["text"] == "Signed in as anne@example.org"


def test_without_a_name_the_line_shows_the_address(gate):
    assert line(gate, "c=energie", UNNAMED)[1]["name"] == UNNAMED  # a "name" holding an address is no name
    assert line(gate, "c=energie", "x@diplomatie.gouv.fr")[1]["name"] == "x@diplomatie.gouv.fr"  # by domain
    assert line(gate, "c=nowhere", NAMED)[1]["name"] == NAMED
    assert line(gate, "", NAMED)[1] == {"name": NAMED, "text": f"Connecté en tant que {NAMED}"}


def test_signed_out_the_answer_says_nothing(gate):
    reply, answer = line(gate, "c=energie", None)
    assert reply.status == 401 and answer == {} and reply.header("cache-control") == "no-store"
    forged = gate.get("/signed-in?c=energie", cookie=f"{gate.cookie_name}=not-a-session")
    assert forged.status == 401 and json.loads(forged.body) == {}


def test_the_snapshot_carries_the_members_names_and_the_gate_keeps_only_listed_members_plain_names():
    snapshot = membership_snapshot(sample(), None)
    names = snapshot["communities"]["energie-europe"]["names"]
    assert names["a.martin@example.org"] == "Anne Martin"
    assert set(names) <= set(snapshot["communities"]["energie-europe"]["members"])
    read = Snapshot.from_json(json.dumps(snapshot).encode())
    assert read.communities["energie-europe"].names["a.martin@example.org"] == "Anne Martin"
    snapshot["communities"]["energie-europe"]["names"] = {"a.martin@example.org": "Anne\nMartin",
                                                         "stranger@example.org": "Stranger"}
    assert Snapshot.from_json(json.dumps(snapshot).encode()).communities["energie-europe"].names == {}
    snapshot["communities"]["energie-europe"]["names"] = ["not", "a", "mapping"]
    assert Snapshot.from_json(json.dumps(snapshot).encode()).communities["energie-europe"].names == {}
