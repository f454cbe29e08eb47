"""A content repository, loaded: its cables, its communities, and every finding about them.

``load`` reads one version (the working tree, or a commit with ``ref``/``at``) and runs every
check that needs more than one file: duplicate ids, references to unknown communities or cables,
approvals by non-editors (a warning: the plan holds the cable), invitations by non-editors, stale approvals, unselected cables.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import approvals, cables, communities, sitetexts, vocabulary
from pipeline.cables import Cable
from pipeline.communities import Community
from pipeline.findings import Finding, Findings
from pipeline.messages import _
from pipeline.sources import Entry, Version, WorkingTree, open_version, signature

if TYPE_CHECKING:
    from pipeline.buildcache import ParsedIndex
    from pipeline.replyfiles import ReplyFile

#: Where the members' replies are kept (``pipeline.replyfiles.FOLDER``, which is imported, with the
#: address checks it needs, only where a version has replies).
REPLIES = "replies"

CONTENT = "content"
CABLE_PATH = re.compile(r"^content/(\d{4})/([^/]+)\.md$")
#: The folder of :data:`CABLE_PATH` (matched whole: ``content/<year>``).
CABLE_FOLDER = re.compile(r"content/(\d{4})")


class Cables(MutableMapping[str, Cable]):
    """The cables of a loaded version by id, each made when first asked for.

    A load through the parse cache knows every cable's id without making the cable (see
    :class:`pipeline.buildcache.ParsedIndex`); a command about one cable makes that one, and one that
    reads every cable (``build``) makes them all. A cable found invalid by the load (by its own file,
    or by an error another file or communities.yaml shows) is made invalid when it is made."""

    def __init__(self) -> None:
        self._make: dict[str, Callable[[], Cable]] = {}  # by id: how to make it, unless by its path
        self._paths: dict[str, str] = {}
        self._base: dict[str, Cable] = {}
        self._final: dict[str, Cable] = {}
        self._local: set[str] = set()  # invalid by its own file (its year folder)
        self._invalid: set[str] = set()  # invalid by what the whole repository shows
        self.maker: Callable[[str], Cable] | None = None  # the cable of a file, by its path (the parse cache)

    def add(self, cable_id: str, path: str, make: Callable[[], Cable] | None = None, valid: bool = True) -> None:
        """The cable ``cable_id`` of the file ``path``, made by ``make`` (else by :attr:`maker`, from
        its path) when first asked for."""
        self._paths[cable_id] = path
        if make is not None:
            self._make[cable_id] = make
        if not valid:
            self._local.add(cable_id)

    def path(self, cable_id: str) -> str:
        """The file of ``cable_id``, without making the cable."""
        return self._paths[cable_id]

    def paths(self) -> dict[str, str]:
        """The file of every cable, by id, without making them (do not change it)."""
        return self._paths

    def invalidate(self, cable_id: str) -> None:
        """Mark the cable invalid: an error in it, or about it in another file."""
        self._invalid.add(cable_id)
        self._final.pop(cable_id, None)

    def invalidated(self, cable_id: str) -> bool:
        """Whether :meth:`invalidate` marked the cable."""
        return cable_id in self._invalid

    def base(self, cable_id: str) -> Cable:
        """The cable as its own file makes it, before what other files show."""
        cable = self._base.get(cable_id)
        if cable is None:
            make = self._make.get(cable_id)
            cable = make() if make is not None else self.maker(self._paths[cable_id])
            self._base[cable_id] = cable = _invalid(cable) if cable_id in self._local else cable
        return cable

    def __getitem__(self, cable_id: str) -> Cable:
        cable = self._final.get(cable_id)
        if cable is None:
            cable = self.base(cable_id)
            self._final[cable_id] = cable = _invalid(cable) if cable_id in self._invalid else cable
        return cable

    def __setitem__(self, cable_id: str, cable: Cable) -> None:
        self._make[cable_id], self._paths[cable_id] = (lambda: cable), cable.path
        self._base[cable_id] = self._final[cable_id] = cable
        self._local.discard(cable_id)
        self._invalid.discard(cable_id)

    def __delitem__(self, cable_id: str) -> None:
        del self._paths[cable_id]
        for memo in (self._make, self._base, self._final):
            memo.pop(cable_id, None)
        self._local.discard(cable_id)
        self._invalid.discard(cable_id)

    def __contains__(self, cable_id: object) -> bool:
        return cable_id in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def _invalid(cable: Cable) -> Cable:
    """``cable`` marked invalid, its body still unread (``dataclasses.replace`` would read it)."""
    if not cable.valid:
        return cable
    out = copy.copy(cable)
    object.__setattr__(out, "valid", False)
    return out


@dataclass
class Repository:
    root: Path
    version: Version
    cables: Cables = field(default_factory=Cables)
    communities: dict[str, Community] = field(default_factory=dict)
    findings: Findings = field(default_factory=Findings)
    #: the SHA-256 of ``communities.yaml`` as read (None: missing or a link)
    communities_sha: str | None = None
    #: the subjects' and ministries' labels (``vocabulary.yaml``; :data:`vocabulary.NONE` without it)
    vocabulary: vocabulary.Vocabulary = vocabulary.NONE
    #: the SHA-256 of ``vocabulary.yaml`` as read (None: missing)
    vocabulary_sha: str | None = None
    #: the parse cache the working tree was loaded through (None: none), where the deciding layer
    #: keeps what it computes per cable too (the plan), under :attr:`facts_key`
    memo: ParsedIndex | None = None
    facts_key: str = ""
    #: whether each cable is valid after every check, by id, known without making the cable (only
    #: through the parse cache)
    validity: dict[str, bool] | None = None
    #: the members' replies the repository keeps (``replies/``, pipeline/replyfiles.py), by id
    replies: dict[str, ReplyFile] = field(default_factory=dict)
    #: the texts the repository gives its sites' legal notice and accessibility statement (``pages/``)
    texts: sitetexts.SiteTexts = sitetexts.NONE

    @property
    def commit(self) -> str | None:
        return self.version.commit

    @property
    def commit_time(self) -> dt.datetime | None:
        return self.version.commit_time

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]


def load(root: Path, ref: str | None = None, at: dt.datetime | None = None,
         today: dt.date | None = None, cache: Path | None = None) -> Repository:
    """Load and check one version of the content repository at ``root``. With ``cache`` (a build
    cache folder, see :mod:`pipeline.buildcache`), cables parsed before are not parsed again."""
    version = open_version(root, ref, at)
    repo = Repository(root, version)
    index = None
    if cache is not None and isinstance(version.tree, WorkingTree):
        from pipeline.buildcache import ParsedIndex

        index = ParsedIndex(cache, root)
    _load_communities(repo, index)
    _load_vocabulary(repo)
    for community in repo.communities.values():  # a subject a selection names must be one cables may name
        vocabulary.check_selection(repo.vocabulary, community, repo.findings)
    repo.texts = sitetexts.load(version.tree, repo.findings)
    _check_site_config(repo)
    today = today or dt.datetime.now(dt.UTC).date()
    if cache is None:
        _load_cables(repo, _eager(lambda entry, read, found: cables.parse(entry.path, read(), found)))
        _cross_check(repo, today)
    elif index is not None:
        repo.cables.maker = index.cable  # each cable made from its file's row when first asked for
        _load_cables(repo, index.head, index.known)
        _cross_check(repo, today, index)
        index.save()
    else:
        from pipeline.buildcache import ParsedCables

        parsed = ParsedCables(cache)
        _load_cables(repo, _eager(lambda entry, read, found: parsed.parse(entry.path, read(), found)))
        _cross_check(repo, today)
    _load_replies(repo)
    repo.findings.sort()
    return repo


def _load_replies(repo: Repository) -> None:
    """Every reply file of this version, checked (pipeline/replyfiles.py), and what it names: an
    existing community and cable. A reply with an error is kept, marked invalid: never published."""
    tree = repo.version.tree
    for entry in tree.walk(REPLIES):
        from pipeline import replyfiles

        if not entry.path.endswith(".md"):
            continue
        if entry.is_symlink:
            repo.findings.add(entry.path, 1, "E103", _("a reply file is a symbolic link"), _("commit the file itself"))
            continue
        found = Findings()
        reply = replyfiles.parse(entry.path, tree.read(entry.path), found)
        if reply is None:
            repo.findings.extend(found)
            continue
        if reply.community not in repo.communities:
            found.add(entry.path, reply.lines.get("community", 1), "E401",
                      _("reply to unknown community '{community}'").format(community=reply.community))
        if reply.cable not in repo.cables:
            found.add(entry.path, reply.lines.get("cable", 1), "E402",
                      _("reply to unknown cable {cable}").format(cable=reply.cable))
        if reply.valid and any(f.is_error for f in found):
            reply = dataclasses.replace(reply, valid=False)
        repo.findings.extend(found)
        repo.replies[reply.id] = reply


def _eager(parse: Callable[[Entry, Callable[[], bytes], Findings], Cable | None]) -> Head:
    """A :data:`Head` for a parse that makes the cable at once."""
    def head(entry: Entry, read: Callable[[], bytes], found: Findings) -> tuple[str, int, Callable[[], Cable]] | None:
        cable = parse(entry, read, found)
        return (cable.id, cable.lines.get("id", 1), lambda: cable) if cable is not None else None
    return head


#: The modules whose code the parse of communities.yaml depends on (besides the parser's, in the
#: index's own version).
COMMUNITY_MODULES = ("pipeline.communities", "gate.addresses", "gate.membership")


def _load_communities(repo: Repository, index: ParsedIndex | None = None) -> None:
    tree = repo.version.tree
    entry = tree.entry(communities.PATH)
    if entry is None:
        repo.findings.add(communities.PATH, 1, "E201", _("communities.yaml is missing"),
                          _("create it at the repository root (see README: communities.yaml)"))
        return
    if entry.is_symlink:
        repo.findings.add(communities.PATH, 1, "E103", _("communities.yaml is a symbolic link"),
                          _("commit the file itself"))
        return
    data = tree.read(communities.PATH)
    repo.communities_sha = hashlib.sha256(data).hexdigest()
    if index is None:
        repo.communities = communities.parse(data, repo.findings)
        _check_every_terms(repo)
        return
    # Through the parse cache: the file parsed once per content (the address checks it needs are
    # much of a command's start-up time).
    key = _key(index.code, repo.communities_sha, COMMUNITY_MODULES, ("email-validator", "idna"))
    kept = index.memo("communities", key)
    try:
        parsed, found = communities.from_data(kept["communities"]), [Finding(**f) for f in kept["findings"]]
    except (TypeError, KeyError, ValueError, AttributeError):
        found = Findings()
        parsed = communities.parse(data, found)
        index.keep_memo("communities", key, {"communities": communities.to_data(parsed),
                                             "findings": [dataclasses.asdict(f) for f in found]})
    repo.communities = parsed
    repo.findings.extend(found)
    _check_every_terms(repo)


def _load_vocabulary(repo: Repository) -> None:
    """The labels of ``vocabulary.yaml``, when the version has the file (a link is refused, and
    leaves the vocabulary broken: fail closed)."""
    tree = repo.version.tree
    entry = tree.entry(vocabulary.PATH)
    if entry is None:
        return
    if entry.is_symlink:
        repo.findings.add(vocabulary.PATH, 1, "E103", _("vocabulary.yaml is a symbolic link"), _("commit the file itself"))
        repo.vocabulary, repo.vocabulary_sha = vocabulary.BROKEN, "link"
        return
    data = tree.read(vocabulary.PATH)
    repo.vocabulary_sha = hashlib.sha256(data).hexdigest()
    repo.vocabulary = vocabulary.parse(data, repo.findings)


def _key(code: str, sha: str | None, modules: tuple[str, ...], distributions: tuple[str, ...] = ()) -> str:
    """What something kept in the parse cache depends on: the parser's code (``code``), the file it
    was computed from (``sha``), and the code of ``modules`` and versions of ``distributions``."""
    from pipeline.buildcache import source_of, version_of

    h = hashlib.sha256(f"{code}\0{sha}\0".encode())
    for module in modules:
        h.update(source_of(module))
    for distribution in distributions:
        h.update(f"{distribution}={version_of(distribution)}\0".encode())
    return h.hexdigest()


def _check_every_terms(repo: Repository) -> None:
    for community in repo.communities.values():
        if community.terms:
            _check_terms(repo, community)


def _check_terms(repo: Repository, community) -> None:
    """A community's terms of use must be a file of this version: UTF-8, at most 100 kB, not a link."""
    tree, path, line = repo.version.tree, community.terms, community.lines.get("terms", 1)
    entry = tree.entry(path)
    where = _("terms of use of '{id}'").format(id=community.id)
    if entry is None:
        repo.findings.add(communities.PATH, line, "E201", _("{where}: {path} does not exist").format(where=where, path=path),
                          _("add the file (Markdown) or fix the path"))
    elif entry.is_symlink:
        repo.findings.add(communities.PATH, line, "E103", _("{where}: {path} is a symbolic link").format(where=where, path=path),
                          _("commit the file itself"))
    else:
        data = tree.read(path)
        if len(data) > communities.MAX_TERMS_BYTES:
            repo.findings.add(communities.PATH, line, "E102", _("{where}: {path} is larger than 100 kB").format(where=where, path=path),
                              _("shorten the terms"))
        else:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                repo.findings.add(communities.PATH, line, "E101", _("{where}: {path} is not valid UTF-8").format(where=where, path=path),
                                  _("save it as UTF-8"))


