"""``diplomatie plan``: exactly which cables each community publishes, and why the others are held."""

import datetime as dt
import json

import pytest
from contentrepo import EDITOR, make_repo


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo")


def plan(repo, *args):
    result = repo.run("plan", "--format", "json", *args)
    assert result.code == 0, result.output
    return json.loads(result.stdout)["communities"]


def held(plan_json, community):
    return {h["id"]: h["reason"] for h in plan_json[community]["held"]}


def test_approved_cable_is_published(repo):
    repo.cable("2026-BERLIN-0001")
    repo.approve("2026-BERLIN-0001", "energie")
    p = plan(repo)
    assert p["energie"] == {"publish": ["2026-BERLIN-0001"], "held": []}
    assert p["onu"] == {"publish": [], "held": []}


def test_unapproved_cable_is_held(repo):
    repo.cable("2026-BERLIN-0001")
    assert held(plan(repo), "energie") == {"2026-BERLIN-0001": "not approved"}


def test_stale_approval_blocks_publication(repo):
    path = repo.cable("2026-BERLIN-0001")
    repo.approve("2026-BERLIN-0001", "energie")
    path.write_text(path.read_text().replace("Le texte", "Le nouveau texte"))
    p = plan(repo)
    assert p["energie"]["publish"] == []
    assert held(p, "energie") == {"2026-BERLIN-0001": "stale approval"}
    check = repo.run("check")
    assert check.code == 0 and "W601" in check.stdout


def test_metadata_edit_after_approval_also_needs_a_new_one(repo):
    path = repo.cable("2026-BERLIN-0001")
    repo.approve("2026-BERLIN-0001", "energie")
    path.write_text(path.read_text().replace("Sécurité énergétique", "Sécurité énergétique (révisé)"))
    assert held(plan(repo), "energie") == {"2026-BERLIN-0001": "stale approval"}
    repo.approve("2026-BERLIN-0001", "energie")
    assert plan(repo)["energie"]["publish"] == ["2026-BERLIN-0001"]


def test_approval_for_another_community_does_not_count(repo):
    repo.cable("2026-NEW-YORK-ONU-0001", subjects=["energie"])
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    p = plan(repo)
    assert p["onu"]["publish"] == ["2026-NEW-YORK-ONU-0001"]
    assert held(p, "energie") == {"2026-NEW-YORK-ONU-0001": "not approved"}


def test_withdrawn_cable_is_held(repo):
    repo.cable("2026-BERLIN-0001", status="withdrawn")
    repo.approve("2026-BERLIN-0001", "energie")
    assert held(plan(repo), "energie") == {"2026-BERLIN-0001": "withdrawn"}


def test_embargo_holds_until_it_passes(repo):
    repo.cable("2026-BERLIN-0001", embargo=dt.datetime(2026, 12, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=1))))
    repo.approve("2026-BERLIN-0001", "energie")
    before = plan(repo, "--now", "2026-12-01T07:59:00Z")
    assert held(before, "energie") == {"2026-BERLIN-0001": "embargoed until 2026-12-01T08:00:00Z"}
    after = plan(repo, "--now", "2026-12-01T08:00:00Z")
    assert after["energie"]["publish"] == ["2026-BERLIN-0001"]


def test_classified_cable_is_never_selected_for_publication(repo):
    repo.cable("2026-BERLIN-0001", classification="CONFIDENTIEL DÉFENSE", communities=["energie", "onu"])
    p = plan(repo)
    assert held(p, "energie") == {"2026-BERLIN-0001": "classified"}
    assert held(p, "onu") == {"2026-BERLIN-0001": "classified"}


def test_marking_in_body_holds_as_classified(repo):
    repo.cable("2026-BERLIN-0001", body="DIFFUSION RESTREINTE\n\nTexte.\n")
    assert held(plan(repo), "energie") == {"2026-BERLIN-0001": "classified"}


def test_approval_by_someone_else_does_not_count(repo):
    repo.cable("2026-BERLIN-0001")
    path = repo.root / "content/2026/2026-BERLIN-0001.md"
    from pipeline.cables import Findings, parse

    digest = parse("x", path.read_bytes(), Findings()).digest
    path.write_text(path.read_text().replace(
        "language: fr\n",
        f"language: fr\napprovals:\n  - community: energie\n    by: intrus@example.org\n"
        f"    date: 2026-03-15T10:00:00Z\n    digest: {digest}\n"))
    assert plan(repo)["energie"]["publish"] == []


