"""``diplomatie pending`` lists the members' shareable replies waiting for an editor's approval, as it
lists cables: never approved, edited since approved, unsigned where signatures are required; each with
the command that approves it. Never listed: a reply for the author and editors only, another
community's reply, a reply under a cable the community does not publish."""

from __future__ import annotations

import json

import pytest
from contentrepo import EDITOR, make_repo
from test_replies_publish import CANARY, add_reply

PUBLISHED, HELD = "2026-BERLIN-0001", "2026-BERLIN-0002"
#: Selected by both communities (energie by its subject, onu by its post), published by both.
SHARED = "2026-NEW-YORK-ONU-0002"


def approve(repo, target: str, community: str = "energie"):
    result = repo.run("approve", target, "--community", community, "--editor", EDITOR)
    assert result.code == 0, result.output
    return result


@pytest.fixture
def desk(tmp_path):
    """energie publishes PUBLISHED and SHARED, holds HELD (never approved); onu publishes SHARED.
    Replies: one waiting (new), one edited since approved (stale), one approved, one private, one under
    HELD, one sent to onu. The editor's address is the repository's git user.email."""
    repo = make_repo(tmp_path / "repo")
    repo.git("config", "user.email", EDITOR)
    repo.cable(PUBLISHED, title="Sécurité énergétique allemande")
    repo.cable(HELD, title="Hydrogène")
    repo.cable(SHARED, title="Energy at the UN", subjects=["energie"], language="en")
    for cable, community in ((PUBLISHED, "energie"), (SHARED, "energie"), (SHARED, "onu")):
        approve(repo, cable, community)
    ids = {}
    _, ids["new"] = add_reply(repo, PUBLISHED, text=CANARY, n=1)
    path, ids["stale"] = add_reply(repo, PUBLISHED, text="Une réponse révisée après approbation.", n=2)
    approve(repo, path)
    file = repo.root / path
    file.write_text(file.read_text(encoding="utf-8").replace("révisée", "corrigée"), encoding="utf-8")
    path, ids["approved"] = add_reply(repo, SHARED, text="Une réponse déjà approuvée.", n=3)
    approve(repo, path)
    _, ids["private"] = add_reply(repo, PUBLISHED, text="Pour les rédacteurs seulement.", n=4, visibility="editors")
    _, ids["held cable"] = add_reply(repo, HELD, text="Sous un télégramme retenu.", n=5)
    _, ids["onu"] = add_reply(repo, SHARED, text="A reply to the UN community.", n=6, community="onu")
    repo.commit("Cables and replies")
    repo.ids = ids
    return repo


def test_pending_lists_the_replies_waiting_with_the_command_that_approves_each(desk):
    result = desk.run("--lang", "en", "pending")
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    ids = desk.ids
    assert lines[0] == f"1 cable awaits approval by {EDITOR}"
    assert lines[1] == f"3 members' replies await approval by {EDITOR}"
    assert "energie — Énergie en Europe: 3 waiting" in lines  # the held cable and two replies
    assert "onu — United Nations: 1 waiting" in lines
    text = result.stdout
    assert (f"new      {ids['new']}  reply by a.martin@example.org to {PUBLISHED}  (never approved)\n"
            f"           diplomatie approve {ids['new']} --community energie\n") in text
    assert (f"stale    {ids['stale']}  reply by a.martin@example.org to {PUBLISHED}  "
            f"(edited since it was approved)\n") in text
    assert f"diplomatie approve {ids['onu']} --community onu\n" in text
    # The onu reply is listed under onu only; nothing else of the replies, and never their text
    onu = text[text.index("onu — United Nations"):]
    assert ids["onu"] in onu and ids["new"] not in onu
    assert text.count(ids["onu"]) == 2  # its line and its command
    for absent in ("approved", "private", "held cable"):
        assert desk.ids[absent] not in text
    assert "castor" not in text and "révisée" not in text and "corrigée" not in text


