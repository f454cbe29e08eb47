"""``diplomatie approve``: appends one approval, keeps every other byte, refuses non-editors."""

import pytest
from contentrepo import EDITOR, cable_text, make_repo


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo")


COMMENTED = """---
# Télégramme diplomatique
id: 2026-BERLIN-0001
title: "Sécurité énergétique"   # titre provisoire
post: BERLIN
date: 2026-03-14
author: agent@diplomatie.gouv.fr
classification: NON CLASSIFIÉ
language: fr
subjects:
  - energie   # principal
---
Le texte.
"""


def test_approve_keeps_the_file_byte_for_byte(repo):
    path = repo.write("content/2026/2026-BERLIN-0001.md", COMMENTED)
    result = repo.approve("2026-BERLIN-0001", "energie")
    assert "approved for energie" in result.stdout
    text = path.read_text()
    head, added = text.split("approvals:\n")
    assert head == COMMENTED.split("---\nLe texte.")[0]
    assert added.startswith(f"  - community: energie\n    by: {EDITOR}\n    date: ")
    assert text.endswith("---\nLe texte.\n")


def test_second_approval_is_appended_to_the_list(repo):
    path = repo.write("content/2026/2026-NEW-YORK-ONU-0001.md",
                      cable_text("2026-NEW-YORK-ONU-0001", subjects=["energie"]))
    repo.approve("2026-NEW-YORK-ONU-0001", "energie")
    first = path.read_text()
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    second = path.read_text()
    assert second.count("- community:") == 2
    assert second.startswith(first.split("---\nLe texte")[0])


def test_approval_of_an_edited_cable_adds_a_fresh_one(repo):
    path = repo.cable()
    repo.approve("2026-BERLIN-0001", "energie")
    path.write_text(path.read_text().replace("Le texte", "Un autre texte"))
    repo.approve("2026-BERLIN-0001", "energie")
    from pipeline.cables import Findings, parse

    cable = parse("x", path.read_bytes(), Findings())
    assert [a.digest == cable.digest for a in cable.approvals] == [False, True]


def test_flow_style_empty_list_is_rewritten(repo):
    path = repo.write("content/2026/2026-BERLIN-0001.md",
                      cable_text("2026-BERLIN-0001").replace("language: fr\n", "language: fr\napprovals: []\n"))
    repo.approve("2026-BERLIN-0001", "energie")
    assert "approvals:\n  - community: energie" in path.read_text()


def test_non_editor_is_refused_and_file_untouched(repo):
    path = repo.cable()
    before = path.read_bytes()
    result = repo.run("approve", "2026-BERLIN-0001", "--community", "energie", "--editor", "intrus@example.org")
    assert result.code == 1
    assert "not an editor of community 'energie'" in result.output
    assert path.read_bytes() == before


def test_unknown_community_or_cable_is_refused(repo):
    repo.cable()
    assert repo.run("approve", "2026-BERLIN-0001", "--community", "nope", "--editor", EDITOR).code == 1
    assert repo.run("approve", "2026-BERLIN-0099", "--community", "energie", "--editor", EDITOR).code == 1


def test_cable_with_errors_cannot_be_approved(repo):
    path = repo.cable(classification="SECRET")
    before = path.read_bytes()
    result = repo.run("approve", "2026-BERLIN-0001", "--community", "energie", "--editor", EDITOR)
    assert result.code == 1 and "E301" in result.output
    assert path.read_bytes() == before


def test_same_approval_twice_is_refused(repo):
    repo.cable()
    repo.approve("2026-BERLIN-0001", "energie")
    result = repo.run("approve", "2026-BERLIN-0001", "--community", "energie", "--editor", EDITOR)
    assert result.code == 1 and "already approved" in result.output
