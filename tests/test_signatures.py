"""Signed approvals: real SSH keys from ssh-keygen, real ``git commit -S`` with gpg.format=ssh."""

import copy
import json
import subprocess

import pytest
from contentrepo import COMMUNITIES, EDITOR, make_repo

from pipeline.repository import load
from pipeline.signatures import allowed_signers, fingerprint, signatures_for
from tests.gatekit import published_cables

CABLE = "2026-BERLIN-0001"
OTHER_EDITOR = "chef.redaction@diplomatie.gouv.fr"


def keypair(path, comment="editor"):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path, path.with_suffix(".pub").read_text().strip()


@pytest.fixture
def keys(tmp_path):
    (tmp_path / "keys").mkdir()
    return {name: keypair(tmp_path / "keys" / name, name) for name in ("editor", "other", "intruder")}


def signed_communities(keys):
    data = copy.deepcopy(COMMUNITIES)
    energie = data["communities"]["energie"]
    del energie["require_signed_approvals"]  # the default: signed approvals required
    energie["editors"] = [{"email": EDITOR, "ssh_key": keys["editor"][1]},
                          {"email": OTHER_EDITOR, "ssh_key": keys["other"][1]}]
    return data


@pytest.fixture
def repo(tmp_path, keys):
    repo = make_repo(tmp_path / "repo", signed_communities(keys))
    repo.cable(CABLE)
    repo.commit("Add a cable")
    return repo


def plan(repo):
    result = repo.run("plan", "--format", "json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)["communities"]


def held(repo, community="energie"):
    return {h["id"]: h["reason"] for h in plan(repo)[community]["held"]}


def test_unsigned_approval_holds_the_cable(repo):
    repo.approve(CABLE, "energie")
    repo.commit("Approve, unsigned")
    assert held(repo) == {CABLE: "unsigned approval"}
    assert plan(repo)["energie"]["publish"] == []


def test_approval_signed_by_the_editor_releases_the_cable(repo, keys):
    result = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR,
                      "--sign", "--key", str(keys["editor"][0]))
    assert result.code == 0, result.output
    assert "signed commit" in result.stdout
    assert repo.git("log", "-1", "--format=%s").strip() == f"Approve {CABLE} for energie"
    assert repo.git("status", "--porcelain").strip() == ""
    assert plan(repo)["energie"]["publish"] == [CABLE]
    assert held(repo) == {}


def test_signed_approval_still_counts_after_later_unsigned_commits(repo, keys):
    repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--key", str(keys["editor"][0]))
    repo.cable("2026-BERLIN-0002")
    repo.commit("Another cable, unsigned")
    assert CABLE in plan(repo)["energie"]["publish"]


def test_approval_signed_with_a_key_not_listed_is_held(repo, keys):
    result = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR,
                      "--key", str(keys["intruder"][0]))
    assert result.code == 0, result.output
    assert held(repo) == {CABLE: "unsigned approval"}


def test_approval_signed_by_another_editor_is_held(repo, keys):
    """An editor's key cannot vouch for an approval written in another editor's name."""
    repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--key", str(keys["other"][0]))
    assert held(repo) == {CABLE: "unsigned approval"}


def test_uncommitted_approval_does_not_count(repo):
    repo.approve(CABLE, "energie")
    assert held(repo) == {CABLE: "unsigned approval"}


def test_signed_approval_copied_into_an_unsigned_commit_on_another_history_is_held(tmp_path, keys):
    """Only the commit that added the approval matters: replaying its text unsigned does not count."""
    repo = make_repo(tmp_path / "copy", signed_communities(keys))
    repo.cable(CABLE)
    repo.commit("Add a cable")
    repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--key", str(keys["editor"][0]))
    text = (repo.root / f"content/2026/{CABLE}.md").read_text()
    repo.git("reset", "-q", "--hard", "HEAD~1")
    repo.write(f"content/2026/{CABLE}.md", text)
    repo.commit("The same approval, typed by someone else")
    assert held(repo) == {CABLE: "unsigned approval"}


def test_stale_signed_approval_is_reported_as_stale(repo, keys):
    repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--key", str(keys["editor"][0]))
    path = repo.root / f"content/2026/{CABLE}.md"
    path.write_text(path.read_text().replace("Le texte", "Un autre texte"))
    repo.commit("Edit after approval")
    assert held(repo) == {CABLE: "stale approval"}