def terms_text(repo: Repository, community) -> bytes:
    """The bytes of the community's terms of use in this version (checked by :func:`_check_terms`)."""
    return repo.version.tree.read(community.terms)


def load_communities(root: Path) -> Repository:
    """Today's ``communities.yaml`` alone (the working tree), without reading a single cable.

    What the membership snapshot needs: ``publish`` writes ``members.json`` from it first, so no
    cable, however broken, can stop a removed member from losing access."""
    repo = Repository(root, open_version(root))
    _load_communities(repo)
    repo.findings.sort()
    return repo


def _check_site_config(repo: Repository) -> None:
    """A repository's own mkdocs.yml may only enable what pipeline/siteconfig.py allows."""
    from pipeline import siteconfig

    entry = repo.version.tree.entry(siteconfig.PATH)
    if entry is None:
        return
    if entry.is_symlink:
        repo.findings.add(siteconfig.PATH, 1, "E103", _("mkdocs.yml is a symbolic link"), _("commit the file itself"))
        return
    text = repo.version.tree.read(siteconfig.PATH).decode("utf-8", errors="replace")
    for problem in siteconfig.problems(text, Path(repo.root)):
        repo.findings.add(siteconfig.PATH, problem.line, "E502", problem.message, col=problem.col)


#: How a load reads one file: ``head(entry, read, findings)`` gives (id, line of the id[, a function
#: making the cable]) or None when the file holds no cable, its own findings added to ``findings``
#: (``read`` gives the file's bytes: a cache may not need them). Without a function, the cable is
#: made by the cables' :attr:`Cables.maker` from its path.
Head = Callable[[Entry, Callable[[], bytes], Findings], "tuple[str, int] | tuple[str, int, Callable[[], Cable]] | None"]
#: What a load knows of a file without an :class:`Entry`: ``known(path, lstat)`` gives (id, line of
#: the id) of a cable with no finding of its own whose file did not change, else None (see
#: :meth:`pipeline.buildcache.ParsedIndex.known`).
Known = Callable[[str, "os.stat_result"], "tuple[str, int] | None"]


