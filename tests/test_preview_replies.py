"""``diplomatie preview`` shows under the cable the members' replies the community would show, built
exactly as the published page builds them; a reply waiting for approval, a private reply or another
community's reply is never on the page (the preview says how many wait)."""

from __future__ import annotations

from pathlib import Path

import pytest
from contentrepo import EDITOR, make_repo
from test_build import build
from test_replies_publish import add_reply

#: Selected by both communities (energie by its subject, onu by its post), published by both.
SHARED = "2026-NEW-YORK-ONU-0002"
HELD = "2026-BERLIN-0002"
TEXT = {
    "shown": "Une réponse *approuvée*, avec [un lien](https://example.org/rapport) et `du code`.",
    "waiting": "Une réponse qui attend l'éditeur, canari-attente.",
    "private": "Pour les rédacteurs seulement, canari-privé.",
    "onu": "A reply to the United Nations community, canary-onu.",
    "held": "Sous un télégramme pas encore approuvé, canari-retenu.",
}


def approve(repo, target: str, community: str = "energie") -> None:
    result = repo.run("approve", target, "--community", community, "--editor", EDITOR)
    assert result.code == 0, result.output


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = make_repo(tmp_path_factory.mktemp("preview-replies") / "repo")
    repo.cable(SHARED, title="Energy at the UN", subjects=["energie"], language="en")
    repo.cable(HELD, title="Hydrogène")
    approve(repo, SHARED, "energie")
    approve(repo, SHARED, "onu")
    ids = {}
    _, ids["shown"] = add_reply(repo, SHARED, text=TEXT["shown"], n=1)
    approve(repo, ids["shown"])
    _, ids["waiting"] = add_reply(repo, SHARED, text=TEXT["waiting"], n=2)
    _, ids["private"] = add_reply(repo, SHARED, text=TEXT["private"], n=3, visibility="editors")
    _, ids["onu"] = add_reply(repo, SHARED, text=TEXT["onu"], n=4, community="onu")
    approve(repo, ids["onu"], "onu")
    _, ids["held"] = add_reply(repo, HELD, text=TEXT["held"], n=5)
    approve(repo, ids["held"])
    repo.commit("Cables and replies")
    repo.ids = ids
    return repo


def section(html: str) -> str:
    """The replies' section of a cable page ("" when the page has none)."""
    if '<section class="dip-replies"' not in html:
        return ""
    rest = html[html.index('<section class="dip-replies"'):]
    return rest[:rest.index("</section>") + len("</section>")]


def pages(stdout: str) -> dict[str, Path]:
    return {fields[0]: Path(fields[2]) for line in stdout.splitlines() if len(fields := line.split("\t")) == 3}


def test_the_preview_shows_the_replies_the_page_will_show_built_exactly_as_published(repo, tmp_path):
    result = repo.run("--lang", "en", "preview", SHARED, "--out", str(tmp_path / "preview"))
    assert result.code == 0, result.output
    found = pages(result.stdout)
    energie = found["energie"].read_text(encoding="utf-8")
    onu = found["onu"].read_text(encoding="utf-8")
    ids = repo.ids
    # energie: its approved reply, rendered; nothing of the waiting, private or onu replies
    assert "<em>approuvée</em>" in section(energie) and ids["shown"].split("/")[1] in energie
    for other in ("waiting", "private", "onu"):
        assert ids[other].split("/")[1] not in energie
    assert "canari" not in energie and "canary" not in energie
    # onu: its own reply only
    assert "canary-onu" in section(onu) and "approuvée" not in onu and "canari" not in onu
    # The same section, byte for byte, as the published site's page
    build(repo.root, tmp_path / "site", jobs=1)
    for community, page in found.items():
        built = (tmp_path / "site" / community / "2026" / f"{SHARED}.html").read_text(encoding="utf-8")
        assert section(built) and section(page.read_text(encoding="utf-8")) == section(built)
    # What the command says of the replies, per community
    text = result.stdout
    energie_lines = text[text.index("energie\t"):text.index("onu\t")]
    assert "  1 member's reply shown under the cable" in energie_lines
    assert "  1 member's reply waiting for an editor's approval, not shown" in energie_lines
    onu_lines = text[text.index("onu\t"):]
    assert "  1 member's reply shown under the cable" in onu_lines and "waiting" not in onu_lines


def test_a_held_cable_is_previewed_with_the_replies_it_will_show_once_published(repo, tmp_path):
    """The preview builds the page as if the community published the cable: its approved replies are
    on it, as they will be once the cable is approved."""
    result = repo.run("--lang", "en", "preview", HELD, "--out", str(tmp_path / "preview"))
    assert result.code == 0, result.output
    [(community, page)] = pages(result.stdout).items()
    assert community == "energie" and "would be held: not approved" in result.stdout
    html = page.read_text(encoding="utf-8")
    assert "canari-retenu" in section(html) and "approuvée" not in html
    assert "  1 member's reply shown under the cable" in result.stdout


def test_a_cable_without_replies_says_nothing_of_replies(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.cable(HELD)
    repo.commit("A cable")
    result = repo.run("--lang", "en", "preview", HELD, "--out", str(tmp_path / "preview"))
    assert result.code == 0, result.output
    assert len(result.stdout.splitlines()) == 2  # the folder, and the community's line: nothing of replies
    assert section(pages(result.stdout)["energie"].read_text(encoding="utf-8")) == ""