def test_signed_approvals_are_required_unless_a_community_turns_them_off(tmp_path, keys):
    data = copy.deepcopy(COMMUNITIES)
    for community in data["communities"].values():
        del community["require_signed_approvals"]
    repo = make_repo(tmp_path / "default", data)
    repo.cable(CABLE)
    repo.approve(CABLE, "energie")
    repo.commit("Approve, unsigned, where nothing was said of signatures")
    assert held(repo) == {CABLE: "unsigned approval"}
    check = repo.run("check", "--format", "json")
    assert "W605" not in check.stdout
    data["communities"]["energie"]["require_signed_approvals"] = False
    repo.communities(data)
    assert plan(repo)["energie"]["publish"] == [CABLE]


def test_check_warns_about_each_community_that_turns_signed_approvals_off(tmp_path, keys):
    repo = make_repo(tmp_path / "plain")  # both test communities turn them off
    check = repo.run("check", "--format", "json")
    assert check.code == 0
    warned = [f for f in json.loads(check.stdout)["findings"] if f["code"] == "W605"]
    assert sorted(f["message"].split("'")[1] for f in warned) == ["energie", "onu"]
    assert all(f["path"] == "communities.yaml" and "ssh_key" in f["hint"] for f in warned)
    assert repo.run("check", "--strict").code == 1


def test_require_signed_approvals_that_is_not_a_yes_or_no_is_an_error_and_requires_signatures(tmp_path):
    data = copy.deepcopy(COMMUNITIES)
    data["communities"]["energie"]["require_signed_approvals"] = "non"
    repo = make_repo(tmp_path / "typo", data)
    check = repo.run("check")
    assert check.code == 1 and "E203" in check.stdout and "require_signed_approvals" in check.stdout


def test_community_without_the_requirement_accepts_unsigned_approvals(tmp_path, keys):
    repo = make_repo(tmp_path / "plain", signed_communities(keys))
    repo.cable("2026-NEW-YORK-ONU-0001", subjects=["onu"])
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    repo.commit("Unsigned approval for a community that does not require signatures")
    assert plan(repo)["onu"]["publish"] == ["2026-NEW-YORK-ONU-0001"]


def test_signatures_are_checked_at_a_past_ref(repo, keys):
    repo.approve(CABLE, "energie")
    unsigned = repo.commit("Approve, unsigned")
    loaded = load(repo.root, ref=unsigned)
    counts = signatures_for(loaded)(loaded.communities["energie"])
    assert counts is not None
    assert [counts(a) for a in loaded.cables[CABLE].approvals] == [False]
    assert signatures_for(loaded)(loaded.communities["onu"]) is None


def test_allowed_signers_lists_each_editor_key_once_and_matches_ssh_keygen(repo, keys):
    loaded = load(repo.root)
    text = allowed_signers(loaded.communities.values())
    lines = text.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f'{EDITOR} namespaces="git" ssh-ed25519 ')
    listed = subprocess.run(["ssh-keygen", "-lf", str(keys["editor"][0]) + ".pub"], capture_output=True,
                            text=True, check=True).stdout.split()[1]
    assert fingerprint(keys["editor"][1]) == listed


def test_a_key_entry_cannot_inject_lines_into_the_allowed_signers(keys):
    from pipeline.communities import Community, Editor
    from pipeline.communities import Selection as Sel

    forged = keys["editor"][1] + "\nintrus@example.org " + keys["intruder"][1]
    community = Community("c", "C", "", "fr", "o@x.fr", (Editor("e@x.fr", forged),), Sel())
    text = allowed_signers([community])
    assert "intrus" not in text
    assert text.count("\n") == 1
    assert fingerprint("ssh-ed25519 not-base64!") is None
    assert fingerprint("ssh-rsa " + keys["editor"][1].split()[1]) is None  # type and blob disagree


def test_sign_without_a_key_fails_clearly_and_keeps_the_approval(repo, tmp_path):
    missing = tmp_path / "nokey"
    missing.write_text("not a key\n")
    result = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--key", str(missing))
    assert result.code == 1
    assert "written to" in result.output and "not committed" in result.output
    assert "Traceback" not in result.output


