"""A cable: YAML front matter, then the Markdown body, in ``content/<year>/<id>.md``.

Parsing keeps the line of every key so that each finding points at ``path:line:col``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from pipeline import dates
from pipeline.findings import Findings
from pipeline.messages import N_, _
from pipeline.yamlfile import YamlError, compose, construct, line_of, mapping_pairs


@dataclass(frozen=True)
class Approval:
    """One editor's approval of one exact version of a cable for one community."""

    community: str
    by: str
    date: dt.datetime
    digest: str  # "sha256:<hex>" of the canonical content it approved
    line: int = 0  # line of this entry in the cable file (0: unknown)


class DeferredText:
    """A text field that may be given as a function returning the text, called on first read.

    The parse cache (:mod:`pipeline.buildcache`) knows everything about a cable it has seen except
    its body, which is most of its bytes and which ``check`` and ``plan`` never read: the body is read
    from the file only when something asks for it (the reader checks it is the text that was
    parsed). A dataclass field whose default is a descriptor goes through it; ``__get__`` on the class
    raises AttributeError so the field has no default."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}_text"

    def __get__(self, obj: object, owner: type | None = None) -> str:
        if obj is None:
            raise AttributeError(self.slot)
        value = obj.__dict__[self.slot]
        if not isinstance(value, str):
            value = value()
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj: object, value: str | Callable[[], str]) -> None:
        obj.__dict__[self.slot] = value


@dataclass(frozen=True)
class Cable:
    """A parsed cable. ``digest`` is the canonical digest approvals must match."""

    id: str
    title: str
    date: dt.date
    post: str
    author: str
    classification: str
    subjects: tuple[str, ...]
    language: str  # "fr" or "en"
    body: str = DeferredText()  # type: ignore[assignment]  # a str, or a function giving it (read once)
    path: str  # relative to the content repository root, with forward slashes
    digest: str  # "sha256:<hex>" over front matter without approvals, and body
    summary: str = ""
    ministry: str = "MEAE"
    communities: tuple[str, ...] = ()
    embargo: dt.datetime | None = None  # aware, UTC
    status: str = "active"  # "active" or "withdrawn"
    supersedes: str | None = None
    approvals: tuple[Approval, ...] = ()
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)  # key -> line
    body_line: int = 1  # line of the first body line in the file
    valid: bool = True  # False when check found an error in it: such a cable is never published

    @property
    def year(self) -> int:
        return self.date.year


MAX_BYTES = 1024 * 1024
#: What ``diplomatie new`` writes for the agent to replace (E210 until replaced).
PLACEHOLDER_SUBJECT = "a-completer"
PLACEHOLDER_BODY = "Texte du télégramme."
#: The embargo of a cable whose embargo cannot be read: never lifted (fail closed).
FOREVER = dt.datetime(dates.MAX_YEAR, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
REQUIRED = ("id", "title", "date", "post", "author", "classification", "subjects", "language")
OPTIONAL = ("summary", "ministry", "communities", "embargo", "status", "supersedes", "approvals")
APPROVAL_KEYS = ("community", "by", "date", "digest")
DATE_KEYS = ("date", "embargo")

ID_RE = re.compile(r"^(\d{4})-([A-Z0-9]+(?:-[A-Z0-9]+)*)-(\d{4})$")
POST_RE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MINISTRY_RE = re.compile(r"^[A-Z][A-Z0-9-]*$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
FENCE = re.compile(r"^---[ \t]*$")
END_FENCE = re.compile(r"^(?:---|\.\.\.)[ \t]*$")


class FrontMatterError(Exception):
    pass


def split(text: str) -> tuple[str, str, int]:
    """(front matter text, body, line number of the body's first line) of a cable's text."""
    lines = text.split("\n")
    if not lines or not FENCE.match(lines[0]):
        raise FrontMatterError(_("the file must start with a '---' line opening the YAML front matter"))
    for index in range(1, len(lines)):
        if END_FENCE.match(lines[index]):
            return "\n".join(lines[1:index]) + "\n", "\n".join(lines[index + 1 :]), index + 2
    raise FrontMatterError(_("the YAML front matter is never closed by a '---' line"))


def canonical_digest(front_matter: dict[str, Any], body: str) -> str:
    """``sha256:`` over the front matter without ``approvals`` (as canonical JSON) and the body.

    Formatting of the YAML (comments, key order, quoting) does not count; any change of a value or of
    the body does, so an approval matches exactly one version of the cable.
    """
    meta = {k: v for k, v in front_matter.items() if k != "approvals"}
    canon = json.dumps(meta, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_iso)
    payload = canon + "\n---\n" + body.replace("\r\n", "\n")
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _iso(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return repr(value)


def decode(path: str, data: bytes, findings: Findings) -> str | None:
    """The text of a file, or None with a finding when it is too large or not UTF-8."""
    if len(data) > MAX_BYTES:
        findings.add(path, 1, "E102", _("file is {size} bytes, over the 1 MiB limit").format(size=len(data)),
                     _("split the cable, or move long annexes out of it"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        findings.add(path, line, "E101", _("byte 0x{byte:02x} is not valid UTF-8").format(byte=data[exc.start]),
                     _("save the file as UTF-8"), col=col)
        return None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def parse(path: str, data: bytes, findings: Findings, scans: bool = True) -> Cable | None:
    """Parse and validate one cable file. Every problem becomes a finding; returns the cable when its
    identity could be read (so that cross-checks and the plan can still name it), else None.

    ``scans=False``: without reading the texts as a reader sees them (classification markings, what
    only serves to hide, unsafe HTML), which renders the body with Markdown: the same fields, for a
    past version of a cable that is only shown or compared, never published (its ``valid`` then
    says nothing of those checks). ``approve`` reads a cable's history so."""
    reader = _reader(path, data, findings)
    if reader is None:
        return None
    reader.scans = scans
    return reader.read()


def digest(path: str, data: bytes) -> str | None:
    """The digest :func:`parse` would give the cable (None where it gives no cable), without the
    content checks: what numbering a cable's versions in its history needs, for many old blobs."""
    reader = _reader(path, data, Findings())
    if reader is None:
        return None
    reader.collect()
    cable_id = reader.text("id")
    return canonical_digest(reader.values, reader.body) if cable_id and ID_RE.match(cable_id) else None


def _reader(path: str, data: bytes, findings: Findings) -> _CableReader | None:
    """The reader of the file's front matter, or None (with the finding) when there is none to read."""
    text = decode(path, data, findings)
    if text is None:
        return None
    try:
        fm_text, body, body_line = split(text)
    except FrontMatterError as exc:
        findings.add(path, 1, "E105", str(exc), _("start the file with ---, the YAML keys, then ---"))
        return None
    try:
        node = compose(fm_text)
    except YamlError as exc:
        findings.add(path, exc.line + 1, "E106", exc.message,
                     exc.hint or _("fix the front matter's YAML (indentation, quotes, colons)"), col=exc.col)
        return None
    if not isinstance(node, yaml.MappingNode):
        findings.add(path, 2, "E105", _("the front matter is not a mapping of keys to values"),
                     _("write one 'key: value' per line between the --- lines"))
        return None
    return _CableReader(path, node, body, body_line, findings)


class _CableReader:
    """Validates a cable's front matter node by node, so each finding has the key's line. (A reply's
    file, pipeline/replyfiles.py, is read by the same reader with its own keys.)"""

    required: tuple[str, ...] = REQUIRED
    optional: tuple[str, ...] = OPTIONAL

    def __init__(self, path: str, node: yaml.MappingNode, body: str, body_line: int, findings: Findings):
        self.path, self.node, self.body, self.body_line, self.findings = path, node, body, body_line, findings
        self.values: dict[str, Any] = {}
        self.nodes: dict[str, yaml.Node] = {}
        self.lines: dict[str, int] = {}
        self.ok = True
        self.scans = True  # read the texts as a reader sees them (see parse)

    def error(self, key_or_line: str | int, code: str, message: str, hint: str = "", col: int = 1) -> None:
        line = key_or_line if isinstance(key_or_line, int) else self.lines.get(key_or_line, 1)
        self.findings.add(self.path, line, code, message, hint, col=col)
        if code.startswith("E"):
            self.ok = False

    def read(self) -> Cable | None:
        self.collect()
        digest = canonical_digest(self.values, self.body)
        return self._build(digest)

    def collect(self) -> None:
        """Read every key's value (finding duplicates, unknown keys, values YAML cannot construct)."""
        for key, key_node, value_node in mapping_pairs(self.node):
            line = line_of(key_node) + 1
            if key in self.values:
                self.lines[key] = line
                self.error(key, "E209", _("key '{key}' appears twice").format(key=key),
                           _("keep one; a duplicate could silently replace a safeguard"))
                continue
            self.lines[key] = line
            if key not in self.required and key not in self.optional:
                close = [k for k in self.required + self.optional if _similar(k, key)]
                self.error(key, "E202", _("unknown key '{key}'").format(key=key),
                           _("did you mean '{close}'?").format(close=close[0]) if close else
                           _("allowed keys: {keys}").format(keys=", ".join(self.required + self.optional)))
                continue
            try:
                self.values[key] = construct(value_node)
            except YamlError as exc:  # e.g. a date YAML reads but Python cannot hold (year 0)
                if key == "approvals":  # each entry is read on its own, with its own line (approvals())
                    self.nodes[key] = value_node
                    continue
                code, hint = ("E204", dates.hint()) if key in DATE_KEYS else ("E203", "")
                self.error(key, code, _("'{key}': {message}").format(key=key, message=exc.message), exc.hint or hint)
                continue
            self.nodes[key] = value_node
        for key in self.required:
            if key not in self.values and key not in self.lines:
                self.error(1, "E201", _("missing required key '{key}'").format(key=key),
                           _("every cable needs: {keys}").format(keys=", ".join(self.required)))

    # -- per key ------------------------------------------------------------------------------------

    def text(self, key: str, required: bool = True) -> str:
        value = self.values.get(key)
        if value is None:
            if required and key in self.values:
                self.error(key, "E203", _("'{key}' is empty").format(key=key), _("give '{key}' a value").format(key=key))
            return ""
        if not isinstance(value, str):
            self.error(key, "E203", _("'{key}' must be text, not {kind}").format(key=key, kind=_kind(value)), _("quote the value"))
            return str(value)
        if required and not value.strip():
            self.error(key, "E203", _("'{key}' is empty").format(key=key), _("give '{key}' a value").format(key=key))
        return value

    def matching(self, key: str, pattern: re.Pattern[str], what: str, required: bool = True) -> str:
        value = self.text(key, required)
        if value and not pattern.match(value):
            self.error(key, "E206", _("'{key}' is {value!r}, not {what}").format(key=key, value=value, what=what), _("write {what}").format(what=what))
        return value

    def slugs(self, key: str) -> tuple[str, ...]:
        value = self.values.get(key)
        if value is None:
            return ()
        if isinstance(value, str):  # "energie, climat": one problem, the missing brackets; reported once
            items = [item.strip() for item in value.split(",") if item.strip()]
            fixed = ", ".join(slug_of(item) or item for item in items)
            self.error(key, "E203", _("'{key}' must be a list").format(key=key),
                       _("write {key}: [{value}]").format(key=key, value=fixed))
            return tuple(item for item in items if SLUG_RE.match(item))
        if not isinstance(value, list):
            self.error(key, "E203", _("'{key}' must be a list of slugs, not {kind}").format(key=key, kind=_kind(value)))
            return ()
        out = []
        for item in value:
            if not isinstance(item, str) or not SLUG_RE.match(item):
                slug = slug_of(item) if isinstance(item, str) else ""
                self.error(key, "E206", _("'{key}' holds {item!r}, not a lower-case slug").format(key=key, item=item),
                           _("write {slug!r} instead: lower-case letters without accents, digits and hyphens").format(
                               slug=slug) if slug else
                           _("use lower-case letters, digits and hyphens, e.g. securite-energetique"))
            else:
                out.append(item)
        return tuple(out)

    def date(self) -> dt.date:
        value = self.values.get("date")
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            if "date" in self.values:
                self.error("date", "E204", _("'date' is {value!r}, not an ISO date").format(value=value),
                           _("write the date as YYYY-MM-DD, e.g. 2026-03-14"))
            return dt.date(1970, 1, 1)
        if not dates.in_bounds(value):
            self.error("date", "E204", _("'date' {value} lies outside the years {low}–{high}").format(value=value.isoformat(), low=dates.MIN_YEAR, high=dates.MAX_YEAR), dates.hint())
            return dt.date(1970, 1, 1)
        return value

    def embargo(self) -> dt.datetime | None:
        value = self.values.get("embargo")
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            self.error("embargo", "E204", _("'embargo' is {value!r}, not an ISO date-time with a time zone").format(value=value),
                       _("write e.g. 2026-12-01T09:00:00+01:00 (Paris, winter) or 2026-12-01T08:00:00Z"))
            # Fail closed: an unreadable embargo keeps the cable back for ever.
            return FOREVER
        try:
            return dates.to_utc(value, "'embargo'")
        except dates.DateError as exc:
            self.error("embargo", "E204", str(exc), dates.hint())
            return FOREVER

    def approvals(self) -> tuple[Approval, ...]:
        from gate.addresses import InvalidAddress, parse_address

        node = self.nodes.get("approvals")
        if node is None:
            return ()
        if not isinstance(node, yaml.SequenceNode):
            self.error("approvals", "E203", _("'approvals' must be a list"), _("let the approve command write it"))
            return ()
        out = []
        for item in node.value:
            line = line_of(item) + 1
            if not isinstance(item, yaml.MappingNode):
                self.error(line, "E203", _("each approval must be a mapping of community, by, date, digest"))
                continue
            fields = self._approval_fields(item)
            if fields is None:
                continue
            for key in fields.keys() - set(APPROVAL_KEYS):
                self.error(fields[key][1], "E202", _("unknown key '{key}' in approval").format(key=key),
                           _("an approval has exactly: {keys}").format(keys=", ".join(APPROVAL_KEYS)))
            missing = [k for k in APPROVAL_KEYS if k not in fields]
            if missing:
                self.error(line, "E201", _("approval lacks {missing}").format(missing=', '.join(missing)),
                           _("let the approve command write approvals"))
                continue
            community, by, when, digest = (fields[k][0] for k in APPROVAL_KEYS)
            try:
                by = parse_address(by)
            except InvalidAddress as exc:
                self.error(fields["by"][1], "E205", _("approval 'by' is {by!r}, not a plain e-mail address ({exc})").format(by=by, exc=exc),
                           _("write the editor's address alone, e.g. prenom.nom@diplomatie.gouv.fr"))
                continue
            if not isinstance(when, dt.datetime | dt.date):
                self.error(fields["date"][1], "E204", _("approval 'date' is {when!r}, not an ISO date-time").format(when=when))
                continue
            if not isinstance(digest, str) or not DIGEST_RE.match(digest):
                self.error(fields["digest"][1], "E206", _("approval 'digest' is {digest!r}").format(digest=digest),
                           _("a digest is sha256: and 64 hex digits; let the approve command write it"))
                continue
            if not isinstance(community, str) or not SLUG_RE.match(community):
                self.error(fields["community"][1], "E206", _("approval 'community' is {community!r}").format(community=community))
                continue
            if not isinstance(when, dt.datetime):
                when = dt.datetime.combine(when, dt.time(), dt.UTC)
            try:
                when = dates.to_utc(when, "approval 'date'")
            except dates.DateError as exc:
                self.error(fields["date"][1], "E204", str(exc), dates.hint())
                continue
            out.append(Approval(community, by, when, digest, line))
        return tuple(out)

    def _approval_fields(self, item: yaml.MappingNode) -> dict[str, tuple[Any, int]] | None:
        """key -> (value, line) of one approval entry, or None (with a finding) when a value cannot be
        read, e.g. a date whose year YAML reads but Python cannot hold (0000-01-01)."""
        fields = {}
        for key, key_node, value_node in mapping_pairs(item):
            try:
                fields[key] = (construct(value_node), line_of(key_node) + 1)
            except YamlError as exc:
                code, hint = ("E204", dates.hint()) if key == "date" else ("E203", "")
                self.error(line_of(key_node) + 1, code, _("approval '{key}': {message}").format(key=key, message=exc.message),
                           exc.hint or hint)
                return None
        return fields

    def scan(self, key: str, text: str, first_line: int = 0) -> None:
        """Refuse markings (E302) and what only serves to hide (E303-E305) in a text a reader sees.
        The body is read twice: as its source, line by line, and as the page shows it (rendered,
        block by block), each finding of the page placed on the source line it comes from."""
        from pipeline import classification

        body = key == "body"
        if not text:
            return
        markings = [(m, "") for m in classification.find_markings(text)]
        page = classification.read_page(text) if body else None
        if page is not None:
            seen = {m.line for m, _ in markings}
            markings += [(m, _(", as rendered")) for m in page.markings if m.line not in seen]
        for marking, how in markings:
            line, col = self.where(key, first_line, marking.line, marking.col)
            if marking.kind == "unreadable":
                self.error(line, "E302", _("{text}, so it cannot be checked for classification markings").format(text=marking.text),
                           _("simplify the Markdown (lists or quotes nested hundreds of levels deep)"), col=col)
                continue
            self.error(line, "E302", _("classification marking {text!r} ({kind}{how}) in the {key}").format(text=marking.text, kind=marking.kind, how=how, key=key),
                       _("only unclassified text may be published: remove the marking, or keep this cable out of the repository"), col=col)
        for found in classification.find_disguises(text, page):
            line, col = self.where(key, first_line, found.line, found.col)
            code, message, hint = DISGUISES[found.kind]
            self.error(line, code, _("{problem} in the {key}: {text}").format(problem=_(message), key=key, text=found.text),
                       _(hint), col=col)

    def _scan_texts(self, title: str, summary: str, post: str, ministry: str, author: str,
                    subjects: tuple[str, ...]) -> None:
        """Every text a page, feed, search index or sitemap prints, read as a reader would."""
        from pipeline import html_safety

        for key, text in (("title", title), ("summary", summary), ("post", post), ("ministry", ministry),
                          ("author", author), *(("subjects", s) for s in subjects)):
            self.scan(key, text)
        self.scan("body", self.body, self.body_line)
        for unsafe in html_safety.find_unsafe(self.body):
            self.error(self.body_line + unsafe.line - 1, "E501", f"{unsafe.what}: {unsafe.text!r}",
                       _("write plain Markdown: the site keeps text, links, tables, lists, code and images of the repository; it removes scripts, frames, forms, styles, event handlers and content from other hosts (see README, Raw HTML)"),
                       col=unsafe.col)

    def where(self, key: str, first_line: int, line: int, col: int) -> tuple[int, int]:
        """The file line and column of a position in the body (``first_line``: its first line) or in
        the value of a front matter key (the key's line; the column where the value starts, plus
        the position, exact for a plain one-line value)."""
        if key == "body":
            return first_line + line - 1, col
        node = self.nodes.get(key)
        if node is None:
            return self.lines.get(key, 1), 1
        start = line_of(node) + 1
        if line > 1 or not isinstance(node, yaml.ScalarNode):
            return start + line - 1, col if line > 1 else 1
        return start, node.start_mark.column + col + (1 if node.style in ("'", '"') else 0)

    def placeholders(self, subjects: tuple[str, ...], summary: str) -> None:
        """E210: what ``diplomatie new`` writes for the agent to replace must not be published as is."""
        if PLACEHOLDER_SUBJECT in subjects:
            self.error("subjects", "E210", _("'subjects' still holds the template's '{PLACEHOLDER_SUBJECT}'").format(PLACEHOLDER_SUBJECT=PLACEHOLDER_SUBJECT),
                       _("replace it with the cable's subjects, e.g. subjects: [energie, climat]"))
        if "summary" in self.values and isinstance(self.values["summary"], str) and not summary.strip():
            self.error("summary", "E210", _("'summary' is empty"),
                       _("write a summary of one or two sentences, or delete the 'summary' line"))
        for number, line in enumerate(self.body.splitlines()):
            if line.strip() == PLACEHOLDER_BODY:
                self.error(self.body_line + number, "E210", _("the body still holds the template's '{PLACEHOLDER_BODY}'").format(PLACEHOLDER_BODY=PLACEHOLDER_BODY), _("write the cable's text in its place"))

    def _build(self, digest: str) -> Cable | None:
        # Here, not at the top: a command that reads cables through the parse cache never parses one,
        # and these (Markdown, nh3, the address and confusables data) are much of its start-up time.
        from gate.addresses import InvalidAddress, parse_address
        from pipeline import classification

        stem = self.path.rsplit("/", 1)[-1].removesuffix(".md")
        cable_id = self.matching("id", ID_RE, _("an id like 2026-BERLIN-0042 (YYYY-POST-NNNN)"))
        if cable_id and cable_id != stem:
            self.error("id", "E207", _("id '{cable_id}' differs from the file name '{stem}.md'").format(cable_id=cable_id, stem=stem),
                       _("rename the file to {cable_id}.md or fix the id").format(cable_id=cable_id))
        title = self.text("title")
        post = self.matching("post", POST_RE, _("an upper-case post code like BERLIN or NEW-YORK-ONU"))
        if cable_id and post and ID_RE.match(cable_id) and ID_RE.match(cable_id).group(2) != post:
            self.error("post", "E206", _("post '{post}' differs from the post in the id '{cable_id}'").format(post=post, cable_id=cable_id),
                       _("the id is YEAR-POST-NUMBER with this cable's post"))
        author = self.text("author")
        if author:
            try:
                author = parse_address(author)
            except InvalidAddress as exc:
                self.error("author", "E205", _("'author' is {author!r}, not a plain e-mail address ({exc})").format(author=author, exc=exc),
                           _("write the author's address alone, e.g. prenom.nom@diplomatie.gouv.fr"))
        label = self.values.get("classification")
        if not classification.is_publishable(label):
            shown = "missing" if label is None else repr(label)
            self.error("classification" if "classification" in self.lines else 1, "E301",
                       _("classification is {shown}: only unclassified cables may be published").format(shown=shown),
                       _("write classification: {CANONICAL} — a classified cable never belongs in this repository").format(CANONICAL=classification.CANONICAL))
        subjects = self.slugs("subjects")
        if "subjects" in self.values and not subjects and self.ok:
            self.error("subjects", "E203", _("'subjects' is empty"), _("give at least one subject slug"))
        language = self.text("language")
        if language and language not in ("fr", "en"):
            self.error("language", "E206", _("'language' is {language!r}").format(language=language), _("write fr or en"))
        summary = self.text("summary", required=False)
        self.placeholders(subjects, summary)
        ministry = self.matching("ministry", MINISTRY_RE, _("an upper-case ministry code like MEAE"),
                                 required=False) or "MEAE"
        status = self.text("status", required=False) or "active"
        if status not in ("active", "withdrawn"):
            self.error("status", "E206", _("'status' is {status!r}").format(status=status), _("write active or withdrawn"))
        supersedes = self.matching("supersedes", ID_RE, _("a cable id"), required=False) or None
        if self.scans:
            self._scan_texts(title, summary, post, ministry, author, subjects)
        if not cable_id or not ID_RE.match(cable_id):
            return None
        return Cable(
            id=cable_id, title=title, date=self.date(), post=post, author=author.lower(),
            classification=label if isinstance(label, str) else "",
            subjects=subjects, language=language, body=self.body, path=self.path, digest=digest,
            summary=summary, ministry=ministry, communities=self.slugs("communities"),
            embargo=self.embargo(), status=status, supersedes=supersedes, approvals=self.approvals(),
            lines=dict(self.lines), body_line=self.body_line, valid=self.ok,
        )


#: The check code, message and hint of each kind of :class:`classification.Disguise`.
DISGUISES = {
    "hidden": ("E303", N_("invisible or control character"),
               N_("delete it: a cable needs no invisible characters (retype the word if you cannot see it)")),
    "mixed-script": ("E304", N_("word mixing scripts"),
                     N_("write the word in one alphabet: a Cyrillic or Greek letter among Latin ones hides words")),
    "comment": ("E305", N_("HTML comment"),
                N_("delete the comment: what a reader cannot see does not belong in a published cable "
                   "(to show the characters, put them in a code span: `<!--`)")),
}


def _kind(value: object) -> str:
    names = {bool: N_("a yes/no value"), int: N_("a number"), float: N_("a number"), list: N_("a list"),
             dict: N_("a mapping"), dt.date: N_("a date"), dt.datetime: N_("a date-time")}
    return _(names[type(value)]) if type(value) in names else type(value).__name__


def slug_of(text: str) -> str:
    """The slug ``text`` most likely means (``Énergie`` -> ``energie``, ``cœur de l'UE`` ->
    ``coeur-de-l-ue``): accents and capitals dropped, any other run of characters a hyphen."""
    text = text.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae").replace("ß", "ss")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def _similar(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.75
