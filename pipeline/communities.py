"""``communities.yaml``: the sharing communities, their selection rules, editors and members."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import html
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from pipeline import dates
from pipeline.cables import DISGUISES, ID_RE, POST_RE, SLUG_RE, Cable, decode
from pipeline.findings import Findings
from pipeline.messages import N_, _
from pipeline.yamlfile import NodeReader, YamlError, col_of, compose, construct, line_of, mapping_pairs


@dataclass(frozen=True)
class Editor:
    email: str
    ssh_key: str | None = None  # "ssh-ed25519 AAAA…" when approvals must be signed


@dataclass(frozen=True)
class Member:
    email: str  # lower-cased
    name: str = ""
    organisation: str = ""
    sector: str = ""  # media, business, association, research or agent
    invited_by: str = ""
    expires: dt.date | None = None
    language: str = ""  # "fr" or "en": the member's e-mails (reminders); empty: the community's
    line: int = field(default=0, compare=False)
    invited_by_line: int = field(default=0, compare=False)

    def is_current(self, today: dt.date) -> bool:
        """A member is current through the whole of their ``expires`` day (the gate's rule: gate/membership.py)."""
        from gate.membership import is_current

        return is_current(self.expires, today)


@dataclass(frozen=True)
class Selection:
    """Which cables a community receives (see README: selection rules)."""

    subjects: tuple[str, ...] = ()
    posts: tuple[str, ...] = ()
    from_: dt.date | None = None
    until: dt.date | None = None
    cables: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    # Computed once per selection: the plan asks every cable of the repository.
    @functools.cached_property
    def _subject_set(self) -> frozenset[str]:
        return frozenset(self.subjects)

    @functools.cached_property
    def _filtered(self) -> bool:
        return any(f for f in (self.subjects, self.posts, self.from_, self.until))

    def selects(self, cable: Cable) -> bool:
        """Listed, or matching every filter given (at least one); never when excluded."""
        if cable.id in self.exclude:
            return False
        if cable.id in self.cables:
            return True
        if not self._filtered:
            return False
        return (
            (not self.subjects or not self._subject_set.isdisjoint(cable.subjects))
            and (not self.posts or cable.post in self.posts)
            and (self.from_ is None or cable.date >= self.from_)
            and (self.until is None or cable.date <= self.until)
        )


@dataclass(frozen=True)
class Community:
    id: str
    title: str
    description: str
    language: str  # "fr" or "en": the site's interface language
    owner: str
    editors: tuple[Editor, ...]
    select: Selection
    domains: tuple[str, ...] = ()
    members: tuple[Member, ...] = ()
    require_signed_approvals: bool = True  # signed approvals are the default
    owner_name: str = ""  # shown instead of the owner's address (the gate's pages, its e-mails)
    owner_title: str = ""
    terms: str = ""  # the terms of use: a Markdown file of the content repository (e.g. terms/energie.md)
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def selects(self, cable: Cable) -> bool:
        """Selected by the rules, or targeting this community itself; never when excluded."""
        if cable.id in self.select.exclude:
            return False
        return self.id in cable.communities or self.select.selects(cable)

    @functools.cached_property
    def editor_emails(self) -> frozenset[str]:
        return frozenset(e.email for e in self.editors)

    def is_member(self, email: str, today: dt.date) -> bool:
        """Listed and not expired, or an address of one of the community's domains: the gate's one rule
        (gate/membership.py ``admits``), over the same mapping ``members.json`` holds (last listing wins)."""
        from gate.addresses import InvalidAddress, parse_address
        from gate.membership import admits

        try:
            email = parse_address(email)
        except InvalidAddress:
            return False
        return admits({m.email: m.expires for m in self.members}, self.domains, email, today)


# --- as data, for the parse cache -----------------------------------------------------------------

def to_data(communities: dict[str, Community]) -> dict[str, Any]:
    """The parsed communities as JSON data (:func:`from_data` makes them again, equal field by field)."""
    return {cid: _data(c) for cid, c in communities.items()}


def _data(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_data(v) for v in value]
    if isinstance(value, dict):
        return {k: _data(v) for k, v in value.items()}
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def from_data(data: dict[str, Any]) -> dict[str, Community]:
    """The communities :func:`to_data` gave; TypeError, KeyError or ValueError for data it did not give."""
    def day(value: str | None) -> dt.date | None:
        return dt.date.fromisoformat(value) if value is not None else None

    def selection(d: dict[str, Any]) -> Selection:
        return Selection(**{**d, **{k: tuple(d[k]) for k in ("subjects", "posts", "cables", "exclude")},
                            "from_": day(d["from_"]), "until": day(d["until"]), "lines": dict(d["lines"])})

    def community(d: dict[str, Any]) -> Community:
        return Community(**{**d, "editors": tuple(Editor(**e) for e in d["editors"]), "select": selection(d["select"]),
                            "domains": tuple(d["domains"]), "lines": dict(d["lines"]),
                            "members": tuple(Member(**{**m, "expires": day(m["expires"])}) for m in d["members"])})
    if not isinstance(data, dict):
        raise TypeError("not communities")
    return {cid: community(d) for cid, d in data.items()}


# --- parsing -------------------------------------------------------------------------------------

PATH = "communities.yaml"
#: A community's terms of use: a relative path of letters, digits, ``._-`` segments, ending in ``.md``.
TERMS_PATH_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\.md$")
#: The largest terms file published (the gate shows it whole).
MAX_TERMS_BYTES = 100_000
COMMUNITY_KEYS = ("title", "description", "language", "owner", "owner_name", "owner_title", "editors", "select",
                  "domains", "members", "require_signed_approvals", "terms")
REQUIRED_KEYS = ("title", "description", "language", "owner", "editors", "select")
SELECT_KEYS = ("subjects", "posts", "from", "until", "cables", "exclude")
MEMBER_KEYS = ("email", "name", "organisation", "sector", "invited_by", "expires", "language")
EDITOR_KEYS = ("email", "ssh_key")
SECTORS = ("media", "business", "association", "research", "agent")
ADDRESS_HINT = N_("write the address alone, e.g. prenom.nom@diplomatie.gouv.fr: letters, digits and . _ - + ' "
                "before the @, no name, <>, quotes, comments, =?...?= or second @ (README: addresses)")


def markup(value: str) -> str | None:
    """The first markup in a printed string, or None: a tag's bracket, or a character reference
    as HTML5 reads one (``&lt;``, ``&#60;``, ``&amp`` without its semicolon; judged by the standard
    library's HTML unescaper, so ``AT&T`` and ``R&D`` stay text)."""
    for index, char in enumerate(value):
        if char in "<>":
            return char
        if char == "&" and html.unescape(value[index:index + 40]) != value[index:index + 40]:
            return value[index:index + 12].split()[0]
    return None


#: How long per-person readership records (reads, sign-ins) are kept before they are reduced to counts,
#: unless ``communities.yaml`` says otherwise (top-level ``retention_months``): six months, the CNIL's
#: usual recommendation for audience measurement data.
DEFAULT_RETENTION_MONTHS = 6
MAX_RETENTION_MONTHS = 25


def _retention(value: object) -> int | None:
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text.isdigit() or not 1 <= int(text) <= MAX_RETENTION_MONTHS:
        return None
    return int(text)


def retention_months(data: bytes) -> int:
    """The retention period ``communities.yaml`` sets (``retention_months``), or the default; a value
    ``check`` refuses (E206) also reads as the default here, the shorter of the two being no promise."""
    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError:
        return DEFAULT_RETENTION_MONTHS
    value = document.get("retention_months") if isinstance(document, dict) else None
    return _retention(value) or DEFAULT_RETENTION_MONTHS


def parse(data: bytes, findings: Findings, path: str = PATH) -> dict[str, Community]:
    """Parse ``communities.yaml``. Every problem becomes a finding; a community with an error in its
    own definition is still returned (so references to it resolve) but check fails."""
    text = decode(path, data, findings)
    if text is None:
        return {}
    try:
        root = compose(text)
    except YamlError as exc:
        findings.add(path, exc.line, "E106", exc.message, exc.hint or _("fix the YAML (indentation, quotes, colons)"),
                     col=exc.col)
        return {}
    if root is None:
        findings.add(path, 1, "E201", _("the file is empty"), _("start with 'communities:'"))
        return {}
    reader = _Reader(path, findings)
    top = reader.mapping(root, _("the file"))
    if top is None:
        return {}
    for key, key_node, value_node in mapping_pairs(root):
        if key == "retention_months":
            if _retention(value_node.value if isinstance(value_node, yaml.ScalarNode) else None) is None:
                findings.add(path, line_of(value_node), "E206",
                             _("retention_months must be a whole number of months from 1 to {most}").format(
                                 most=MAX_RETENTION_MONTHS),
                             _("e.g. retention_months: {months}").format(months=DEFAULT_RETENTION_MONTHS))
        elif key != "communities":
            findings.add(path, line_of(key_node), "E202", _("unknown top-level key '{key}'").format(key=key),
                         _("the file holds the key communities, and optionally retention_months"))
    node = top.get("communities")
    if node is None:
        findings.add(path, 1, "E201", _("missing key 'communities'"), _("start with 'communities:'"))
        return {}
    communities = reader.mapping(node[1], "communities")
    if communities is None:
        return {}
    out = {}
    for cid, (key_node, value) in communities.items():
        if not SLUG_RE.match(cid):
            findings.add(path, line_of(key_node), "E206", _("community id {cid!r} is not a lower-case slug").format(cid=cid),
                         _("use lower-case letters, digits and hyphens: it becomes the site's URL"))
            continue
        community = reader.community(cid, key_node, value)
        if community is not None:
            out[cid] = community
    return out


class _Reader(NodeReader):
    """communities.yaml, node by node."""

    def value(self, node: yaml.Node) -> Any:
        try:
            return construct(node)
        except YamlError as exc:
            self.add(node, "E203", exc.message)
            return None

    def known(self, fields: dict[str, tuple[yaml.Node, yaml.Node]], allowed: tuple[str, ...], what: str) -> None:
        for key, (key_node, _value) in fields.items():
            if key not in allowed:
                self.add(key_node, "E202", _("unknown key '{key}' in {what}").format(key=key, what=what), "allowed: " + ", ".join(allowed))

    def text(self, fields: dict, key: str, what: str, required: bool = True) -> str:
        if key not in fields:
            return ""
        value = self.value(fields[key][1])
        if not isinstance(value, str) or (required and not value.strip()):
            self.add(fields[key][1], "E203", _("'{key}' of {what} must be non-empty text").format(key=key, what=what))
            return ""
        return value

    def email(self, fields: dict, key: str, what: str) -> str:
        value = self.text(fields, key, what)
        return self.address(fields[key][1], value, _("'{key}' of {what}").format(key=key, what=what)) if value else ""

    def address(self, node: yaml.Node, value: Any, what: str) -> str:
        """The canonical address, or "" and an E205 that says why (gate/addresses.py: one grammar)."""
        from gate.addresses import InvalidAddress, parse_address

        try:
            return parse_address(value)
        except InvalidAddress as exc:
            self.add(node, "E205", _("{what} is {value!r}, not a plain e-mail address: {exc}").format(what=what, value=value, exc=exc), _(ADDRESS_HINT))
            return ""

    def domains(self, fields: dict, what: str) -> tuple[str, ...]:
        from gate.addresses import InvalidAddress, parse_domain

        if "domains" not in fields:
            return ()
        node = fields["domains"][1]
        value = self.value(node)
        if not isinstance(value, list):
            self.add(node, "E203", _("'domains' of {what} must be a list").format(what=what), _("write domains: [diplomatie.gouv.fr]"))
            return ()
        out = []
        for item, domain in zip(node.value, value, strict=True):
            try:
                out.append(parse_domain(domain))
            except InvalidAddress as exc:
                self.add(item, "E205", _("'domains' of {what} holds {domain!r}, not a mail domain: {exc}").format(what=what, domain=domain, exc=exc),
                         _("write the domain alone, as its owners write it, e.g. diplomatie.gouv.fr (no @, no trailing dot, no look-alike letters)"))
        return tuple(out)

    def strings(self, fields: dict, key: str, what: str, pattern: Any, example: str) -> tuple[str, ...]:
        if key not in fields:
            return ()
        value = self.value(fields[key][1])
        if not isinstance(value, list):
            self.add(fields[key][1], "E203", _("'{key}' of {what} must be a list").format(key=key, what=what), _("write {key}: [{example}]").format(key=key, example=example))
            return ()
        out = []
        for item in value:
            if not isinstance(item, str) or not pattern.match(item):
                self.add(fields[key][1], "E206", _("'{key}' of {what} holds {item!r}").format(key=key, what=what, item=item), _("write e.g. {example}").format(example=example))
            else:
                out.append(item)
        return tuple(out)

    def date(self, fields: dict, key: str, what: str) -> dt.date | None:
        if key not in fields:
            return None
        try:
            value = construct(fields[key][1])
        except YamlError as exc:  # a date YAML reads but Python cannot hold (year 0)
            self.add(fields[key][1], "E204", _("'{key}' of {what}: {message}").format(key=key, what=what, message=exc.message), dates.hint())
            return None
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            self.add(fields[key][1], "E204", _("'{key}' of {what} is {value!r}, not an ISO date").format(key=key, what=what, value=value),
                     _("write YYYY-MM-DD"))
            return None
        if not dates.in_bounds(value):
            self.add(fields[key][1], "E204", _("'{key}' of {what}: {value} lies outside the years {low}–{high}").format(key=key, what=what, value=value.isoformat(), low=dates.MIN_YEAR, high=dates.MAX_YEAR), dates.hint())
            return None
        return value

    def community(self, cid: str, key_node: yaml.Node, node: yaml.Node) -> Community | None:
        what = _("community '{cid}'").format(cid=cid)
        fields = self.mapping(node, what)
        if fields is None:
            return None
        self.known(fields, COMMUNITY_KEYS, what)
        for key in REQUIRED_KEYS:
            if key not in fields:
                self.add(key_node, "E201", _("{what} lacks '{key}'").format(what=what, key=key), "required: " + ", ".join(REQUIRED_KEYS))
        language = self.text(fields, "language", what)
        if language and language not in ("fr", "en"):
            self.add(fields["language"][1], "E206", _("'language' of {what} is {language!r}").format(what=what, language=language), _("write fr or en"))
        editors = self.editors(fields, what)
        select = self.selection(fields, what)
        signed = self.signed_approvals(fields, what)
        title, description = self.text(fields, "title", what), self.text(fields, "description", what)
        owner = self.email(fields, "owner", what)
        owner_name, owner_title = self.label(fields, "owner_name", what), self.label(fields, "owner_title", what)
        # What every page, feed and search index of the site prints: the id (in every URL), the
        # title and description (markup refused too), and the owner ("Community run by …").
        self.printed(key_node, cid, "id", what)
        for key, value in (("title", title), ("description", description), ("owner", owner),
                           ("owner_name", owner_name), ("owner_title", owner_title)):
            if value:
                self.printed(fields[key][1], value, key, what, check_markup=key != "owner")
        return Community(
            id=cid, title=title, description=description,
            language=language or "fr", owner=owner, editors=editors,
            select=select, domains=self.domains(fields, what),
            members=self.members(fields, what), require_signed_approvals=signed,
            owner_name=owner_name, owner_title=owner_title, terms=self.terms_path(fields, what),
            lines={"id": line_of(key_node), **{k: line_of(kn) for k, (kn, _) in fields.items()}},
        )

    def terms_path(self, fields: dict, what: str) -> str:
        """``terms``: the path, in the content repository, of the community's terms of use (Markdown)."""
        value = self.text(fields, "terms", what, required=False) if "terms" in fields else ""
        if value and not TERMS_PATH_RE.match(value) or ".." in value.split("/"):
            self.add(fields["terms"][1], "E206", f"terms {value!r} of {what}",
                     "a relative path to a Markdown file of the repository, e.g. terms/energie.md")
            return ""
        return value

    def label(self, fields: dict, key: str, what: str) -> str:
        """``owner_name`` or ``owner_title``: one line of text that the gate shows instead of the owner's
        address, so it may not be an address itself."""
        value = self.text(fields, key, what)
        if value and ("@" in value or "\n" in value.strip() or len(value) > 200):
            self.add(fields[key][1], "E206", _("'{key}' of {what} is {value!r}").format(key=key, what=what, value=value),
                     _("write a name or a title on one line, at most 200 characters and no address, e.g. owner_name: Claire Dubois, owner_title: Ambassadrice, représentante permanente"))
            return ""
        return value.strip()

    def signed_approvals(self, fields: dict, what: str) -> bool:
        """On unless the community turns it off, and then check says so (W605): without signatures,
        anyone who can push to the repository can type an approval."""
        if "require_signed_approvals" not in fields:
            return True
        node = fields["require_signed_approvals"][1]
        signed = self.value(node)
        if not isinstance(signed, bool):
            self.add(node, "E203", _("'require_signed_approvals' of {what} must be true or false").format(what=what))
            return True  # fail closed
        if not signed:
            self.add(node, "W605", _("{what} counts unsigned approvals (require_signed_approvals: false)").format(what=what),
                     _("anyone who can push to the repository can then type an approval; list each editor's ssh_key and remove this line so that approvals must be signed (the approve command's --sign)"))
        return signed

    def printed(self, node: yaml.Node, value: str, key: str, what: str, check_markup: bool = False) -> None:
        """Refuse in a string every site prints what cable text may not hold: classification markings
        (E302), what only serves to hide (E303-E305), and, with ``check_markup``, HTML markup (E306)."""
        from pipeline import classification

        line, col = line_of(node), col_of(node)
        for marking in classification.find_markings(value):
            self.findings.add(self.path, line + marking.line - 1, "E302",
                              _("classification marking {text!r} ({kind}) in '{key}' of {what}").format(text=marking.text, kind=marking.kind, key=key, what=what),
                              _("every site prints it: only unclassified text may be published"), col=col)
        for found in classification.find_disguises(value):
            code, message, hint = DISGUISES[found.kind]
            self.findings.add(self.path, line + found.line - 1, code,
                              _("{problem} in '{key}' of {what}: {text}").format(problem=_(message), key=key, what=what,
                                                                               text=found.text),
                              _(hint), col=col + found.col if found.line == 1 else found.col)
        found = markup(value) if check_markup else None
        if found:
            self.findings.add(self.path, line, "E306", _("markup {found!r} in '{key}' of {what}").format(found=found, key=key, what=what),
                              _("write plain text: the sites print it as text, so < > and &…; would show as typed (write « » or ‹ › for quotes, and the character itself for an entity)"),
                              col=col)

    def editors(self, fields: dict, what: str) -> tuple[Editor, ...]:
        if "editors" not in fields:
            return ()
        node = fields["editors"][1]
        if not isinstance(node, yaml.SequenceNode):
            self.add(node, "E203", _("'editors' of {what} must be a list of e-mail addresses").format(what=what))
            return ()
        out = []
        for item in node.value:
            if isinstance(item, yaml.ScalarNode):
                email = self.address(item, self.value(item), _("an editor of {what}").format(what=what))
                if email:
                    out.append(Editor(email))
                continue
            entry = self.mapping(item, _("an editor of {what}").format(what=what))
            if entry is None:
                continue
            self.known(entry, EDITOR_KEYS, _("an editor of {what}").format(what=what))
            email = self.email(entry, "email", _("an editor of {what}").format(what=what))
            key = self.text(entry, "ssh_key", _("an editor of {what}").format(what=what)) if "ssh_key" in entry else None
            if key and not key.startswith(("ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-", "sk-ssh-ed25519")):
                self.add(entry["ssh_key"][1], "E206", _("'ssh_key' of an editor of {what} is not an SSH public key").format(what=what),
                         _("paste the line of the editor's id_ed25519.pub"))
                key = None
            if email:
                out.append(Editor(email, key or None))
        return tuple(out)

    def selection(self, fields: dict, what: str) -> Selection:
        if "select" not in fields:
            return Selection()
        sel = self.mapping(fields["select"][1], _("'select' of {what}").format(what=what))
        if sel is None:
            return Selection()
        self.known(sel, SELECT_KEYS, _("'select' of {what}").format(what=what))
        if not sel:
            self.add(fields["select"][1], "E201", _("'select' of {what} is empty").format(what=what),
                     _("give at least one of: {keys}").format(keys=", ".join(SELECT_KEYS)))
        return Selection(
            subjects=self.strings(sel, "subjects", what, SLUG_RE, "energie"),
            posts=self.strings(sel, "posts", what, POST_RE, "BERLIN"),
            from_=self.date(sel, "from", what), until=self.date(sel, "until", what),
            cables=self.strings(sel, "cables", what, ID_RE, "2026-PARIS-0042"),
            exclude=self.strings(sel, "exclude", what, ID_RE, "2026-PARIS-0042"),
            lines={k: line_of(kn) for k, (kn, _) in sel.items()},
        )

    def members(self, fields: dict, what: str) -> tuple[Member, ...]:
        if "members" not in fields:
            return ()
        node = fields["members"][1]
        if not isinstance(node, yaml.SequenceNode):
            self.add(node, "E203", _("'members' of {what} must be a list").format(what=what))
            return ()
        out = []
        for item in node.value:
            entry = self.mapping(item, _("a member of {what}").format(what=what))
            if entry is None:
                continue
            self.known(entry, MEMBER_KEYS, _("a member of {what}").format(what=what))
            if "email" not in entry:
                self.add(item, "E201", _("a member of {what} lacks 'email'").format(what=what))
                continue
            email = self.email(entry, "email", _("a member of {what}").format(what=what))
            sector = self.text(entry, "sector", "a member", required=False)
            if sector and sector not in SECTORS:
                self.add(entry["sector"][1], "E206", _("sector {sector!r} of {email}").format(sector=sector, email=email), _("one of {values}").format(values=", ".join(SECTORS)))
            invited_by = self.email(entry, "invited_by", _("a member of {what}").format(what=what)) if "invited_by" in entry else ""
            expires = self.date(entry, "expires", f"member {email}")
            if "expires" in entry and expires is None:
                continue  # fail closed: an unreadable expiry must not mean "never expires"
            language = self.text(entry, "language", "a member", required=False)
            if language and language not in ("fr", "en"):
                self.add(entry["language"][1], "E206", f"language {language!r} of {email}", "fr or en")
                language = ""
            if email:
                out.append(Member(email=email, name=self.text(entry, "name", "a member", False),
                                  organisation=self.text(entry, "organisation", "a member", False),
                                  sector=sector, invited_by=invited_by, expires=expires, language=language,
                                  line=line_of(item),
                                  invited_by_line=line_of(entry["invited_by"][1]) if "invited_by" in entry else 0))
        return tuple(out)


def _member_names(community: Community) -> dict[str, str]:
    """Member address -> name, for those with one: what the sites' "Signed in as" line shows
    (gate/signedin.py) instead of the address."""
    return {m.email: m.name for m in sorted(community.members, key=lambda m: m.email) if m.name}


def membership_snapshot(communities: dict[str, Community], commit: str | None,
                        terms: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``members.json`` the gate reads (format in docs/storage.md): who may enter which site;
    ``terms`` gives the version of each community's terms of use (``sha256:<hex>``) where it has some."""
    terms = terms or {}
    return {
        "format": 1,
        "commit": commit,
        "communities": {
            cid: {
                "title": c.title,
                "language": c.language,
                **({"owner_name": c.owner_name} if c.owner_name else {}),
                **({"owner_title": c.owner_title} if c.owner_title else {}),
                **({"terms": terms[cid]} if terms.get(cid) else {}),
                "domains": sorted(c.domains),
                "members": {m.email: (m.expires.isoformat() if m.expires else None)
                            for m in sorted(c.members, key=lambda m: m.email)},
                **({"names": _member_names(c)} if _member_names(c) else {}),
            }
            for cid, c in sorted(communities.items())
        },
    }