def test_selection_rules(repo):
    rules = {"communities": {"c": {
        "title": "C", "description": "d", "language": "fr", "owner": EDITOR, "editors": [EDITOR],
        "select": {"subjects": ["energie", "climat"], "posts": ["BERLIN"],
                   "from": dt.date(2026, 1, 1), "until": dt.date(2026, 6, 30),
                   "cables": ["2025-DAKAR-0001"], "exclude": ["2026-BERLIN-0004"]},
    }}}
    repo.communities(rules)
    repo.cable("2026-BERLIN-0001", subjects=["climat"])                 # all filters match
    repo.cable("2026-BERLIN-0002", subjects=["sante"])                  # subject does not
    repo.cable("2026-PEKIN-0001", subjects=["energie"])                  # post does not
    repo.cable("2026-BERLIN-0003", date=dt.date(2026, 7, 1))            # after until
    repo.cable("2026-BERLIN-0004")                                       # excluded
    repo.cable("2025-DAKAR-0001", subjects=["sante"])                   # listed
    repo.cable("2026-PEKIN-0002", subjects=["sante"], communities=["c"])  # targets it itself
    p = plan(repo)
    assert sorted(held(p, "c")) == ["2025-DAKAR-0001", "2026-BERLIN-0001", "2026-PEKIN-0002"]


def test_exclude_wins_over_explicit_targeting(repo):
    text = (repo.root / "communities.yaml").read_text().replace(
        "      - energie\n", "      - energie\n      exclude:\n      - 2026-DAKAR-0001\n", 1)
    repo.communities(text)
    repo.cable("2026-DAKAR-0001", communities=["energie"])
    assert plan(repo)["energie"] == {"publish": [], "held": []}


def test_domain_rules_alone_select_nothing(repo):
    repo.cable("2026-DAKAR-0001", subjects=["sante"])
    assert plan(repo)["onu"] == {"publish": [], "held": []}


def test_publish_order_is_newest_first(repo):
    for n, day in ((1, 3), (2, 20), (3, 11)):
        repo.cable(f"2026-BERLIN-000{n}", date=dt.date(2026, 5, day))
        repo.approve(f"2026-BERLIN-000{n}", "energie")
    assert plan(repo)["energie"]["publish"] == ["2026-BERLIN-0002", "2026-BERLIN-0003", "2026-BERLIN-0001"]


def test_text_plan_names_reasons(repo):
    repo.cable("2026-BERLIN-0001", status="withdrawn")
    out = repo.run("plan").stdout
    assert "energie" in out and "2026-BERLIN-0001  withdrawn" in out


def test_approval_by_a_removed_editor_holds_the_cable_for_that_community_only(repo):
    import copy

    from contentrepo import COMMUNITIES

    repo.cable("2026-NEW-YORK-ONU-0001", subjects=["energie"])
    repo.approve("2026-NEW-YORK-ONU-0001", "energie")
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    repo.cable("2026-BERLIN-0001")
    repo.approve("2026-BERLIN-0001", "energie")
    data = copy.deepcopy(COMMUNITIES)
    data["communities"]["energie"]["editors"] = ["nouvelle.redaction@diplomatie.gouv.fr"]
    repo.communities(data)
    p = plan(repo)  # the repository stays valid: plan exits 0, every other community goes on
    assert held(p, "energie") == {"2026-NEW-YORK-ONU-0001": "approver no longer an editor",
                                  "2026-BERLIN-0001": "approver no longer an editor"}
    assert p["onu"]["publish"] == ["2026-NEW-YORK-ONU-0001"]
    check = repo.run("check")
    assert check.code == 0 and check.stdout.count("W604") == 2, check.output
    text = repo.run("plan")
    assert "approver no longer an editor" in text.stdout


def test_an_embargo_is_graver_than_a_removed_editor_and_a_removed_editor_graver_than_staleness(repo):
    import copy

    from contentrepo import COMMUNITIES

    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0)
    repo.cable("2026-BERLIN-0001", embargo=later)
    repo.approve("2026-BERLIN-0001", "energie")
    repo.cable("2026-BERLIN-0002")
    repo.approve("2026-BERLIN-0002", "energie")
    data = copy.deepcopy(COMMUNITIES)
    data["communities"]["energie"]["editors"] = ["nouvelle.redaction@diplomatie.gouv.fr"]
    repo.communities(data)
    reasons = held(plan(repo), "energie")
    assert reasons["2026-BERLIN-0001"].startswith("embargoed until")
    assert reasons["2026-BERLIN-0002"] == "approver no longer an editor"


def test_a_plan_made_without_a_signature_check_counts_no_approval_where_signatures_are_required(repo):
    """Fail closed: a caller that forgets to pass the signature check does not open the door."""
    import copy

    from contentrepo import COMMUNITIES

    from pipeline.plan import make_plan
    from pipeline.repository import load

    data = copy.deepcopy(COMMUNITIES)
    del data["communities"]["energie"]["require_signed_approvals"]  # the default: required
    repo.communities(data)
    repo.cable("2026-BERLIN-0001")
    repo.approve("2026-BERLIN-0001", "energie")
    plan_ = make_plan(load(repo.root))
    assert [h.reason for h in plan_.communities["energie"].held] == ["unsigned approval"]
