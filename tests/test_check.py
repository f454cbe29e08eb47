"""``diplomatie check``: every blocking case exits 1 with path:line:col, a code and a hint."""

import datetime as dt
import json

import pytest
from contentrepo import cable_text, cli, make_repo


@pytest.fixture
def repo(tmp_path):
    r = make_repo(tmp_path / "repo")
    r.cable("2026-BERLIN-0001")
    return r


def test_clean_repository_passes(repo):
    result = repo.run("check")
    assert result.code == 0, result.output
    assert "0 errors" in result.stdout


def finding(repo, code, *args):
    result = repo.run("check", "--format", "json", *args)
    data = json.loads(result.stdout)
    hits = [f for f in data["findings"] if f["code"] == code]
    return result, hits


@pytest.mark.parametrize("label", ["SECRET", "Confidentiel Défense", "DIFFUSION RESTREINTE", "NATO SECRET",
                                   "secret//noforn", "RESTREINT UE", "", "NON CLASIFIE"])
def test_classified_label_fails_naming_file_line_and_value(repo, label):
    repo.cable("2026-BERLIN-0002", classification=label)
    result, hits = finding(repo, "E301")
    assert result.code == 1
    [hit] = hits
    assert hit["path"] == "content/2026/2026-BERLIN-0002.md"
    assert hit["line"] == 7  # the classification key's line in the file
    assert repr(label) in hit["message"]


def test_missing_classification_fails(repo):
    repo.cable("2026-BERLIN-0002", classification=None)
    result, hits = finding(repo, "E301")
    assert result.code == 1 and hits and "missing" in hits[0]["message"]


def test_marking_in_body_fails_with_its_line(repo):
    repo.cable("2026-BERLIN-0002", body="Premier paragraphe.\n\n(DR) Deuxième paragraphe.\n")
    result = repo.run("check")
    assert result.code == 1
    assert "content/2026/2026-BERLIN-0002.md:13:1: E302" in result.stdout
    assert "hint:" in result.stdout


def test_marking_in_title_fails(repo):
    repo.cable("2026-BERLIN-0002", title="SECRET//NOFORN")
    result, hits = finding(repo, "E302")
    assert result.code == 1 and hits[0]["line"] == 3


def test_prose_about_secrets_passes(repo):
    repo.cable("2026-BERLIN-0002", body="Le secret des affaires et a confidential source.\n")
    assert repo.run("check").code == 0


def test_text_output_is_path_line_col_code_message(repo):
    repo.cable("2026-BERLIN-0002", language="de")
    out = repo.run("check").stdout
    assert "content/2026/2026-BERLIN-0002.md:9:1: E206 'language' is 'de'" in out


@pytest.mark.parametrize(
    ("front", "code"),
    [
        ({"title": None}, "E201"),
        ({"classifcation": "NC"}, "E202"),
        ({"subjects": "energie"}, "E203"),
        ({"date": "14/03/2026"}, "E204"),
        ({"date": "2026-02-30"}, "E204"),
        ({"author": "not-an-address"}, "E205"),
        ({"post": "berlin"}, "E206"),
        ({"status": "draft"}, "E206"),
        ({"id": "2026-BERLIN-0009"}, "E207"),
        ({"communities": ["nowhere"]}, "E401"),
        ({"supersedes": "2020-BERLIN-0001"}, "E402"),
        ({"embargo": "2026-12-01T09:00:00"}, "E204"),
        ({"title": 42}, "E203"),
    ],
)
def test_front_matter_errors(repo, front, code):
    repo.cable("2026-BERLIN-0002", **front)
    result, hits = finding(repo, code)
    assert result.code == 1, result.output
    assert hits, result.stdout
    assert hits[0]["path"] == "content/2026/2026-BERLIN-0002.md"
    assert hits[0]["hint"]


def test_unknown_key_suggests_the_right_one(repo):
    repo.cable("2026-BERLIN-0002", classifcation="NC")
    _, hits = finding(repo, "E202")
    assert "classification" in hits[0]["hint"]


def test_yaml_syntax_error_names_its_line(repo):
    repo.write("content/2026/2026-BERLIN-0002.md", "---\nid: 2026-BERLIN-0002\ntitle: [unclosed\n---\nbody\n")
    result, hits = finding(repo, "E106")
    assert result.code == 1 and hits[0]["line"] >= 3


def test_duplicate_key_is_an_error(repo):
    text = cable_text("2026-BERLIN-0002").replace("language: fr\n", "language: fr\nclassification: SECRET\n")
    repo.write("content/2026/2026-BERLIN-0002.md", text)
    result, hits = finding(repo, "E209")
    assert result.code == 1 and hits


def test_missing_front_matter(repo):
    repo.write("content/2026/2026-BERLIN-0002.md", "Just text.\n")
    assert finding(repo, "E105")[1]


def test_duplicate_ids(repo):
    repo.write("content/2025/2026-BERLIN-0001.md", cable_text("2026-BERLIN-0001"))
    result, hits = finding(repo, "E208")
    assert result.code == 1 and hits


def test_not_utf8(repo):
    repo.write("content/2026/2026-BERLIN-0002.md", cable_text("2026-BERLIN-0002").encode("latin-1"))
    result, hits = finding(repo, "E101")
    assert result.code == 1 and hits[0]["line"] == 3


def test_over_one_mib(repo):
    repo.cable("2026-BERLIN-0002", body="x" * (1024 * 1024 + 1))
    assert finding(repo, "E102")[0].code == 1