def test_key_of_the_same_editor_in_another_community_does_not_count(tmp_path, keys):
    """The editor's key is the one listed in the approval's own community."""
    data = signed_communities(keys)
    data["communities"]["onu"]["require_signed_approvals"] = True
    data["communities"]["onu"]["editors"] = [{"email": EDITOR, "ssh_key": keys["intruder"][1]}]
    repo = make_repo(tmp_path / "two", data)
    repo.cable(CABLE)
    repo.commit("Add a cable")
    result = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR,
                      "--sign", "--key", str(keys["intruder"][0]))
    assert result.code == 0, result.output
    assert held(repo) == {CABLE: "unsigned approval"}


def test_history_says_which_approvals_carry_the_editors_signature(repo, keys):
    repo.approve(CABLE, "energie")
    repo.commit("Approve, unsigned")
    path = repo.root / f"content/2026/{CABLE}.md"
    path.write_text(path.read_text().replace("Le texte", "Le nouveau texte"))
    repo.commit("Revise")
    repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--key", str(keys["editor"][0]))
    data = json.loads(repo.run("history", CABLE, "--format", "json").stdout)
    assert [(a["version"], a["signed"]) for a in data["approvals"]] == [(1, False), (2, True)]
    text = repo.run("history", CABLE).stdout
    assert "NOT signed by the editor's key" in text and "  signed by the editor's key" in text


def test_history_of_approvals_without_keys_says_nothing_of_signatures(tmp_path, keys):
    repo = make_repo(tmp_path / "plain")
    repo.cable(CABLE)
    repo.approve(CABLE, "energie")
    repo.commit("Approve")
    data = json.loads(repo.run("history", CABLE, "--format", "json").stdout)
    assert [a["signed"] for a in data["approvals"]] == [None]


def test_signed_approval_made_on_a_merge_request_branch_counts_after_a_merge_commit(repo, keys):
    repo.git("checkout", "-q", "-b", "approve-branch")
    repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--key", str(keys["editor"][0]))
    repo.git("checkout", "-q", "main")
    repo.cable("2026-BERLIN-0002")
    repo.commit("Meanwhile on main")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge the approval", "approve-branch")
    assert plan(repo)["energie"]["publish"] == [CABLE]


def test_squash_merge_loses_the_editors_signature(repo, keys):
    repo.git("checkout", "-q", "-b", "approve-branch")
    repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--key", str(keys["editor"][0]))
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--squash", "approve-branch")
    repo.commit("Squashed approval")
    assert held(repo) == {CABLE: "unsigned approval"}


def test_sign_uses_gits_configured_signing_key_by_default(repo, keys):
    repo.git("config", "user.signingkey", str(keys["editor"][0]))
    result = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--sign")
    assert result.code == 0, result.output
    assert "-----BEGIN SSH SIGNATURE-----" in repo.git("cat-file", "commit", "HEAD")
    assert plan(repo)["energie"]["publish"] == [CABLE]


def test_sign_commits_an_approval_written_earlier_without_adding_another(repo, keys):
    repo.approve(CABLE, "energie")
    result = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--sign",
                      "--key", str(keys["editor"][0]))
    assert result.code == 0, result.output
    assert "signing the approval already written" in result.stdout
    assert (repo.root / f"content/2026/{CABLE}.md").read_text().count("- community: energie") == 1
    assert plan(repo)["energie"]["publish"] == [CABLE]
    again = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--sign",
                     "--key", str(keys["editor"][0]))
    assert again.code == 1 and "already approved" in again.output


def test_publish_and_build_count_only_signed_approvals(repo, keys, tmp_path):
    repo.approve(CABLE, "energie")
    repo.commit("Approve, unsigned")
    store = tmp_path / "store"
    assert repo.run("publish", "--store", str(store), "--out", str(tmp_path / "b"), "-c", "energie").code == 0
    built = json.loads(repo.run("build", "--out", str(tmp_path / "b2"), "--json").stdout)
    assert built["energie"]["cables"] == 0
    assert published_cables(store, "energie") == ()
    signed = repo.run("approve", CABLE, "--community", "energie", "--editor", OTHER_EDITOR,
                      "--key", str(keys["other"][0]))
    assert signed.code == 0, signed.output
    assert repo.run("publish", "--store", str(store), "--out", str(tmp_path / "b"), "-c", "energie").code == 0
    assert published_cables(store, "energie") == (CABLE,)


