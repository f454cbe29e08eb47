"""``replies pull``: the members' replies, from the store into the content repository, checked.

Each reply the gate stored (gate/replies.py) becomes one file, ``replies/<community>/<cable>/<time>-
<n>.md`` (front matter, then the text as the member typed it; ``<time>`` and ``<n>`` come from its
store key, so the same reply always lands at the same path), committed on a branch of the content
repository (pipeline/gitrepo.py ``commit_files_to_branch``), ready for a merge request: the replies
are then versioned with the correspondence.

Idempotent: a reply whose file is already on the branch (or on the base it starts from, once the
branch was merged) is not written again; a second pull adds nothing.

Checked like a cable's body before anything is written (the same rules as ``check``, the same codes):
classification markings as typed and as rendered (E302), what only serves to hide (E303-E305) and
raw HTML the sanitiser would remove (E501). A reply with an error is **never written** to the
repository: it is reported (``path:line:col``, as ``check`` reports, the path being where it would
have gone) and stays in the store for the operator. A stored object that is not a reply (unreadable,
or naming another community, cable or author than its key) is reported too, and skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
from collections import defaultdict
from dataclasses import dataclass, field

import yaml

from gate import replies
from gate import store as storage
from gate.addresses import InvalidAddress, is_canonical
from gate.letters import Postman, SmtpSettings
from gate.replynotice import Arrival, reply_notice
from pipeline import gitrepo, replyfiles
from pipeline.findings import Finding
from pipeline.messages import _
from pipeline.repository import Repository

FOLDER = replyfiles.FOLDER
DEFAULT_BRANCH = "replies"
KEYS = replyfiles.KEYS


@dataclass(frozen=True)
class Pulled:
    """One reply written to the repository."""

    path: str
    reply: replies.Reply


@dataclass
class PullReport:
    """What a pull did: the replies written (and the commit), those already there, those held back."""

    branch: str
    written: list[Pulled] = field(default_factory=list)
    already: int = 0
    findings: list[Finding] = field(default_factory=list)
    commit: str | None = None

    def held(self) -> set[str]:
        return {f.path for f in self.findings}


def reply_file(key: str, reply: replies.Reply) -> str:
    """Where the reply stored under ``key`` goes: ``replies/<community>/<cable>/<time>-<nonce>.md``, the
    reply's id (gate/replies.py ``reply_id``) under its community."""
    return f"{FOLDER}/{reply.community}/{replies.reply_id(key)}.md"


def render(key: str, reply: replies.Reply) -> tuple[str, int]:
    """The file's text (front matter, then the reply's text) and the line its text starts on."""
    meta = {"community": reply.community, "cable": reply.cable, "author": reply.author, "at": reply.at,
            "visibility": reply.visibility, "release": reply.release, "digest": reply.digest, "store_key": key}
    front = yaml.safe_dump({k: meta[k] for k in KEYS}, allow_unicode=True, sort_keys=False, width=1000)
    head = f"---\n{front}---\n"
    return head + reply.text + "\n", head.count("\n") + 1


def present(repo: gitrepo.GitRepo, ref: str) -> set[str]:
    """The reply files on ``ref``."""
    _commit, snapshot = repo.snapshot(ref)
    return {f.path for f in snapshot.files(FOLDER)}


def pull(store: storage.Store, root, branch: str = DEFAULT_BRANCH, *, base: str = "HEAD",
         now: dt.datetime | None = None) -> PullReport:
    """Bring the store's new replies onto ``branch``; nothing is committed when nothing is new."""
    report = PullReport(branch)
    git = gitrepo.GitRepo(root)
    on_branch = gitrepo.branch_commit(root, branch)
    known = present(git, on_branch or base) | (present(git, base) if on_branch else set())
    new: dict[str, bytes] = {}
    for community in communities(store):
        for key, data in replies.every_reply(store, community):
            try:
                reply = replies.reply_at(key, data)
                path = reply_file(key, reply)
            except (storage.StoreError, ValueError) as exc:
                report.findings.append(Finding(key, 1, 1, "E206", _("not a reply: {error}").format(error=exc),
                                               _("left in the store; look at it, then delete it")))
                continue
            if path in known:
                report.already += 1
                continue
            text, first_line = render(key, reply)
            problems = replyfiles.scan(path, reply.text, first_line)
            if replies.text_problem(reply.text) is not None or not is_canonical(reply.author):
                problems.append(Finding(path, first_line, 1, "E206", _("the stored reply breaks the gate's limits"),
                                        _("left in the store; look at it, then delete it")))
            if problems:
                report.findings += problems
                continue
            new[path] = text.encode()
            report.written.append(Pulled(path, reply))
    if new:
        message = f"Replies from the store: {len(new)} new\n\n" + "\n".join(sorted(new))
        report.commit = gitrepo.commit_files_to_branch(root, branch, new, message, base=base)
    return report


def communities(store: storage.Store) -> list[str]:
    """Every community with at least one reply in the store."""
    return sorted({key.split("/")[1] for key in store.list(storage.REPLIES_PREFIX) if key.count("/") >= 3})


