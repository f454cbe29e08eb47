"""``diplomatie members``: who is in a community, whether the gate lets them in yet, and when they
last signed in (recorded by the gate at sign-in, ``sign-ins/`` in the store)."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from gate import store as storage
from gate import tokens
from pipeline.communities import membership_snapshot, parse
from pipeline.findings import Findings
from pipeline.roster import FORMULA_STARTS, as_csv, rows, safe_cell
from tests.contentrepo import COMMUNITIES, OWNER, make_repo
from tests.gatekit import gate_in_process, publish_site

TODAY = dt.datetime.now(dt.UTC).date()


def communities(*members: dict) -> dict:
    data = copy.deepcopy(COMMUNITIES)
    data["communities"]["energie"]["members"] = list(members)
    return data


def member(email: str, days: int | None, **extra) -> dict:
    entry = {"email": email, "name": extra.pop("name", "Anne Martin"), "organisation": "Institut",
             "sector": "research", "invited_by": OWNER, **extra}
    if days is not None:
        entry["expires"] = TODAY + dt.timedelta(days=days)
    return entry


def publish_members(repo, store_dir) -> None:
    """Write members.json from the repository's communities.yaml, as publish does first."""
    findings = Findings()
    parsed = parse((repo.root / "communities.yaml").read_bytes(), findings)
    assert not [f for f in findings if f.is_error]
    store = storage.FolderStore(store_dir)
    store.put(storage.MEMBERS_KEY, json.dumps(membership_snapshot(parsed, None)).encode())


def test_members_shows_status_from_the_store_and_dates(tmp_path):
    repo = make_repo(tmp_path / "repo", communities(member("long@example.org", 400),
                                                    member("soon@example.org", 10),
                                                    member("gone@example.org", -1),
                                                    member("forever@example.org", None)))
    store = tmp_path / "store"
    publish_members(repo, store)
    # added after the last publish, and one renewed after it: both not yet published
    repo.communities(communities(member("long@example.org", 400), member("soon@example.org", 100),
                                 member("gone@example.org", -1), member("forever@example.org", None),
                                 member("new@example.org", 200)))
    result = repo.run("members", "energie", "--store", str(store), "--format", "json")
    assert result.code == 0, result.output
    data = json.loads(result.stdout)
    status = {m["email"]: m["status"] for m in data["members"]}
    assert status == {"forever@example.org": "active", "gone@example.org": "expired",
                      "long@example.org": "active", "new@example.org": "not-published",
                      "soon@example.org": "not-published"}
    assert data["published_checked"] is True
    first = data["members"][0]
    assert set(first) == {"email", "name", "organisation", "sector", "invited_by", "expires", "status",
                          "published", "last_sign_in", "terms_accepted"}
    assert first["invited_by"] == OWNER and first["last_sign_in"] is None

    text = repo.run("members", "energie", "--store", str(store)).stdout
    assert "new@example.org (Anne Martin, Institut, research): not yet published" in text
    assert "gone@example.org" in text and "expired" in text and "never signed in" in text


def test_expiring_soon_and_removed_members_still_let_in(tmp_path):
    repo = make_repo(tmp_path / "repo", communities(member("soon@example.org", 10), member("left@example.org", 50)))
    store = tmp_path / "store"
    publish_members(repo, store)
    repo.communities(communities(member("soon@example.org", 10)))
    data = json.loads(repo.run("members", "energie", "--store", str(store), "--format", "json").stdout)
    assert [(m["email"], m["status"]) for m in data["members"]] == [
        ("soon@example.org", "expiring"), ("left@example.org", "removed-not-published")]


def test_without_a_store_the_status_says_publication_was_not_checked(tmp_path):
    repo = make_repo(tmp_path / "repo", communities(member("a@example.org", 100)))
    text = repo.run("members", "energie").stdout
    assert "no --store given" in text and "publication not checked" in text
    data = json.loads(repo.run("members", "energie", "--format", "json").stdout)
    assert data["published_checked"] is False and data["members"][0]["published"] is None


def test_unknown_community_and_broken_file_are_refused(tmp_path):
    repo = make_repo(tmp_path / "repo")
    result = repo.run("members", "nope")
    assert result.code != 0 and "no community 'nope'" in result.output and "energie" in result.output
    repo.communities(communities({"email": "not an address"}))
    result = repo.run("members", "energie")
    assert result.code != 0 and "fix them first" in result.output


def test_csv_has_a_header_and_neutralises_formulas(tmp_path):
    repo = make_repo(tmp_path / "repo", communities(member("a@example.org", 100, name="=HYPERLINK(\"x\")"),
                                                    member("b@example.org", 100, name="-2+3")))
    result = repo.run("members", "energie", "--format", "csv")
    assert result.code == 0, result.output
    table = list(csv.reader(io.StringIO(result.stdout)))
    assert table[0] == ["email", "name", "organisation", "sector", "invited_by", "expires", "status",
                        "published", "last_sign_in", "terms_accepted"]
    assert table[1][1] == "'=HYPERLINK(\"x\")" and table[2][1] == "'-2+3"
    assert table[1][0] == "a@example.org"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from(FORMULA_STARTS), st.text(max_size=20))
def test_no_cell_starting_a_formula_survives(start, rest):
    assert not safe_cell(start + rest).startswith(FORMULA_STARTS)
    assert safe_cell(start + rest) == "'" + start + rest


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=20).filter(lambda t: not t.startswith(FORMULA_STARTS)))
def test_ordinary_cells_are_kept_as_they_are(text):
    assert safe_cell(text) == text