def _load_cables(repo: Repository, head: Head, known: Known | None = None) -> None:
    """Every cable of the version, read by ``head`` (see :data:`Head`); with ``known`` (the working
    tree through the parse cache), each file's ``lstat`` is first given to ``known``, and only the
    files it does not know are made into an :class:`Entry` for ``head``."""
    tree, findings = repo.version.tree, repo.findings
    content = tree.entry(CONTENT)
    if content is not None and content.is_symlink:
        findings.add(CONTENT, 1, "E103", _("content/ is a symbolic link"), _("commit the cables themselves"))
        return
    seen: dict[str, str] = {}
    if known is None:
        for entry in tree.walk(CONTENT):
            _load_cable(repo, entry, CABLE_PATH.match(entry.path), head, seen)
        return
    add, max_bytes = repo.cables.add, cables.MAX_BYTES
    for rel, files in tree.scan(CONTENT):
        year = CABLE_FOLDER.fullmatch(rel)  # the layout's expression, once per folder
        for name, st in files:
            path = f"{rel}/{name}"
            # content/<year>/<name>.md, a file of at most MAX_BYTES: exactly what CABLE_PATH matches
            # and the size check lets through (a link goes the long way, to be refused)
            got = (known(path, st) if year is not None and len(name) > 3 and name.endswith(".md")
                   and st.st_size <= max_bytes and not stat.S_ISLNK(st.st_mode) else None)
            if got is None:
                entry = Entry(path, stat.S_ISLNK(st.st_mode), st.st_size, signature(st))
                _load_cable(repo, entry, CABLE_PATH.match(path), head, seen)
                continue
            cable_id = got[0]
            if cable_id in seen or year.group(1) != cable_id[:4]:
                _add_cable(repo, path, year, got, None, seen)
                continue
            seen[cable_id] = path
            add(cable_id, path)


