"""``diplomatie replies pull`` (pipeline/replypull.py): the store's replies onto a branch of a real
content repository, checked like cables, once; their authors and editors told by real SMTP, without
the text. On the folder store and the real S3 server."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from email.header import decode_header, make_header

import pytest
from contentrepo import EDITOR, OWNER, make_repo

from gate import replies
from gate import store as storage
from gate.letters import SmtpSettings
from pipeline import gitrepo, replypull
from pipeline.repository import load
from tests.smtpkit import smtp_fixture

MEMBER = "a.martin@example.org"
AUTHOR = "agent@diplomatie.gouv.fr"
CABLE = "2026-BERLIN-0001"
MOMENT = dt.datetime(2026, 12, 1, 9, 30, 5, 123456, tzinfo=dt.UTC)
smtp = smtp_fixture()



@pytest.fixture
def repo(tmp_path):
    content = make_repo(tmp_path / "content")
    content.cable(CABLE)
    content.commit("a cable")
    return content


def answer(store, text: str = "Merci.\n\nDeux *remarques*.", *, moment: dt.datetime = MOMENT,
           visibility: str = replies.EDITORS, cable: str = CABLE, author: str = MEMBER) -> str:
    """Store a reply as the gate does (gate/replies.py)."""
    return replies.write_reply(store, replies.Reply(
        community="energie", cable=cable, author=author, release="r1", digest="sha256:" + "ab" * 32,
        at=storage.utc_text(moment), visibility=visibility, text=text), moment)


def on_branch(repo, branch: str = "replies") -> dict[str, str]:
    names = repo.git("ls-tree", "-r", "--name-only", branch, "--", "replies").split()
    return {name: repo.git("show", f"{branch}:{name}") for name in names}


def test_a_reply_lands_on_the_branch_as_front_matter_and_text_and_the_checkout_is_untouched(repo, store):
    key = answer(store)
    head = repo.git("rev-parse", "HEAD").strip()
    report = replypull.pull(store, repo.root)
    nonce = key.rsplit("-", 1)[1].removesuffix(".json")
    path = f"replies/energie/{CABLE}/20261201T093005.123456Z-{nonce}.md"
    assert [p.path for p in report.written] == [path] and report.findings == [] and report.commit
    assert on_branch(repo) == {path: (
        "---\ncommunity: energie\ncable: 2026-BERLIN-0001\nauthor: a.martin@example.org\n"
        "at: '2026-12-01T09:30:05Z'\nvisibility: editors\nrelease: r1\n"
        f"digest: sha256:{'ab' * 32}\nstore_key: {key}\n---\nMerci.\n\nDeux *remarques*.\n")}
    # The branch starts from HEAD; HEAD, the index and the working tree are as they were
    assert repo.git("rev-parse", "replies~1").strip() == head and repo.git("rev-parse", "HEAD").strip() == head
    assert repo.git("status", "--porcelain") == "" and not (repo.root / "replies").exists()
    # A valid content repository still: `check` is content with the branch merged
    repo.git("merge", "-q", "--ff-only", "replies")
    assert repo.run("check").code == 0


def test_a_second_pull_adds_nothing_and_a_later_reply_is_one_more_commit(repo, store):
    answer(store)
    first = replypull.pull(store, repo.root)
    again = replypull.pull(store, repo.root)
    assert again.written == [] and again.already == 1 and again.commit is None
    assert repo.git("rev-parse", "replies").strip() == first.commit
    answer(store, "Une autre.", moment=MOMENT + dt.timedelta(minutes=5))
    later = replypull.pull(store, repo.root)
    assert len(later.written) == 1 and later.already == 1
    assert repo.git("rev-parse", "replies~1").strip() == first.commit and len(on_branch(repo)) == 2


def test_once_the_branch_is_merged_and_deleted_a_pull_still_adds_nothing(repo, store):
    answer(store)
    replypull.pull(store, repo.root)
    repo.git("merge", "-q", "--ff-only", "replies")
    repo.git("branch", "-q", "-d", "replies")
    report = replypull.pull(store, repo.root)
    assert report.written == [] and report.already == 1 and gitrepo.branch_commit(repo.root, "replies") is None


@pytest.mark.parametrize(("text", "code"), [
    ("Merci.\n\nCONFIDENTIEL DÉFENSE\n\nLe texte.", "E302"),
    ("> DIFFUSION RESTREINTE\n\nsuite", "E302"),
    ("(S//NF) Le paragraphe.", "E302"),
    ("Voir <script>alert(1)</script>", "E501"),
    ("<iframe src=https://evil.example></iframe>", "E501"),
    ("Un <!-- commentaire caché --> texte", "E305"),
])
def test_a_reply_with_a_marking_or_unsafe_html_is_reported_like_check_and_never_written(repo, store, text, code):
    answer(store, text)
    answer(store, "Une réponse sans histoire.", moment=MOMENT + dt.timedelta(seconds=1))
    report = replypull.pull(store, repo.root)
    assert [p.reply.text for p in report.written] == ["Une réponse sans histoire."]
    assert code in {f.code for f in report.findings}
    [held] = report.held()
    assert held.startswith(f"replies/energie/{CABLE}/20261201T093005.123456Z-")
    assert all(f.line >= 11 for f in report.findings)  # the text's lines, after the front matter
    assert text.splitlines()[0] not in "".join(on_branch(repo).values())
    # ...and it is reported again at the next pull: it stays held until someone deals with it
    assert replypull.pull(store, repo.root).held() == {held}


def test_what_the_gate_would_have_refused_is_held_too(repo, store):
    """A store written by something other than the gate (hidden characters, a record under another
    member's key, bytes that are not a reply) is not trusted either."""
    record = replies.Reply("energie", CABLE, MEMBER, "r1", "sha256:" + "ab" * 32, "2026-12-01T09:30:05Z",
                           replies.EDITORS, "SE\u200bCRET caché")
    store.create(storage.reply_key("energie", CABLE, MOMENT, MEMBER, "00aa"), record.to_json())
    store.create(storage.reply_key("energie", CABLE, MOMENT, "b@example.org", "00bb"), record.to_json())
    store.create(storage.reply_key("energie", CABLE, MOMENT, MEMBER, "00cc"), b"\x00\x01 not json")
    report = replypull.pull(store, repo.root)
    assert report.written == [] and report.commit is None
    assert {f.code for f in report.findings} >= {"E303", "E206"} and len(report.held()) == 3


def test_the_branch_checked_out_is_refused(repo, tmp_path):
    answer(storage.FolderStore(tmp_path / "store"))
    head = repo.git("rev-parse", "HEAD").strip()
    result = repo.run("replies", "pull", "--store", str(tmp_path / "store"), "--branch", "main")
    assert result.code == 1 and "checked out" in result.output
    assert gitrepo.branch_commit(repo.root, "main") == head and repo.git("status", "--porcelain") == ""


def test_the_command_reports_tells_the_author_and_editors_without_the_text_and_tells_once(repo, tmp_path, smtp):
    controller, mailbox = smtp
    store_dir = tmp_path / "store"
    store = storage.FolderStore(store_dir)
    answer(store, "Le texte de la réponse, qui ne part jamais par courriel.", visibility=replies.COMMUNITY)
    answer(store, "CONFIDENTIEL DÉFENSE", moment=MOMENT + dt.timedelta(seconds=1))
    before = len(mailbox.received)
    result = repo.run("replies", "pull", "--store", str(store_dir), "--smtp", f"127.0.0.1:{controller.port}",
                      "--smtp-from", "Diplomatie <replies@example.org>")
    assert result.code == 1, result.output  # one reply held back
    assert ".md:11:1: E302 classification marking" in result.output and "replies: 1 new on replies" in result.output
    received = mailbox.received[before:]
    assert sorted(rcpt for _, [rcpt], _ in received) == sorted({AUTHOR, EDITOR, OWNER})
    for _, _, message in received:
        assert str(make_header(decode_header(message["Subject"]))) == "Une réponse à un télégramme de « Énergie en Europe »"
        assert message["Content-Language"] == "fr"
        text = "".join(part.get_payload(decode=True).decode() for part in message.walk()
                       if part.get_content_maintype() == "text")
        assert CABLE in text and "peut être partagée" in text and "replies/energie/" in text
        assert "ne part jamais" not in text and "CONFIDENTIEL" not in text and MEMBER not in text
    # Nothing new: nothing committed, nobody told again
    again = repo.run("replies", "pull", "--store", str(store_dir), "--smtp", f"127.0.0.1:{controller.port}")
    assert "replies: 0 new on replies, 1 already there, 1 held back" in again.output
    assert len(mailbox.received) == before + len(received)


def test_an_smtp_server_that_is_down_is_an_error_the_replies_are_committed_and_the_next_run_tells_once(
        repo, tmp_path, smtp):
    from tests.gatekit import refusing_port

    controller, mailbox = smtp
    store = storage.FolderStore(tmp_path / "store")
    answer(store)
    with refusing_port() as port:
        result = repo.run("replies", "pull", "--store", str(tmp_path / "store"), "--smtp", f"127.0.0.1:{port}")
    assert result.code == 1 and "not sent" in result.output
    assert len(on_branch(repo)) == 1
    owed = [k for k in store.list(storage.REPLY_NOTICES_PREFIX) if k.endswith("-owed")]
    assert len(owed) == 3 and not [k for k in store.list(storage.REPLY_NOTICES_PREFIX) if k.endswith("-sent")]
    assert all(MEMBER not in store.get(k).decode() for k in owed)  # the author of the reply is named nowhere
    # The next run adds no reply, and sends each notice the server refused, once
    before = len(mailbox.received)
    args = ("replies", "pull", "--store", str(tmp_path / "store"), "--smtp", f"127.0.0.1:{controller.port}")
    result = repo.run(*args)
    assert result.code == 0, result.output
    assert "0 new on replies, 1 already there" in result.output and "told: 3 e-mails sent" in result.output
    told = mailbox.received[before:]
    assert sorted(rcpt for _, [rcpt], _ in told) == sorted({AUTHOR, EDITOR, OWNER})
    for _, _, message in told:
        text = "".join(part.get_payload(decode=True).decode() for part in message.walk()
                       if part.get_content_maintype() == "text")
        assert CABLE in text and "replies/energie/" in text
    assert repo.run(*args).code == 0 and len(mailbox.received) == before + 3  # and never again
    assert not [k for k in store.list(storage.REPLY_NOTICES_PREFIX) if k.endswith("-owed")]


def test_two_runs_telling_at_once_send_each_notice_once(repo, tmp_path, smtp):
    import threading

    controller, mailbox = smtp
    store = storage.FolderStore(tmp_path / "store")
    answer(store)
    repository = load(repo.root)
    report = replypull.pull(store, repo.root)
    assert replypull.owe(store, repository, report) == 3 and replypull.owe(store, repository, report) == 0
    before = len(mailbox.received)
    mail = SmtpSettings(host="127.0.0.1", port=controller.port, sender="diplomatie@example.org", timeout=10)
    results = []
    runs = [threading.Thread(target=lambda: results.append(replypull.tell(store, repository, mail, MOMENT)))
            for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(60)
    assert sorted(p for sent, _ in results for p in sent) == sorted({AUTHOR, EDITOR, OWNER})
    assert len(mailbox.received) == before + 3


def test_two_pulls_at_once_never_lose_a_commit(repo, tmp_path):
    store = storage.FolderStore(tmp_path / "store")
    for n in range(3):
        answer(store, f"réponse {n}", moment=MOMENT + dt.timedelta(seconds=n))
    runs = [subprocess.Popen([sys.executable, "-m", "pipeline", "replies", "pull", "--store", str(tmp_path / "store"),
                              "--root", str(repo.root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)]
    outcomes = [run.wait(60) for run in runs]
    errors = [run.stderr.read().decode() for run in runs]
    assert 0 in outcomes, errors  # one wins; the other either finds it done or is refused, never overwrites
    assert len(on_branch(repo)) == 3
    assert replypull.pull(store, repo.root).written == []


def test_what_a_member_sends_through_the_gate_is_what_lands_in_the_repository(repo, tmp_path):
    """Both sides of the contract at once: the gate's form writes, the pull reads."""
    import dataclasses
    import html
    import re

    from gate import tokens
    from tests.gatekit import FakeClock, gate_in_process, publish_site, write_members

    store = storage.FolderStore(tmp_path / "store")
    write_members(store, {"energie": {"title": "Énergie en Europe", "members": {MEMBER: None}}})
    manifest = publish_site(store, "energie", {f"2026/{CABLE}.html": b"<p>cable</p>"}, "r1")
    store.put(manifest.key, dataclasses.replace(manifest, cables=(CABLE,)).to_json(), "application/json")
    tokens.init(tmp_path / "keys")
    page_path = f"/replies/energie/2026/{CABLE}.html"
    typed = "Merci.\r\n\r\n| a | b |\r\n|---|---|\r\n| 1 | 2 |"
    with gate_in_process(tmp_path / "store", tmp_path / "keys", clock=FakeClock()) as gate:
        cookie = gate.session_cookie(MEMBER)
        form = gate.get(page_path, cookie=cookie).body.decode()
        csrf = html.unescape(re.search(r'name="csrf" value="([^"]+)"', form).group(1))
        sent = gate.post_form(page_path, {"csrf": csrf, "text": typed, "visibility": "community"}, cookie=cookie,
                              headers={"Sec-Fetch-Site": "same-origin"})
        assert sent.status == 303
    report = replypull.pull(store, repo.root)
    [(path, text)] = on_branch(repo).items()
    assert [p.path for p in report.written] == [path] and report.findings == []
    assert text.endswith("---\nMerci.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "visibility: community\n" in text and f"author: {MEMBER}\n" in text and "release: r1\n" in text
