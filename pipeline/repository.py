"""A content repository, loaded: its cables, its communities, and every finding about them.

``load`` reads one version (the working tree, or a commit with ``ref``/``at``) and runs every
check that needs more than one file: duplicate ids, references to unknown communities or cables,
approvals by non-editors (a warning: the plan holds the cable), invitations by non-editors, stale approvals, unselected cables.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline import approvals, cables, communities
from pipeline.cables import Cable
from pipeline.communities import Community
from pipeline.findings import Finding, Findings
from pipeline.messages import _
from pipeline.sources import Entry, Version, WorkingTree, open_version

CONTENT = "content"
CABLE_PATH = re.compile(r"^content/(\d{4})/([^/]+)\.md$")


@dataclass
class Repository:
    root: Path
    version: Version
    cables: dict[str, Cable] = field(default_factory=dict)
    communities: dict[str, Community] = field(default_factory=dict)
    findings: Findings = field(default_factory=Findings)

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
    _load_communities(repo)
    _check_site_config(repo)
    if cache is None:
        _load_cables(repo, lambda entry, read, found: cables.parse(entry.path, read(), found))
    elif isinstance(version.tree, WorkingTree):
        from pipeline.buildcache import ParsedIndex

        index = ParsedIndex(cache, root)
        _load_cables(repo, index.parse)
        index.save()
    else:
        from pipeline.buildcache import ParsedCables

        parsed = ParsedCables(cache)
        _load_cables(repo, lambda entry, read, found: parsed.parse(entry.path, read(), found))
    _cross_check(repo, today or dt.datetime.now(dt.UTC).date())
    repo.findings.sort()
    return repo


def _load_communities(repo: Repository) -> None:
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
    repo.communities = communities.parse(tree.read(communities.PATH), repo.findings)
    for community in repo.communities.values():
        if community.terms:
            _check_terms(repo, community)


def _check_terms(repo: Repository, community) -> None:
    """A community's terms of use must be a file of this version: UTF-8, at most 100 kB, not a link."""
    tree, path, line = repo.version.tree, community.terms, community.lines.get("terms", 1)
    entry = tree.entry(path)
    where = f"terms of use of '{community.id}'"
    if entry is None:
        repo.findings.add(communities.PATH, line, "E201", f"{where}: {path} does not exist",
                          "add the file (Markdown) or fix the path")
    elif entry.is_symlink:
        repo.findings.add(communities.PATH, line, "E103", f"{where}: {path} is a symbolic link", "commit the file itself")
    else:
        data = tree.read(path)
        if len(data) > communities.MAX_TERMS_BYTES:
            repo.findings.add(communities.PATH, line, "E102", f"{where}: {path} is larger than 100 kB",
                              "shorten the terms")
        else:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                repo.findings.add(communities.PATH, line, "E101", f"{where}: {path} is not valid UTF-8",
                                  "save it as UTF-8")


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


def _load_cables(repo: Repository, parse: Callable[[Entry, Callable[[], bytes], Findings], Cable | None]) -> None:
    """Every cable of the version, parsed by ``parse(entry, read, findings)`` (``read`` gives the file's
    bytes: a cache may not need them)."""
    tree, findings = repo.version.tree, repo.findings
    content = tree.entry(CONTENT)
    if content is not None and content.is_symlink:
        findings.add(CONTENT, 1, "E103", _("content/ is a symbolic link"), _("commit the cables themselves"))
        return
    seen: dict[str, str] = {}
    for entry in tree.walk(CONTENT):
        if entry.is_symlink:
            findings.add(entry.path, 1, "E103", _("symbolic link in content/"),
                         _("replace the link by the file itself; links could reach outside the repository"))
            continue
        match = CABLE_PATH.match(entry.path)
        if not match:
            if entry.path.rsplit("/", 1)[-1] in (".gitkeep", ".gitignore"):
                continue
            findings.add(entry.path, 1, "E104", _("file outside the cable layout"),
                         _("cables live at content/<year>/<id>.md; other files do not belong in content/"))
            continue
        if entry.size > cables.MAX_BYTES:
            findings.add(entry.path, 1, "E102", _("file is {size} bytes, over the 1 MiB limit").format(size=entry.size),
                         _("split the cable, or move long annexes out of it"))
            continue
        cable = parse(entry, lambda path=entry.path: tree.read(path), findings)
        if cable is None:
            continue
        if match.group(1) != cable.id[:4]:
            findings.add(entry.path, cable.lines.get("id", 1), "E104",
                         _("cable {id} is in the folder of year {year}").format(id=cable.id, year=match.group(1)),
                         _("move it to content/{cable_id}/").format(cable_id=cable.id[:4]))
            cable = replace(cable, valid=False)
        if cable.id in seen:
            findings.add(entry.path, cable.lines.get("id", 1), "E208",
                         _("id {id} is already used by {path}").format(id=cable.id, path=seen[cable.id]),
                         _("give this cable the next number of its post that no file of content/ uses"))
            repo.cables[cable.id] = replace(repo.cables[cable.id], valid=False)
            continue
        seen[cable.id] = entry.path
        repo.cables[cable.id] = cable


def _cross_check(repo: Repository, today: dt.date) -> None:
    add = repo.findings.add
    known = repo.communities
    for cable in list(repo.cables.values()):
        ok = True
        for cid in cable.communities:
            if cid not in known:
                add(cable.path, cable.lines.get("communities", 1), "E401", _("unknown community '{cid}'").format(cid=cid),
                    _("known communities: {known}").format(known=", ".join(sorted(known)) or _("none")))
                ok = False
        if cable.supersedes and cable.supersedes not in repo.cables:
            add(cable.path, cable.lines.get("supersedes", 1), "E402",
                _("supersedes unknown cable {supersedes}").format(supersedes=cable.supersedes), _("name an existing cable id"))
            ok = False
        for approval in cable.approvals:
            community = known.get(approval.community)
            if community is None:
                add(cable.path, approval.line, "E401", _("approval for unknown community '{community}'").format(community=approval.community),
                    _("known communities: {known}").format(known=", ".join(sorted(known)) or _("none")))
                ok = False
            elif approval.by not in community.editor_emails:  # held for that community, not an error:
                add(cable.path, approval.line, "W604",  # removing an editor must not break the repository
                    _("{by} is not (or no longer) an editor of '{id}': this approval does not count").format(by=approval.by, id=community.id), _("an editor of '{id}' must approve: diplomatie approve {cable} --community {id}").format(id=community.id, cable=cable.id))
        approved_for = set() if cable.status == "withdrawn" else {a.community for a in cable.approvals}
        for cid in sorted(approved_for & known.keys()):  # a withdrawn cable needs no new approval
            if approvals.verdict(cable, known[cid]).stale:
                add(cable.path, cable.lines.get("approvals", 1), "W601",
                    _("approval for '{cid}' is stale: the cable changed after it was approved").format(cid=cid),
                    _("an editor must approve this version: diplomatie approve {id} --community {cid}").format(id=cable.id, cid=cid))
        if not ok:
            repo.cables[cable.id] = replace(cable, valid=False)
        if not any(c.selects(cable) for c in known.values()):
            add(cable.path, cable.lines.get("id", 1), "W602", _("no community selects {id}").format(id=cable.id),
                _("target a community with 'communities:' or ask an owner to widen its rules"))
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