def test_pending_json_lists_replies_apart_and_each_command_runs_as_printed(desk):
    data = json.loads(desk.run("pending", "--format", "json").stdout)
    ids = desk.ids
    assert [c["id"] for c in data["communities"]["energie"]] == [HELD]  # the cables' list, as before
    assert data["communities"]["onu"] == []
    assert data["replies"] == {
        "energie": [
            {"id": ids["new"], "cable": PUBLISHED, "author": "a.martin@example.org", "at": "2026-12-01T09:30:05Z",
             "kind": "new", "reason": "not approved", "command": f"diplomatie approve {ids['new']} --community energie"},
            {"id": ids["stale"], "cable": PUBLISHED, "author": "a.martin@example.org", "at": "2026-12-01T09:30:05Z",
             "kind": "stale", "reason": "stale approval",
             "command": f"diplomatie approve {ids['stale']} --community energie"},
        ],
        "onu": [
            {"id": ids["onu"], "cable": SHARED, "author": "a.martin@example.org", "at": "2026-12-01T09:30:05Z",
             "kind": "new", "reason": "not approved", "command": f"diplomatie approve {ids['onu']} --community onu"},
        ],
    }
    for items in data["replies"].values():
        for item in items:
            assert desk.run(*item["command"].split()[1:]).code == 0
    after = json.loads(desk.run("pending", "--format", "json").stdout)
    assert "replies" not in after  # nothing waits: the output is the one a repository without replies gives
    plan = json.loads(desk.run("plan", "--format", "json").stdout)["communities"]
    assert sorted(plan["energie"]["replies"]["publish"]) == sorted([ids["new"], ids["stale"], ids["approved"]])
    assert plan["onu"]["replies"]["publish"] == [ids["onu"]]


def test_approving_the_cable_brings_its_waiting_replies_into_the_list(desk):
    approve(desk, HELD)
    data = json.loads(desk.run("pending", "--format", "json").stdout)
    assert data["communities"]["energie"] == []
    assert desk.ids["held cable"] in [r["id"] for r in data["replies"]["energie"]]
    assert desk.ids["private"] not in json.dumps(data)


def test_a_repository_without_replies_gives_the_same_output_as_before(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.git("config", "user.email", EDITOR)
    repo.cable(HELD)
    repo.commit("A cable")
    data = json.loads(repo.run("pending", "--format", "json").stdout)
    assert sorted(data) == ["communities", "editor"]
    text = repo.run("--lang", "en", "pending").stdout
    assert "repl" not in text
    # Only private replies, or replies under a cable not published: nothing waits for publication
    add_reply(repo, HELD, n=1)
    add_reply(repo, HELD, n=2, visibility="editors")
    data = json.loads(repo.run("pending", "--format", "json").stdout)
    assert sorted(data) == ["communities", "editor"]


def test_where_only_signed_approvals_count_a_reply_approved_unsigned_waits_for_its_signature(tmp_path):
    from test_signatures import keypair, signed_communities

    (tmp_path / "keys").mkdir()
    keys = {name: keypair(tmp_path / "keys" / name, name) for name in ("editor", "other")}
    repo = make_repo(tmp_path / "repo", signed_communities(keys))
    repo.git("config", "user.email", EDITOR)
    repo.cable(PUBLISHED)
    _, reply_id = add_reply(repo, PUBLISHED, n=1)
    repo.commit("A cable and a reply")
    # The cable itself waits for its signed approval: its reply is not actionable yet
    data = json.loads(repo.run("pending", "--format", "json").stdout)
    assert "replies" not in data
    result = repo.run("approve", PUBLISHED, "--community", "energie", "--sign", "--key", str(keys["editor"][0]))
    assert result.code == 0, result.output
    [item] = json.loads(repo.run("pending", "--format", "json").stdout)["replies"]["energie"]
    assert (item["id"], item["kind"]) == (reply_id, "new")
    assert item["command"] == f"diplomatie approve {reply_id} --community energie --sign"
    approve(repo, reply_id)  # written, not signed (nor committed): the plan holds it as unsigned
    [item] = json.loads(repo.run("pending", "--format", "json").stdout)["replies"]["energie"]
    assert (item["kind"], item["reason"]) == ("unsigned", "unsigned approval")
    assert "approved without the signed commit this community requires" in repo.run("--lang", "en", "pending").stdout
    result = repo.run(*item["command"].split()[1:], "--key", str(keys["editor"][0]))  # signs what is written
    assert result.code == 0 and "signed commit" in result.stdout, result.output
    assert "replies" not in json.loads(repo.run("pending", "--format", "json").stdout)
