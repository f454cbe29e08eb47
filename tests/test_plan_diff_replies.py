"""``diplomatie plan --diff REF`` and its merge-request comment list the members' replies a community
starts or stops showing (or shows in another version) between two versions, as they list cables; by
id and cable only, never their text."""

from __future__ import annotations

import json

import pytest
from contentrepo import EDITOR, make_repo
from hypothesis import given, settings
from hypothesis import strategies as st
from test_replies_publish import add_reply

PUB, HELD, WITHDRAWN = "2026-BERLIN-0001", "2026-BERLIN-0002", "2026-BERLIN-0003"
#: Selected by both communities (energie by its subject, onu by its post), published by both.
SHARED = "2026-NEW-YORK-ONU-0002"
#: Each reply's text: a word that must appear in no output.
TEXTS = {n: f"Texte de la réponse {n}, canari{n}." for n in range(1, 10)}


def approve(repo, target: str, community: str = "energie") -> None:
    result = repo.run("approve", target, "--community", community, "--editor", EDITOR)
    assert result.code == 0, result.output


def edit(repo, path: str, old: str, new: str) -> None:
    file = repo.root / path
    file.write_text(file.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


@pytest.fixture
def branch(tmp_path):
    """main shows four replies in energie; the branch 'mr' shows a new one (and one in onu), re-approves
    an edited one, leaves an edited one stale, withdraws the cable of another, and adds replies that
    must not show: private, unapproved, under a cable energie does not publish."""
    repo = make_repo(tmp_path / "repo")
    repo.cable(PUB, title="Publié")
    repo.cable(HELD, title="Jamais approuvé")
    repo.cable(WITHDRAWN, title="Bientôt retiré")
    repo.cable(SHARED, title="Energy at the UN", subjects=["energie"], language="en")
    for cable, community in ((PUB, "energie"), (WITHDRAWN, "energie"), (SHARED, "energie"), (SHARED, "onu")):
        approve(repo, cable, community)
    ids, paths = {}, {}
    for n, cable in ((1, PUB), (2, PUB), (3, PUB), (4, WITHDRAWN)):
        paths[n], ids[n] = add_reply(repo, cable, text=TEXTS[n], n=n)
        approve(repo, ids[n])
    repo.commit("Four replies shown")
    repo.git("checkout", "-q", "-b", "mr")
    paths[5], ids[5] = add_reply(repo, PUB, text=TEXTS[5], n=5)
    approve(repo, ids[5])
    edit(repo, paths[2], "canari2", "canari2 révisé")
    approve(repo, ids[2])
    edit(repo, paths[3], "canari3", "canari3 révisé")  # not approved again: stale
    edit(repo, f"content/2026/{WITHDRAWN}.md", "language: fr\n", "language: fr\nstatus: withdrawn\n")
    paths[6], ids[6] = add_reply(repo, PUB, text=TEXTS[6], n=6, visibility="editors")
    paths[7], ids[7] = add_reply(repo, SHARED, text=TEXTS[7], n=7, community="onu")
    approve(repo, ids[7], "onu")
    paths[8], ids[8] = add_reply(repo, HELD, text=TEXTS[8], n=8)
    approve(repo, ids[8])
    paths[9], ids[9] = add_reply(repo, SHARED, text=TEXTS[9], n=9)
    repo.commit("The merge request")
    repo.ids = ids
    return repo


def no_reply_text(output: str) -> None:
    assert "canari" not in output and "Texte de la réponse" not in output


def test_text_diff_lists_replies_shown_changed_and_hidden_by_id_and_cable(branch):
    result = branch.run("--lang", "en", "plan", "--diff", "main")
    assert result.code == 0, result.output
    ids, text = branch.ids, result.stdout
    energie = text[text.index("energie — Énergie en Europe"):text.index("onu — United Nations")]
    assert f"shows reply    {ids[5]}  under {PUB} (new reply)" in energie
    assert f"changes reply  {ids[2]}  under {PUB} (text " in energie
    assert f"hides reply    {ids[3]}  under {PUB}: held: stale approval" in energie
    assert f"hides reply    {ids[4]}  under {WITHDRAWN}: held: its cable is not published here" in energie
    onu = text[text.index("onu — United Nations"):]
    assert f"shows reply    {ids[7]}  under {SHARED} (new reply)" in onu
    assert ids[7] not in energie and ids[5] not in onu
    for absent in (1, 6, 8, 9):  # unchanged, private, under a cable not published, not approved
        assert ids[absent] not in text
    no_reply_text(text)


def test_json_diff_adds_replies_only_to_communities_whose_replies_change(branch):
    result = branch.run("plan", "--diff", "main", "--format", "json")
    assert result.code == 0, result.output
    ids = branch.ids
    communities = json.loads(result.stdout)["communities"]
    replies = communities["energie"]["replies"]
    assert [(r["id"], r["cable"], r["before"], r["after"]) for r in replies["shown"]] == [
        (ids[5], PUB, None, "shown")]
    [changed] = replies["changed"]
    assert changed["id"] == ids[2] and changed["before"] == changed["after"] == "shown"
    assert changed["digest_before"] != changed["digest_after"] and None not in (changed["digest_before"],
                                                                                changed["digest_after"])
    assert {r["id"]: (r["before"], r["after"]) for r in replies["hidden"]} == {
        ids[3]: ("shown", "stale approval"), ids[4]: ("shown", "its cable is not published here")}
    assert communities["onu"]["replies"] == {"shown": [
        {"id": ids[7], "cable": SHARED, "before": None, "after": "shown", "digest_before": None,
         "digest_after": communities["onu"]["replies"]["shown"][0]["digest_after"]}], "changed": [], "hidden": []}
    no_reply_text(result.stdout)


def test_the_merge_request_comment_names_replies_never_their_text(branch):
    result = branch.run("--lang", "en", "plan", "--diff", "main", "--format", "markdown")
    assert result.code == 0, result.output
    ids, text = branch.ids, result.stdout
    assert f"| shows reply | {ids[5]} | under {PUB} (new reply) |" in text
    assert f"| hides reply | {ids[3]} | under {PUB}: held: stale approval |" in text
    assert f"| shows reply | {ids[7]} | under {SHARED} (new reply) |" in text
    for absent in (1, 6, 8, 9):
        assert ids[absent] not in text
    no_reply_text(text)
    french = branch.run("--lang", "fr", "plan", "--diff", "main", "--format", "markdown").stdout
    assert ids[5] in french and "shows reply" not in french
    no_reply_text(french)


def test_replies_held_on_both_sides_or_unchanged_make_no_change(branch):
    """The branch against itself: nothing changes. Against a branch that only adds a reply waiting
    for approval: nothing changes either (it is shown nowhere, before or after)."""
    result = branch.run("plan", "--diff", "mr", "--format", "json")
    assert json.loads(result.stdout)["communities"] == {}
    branch.git("checkout", "-q", "-b", "waiting", "main")
    add_reply(branch, PUB, text=TEXTS[9], n=9)
    branch.commit("A reply waiting")
    result = branch.run("--lang", "en", "plan", "--diff", "main")
    assert result.code == 0, result.output
    assert result.stdout.startswith("No change to what any community publishes")


def test_a_repository_without_replies_keeps_its_json_diff(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.commit("Nothing yet")
    repo.cable(PUB)
    approve(repo, PUB)
    repo.commit("A cable")
    energie = json.loads(repo.run("plan", "--diff", "HEAD~1", "--format", "json").stdout)["communities"]["energie"]
    assert sorted(energie) == ["changed", "held", "members", "published", "removed", "status", "title"]


@pytest.fixture(scope="module")
def energie_holder(tmp_path_factory):
    from pipeline.repository import load

    return load(make_repo(tmp_path_factory.mktemp("diff-replies") / "repo").root).communities["energie"]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(texts=st.lists(st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")),
                              min_size=12, max_size=60).filter(lambda t: t.strip() == t and len(set(t)) > 6),
                      min_size=1, max_size=4),
       shown_before=st.lists(st.booleans(), min_size=4, max_size=4))
def test_no_output_of_the_diff_ever_holds_a_replys_text(energie_holder, texts, shown_before):
    """Whatever a reply says, and whichever way its showing changes, the text, JSON and merge-request
    comment name it by id and cable only."""
    import datetime as dt

    from pipeline import plandiff
    from pipeline.plan import CommunityPlan, Held, Plan
    from pipeline.replyfiles import ReplyFile

    community = energie_holder
    replies = [ReplyFile(path=f"replies/energie/{PUB}/{n}.md", id=f"{PUB}/20261201T0930{n:02d}.000000Z-{n:016x}",
                         community="energie", cable=PUB, author="a.martin@example.org", at="2026-12-01T09:30:05Z",
                         visibility="community", text=text, digest=f"sha256:{n:064x}") for n, text in enumerate(texts)]
    before = [r for r, was in zip(replies, shown_before, strict=False) if was]
    after = [r for r, was in zip(replies, shown_before, strict=False) if not was]

    def plan(shown):
        held = tuple(Held(r.id, "not approved") for r in replies if r not in shown)
        return Plan({"energie": CommunityPlan(community, (), (), replies=tuple(shown), held_replies=held)},
                    dt.datetime(2026, 12, 2, tzinfo=dt.UTC))

    diff = plandiff.diff_plans(plan(before), plan(after), {}, {}, "main", None)
    assert sum(len(d.replies_shown) + len(d.replies_hidden) for d in diff.communities) == len(replies)
    outputs = ["\n".join(plandiff.to_text(diff)), "\n".join(plandiff.to_markdown(diff)),
               json.dumps(plandiff.to_json(diff), ensure_ascii=False)]
    for output in outputs:
        for text in texts:
            assert text not in output