def test_symlink_is_refused(repo, tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text(cable_text("2026-BERLIN-0003"))
    (repo.root / "content/2026/2026-BERLIN-0003.md").symlink_to(outside)
    result, hits = finding(repo, "E103")
    assert result.code == 1 and hits[0]["path"] == "content/2026/2026-BERLIN-0003.md"


def test_file_outside_layout(repo):
    repo.write("content/notes.txt", "hello")
    assert finding(repo, "E104")[1]


@pytest.mark.parametrize("html", [
    "<script>alert(1)</script>", '<img src="x.png" onerror="alert(1)">', "[clic](javascript:alert(1))",
    '<iframe src="https://example.org"></iframe>', "<object data=x></object>", "<embed src=x>",
    '<form action="https://example.org">', "![pixel](https://tracker.example.org/p.gif)",
])
def test_unsafe_html_is_refused(repo, html):
    repo.cable("2026-BERLIN-0002", body=f"Texte.\n\n{html}\n")
    result, hits = finding(repo, "E501")
    assert result.code == 1 and hits[0]["line"] == 13


def test_harmless_html_and_links_pass(repo):
    repo.cable("2026-BERLIN-0002", body="Texte <em>souligné</em>, [site](https://www.diplomatie.gouv.fr).\n")
    assert repo.run("check").code == 0


def test_approval_by_non_editor_is_a_warning_and_holds_the_cable(repo):
    text = cable_text("2026-BERLIN-0002", approvals=[{
        "community": "energie", "by": "intrus@example.org", "date": dt.datetime(2026, 3, 15, 10, tzinfo=dt.UTC),
        "digest": "sha256:" + "0" * 64}])
    repo.write("content/2026/2026-BERLIN-0002.md", text)
    result, hits = finding(repo, "W604")
    # a warning, not an error: removing an editor must not make the whole repository invalid
    assert result.code == 0 and "intrus@example.org" in hits[0]["message"], result.output
    assert hits[0]["line"] == 11 and "diplomatie approve 2026-BERLIN-0002" in hits[0]["hint"]
    assert repo.run("check", "--strict").code == 1


def test_invitation_by_non_editor_fails(repo):
    text = (repo.root / "communities.yaml").read_text()
    text = text.replace("invited_by: ambassadeur@diplomatie.gouv.fr", "invited_by: someone@example.org")
    repo.communities(text)
    result, hits = finding(repo, "E404")
    assert result.code == 1 and hits[0]["path"] == "communities.yaml"


def test_unknown_cable_in_rules_fails(repo):
    text = (repo.root / "communities.yaml").read_text().replace(
        "subjects:\n      - energie", "subjects:\n      - energie\n      cables:\n      - 2026-PARIS-0042")
    repo.communities(text)
    result, hits = finding(repo, "E402")
    assert result.code == 1 and hits[0]["path"] == "communities.yaml"


def test_communities_yaml_errors(repo):
    repo.communities("communities:\n  energie:\n    title: x\n    langage: fr\n")
    result = repo.run("check")
    assert result.code == 1
    assert "communities.yaml:4:5: E202 unknown key 'langage'" in result.stdout
    assert "E201" in result.stdout


def test_warnings_do_not_fail_unless_strict(repo):
    repo.cable("2026-DAKAR-0001", subjects=["sante"])  # selected by no community
    result = repo.run("check")
    assert result.code == 0 and "W602" in result.stdout
    assert repo.run("check", "--strict").code == 1


def test_expired_member_is_a_warning(repo):
    text = (repo.root / "communities.yaml").read_text().replace("2099-06-30", "2020-01-01")
    repo.communities(text)
    result = repo.run("check")
    assert result.code == 0 and "W603" in result.stdout


def test_all_problems_are_reported_in_one_run(repo):
    repo.cable("2026-BERLIN-0002", classification="SECRET")
    repo.cable("2026-BERLIN-0003", language="de")
    repo.write("content/2026/2026-BERLIN-0004.md", "no front matter")
    out = repo.run("check").stdout
    assert "E301" in out and "E206" in out and "E105" in out


def test_codequality_report(repo):
    repo.cable("2026-BERLIN-0002", classification="SECRET")
    result = repo.run("check", "--format", "codequality")
    assert result.code == 1
    report = json.loads(result.stdout)
    entry = next(e for e in report if e["check_name"].startswith("E301"))
    assert entry["severity"] == "blocker"
    assert entry["location"] == {"path": "content/2026/2026-BERLIN-0002.md", "lines": {"begin": 7}}
    assert len({e["fingerprint"] for e in report}) == len(report)


def test_exit_codes_seen_from_a_shell(repo):
    assert cli("check", "--root", str(repo.root)).returncode == 0
    repo.cable("2026-BERLIN-0002", classification="SECRET")
    proc = cli("check", "--root", str(repo.root))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert cli("check", "--root", str(repo.root / "missing")).returncode != 0


def test_unreadable_expiry_drops_the_member_instead_of_keeping_them_for_ever(repo):
    text = (repo.root / "communities.yaml").read_text().replace("2099-06-30", "30/06/2099")
    repo.communities(text)
    result, hits = finding(repo, "E204")
    assert result.code == 1 and hits[0]["path"] == "communities.yaml"
    from pipeline.repository import load

    community = load(repo.root).communities["energie"]
    assert community.members == ()
    assert not community.is_member("a.martin@example.org", dt.date(2026, 1, 1))