def _load_cable(repo: Repository, entry: Entry, match: re.Match | None, head: Head, seen: dict[str, str]) -> None:
    """One file of content/ (``match``: of :data:`CABLE_PATH`, None: outside the layout)."""
    findings = repo.findings
    if entry.is_symlink:
        findings.add(entry.path, 1, "E103", _("symbolic link in content/"),
                     _("replace the link by the file itself; links could reach outside the repository"))
        return
    if not match:
        if entry.path.rsplit("/", 1)[-1] in (".gitkeep", ".gitignore"):
            return
        findings.add(entry.path, 1, "E104", _("file outside the cable layout"),
                     _("cables live at content/<year>/<id>.md; other files do not belong in content/"))
        return
    if entry.size > cables.MAX_BYTES:
        findings.add(entry.path, 1, "E102", _("file is {size} bytes, over the 1 MiB limit").format(size=entry.size),
                     _("split the cable, or move long annexes out of it"))
        return
    got = head(entry, functools.partial(repo.version.tree.read, entry.path), findings)
    if got is not None:
        _add_cable(repo, entry.path, match, got[:2], got[2] if len(got) == 3 else None, seen)


def _add_cable(repo: Repository, path: str, match: re.Match, got: tuple[str, int],
               make: Callable[[], Cable] | None, seen: dict[str, str]) -> None:
    """The cable ``got`` (id, line of the id) of the file ``path``, checked against its year folder
    (``match``'s first group) and the ids seen before it."""
    findings = repo.findings
    cable_id, id_line = got
    valid = True
    if match.group(1) != cable_id[:4]:
        findings.add(path, id_line, "E104",
                     _("cable {id} is in the folder of year {year}").format(id=cable_id, year=match.group(1)),
                     _("move it to content/{cable_id}/").format(cable_id=cable_id[:4]))
        valid = False
    if cable_id in seen:
        findings.add(path, id_line, "E208",
                     _("id {id} is already used by {path}").format(id=cable_id, path=seen[cable_id]),
                     _("give this cable the next number of its post that no file of content/ uses"))
        repo.cables.invalidate(cable_id)
        return
    seen[cable_id] = path
    repo.cables.add(cable_id, path, make, valid)