def approval_dated(repo, path: str, editor: str, when: str) -> None:
    """Set the date of ``editor``'s approval in the file at ``path`` (uncommitted) to ``when``: a moment
    the test chooses, so two approvals never share their second by chance."""
    import re

    file = repo.root / path
    text = file.read_text()
    pattern = re.compile(rf"(by: {re.escape(editor)}\n\s*date: )'?([^'\n]+)'?")
    assert pattern.search(text), text
    file.write_text(pattern.sub(lambda m: f"{m.group(1)}{when}", text))


def signed_cable_with_a_reply_approved(repo, keys) -> tuple[str, str]:
    """The cable approved with the editor's signature, a reply to it committed, and the reply's
    approval by the editor written (not committed): its file and its id."""
    from test_replies_publish import add_reply

    result = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--sign",
                      "--key", str(keys["editor"][0]))
    assert result.code == 0, result.output
    path, reply_id = add_reply(repo, cable=CABLE)
    repo.commit("A reply")
    assert repo.run("approve", path, "--community", "energie", "--editor", EDITOR).code == 0
    return path, reply_id


def test_a_reply_is_approved_as_a_cable_is_unsigned_holds_it_signed_by_the_editor_shows_it(repo, keys):
    from pipeline.signatures import commit_signed

    path, reply_id = signed_cable_with_a_reply_approved(repo, keys)
    repo.commit("Approve the reply, unsigned")
    assert plan(repo)["energie"]["replies"] == {"publish": [], "held": [{"id": reply_id, "reason": "unsigned approval"}]}
    # Signed with a key the community does not list for that editor: still held
    assert repo.run("approve", path, "--community", "energie", "--editor", OTHER_EDITOR).code == 0
    approval_dated(repo, path, OTHER_EDITOR, "2026-11-30T08:00:00Z")
    commit_signed(repo.root, path, "Approve the reply, signed by an intruder", str(keys["intruder"][0]))
    assert plan(repo)["energie"]["replies"]["publish"] == []
    # The editor's own signature: shown
    result = repo.run("approve", reply_id, "--community", "energie", "--editor", OTHER_EDITOR, "--revoke")
    assert result.code == 0, result.output
    repo.commit("Revoke")
    result = repo.run("approve", reply_id, "--community", "energie", "--editor", OTHER_EDITOR, "--sign",
                      "--key", str(keys["other"][0]))
    assert result.code == 0 and "signed commit" in result.stdout, result.output
    assert repo.git("log", "-1", "--format=%s").strip() == f"Approve the reply {reply_id} for energie"
    assert plan(repo)["energie"]["replies"] == {"publish": [reply_id], "held": []}


def test_a_revoked_signed_approval_written_back_by_an_unsigned_commit_is_held(repo, keys):
    """The editor's signed approval, then their revocation: writing the approval's line back (a revert,
    or anyone with write access copying it) must not borrow the signature of the commit that first
    wrote it. The editor approving again, signed, is a new approval, which counts."""
    from pipeline.signatures import commit_signed

    path = f"content/2026/{CABLE}.md"
    assert repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR).code == 0
    approval_dated(repo, path, EDITOR, "2026-11-30T08:00:00Z")
    commit_signed(repo.root, path, "Approve, signed", str(keys["editor"][0]))
    assert plan(repo)["energie"]["publish"] == [CABLE]
    signed_text = (repo.root / path).read_text()
    assert repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--revoke").code == 0
    repo.commit("The editor withdraws their approval")
    assert held(repo) == {CABLE: "not approved"}

    repo.write(path, signed_text)
    repo.commit("Put the approval back")
    assert held(repo) == {CABLE: "unsigned approval"}
    [approval] = json.loads(repo.run("history", CABLE, "--format", "json").stdout)["approvals"]
    assert approval["signed"] is False
    assert approval["commit"] == repo.git("rev-parse", "HEAD").strip()

    repo.git("reset", "-q", "--hard", "HEAD~1")
    repo.git("revert", "--no-edit", "HEAD")  # git's own revert of the revocation: the same
    assert held(repo) == {CABLE: "unsigned approval"}

    assert repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--revoke").code == 0
    repo.commit("Withdraw the copied approval")
    result = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--sign",
                      "--key", str(keys["editor"][0]))
    assert result.code == 0, result.output
    assert plan(repo)["energie"]["publish"] == [CABLE]
    [approval] = json.loads(repo.run("history", CABLE, "--format", "json").stdout)["approvals"]
    assert approval["signed"] is True


