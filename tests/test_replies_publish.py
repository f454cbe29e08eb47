"""Members' replies shown under their cable: only shareable ones, only once an editor approved that
very version of the reply for its community, only in that community (its pages, never another's
site, search index or feed), withdrawn with their cable, and sanitised like cables."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from contentrepo import EDITOR, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_build import build, files_text

from gate import replies
from gate import store as storage
from pipeline import site, yamledit
from pipeline.build.conversions import renderer_for
from pipeline.build.job import PROJECT_DIR
from pipeline.publish import publish_site
from pipeline.repository import load

#: Selected by both communities: energie by its subject, onu by its post.
SHARED = "2026-NEW-YORK-ONU-0002"
BERLIN = "2026-BERLIN-0001"
MEMBER = "a.martin@example.org"
CANARY = "Le castor de Bruxelles répond au télégramme à l'aube."


def reply_text(community: str, cable: str, name: str, text: str, *, visibility: str = "community",
               author: str = MEMBER) -> str:
    """A reply file as ``replies pull`` writes it."""
    return (f"---\ncommunity: {community}\ncable: {cable}\nauthor: {author}\nat: '2026-12-01T09:30:05Z'\n"
            f"visibility: {visibility}\nrelease: r1\ndigest: sha256:{'ab' * 32}\n"
            f"store_key: replies/{community}/{cable}/{name.replace('-', '-x-')}.json\n---\n{text}\n")


def name_of(n: int) -> str:
    return f"20261201T0930{n:02d}.000000Z-{n:016x}"


@pytest.fixture
def repo(tmp_path):
    content = make_repo(tmp_path / "content")
    content.cable(BERLIN, title="Sécurité énergétique allemande")
    content.cable(SHARED, title="Energy at the UN", subjects=["energie"], language="en")
    content.approve(BERLIN, "energie")
    content.approve(SHARED, "energie")
    content.approve(SHARED, "onu")
    return content


def add_reply(repo, cable: str = SHARED, text: str = CANARY, n: int = 1, community: str = "energie",
              **kw) -> tuple[str, str]:
    name = name_of(n)
    path = f"replies/{community}/{cable}/{name}.md"
    repo.write(path, reply_text(community, cable, name, text, **kw))
    return path, f"{cable}/{name}"


def approve(repo, target: str, community: str = "energie"):
    return repo.run("approve", target, "--community", community, "--editor", EDITOR)


def plan(repo) -> dict:
    result = repo.run("plan", "--format", "json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)["communities"]


def everything(site_dir: Path) -> str:
    return "\n".join(files_text(site_dir).values())


def test_an_unapproved_shareable_reply_is_held_and_shown_nowhere(repo, tmp_path):
    _path, reply_id = add_reply(repo)
    assert plan(repo)["energie"]["replies"] == {"publish": [], "held": [{"id": reply_id, "reason": "not approved"}]}
    repo.commit("a reply")
    build(repo.root, tmp_path / "site", jobs=1)
    assert "castor" not in everything(tmp_path / "site")
    # Approved and committed: the next build (which updates the site in place) shows it
    assert approve(repo, reply_id).code == 0
    repo.commit("approved")
    build(repo.root, tmp_path / "site", jobs=1)
    assert "castor" in (tmp_path / f"site/energie/2026/{SHARED}.html").read_text(encoding="utf-8")
    assert "castor" not in everything(tmp_path / "site/onu")


def test_an_approved_reply_is_shown_under_its_cable_in_its_community_only(repo, tmp_path):
    path, reply_id = add_reply(repo)
    result = approve(repo, path)
    assert result.code == 0 and "approved for energie" in result.output, result.output
    assert plan(repo)["energie"]["replies"] == {"publish": [reply_id], "held": []}
    assert "replies" not in plan(repo)["onu"]
    repo.commit("an approved reply")
    builds = build(repo.root, tmp_path / "site", jobs=1)
    page = (tmp_path / "site/energie/2026" / f"{SHARED}.html").read_text(encoding="utf-8")
    section = page[page.index('<section class="dip-replies"'):]
    section = section[:section.index("</section>")]
    assert "Réponses des membres" in section and "Anne Martin" in section and MEMBER not in page
    assert CANARY.replace("'", "&#39;") in section or CANARY in section
    assert 'datetime="2026-12-01T09:30:05Z"' in section
    # Nowhere else: not on the other cable's page, not in the feed, not in the search index
    energie = files_text(tmp_path / "site/energie")
    assert [rel for rel, text in energie.items() if "castor de Bruxelles" in text] == [f"2026/{SHARED}.html"]
    # The other community publishes the same cable: its page, search index and feed hold nothing of it
    onu = files_text(tmp_path / "site/onu")
    assert f"2026/{SHARED}.html" in onu and "feed.xml" in onu and any(r.endswith(".pf_fragment") for r in onu)
    assert not [rel for rel, text in onu.items() if "castor" in text or reply_id.split("/")[1] in text]
    assert "dip-replies" not in onu[f"2026/{SHARED}.html"]
    # What publish lists in the release manifest
    assert builds["energie"].replies == {reply_id: load(repo.root).replies[reply_id].digest}
    assert builds["onu"].replies == {}


def test_an_approval_for_another_community_is_refused(repo):
    path, _reply_id = add_reply(repo)
    result = approve(repo, path, "onu")
    assert result.code == 1 and "energie" in result.output and "onu" in result.output
    assert "approvals" not in (repo.root / path).read_text(encoding="utf-8")


def test_a_reply_for_the_author_and_editors_only_is_never_published_whatever_approvals_say(repo, tmp_path):
    path, reply_id = add_reply(repo, visibility="editors")
    result = approve(repo, path)
    assert result.code == 1 and "never published" in result.output, result.output
    # An approval typed by hand, naming the reply's exact digest, counts for nothing
    digest = load(repo.root).replies[reply_id].digest
    file = repo.root / path
    file.write_text(yamledit.add_approval(file.read_text(encoding="utf-8"), {
        "community": "energie", "by": EDITOR, "date": dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC), "digest": digest}),
        encoding="utf-8")
    assert load(repo.root).replies[reply_id].approvals and load(repo.root).replies[reply_id].digest == digest
    assert "replies" not in plan(repo)["energie"]
    repo.commit("a private reply, approved by hand")
    build(repo.root, tmp_path / "site", jobs=1)
    assert CANARY not in everything(tmp_path / "site") and "castor" not in everything(tmp_path / "site")


def test_a_reply_changed_after_its_approval_is_held_as_stale(repo, tmp_path):
    path, reply_id = add_reply(repo)
    assert approve(repo, path).code == 0
    file = repo.root / path
    file.write_text(file.read_text(encoding="utf-8").replace("à l'aube", "au crépuscule"), encoding="utf-8")
    assert plan(repo)["energie"]["replies"] == {"publish": [], "held": [{"id": reply_id, "reason": "stale approval"}]}
    repo.commit("edited after approval")
    build(repo.root, tmp_path / "site", jobs=1)
    assert "castor" not in everything(tmp_path / "site")
    assert approve(repo, reply_id).code == 0  # by its id: a fresh approval of the new version
    assert plan(repo)["energie"]["replies"]["publish"] == [reply_id]


def test_withdrawing_the_cable_withdraws_its_replies(repo, tmp_path):
    path, reply_id = add_reply(repo)
    assert approve(repo, path).code == 0
    repo.commit("approved")
    build(repo.root, tmp_path / "site", jobs=1)
    assert "castor" in everything(tmp_path / "site/energie")
    cable = repo.root / f"content/2026/{SHARED}.md"
    cable.write_text(cable.read_text(encoding="utf-8").replace("language: en", "language: en\nstatus: withdrawn"),
                     encoding="utf-8")
    repo.commit("withdrawn")
    assert plan(repo)["energie"]["replies"] == {
        "publish": [], "held": [{"id": reply_id, "reason": "its cable is not published here"}]}
    build(repo.root, tmp_path / "site", jobs=1)
    assert not (tmp_path / f"site/energie/2026/{SHARED}.html").exists()
    assert "castor" not in everything(tmp_path / "site")


def test_a_reply_with_a_marking_typed_in_the_repository_fails_check_and_is_never_shown(repo):
    path, reply_id = add_reply(repo, text="Merci.\n\nCONFIDENTIEL DÉFENSE\n\nLe texte.")
    result = repo.run("check")
    assert result.code == 1 and f"{path}:" in result.output and "E302" in result.output
    assert approve(repo, path).code == 1
    assert load(repo.root).replies[reply_id].valid is False
    assert plan(repo)["energie"]["replies"]["held"] == [{"id": reply_id, "reason": "invalid (see diplomatie check)"}]


def test_the_author_is_shown_by_the_name_the_community_gives_or_as_a_member_never_by_address(repo):
    community = load(repo.root).communities["energie"]
    assert site.reply_author(community, MEMBER) == "Anne Martin"
    assert site.reply_author(community, "someone@diplomatie.gouv.fr") == ""
    renderer = renderer_for(PROJECT_DIR)
    reply = load_reply(repo, author="someone@diplomatie.gouv.fr")
    html = site.replies_section([reply], community, {}, "fr", renderer.render_reply)
    assert "Membre de la communauté" in html and "someone@" not in html


def load_reply(repo, **kw):
    _path, reply_id = add_reply(repo, **kw)
    return load(repo.root).replies[reply_id]


def test_the_manifest_lists_the_replies_shown_and_the_gate_reads_them_as_published(repo, tmp_path, store):
    path, reply_id = add_reply(repo)
    assert approve(repo, path).code == 0
    repo.commit("approved")
    builds = build(repo.root, tmp_path / "site", jobs=1)
    publish_site(store, builds["energie"])
    publish_site(store, builds["onu"])
    manifest = storage.read_manifest(store, "energie", storage.read_pointer(store, "energie").release)
    assert manifest.replies == builds["energie"].replies
    other = storage.read_manifest(store, "onu", storage.read_pointer(store, "onu").release)
    assert other.replies == {}
    # The gate's side of the contract: a stored reply's key gives the id the manifest lists
    key = storage.reply_key("energie", SHARED, dt.datetime(2026, 12, 1, 9, 30, 1, tzinfo=dt.UTC), MEMBER,
                            f"{1:016x}")
    assert replies.reply_id(key) == reply_id
    assert replies.published_in(manifest, key) and not replies.published_in(other, key)
    assert not replies.published_in(manifest, key.replace(f"{1:016x}", f"{2:016x}"))


def test_publish_with_replies_in_the_repository_publishes_them_and_keeps_the_members(repo, tmp_path):
    """The members' snapshot is written from communities.yaml read alone (no cable read): replies, which
    name cables, must not make that read fail, or no reply could ever reach a site."""
    path, reply_id = add_reply(repo)
    add_reply(repo, n=2, text="Une autre réponse, pas encore approuvée.")
    assert approve(repo, path).code == 0
    repo.commit("a reply approved, another waiting")
    store = tmp_path / "store"
    result = repo.run("publish", "--store", str(store), "--out", str(tmp_path / "build"))
    assert result.code == 0, result.output
    opened = storage.open_store(store)
    manifest = storage.read_manifest(opened, "energie", storage.read_pointer(opened, "energie").release)
    assert list(manifest.replies) == [reply_id]


# -------------------------------------------------------------------------- hostile Markdown

HOSTILE = st.sampled_from([
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))",
    "<a href=\"javascript:alert(1)\">x</a>", "<iframe src=//evil.example></iframe>",
    "<svg onload=alert(1)>", "![x](https://evil.example/t.png)", "<style>body{display:none}</style>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>", "<form action=//evil.example><input></form>",
    "[a](vbscript:msgbox)", "<object data=x></object>", "<details open ontoggle=alert(1)>",
    "<p style=\"background:url(//evil.example)\">x</p>",
])
PLAIN = st.text(alphabet="abc *_`#>-[]()\n", max_size=20)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(HOSTILE, PLAIN), min_size=1, max_size=5))
def test_hostile_markdown_in_a_reply_is_sanitised_like_a_cable(repo, parts):
    reply = load_reply(repo, text="Merci. " + " ".join(parts))
    community = load(repo.root).communities["energie"]
    html = site.replies_section([reply], community, {}, "fr", renderer_for(PROJECT_DIR).render_reply)
    lowered = html.lower()
    assert "<script" not in lowered and "<iframe" not in lowered and "<style" not in lowered
    assert "<object" not in lowered and "<form" not in lowered and "<svg" not in lowered
    assert "javascript:" not in lowered and "vbscript:" not in lowered and "data:text" not in lowered
    assert not re.search(r"<[^>]*\son\w+\s*=", lowered) and "style=" not in lowered
    assert "evil.example" not in re.sub(r">[^<]*<", "><", lowered)  # in no attribute: nothing loads from it


def test_a_reply_with_raw_html_is_refused_by_check_and_approve(repo):
    path, reply_id = add_reply(repo, text="Merci <img src=x onerror=alert(1)>")
    assert "E501" in repo.run("check").output
    assert approve(repo, path).code == 1
    assert plan(repo)["energie"]["replies"]["held"] == [{"id": reply_id, "reason": "invalid (see diplomatie check)"}]


@pytest.mark.parametrize(("change", "code"), [
    (("author: a.martin@example.org", "author: Anne <a.martin@example.org>"), "E205"),
    (("at: '2026-12-01T09:30:05Z'", "at: hier"), "E204"),
    (("visibility: community", "visibility: public"), "E206"),
    (("community: energie", "community: onu"), "E207"),
    (("store_key:", "stor_key:"), "E202"),
])
def test_a_reply_file_edited_out_of_shape_is_an_error_of_check_and_never_shown(repo, change, code):
    path, reply_id = add_reply(repo)
    file = repo.root / path
    file.write_text(file.read_text(encoding="utf-8").replace(*change, 1), encoding="utf-8")
    result = repo.run("check")
    assert result.code == 1 and re.search(rf"{re.escape(path)}:\d+:\d+: {code} ", result.output), result.output
    assert load(repo.root).replies[reply_id].valid is False
    assert plan(repo)["energie"].get("replies", {}).get("publish", []) == []