#: The modules whose code the facts kept per cable depend on (besides the parser's, in the index's
#: own version, and communities.yaml).
FACT_MODULES = ("pipeline.repository", "pipeline.communities", "pipeline.approvals", "pipeline.plan",
                "pipeline.vocabulary", "gate.addresses", "gate.membership", "gate.store")


def facts_key(repo: Repository, index: ParsedIndex) -> str:
    """What the facts kept per cable depend on besides the cable's file: the parsing code, the code
    of the cross-file checks and of the plan, communities.yaml and vocabulary.yaml."""
    return _key(index.code, f"{repo.communities_sha}/{repo.vocabulary_sha}", FACT_MODULES + COMMUNITY_MODULES, ("email-validator", "idna"))


def _cross_check(repo: Repository, today: dt.date, index: ParsedIndex | None = None) -> None:
    """The checks that need more than one file. Through the parse cache (``index``), what a cable's
    checks found is kept with its file (:meth:`~pipeline.buildcache.ParsedIndex.keep_facts`) and
    computed again only when the file or communities.yaml changed; the one check of a cable that
    depends on other cables (the cable it supersedes exists) runs every time."""
    add = repo.findings.add
    known = repo.communities
    if index is not None:
        repo.memo, repo.facts_key, repo.validity = index, facts_key(repo, index), {}
    paths = repo.cables.paths()
    kept = index.facts_of(paths.values(), "checks", repo.facts_key) if index is not None else {}
    validity = repo.validity
    clean = None  # the facts of a cable with nothing found: one value the snapshot shares between cables
    for cable_id, path in list(paths.items()):
        facts = kept.get(path)
        if facts is not None and (facts is clean or type(facts) is dict and facts.get("valid") is True
                                  and facts.get("found") == [] and facts.get("supersedes") is None):
            clean = facts
            if validity is not None:  # most cables: nothing found, nothing superseded
                validity[cable_id] = not repo.cables.invalidated(cable_id)
            continue
        try:
            own, valid, supersedes = [Finding(**f) for f in facts["found"]], facts["valid"], facts["supersedes"]
            if not isinstance(valid, bool) or not (supersedes is None or isinstance(supersedes[0], str)
                                                   and isinstance(supersedes[1], int)):
                raise TypeError("not facts")
        except (TypeError, KeyError, IndexError, AttributeError):
            cable = repo.cables.base(cable_id)
            own = Findings()
            labelled = vocabulary.check_cable(repo.vocabulary, cable, own)  # every finding, not the first
            valid = _check_cable(cable, known, own.add) and labelled and cable.valid
            supersedes = [cable.supersedes, cable.lines.get("supersedes", 1)] if cable.supersedes else None
            if index is not None:
                index.keep_facts(path, "checks", repo.facts_key, {
                    "found": [dataclasses.asdict(f) for f in own], "valid": valid, "supersedes": supersedes})
        repo.findings.extend(own)
        if supersedes is not None and supersedes[0] not in repo.cables:
            add(path, supersedes[1], "E402", _("supersedes unknown cable {supersedes}").format(supersedes=supersedes[0]),
                _("name an existing cable id"))
            valid = False
        if not valid:
            repo.cables.invalidate(cable_id)
        if repo.validity is not None:
            repo.validity[cable_id] = not repo.cables.invalidated(cable_id)
    for community in known.values():
        for key in ("cables", "exclude"):
            for cid in getattr(community.select, key):
                if cid not in repo.cables:
                    add(communities.PATH, community.select.lines.get(key, community.lines.get("id", 1)), "E402",
                        _("'{key}' of community '{id}' names unknown cable {cid}").format(key=key, id=community.id, cid=cid),
                        _("check the id (content/<year>/<id>.md)"))
        allowed = community.editor_emails | {community.owner}
        for member in community.members:
            if member.invited_by and member.invited_by not in allowed:
                add(communities.PATH, member.invited_by_line or member.line, "E404",
                    _("{email} was invited by {invited_by}, who is neither owner nor editor of '{id}'").format(email=member.email, invited_by=member.invited_by, id=community.id), _("the owner or an editor must invite members"))
            if member.expires and member.expires < today:
                add(communities.PATH, member.line, "W603",
                    _("membership of {email} in '{id}' expired on {expires}").format(email=member.email, id=community.id, expires=member.expires),
                    _("renew 'expires' or remove the member"))