def recipients(repository: Repository, written: list[Pulled]) -> dict[str, dict[str, list[Arrival]]]:
    """Who is told of which new replies: recipient -> community -> arrivals. The cable's author (when the
    cable is in the repository) and the community's owner and editors (communities.yaml)."""
    told: dict[str, dict[str, list[Arrival]]] = defaultdict(lambda: defaultdict(list))
    for pulled in written:
        reply = pulled.reply
        arrival = Arrival(reply.cable, reply.at, reply.visibility == replies.COMMUNITY, pulled.path)
        people: set[str] = set()
        cable = repository.cables.get(reply.cable)
        if cable is not None:
            people.add(cable.author)
        community = repository.communities.get(reply.community)
        if community is not None:
            people.add(community.owner)
            people |= {editor.email for editor in community.editors}
        for person in sorted(p for p in people if is_canonical(p)):
            told[person][reply.community].append(arrival)
    return told


def owe(store: storage.Store, repository: Repository, report: PullReport) -> int:
    """Record in the store, before any is sent, each notice the replies just written call for (one per
    recipient and reply, :func:`recipients`), with what the notice says; how many are new. Created
    if absent: a second pull writing the same reply owes nothing more."""
    count = 0
    for person, by_community in sorted(recipients(repository, report.written).items()):
        for community_id, arrivals in sorted(by_community.items()):
            for arrival in arrivals:
                record = {"format": 1, "recipient": person, "community": community_id, "branch": report.branch,
                          "cable": arrival.cable, "at": arrival.at, "shareable": arrival.shareable,
                          "path": arrival.path}
                key = storage.reply_notice_key(community_id, person, _reply_name(arrival.path), "owed")
                count += store.create(key, json.dumps(record, ensure_ascii=False).encode(), "application/json")
    return count


@dataclass(frozen=True)
class Owed:
    """A notice owed: to whom, of which community, which reply (``<time>-<nonce>``) and what it says."""

    recipient: str
    community: str
    reply: str
    branch: str
    arrival: Arrival

    def key(self, state: str) -> str:
        return storage.reply_notice_key(self.community, self.recipient, self.reply, state)


def owed(store: storage.Store) -> list[Owed]:
    """Every notice owed in the store (an unreadable record is skipped: it names no one to tell)."""
    found = []
    for key in store.list(storage.REPLY_NOTICES_PREFIX):
        if not key.endswith("-owed"):
            continue
        try:
            record = json.loads(store.get(key))
            item = Owed(str(record["recipient"]), str(record["community"]), _reply_name(str(record["path"])),
                        str(record["branch"]), Arrival(str(record["cable"]), str(record["at"]),
                                                       bool(record["shareable"]), str(record["path"])))
            if item.key("owed") != key:
                continue  # a record copied under another key says nothing
        except (storage.NotFound, ValueError, KeyError, TypeError):
            continue
        found.append(item)
    return found


def tell(store: storage.Store, repository: Repository, smtp: SmtpSettings,
         now: dt.datetime) -> tuple[list[str], dict[str, str]]:
    """Send every notice owed (:func:`owe`, this run's and those an SMTP server refused before), one
    e-mail per recipient and community, without the replies' text; (addresses told, {recipient
    (community): why not}).

    Exactly once: each notice is claimed by creating its ``sent`` marker (create-if-absent) before the
    e-mail, so two runs at once never both send it; once the SMTP server took the e-mail the owed
    record is deleted; when it refused, the claims are deleted again and the notice stays owed, for
    the next run. (A run that dies between claim and sending leaves the notice unsent, as reminders
    do: a notice is a courtesy, and the reply is on the branch whatever happens.)"""
    sent: list[str] = []
    failed: dict[str, str] = {}
    groups: dict[tuple[str, str], list[Owed]] = defaultdict(list)
    for item in owed(store):
        groups[(item.recipient, item.community)].append(item)
    with Postman(smtp) as postman:
        for (person, community_id), items in sorted(groups.items()):
            claimed = []
            for item in sorted(items, key=lambda i: i.reply):
                if store.create(item.key("sent"), b'{"format": 1}', "application/json"):
                    claimed.append(item)
                else:  # sent already (by another run, or one that stopped before deleting what it owed)
                    store.delete([item.key("owed")])
            if not claimed:
                continue
            community = repository.communities.get(community_id)
            title, language = (community.title, community.language) if community else (community_id, "fr")
            try:
                message = reply_notice(smtp.sender, person, title, language, [i.arrival for i in claimed],
                                       branch=claimed[0].branch, now=now)
                postman.send(message, person)
            except (OSError, smtplib.SMTPException, InvalidAddress) as exc:
                store.delete([i.key("sent") for i in claimed])  # still owed: the next run sends it
                failed[f"{person} ({community_id})"] = str(exc) or type(exc).__name__
                continue
            store.delete([i.key("owed") for i in claimed])
            sent.append(person)
    return sent, failed


def _reply_name(path: str) -> str:
    """The ``<time>-<nonce>`` of the reply file at ``path``."""
    return path.rsplit("/", 1)[-1].removesuffix(".md")