@pytest.mark.parametrize("claimed", [None, "2026-11-29T08:00:00Z", "2030-01-01T08:00:00Z"])
def test_an_approval_merged_from_a_branch_counts_as_its_writer_signed_it(repo, keys, claimed):
    """A merge only carries lines its parents wrote: the editor's signed approval merged from a
    branch counts; the same line written unsigned on another branch and merged after the editor
    withdrew it does not, whatever dates that branch's commits claim."""
    from pipeline.signatures import commit_signed

    path = f"content/2026/{CABLE}.md"
    base = repo.git("rev-parse", "HEAD").strip()
    repo.git("checkout", "-q", "-b", "approval")
    assert repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR).code == 0
    approval_dated(repo, path, EDITOR, "2026-11-30T08:00:00Z")
    commit_signed(repo.root, path, "Approve, signed", str(keys["editor"][0]))
    signed_text = (repo.root / path).read_text()
    repo.git("checkout", "-q", "main")
    repo.cable("2026-BERLIN-0002")
    repo.commit("Meanwhile, another cable")
    repo.git("merge", "-q", "--no-edit", "--no-ff", "approval")
    assert CABLE in plan(repo)["energie"]["publish"]

    assert repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--revoke").code == 0
    repo.commit("The editor withdraws their approval")
    repo.git("checkout", "-q", "-b", "copy", base)
    repo.write(path, signed_text)
    repo.commit("The approval, typed again", date=claimed)
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-edit", "-X", "theirs", "copy")
    assert "2026-11-30T08:00:00Z" in (repo.root / path).read_text()
    assert held(repo)[CABLE] == "unsigned approval"


def test_a_revoked_signed_reply_approval_written_back_unsigned_is_held(repo, keys):
    from pipeline.signatures import commit_signed

    path, reply_id = signed_cable_with_a_reply_approved(repo, keys)
    approval_dated(repo, path, EDITOR, "2026-11-30T08:00:00Z")
    commit_signed(repo.root, path, "Approve the reply, signed", str(keys["editor"][0]))
    assert plan(repo)["energie"]["replies"]["publish"] == [reply_id]
    signed_text = (repo.root / path).read_text()
    assert repo.run("approve", reply_id, "--community", "energie", "--editor", EDITOR, "--revoke").code == 0
    repo.commit("Revoke")
    repo.write(path, signed_text)
    repo.commit("Put it back")
    assert plan(repo)["energie"]["replies"] == {"publish": [], "held": [{"id": reply_id, "reason": "unsigned approval"}]}


def test_the_command_pending_prints_for_a_committed_unsigned_approval_signs_it(repo, keys):
    """An editor approved unsigned and committed it (as a community that counted unsigned approvals
    allowed): ``pending`` lists it as unsigned with ``approve --sign``, and that command, run as
    printed, replaces the unsigned approval with a signed one instead of refusing it as given."""
    from test_replies_publish import add_reply

    repo.git("config", "user.email", EDITOR)
    repo.approve(CABLE, "energie")
    path, reply_id = add_reply(repo, cable=CABLE)
    repo.commit("Approve unsigned, and a reply")
    for target in (CABLE, reply_id):
        if target == reply_id:
            assert repo.run("approve", path, "--community", "energie").code == 0
            repo.commit("Approve the reply, unsigned")
        data = json.loads(repo.run("pending", "--format", "json").stdout)
        items = data["replies"]["energie"] if target == reply_id else data["communities"]["energie"]
        [item] = [i for i in items if i["id"] == target]
        assert (item["kind"], item["command"]) == ("unsigned", f"diplomatie approve {target} --community energie --sign")
        result = repo.run(*item["command"].split()[1:], "--key", str(keys["editor"][0]))
        assert result.code == 0 and "signed commit" in result.stdout, result.output
        assert repo.git("status", "--porcelain").strip() == ""
    assert plan(repo)["energie"]["publish"] == [CABLE]
    assert plan(repo)["energie"]["replies"] == {"publish": [reply_id], "held": []}
    text = (repo.root / f"content/2026/{CABLE}.md").read_text()
    assert text.count(f"by: {EDITOR}") == 1  # replaced, not added beside
    # Once signed, the same command is refused: the approval is given
    result = repo.run("approve", CABLE, "--community", "energie", "--sign", "--key", str(keys["editor"][0]))
    assert result.code != 0 and "already approved" in result.output