def _check_cable(cable: Cable, known: dict[str, Community], add: Callable[..., None]) -> bool:
    """The checks of one cable against communities.yaml (findings given to ``add``); False when one
    is an error. (Whether the cable it supersedes exists is checked by :func:`_cross_check`.)"""
    ok = True
    for cid in cable.communities:
        if cid not in known:
            add(cable.path, cable.lines.get("communities", 1), "E401", _("unknown community '{cid}'").format(cid=cid),
                _("known communities: {known}").format(known=", ".join(sorted(known)) or _("none")))
            ok = False
    for approval in cable.approvals:
        community = known.get(approval.community)
        if community is None:
            add(cable.path, approval.line, "E401",
                _("approval for unknown community '{community}'").format(community=approval.community),
                _("known communities: {known}").format(known=", ".join(sorted(known)) or _("none")))
            ok = False
        elif approval.by not in community.editor_emails:  # held for that community, not an error:
            add(cable.path, approval.line, "W604",  # removing an editor must not break the repository
                _("{by} is not (or no longer) an editor of '{id}': this approval does not count").format(
                    by=approval.by, id=community.id),
                _("an editor of '{id}' must approve: diplomatie approve {cable} --community {id}").format(
                    id=community.id, cable=cable.id))
    approved_for = set() if cable.status == "withdrawn" else {a.community for a in cable.approvals}
    for cid in sorted(approved_for & known.keys()):  # a withdrawn cable needs no new approval
        if approvals.verdict(cable, known[cid]).stale:
            add(cable.path, cable.lines.get("approvals", 1), "W601",
                _("approval for '{cid}' is stale: the cable changed after it was approved").format(cid=cid),
                _("an editor must approve this version: diplomatie approve {id} --community {cid}").format(
                    id=cable.id, cid=cid))
    if not any(c.selects(cable) for c in known.values()):
        add(cable.path, cable.lines.get("id", 1), "W602", _("no community selects {id}").format(id=cable.id),
            _("target a community with 'communities:' or ask an owner to widen its rules"))
    return ok