def test_every_csv_cell_is_safe_whatever_the_names(tmp_path):
    findings = Findings()
    parsed = parse(b"communities:\n  c:\n    title: T\n    description: D\n    language: fr\n"
                   b"    owner: o@example.org\n    editors: [o@example.org]\n    select: {subjects: [x]}\n"
                   b"    members:\n      - {email: a@example.org, name: '@SUM(A1)', organisation: '+1'}\n",
                   findings)
    out = as_csv(rows(parsed["c"], TODAY))
    for row in list(csv.reader(io.StringIO(out)))[1:]:
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row)


def settle_records(gate) -> None:
    """Wait for the sign-in records the gate writes in worker threads after its answer."""
    import asyncio

    async def drain() -> None:
        while gate.gate.after_answer:
            await asyncio.gather(*list(gate.gate.after_answer))

    gate.run(drain())


def test_the_gate_records_the_last_sign_in_and_members_shows_it(tmp_path):
    repo = make_repo(tmp_path / "repo", communities(member("a.martin@example.org", 100)))
    store_dir = tmp_path / "store"
    publish_members(repo, store_dir)
    keys = tmp_path / "keys"
    tokens.init(keys)
    store = storage.FolderStore(store_dir)
    publish_site(store, "energie", {"index.html": b"<p>hi</p>"}, "20260101T000000.000Z-00000000")
    with gate_in_process(store_dir, keys) as gate:
        gate.refresh()
        gate.sign_in("energie", "a.martin@example.org")
        settle_records(gate)
        signed_at = storage.utc_text(gate.clock())
    assert storage.read_sign_ins(store, "energie") == {"a.martin@example.org": storage.parse_utc_text(signed_at)}
    data = json.loads(repo.run("members", "energie", "--store", str(store_dir), "--format", "json").stdout)
    assert data["members"][0]["last_sign_in"] == signed_at
    assert f"last sign-in {signed_at}" in repo.run("members", "energie", "--store", str(store_dir)).stdout


def test_a_sign_in_record_under_another_address_is_ignored(tmp_path):
    store = storage.FolderStore(tmp_path / "store")
    storage.write_sign_in(store, "energie", "a@example.org", 1_800_000_000)
    forged = json.dumps({"format": 1, "community": "energie", "email": "b@example.org",
                         "at": "2030-01-01T00:00:00Z"}).encode()
    store.put(storage.sign_in_key("energie", "a@example.org").replace(
        storage.member_id("a@example.org"), storage.member_id("c@example.org")), forged)
    store.put("sign-ins/energie/garbage.json", b"not json")
    assert list(storage.read_sign_ins(store, "energie")) == ["a@example.org"]


# --- publish's account of the members ---------------------------------------------------------


def test_publish_reports_members_added_removed_renewed_and_expiring(tmp_path):
    repo = make_repo(tmp_path / "repo", communities(member("a.martin@example.org", 400),
                                                    member("renew@example.org", 100)))
    repo.commit("members")
    args = ("publish", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "build"))
    first = repo.run(*args)
    assert first.code == 0, first.output
    assert "energie: members added: a.martin@example.org, renew@example.org" in first.stdout

    repo.communities(communities(member("renew@example.org", 200), member("soon@example.org", 10)))
    # not committed: the sites (which name the commit) stay the same, only the members change
    second = repo.run(*args)
    assert second.code == 0, second.output
    out = second.stdout
    assert "energie: members added: soon@example.org" in out
    assert "energie: members removed: a.martin@example.org" in out
    assert "energie: members renewed: renew@example.org" in out
    soon = (TODAY + dt.timedelta(days=10)).isoformat()
    assert f"energie: access ending within 30 days: soon@example.org (until {soon})" in out
    assert "energie: site unchanged, members updated" in out and "energie: unchanged" not in out
    assert "onu: unchanged" in out  # nothing changed there

    third = repo.run(*args, "--format", "json")
    report = json.loads(third.stdout)
    assert report["members"] == {"energie": {"added": [], "removed": [], "renewed": [],
                                             "expiring": {"soon@example.org": soon}}}
    assert "members updated" not in repo.run(*args).stdout  # only the expiry notice is left


def test_a_store_never_published_to_is_named(tmp_path):
    repo = make_repo(tmp_path / "repo", communities(member("a@example.org", 100)))
    result = repo.run("members", "energie", "--store", str(tmp_path / "empty"))
    assert result.code == 0 and "has no members.json: nothing was ever published there" in result.stderr
    assert "not yet published" in result.stdout


def test_a_sign_in_the_store_cannot_record_still_signs_in_and_is_logged(tmp_path):
    repo = make_repo(tmp_path / "repo", communities(member("a.martin@example.org", 100)))
    store_dir = tmp_path / "store"
    publish_members(repo, store_dir)
    (store_dir / "sign-ins").write_text("not a folder")  # every sign-in record fails to be written
    keys = tmp_path / "keys"
    tokens.init(keys)
    with gate_in_process(store_dir, keys) as gate:
        gate.refresh()
        cookie = gate.sign_in("energie", "a.martin@example.org")  # asserts the 303 and the session
        settle_records(gate)
        gate.gate.log.flush()
        assert cookie and '"event": "sign-in not recorded"' in gate.logs.getvalue()