def plant_unsigned_approval(repo, path: str, body_from: str, body_to: str, dated: str) -> None:
    """What anyone with commit access can do: change the cable's text, write an approval of the new
    version under the editor's name (dated as they like), and commit it unsigned."""
    import re

    file = repo.root / path
    file.write_text(file.read_text().replace(body_from, body_to))
    assert repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--yes").code == 0
    text = file.read_text()
    dates = list(re.finditer(rf"(by: {re.escape(EDITOR)}\n\s*date: )'?([^'\n]+)'?", text))
    last = dates[-1]  # the approval just written; the signed one before it keeps its line
    file.write_text(text[:last.start()] + last.group(1) + dated + text[last.end():])
    repo.commit("An agent's change, approved in the editor's name")


def signed_then_planted(repo, keys, dated: str = "2099-01-01T00:00:00Z") -> str:
    """The editor's signed approval of the cable, then an agent's change approved unsigned in the
    editor's name, ``dated`` (by default later than anything the editor signed): the cable's file."""
    path = f"content/2026/{CABLE}.md"
    result = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--sign",
                      "--key", str(keys["editor"][0]))
    assert result.code == 0, result.output
    plant_unsigned_approval(repo, path, "Le texte du télégramme.", "Le texte du télégramme, et une phrase glissée.",
                            dated)
    return path


@pytest.mark.parametrize("dated", ["2099-01-01T00:00:00Z", "2020-01-01T00:00:00Z", "now"])
def test_replacing_a_planted_unsigned_approval_shows_everything_since_the_last_signed_one_and_dates_it_now(repo, keys, dated):
    """``approve --sign`` replaces the editor's unsigned approval of this version (``pending`` prints
    that command for it). Whoever has commit access can write such an approval: replacing it is a new
    approval, so the editor sees the changes since the last approval that counts, and the new one is
    dated now, never from the planted one (a date years ahead would outlive any withdrawal)."""
    import datetime as dt

    from pipeline.cables import parse
    from pipeline.findings import Findings

    if dated == "now":  # the very second the editor will approve in, as near as a test can plant it
        dated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = signed_then_planted(repo, keys, dated)
    assert held(repo) == {CABLE: "unsigned approval"}

    result = repo.run("approve", CABLE, "--community", "energie", "--editor", EDITOR, "--sign",
                      "--key", str(keys["editor"][0]))
    assert result.code == 0, result.output
    assert "Changes since v" in result.stdout  # from the signed version, not "no change" from the planted one
    assert "+Le texte du télégramme, et une phrase glissée." in result.stdout
    assert "signed commit" in result.stdout
    cable = parse(path, (repo.root / path).read_bytes(), Findings())
    mine = [a for a in cable.approvals if a.digest == cable.digest]
    assert len(mine) == 1 and abs(dt.datetime.now(dt.UTC) - mine[0].date) < dt.timedelta(minutes=5)
    assert len(cable.approvals) == 2  # the signed approval of the first version is kept
    assert plan(repo)["energie"]["publish"] == [CABLE]


def test_pending_shows_a_stale_cables_changes_since_the_last_approval_that_counts(repo, keys):
    """A planted unsigned approval of an intermediate version is not the base ``pending`` diffs from:
    the editor sees every change since the version they signed."""
    path = signed_then_planted(repo, keys)
    file = repo.root / path
    file.write_text(file.read_text().replace("glissée.", "glissée, puis retouchée."))
    repo.commit("A small change after the planted approval")
    data = json.loads(repo.run("pending", "--format", "json", "--editor", EDITOR).stdout)
    [item] = [i for i in data["communities"]["energie"] if i["id"] == CABLE]
    assert (item["kind"], item["approved_version"], item["current_version"]) == ("stale", 1, 3), item  # v2 is the planted one
