"""What was withdrawn or embargoed stays out, whatever the ref, the date or the rollback.

The store's withdrawn register (pipeline/withdrawals.py, docs/storage.md) remembers every cable a
publication saw withdrawn; no later publication of an older version, no rollback, and no copy of its
text under another id brings it back. Reinstating takes a new commit and a fresh approval.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from contentrepo import EDITOR, Result, make_repo
from hypothesis import given, settings
from hypothesis import strategies as st
from sitefactory import make_site

from gate.store import FolderStore, read_manifest, read_pointer, read_withdrawals
from pipeline import approvals, cables, communities, withdrawals
from pipeline.cli import main
from pipeline.findings import Findings
from pipeline.publish import PublishError, publish_site

CABLE = "2026-BERLIN-0002"


@pytest.fixture
def repo(tmp_path):
    """Two approved cables, published; then CABLE withdrawn in a new commit and published again."""
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001", "Analyse du marché de l'électricité.\n")
    repo.cable(CABLE, "Un paragraphe qui sera retiré.\n")
    for cable_id in ("2026-BERLIN-0001", CABLE):
        approve(repo, cable_id, dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC))
    repo.commit("two cables, approved", date="2026-01-06T10:00:00Z")
    publish(repo, tmp_path)
    assert CABLE in served(tmp_path)
    path = repo.root / f"content/2026/{CABLE}.md"
    path.write_text(path.read_text().replace("language: fr\n", "language: fr\nstatus: withdrawn\n"))
    # A minute ago: git dates commits to the second, and an approval made in the same second as the
    # withdrawal does not count after it (fail closed), which would make the tests below depend on
    # how fast the machine runs them.
    a_minute_ago = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    repo.commit("withdraw", date=a_minute_ago.strftime("%Y-%m-%dT%H:%M:%SZ"))
    out = publish(repo, tmp_path, fmt="text")
    assert f"{CABLE}: withdrawn, recorded in the register" in out.stdout
    assert CABLE not in served(tmp_path)
    return repo


def approve(repo, cable_id: str, when: dt.datetime, community: str = "energie") -> None:
    """An approval dated ``when`` (``diplomatie approve`` dates it now), as ``approve`` writes it."""
    found = Findings()
    data = (repo.root / "communities.yaml").read_bytes()
    path = repo.root / f"content/{cable_id[:4]}/{cable_id}.md"
    cable = cables.parse(path.relative_to(repo.root).as_posix(), path.read_bytes(), Findings())
    approvals.approve(path, communities.parse(data, found)[community], EDITOR, when,
                      withdrawn_since=withdrawals.last_withdrawn(repo.root, cable))


def publish(repo, tmp_path, *extra, fmt="json", code=0) -> Result:
    result = repo.run("publish", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "build"),
                      "--format", fmt, "--community", "energie", *extra)
    assert result.code == code, result.output
    return result


def served(tmp_path, community: str = "energie") -> tuple[str, ...]:
    store = FolderStore(tmp_path / "store")
    return read_manifest(store, community, read_pointer(store, community).release).cables


def register(tmp_path):
    return read_withdrawals(FolderStore(tmp_path / "store"))


def test_the_register_records_the_withdrawal_with_its_commit_and_digests(repo, tmp_path):
    [record] = register(tmp_path)
    assert record.cable == CABLE and record.action == "withdrawn"
    assert record.commit == repo.git("rev-parse", "HEAD").strip()
    assert len(record.text_digests) >= 1 and len(record.digests) == 2  # the active version, the withdrawn one
    [key] = FolderStore(tmp_path / "store").list("withdrawn/")
    assert key.startswith(f"withdrawn/{CABLE}/") and "-withdrawn-" in key


@pytest.mark.parametrize("version", [("--ref", "HEAD~1"), ("--ref", "main~1"), ("--at", "2026-01-07")])
def test_publishing_an_older_version_does_not_bring_a_withdrawn_cable_back(repo, tmp_path, version):
    option, value = version
    result = publish(repo, tmp_path, option, value, fmt="text")
    assert "withdrawn in the register: held" in result.stderr
    assert CABLE not in served(tmp_path) and "2026-BERLIN-0001" in served(tmp_path)
    assert len(register(tmp_path)) == 1  # nothing reinstated


def test_a_release_naming_a_withdrawn_cable_is_refused_whatever_built_it(repo, tmp_path):
    """The last line: even a site built outside the plan (here by hand) cannot be published."""
    site = make_site(tmp_path / "other", "energie", {CABLE: "Un paragraphe qui sera retiré.",
                                                      "2026-BERLIN-0001": "Analyse."})
    with pytest.raises(PublishError, match=f"publication refused: it holds {CABLE}, withdrawn on"):
        publish_site(FolderStore(tmp_path / "store"), site)
    assert CABLE not in served(tmp_path)


def test_rollback_to_a_release_that_held_it_is_refused_naming_the_cable(repo, tmp_path):
    store = FolderStore(tmp_path / "store")
    from pipeline.publish import list_releases

    holding = [r.release for r in list_releases(store, "energie")
               if CABLE in read_manifest(store, "energie", r.release).cables]
    assert holding
    result = CliRunner().invoke(main, ["rollback", "energie", "--store", str(tmp_path / "store"),
                                       "--to", holding[0]])
    assert result.exit_code == 1 and CABLE in result.output and "withdrawn" in result.output
    default = CliRunner().invoke(main, ["rollback", "energie", "--store", str(tmp_path / "store")])
    assert default.exit_code == 1 and CABLE not in served(tmp_path)


def test_the_same_text_under_another_id_is_held_too(repo, tmp_path):
    repo.cable("2026-BERLIN-0009", "Un  paragraphe qui\nsera RETIRÉ.\n")  # re-wrapped, re-cased
    approve(repo, "2026-BERLIN-0009", dt.datetime.now(dt.UTC).replace(microsecond=0))
    repo.commit("the same text again")
    publish(repo, tmp_path)
    assert "2026-BERLIN-0009" not in served(tmp_path)
    plan = repo.run("plan", "--format", "json", "--store", str(tmp_path / "store"))
    held = {h["id"]: h["reason"] for h in json.loads(plan.stdout)["communities"]["energie"]["held"]}
    assert held["2026-BERLIN-0009"] == f"withdrawn (same text as {CABLE})"


def set_active(repo) -> None:
    """Back to the text before the withdrawal: the old approvals match its digest again."""
    path = repo.root / f"content/2026/{CABLE}.md"
    path.write_text(path.read_text().replace("status: withdrawn\n", ""))


def test_a_new_commit_setting_it_active_is_not_enough(repo, tmp_path):
    set_active(repo)
    repo.commit("active again, with the approval of before")
    plan = repo.run("plan", "--format", "json", "--store", str(tmp_path / "store"))
    held = {h["id"]: h["reason"] for h in json.loads(plan.stdout)["communities"]["energie"]["held"]}
    assert held == {CABLE: "withdrawn"}
    publish(repo, tmp_path)
    assert CABLE not in served(tmp_path)
    assert [r.action for r in register(tmp_path)] == ["withdrawn"]


def test_a_fresh_approval_without_a_new_commit_is_not_enough(repo, tmp_path):
    [withdrawal] = register(tmp_path)
    after = dt.datetime.fromisoformat(withdrawal.at.replace("Z", "+00:00")) + dt.timedelta(seconds=1)
    set_active(repo)
    approve(repo, CABLE, after)  # in the working tree, never committed
    publish(repo, tmp_path)
    assert CABLE not in served(tmp_path)
    assert [r.action for r in register(tmp_path)] == ["withdrawn"]


def test_a_new_commit_and_a_fresh_approval_reinstate_it_and_the_register_says_so(repo, tmp_path):
    [withdrawal] = register(tmp_path)
    after = dt.datetime.fromisoformat(withdrawal.at.replace("Z", "+00:00")) + dt.timedelta(seconds=1)
    set_active(repo)
    approve(repo, CABLE, after)
    commit = repo.commit("reinstate, approved again")
    out = publish(repo, tmp_path, fmt="text")
    assert f"{CABLE}: reinstated" in out.stdout
    assert CABLE in served(tmp_path)
    reinstated = register(tmp_path)[-1]
    assert reinstated.action == "reinstated" and reinstated.commit == commit
    assert reinstated.approvals == ({"community": "energie", "by": EDITOR, "date": after.strftime("%Y-%m-%dT%H:%M:%SZ")},)
    assert reinstated.by  # who published it


def test_an_approval_dated_before_the_withdrawal_does_not_reinstate(repo, tmp_path):
    [withdrawal] = register(tmp_path)
    before = dt.datetime.fromisoformat(withdrawal.at.replace("Z", "+00:00")) - dt.timedelta(days=1)
    set_active(repo)
    path = repo.root / f"content/2026/{CABLE}.md"
    path.write_text(path.read_text().replace("Un paragraphe", "Un nouveau paragraphe"))
    approve(repo, CABLE, before)
    repo.commit("active, approved with a back-dated approval")
    result = publish(repo, tmp_path)
    assert CABLE not in served(tmp_path)
    assert [r.action for r in register(tmp_path)] == ["withdrawn"]
    assert result.code == 0


def test_approve_takes_a_fresh_approval_of_a_version_approved_before_its_withdrawal(repo):
    set_active(repo)  # the text approved in January again: that approval no longer counts
    result = repo.approve(CABLE, "energie")
    assert "approved for energie" in result.stdout
    again = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR)
    assert again.code == 1 and "already approved this version" in again.output


# --- embargoes: judged against the real clock; --at names the past only ---------------------------


@pytest.fixture
def embargoed(tmp_path):
    repo = make_repo(tmp_path / "repo")
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0)
    repo.cable("2026-BERLIN-0001", "Embargo à venir.\n", embargo=soon)
    repo.cable("2026-BERLIN-0003", "Embargo levé.\n", embargo=dt.datetime(2026, 2, 1, 9, tzinfo=dt.UTC))
    for cable_id in ("2026-BERLIN-0001", "2026-BERLIN-0003"):
        approve(repo, cable_id, dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC))
    repo.commit("two embargoed cables", date="2026-01-06T10:00:00Z")
    return repo


@pytest.mark.parametrize("moment", ["+1d", "+400d", "+1s", "2199-12-31"])
def test_publish_at_a_future_date_is_refused(embargoed, tmp_path, moment):
    now = dt.datetime.now(dt.UTC)
    if moment.startswith("+"):
        amount = int(moment[1:-1])
        delta = dt.timedelta(days=amount) if moment.endswith("d") else dt.timedelta(seconds=amount + 5)
        moment = (now + delta).isoformat() if moment.endswith("s") else (now + delta).date().isoformat()
    result = publish(embargoed, tmp_path, "--at", moment, fmt="text", code=2)
    assert "is in the future" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "store" / "members.json").exists()  # refused before anything is written


def test_publish_at_today_or_a_past_date_judges_embargoes_against_the_real_clock(embargoed, tmp_path):
    publish(embargoed, tmp_path, "--at", "2026-01-07")
    # embargo lifted on 2026-02-01 (past at the real clock, future at --at): published
    assert served(tmp_path) == ("2026-BERLIN-0003",)
    publish(embargoed, tmp_path, "--at", dt.datetime.now(dt.UTC).date().isoformat())
    assert served(tmp_path) == ("2026-BERLIN-0003",)


def test_build_at_any_date_reproduces_what_the_plan_said_then(embargoed, tmp_path):
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=60)).date().isoformat()
    result = embargoed.run("build", "--at", later, "--out", str(tmp_path / "b"), "--json")
    assert result.code == 0, result.output
    assert json.loads(result.stdout)["energie"]["cables"] == 2


def test_an_unreadable_register_refuses_publication_and_rollback_but_not_revocation(repo, tmp_path):
    store = FolderStore(tmp_path / "store")
    store.put(f"withdrawn/{CABLE}/20990101T000000.000000Z-withdrawn-deadbeef.json", b"{not json")
    data = (repo.root / "communities.yaml").read_text().replace("a.martin@example.org", "b.durand@example.org")
    repo.communities(data)
    repo.commit("replace a member")
    result = publish(repo, tmp_path, fmt="text", code=1)
    assert "withdrawn register cannot be read" in result.output and "members.json was written" in result.output
    assert "b.durand@example.org" in json.loads(store.get("members.json"))["communities"]["energie"]["members"]
    rollback = CliRunner().invoke(main, ["rollback", "energie", "--store", str(tmp_path / "store")])
    assert rollback.exit_code == 1 and "withdrawn register cannot be read" in rollback.output


def test_rollback_recognises_a_withdrawn_text_under_another_id(tmp_path):
    """Through the store alone: the ledger keeps each release's text digests, the register the
    withdrawn ones; even without the not-restorable marker, the rollback is refused."""
    from gate.store import WithdrawalRecord, unrestorable_key, write_withdrawal
    from pipeline.publish import rollback
    from pipeline.withdrawals import text_digest

    store = FolderStore(tmp_path / "store")
    text = "Le texte retiré, publié sous un autre numéro."
    first = publish_site(store, make_site(tmp_path / "s", "energie", {"2026-BERLIN-0009": text}),
                         text_digests={"2026-BERLIN-0009": text_digest(text)})
    publish_site(store, make_site(tmp_path / "s", "energie", {"2026-BERLIN-0001": "Autre chose."}))
    write_withdrawal(store, WithdrawalRecord(CABLE, "withdrawn", "2026-11-01T00:00:00Z", None, "test",
                                             text_digests=(text_digest(text.upper()),)),
                     dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    store.delete([unrestorable_key("energie", first.release)])
    with pytest.raises(PublishError, match=f"2026-BERLIN-0009, whose text is that of the withdrawn cable {CABLE}"):
        rollback(store, "energie", first.release)


# --- the class: every release in the store, every disguise of the text -----------------------------


def test_no_rollback_to_any_release_serves_the_withdrawn_cable(repo, tmp_path):
    from pipeline.publish import list_releases

    publish(repo, tmp_path, "--ref", "HEAD~1")  # one more release, from the older version
    store = FolderStore(tmp_path / "store")
    for release in list_releases(store, "energie"):
        result = CliRunner().invoke(main, ["rollback", "energie", "--store", str(tmp_path / "store"),
                                           "--to", release.release])
        assert CABLE not in served(tmp_path), release
        if CABLE in read_manifest(store, "energie", release.release).cables:
            assert result.exit_code == 1 and CABLE in result.output


WITHDRAWN_TEXT = "Le ministre a confirmé, lors de l'entretien du 12 mars, la reprise des livraisons.\n"


def spacing(draw_text: str, seps: list[str]) -> str:
    words = draw_text.split()
    return "".join(w + seps[i % len(seps)] for i, w in enumerate(words))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from([" ", "  ", "\n", "\t", " \n", "\u00a0"]), min_size=1, max_size=6),
       st.sampled_from([str.upper, str.lower, str.title, lambda t: t]),
       st.sampled_from(["2026-BERLIN-0009", "2025-PARIS-DGM-0001", "2026-NEW-YORK-ONU-0042"]))
def test_the_same_text_reflowed_recased_or_under_another_id_is_recognised(seps, case, other_id):
    from gate.store import WithdrawalRecord
    from pipeline.withdrawals import Register, text_digest

    register = Register((WithdrawalRecord(CABLE, "withdrawn", "2026-11-01T00:00:00Z", None, "t",
                                          text_digests=(text_digest(WITHDRAWN_TEXT),)),))
    disguised = case(spacing(WITHDRAWN_TEXT, seps))
    assert register.same_text(other_id, text_digest(disguised)) == CABLE
    assert "withdrawn cable" in register.refusal([other_id], {other_id: text_digest(disguised)})


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(0, len(WITHDRAWN_TEXT.split()) - 1), st.sampled_from(["avril", "suspension", "x", ""]))
def test_a_different_text_is_not_mistaken_for_the_withdrawn_one(index, word):
    from gate.store import WithdrawalRecord
    from pipeline.withdrawals import Register, text_digest

    words = WITHDRAWN_TEXT.split()
    if words[index] == word:
        return
    words[index] = word
    register = Register((WithdrawalRecord(CABLE, "withdrawn", "2026-11-01T00:00:00Z", None, "t",
                                          text_digests=(text_digest(WITHDRAWN_TEXT),)),))
    assert register.same_text("2026-BERLIN-0009", text_digest(" ".join(words))) is None
