"""A member's reply as the content repository keeps it: ``replies/<community>/<cable>/<time>-<nonce>.md``.

``diplomatie replies pull`` writes these files (front matter, then the text as typed); an editor's
approval is appended to the front matter's ``approvals`` by ``diplomatie approve`` exactly as for a
cable, and names the reply's canonical digest (:func:`pipeline.cables.canonical_digest` over the front
matter without ``approvals`` and the text): any later edit of the file makes the approval stale.

A reply file is read by the cable reader with its own keys, so its findings have the same codes and
lines; on top of them, its text is checked as a cable's body is (:func:`scan`: classification
markings, what only serves to hide, raw HTML the sanitiser would remove), and its place must be the
one its front matter names. A reply with any error is never published.

Only a reply marked ``community`` ("may be shared with the community") may ever be published, and
only in its own community, on its cable's page (pipeline/plan.py decides); one marked ``editors``
stays in the repository whatever approvals it holds.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import yaml

from gate import replies as stored
from gate.addresses import is_canonical
from gate.store import parse_utc_text
from pipeline import cables, classification, html_safety
from pipeline.cables import DISGUISES, Approval, _CableReader
from pipeline.findings import Finding, Findings
from pipeline.messages import _
from pipeline.yamlfile import YamlError, compose

FOLDER = "replies"
#: The front matter's keys, in the order ``replies pull`` writes them.
KEYS = ("community", "cable", "author", "at", "visibility", "release", "digest", "store_key")
#: ``replies/<community>/<cable>/<time>-<nonce>.md``: the reply's id (gate/replies.py ``reply_id``)
#: under its community.
PATH = re.compile(r"^replies/(?P<community>[a-z0-9]+(?:-[a-z0-9]+)*)/(?P<id>(?P<cable>\d{4}-[A-Z0-9]+(?:-[A-Z0-9]+)*"
                  r"-\d{4})/(?P<name>\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{16}))\.md$")


@dataclass(frozen=True)
class ReplyFile:
    """One reply file, parsed. ``id`` is ``<cable>/<time>-<nonce>``; ``digest`` what approvals name."""

    path: str
    id: str
    community: str
    cable: str
    author: str
    at: str
    visibility: str
    text: str
    digest: str
    approvals: tuple[Approval, ...] = ()
    valid: bool = True
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def shareable(self) -> bool:
        """Marked "may be shared with the community": the only replies ever published."""
        return self.visibility == stored.COMMUNITY

    @property
    def anchor(self) -> str:
        """The id of the reply's element on its cable page (and what the isolation audit looks for in
        every other site): its time and nonce."""
        return "reply-" + self.id.split("/", 1)[1]


class _ReplyReader(_CableReader):
    required = KEYS
    optional = ("approvals",)


def parse(path: str, data: bytes, findings: Findings) -> ReplyFile | None:
    """Parse and check one reply file; every problem is a finding (an error makes it invalid). None
    when not even its front matter can be read."""
    text = cables.decode(path, data, findings)
    if text is None:
        return None
    try:
        front, body, body_line = cables.split(text)
    except cables.FrontMatterError as exc:
        findings.add(path, 1, "E105", str(exc), _("reply files are written by the replies pull command"))
        return None
    before = len([f for f in findings if f.is_error])
    node = _node(path, front, findings)
    if node is None:
        return None
    reader = _ReplyReader(path, node, body, body_line, findings)
    reader.collect()
    values = {key: reader.text(key) for key in KEYS}
    approvals = reader.approvals()
    digest = cables.canonical_digest(reader.values, body)
    where = PATH.match(path)
    if where is None:
        findings.add(path, 1, "E104", _("a reply file must be replies/<community>/<cable>/<time>-<nonce>.md"),
                     _("reply files are written by the replies pull command; leave them where it wrote them"))
    else:
        for key in ("community", "cable"):
            if values[key] != where[key]:
                reader.error(key, "E207", _("'{key}' is {value!r}, but the file is under {path}").format(
                    key=key, value=values[key], path=path), _("a reply stays where replies pull wrote it"))
    if values["author"] and not is_canonical(values["author"]):
        reader.error("author", "E205", _("'author' is {value!r}, not a plain e-mail address").format(
            value=values["author"]), _("a reply stays as replies pull wrote it"))
    if values["at"] and at_time(values["at"]) is None:
        reader.error("at", "E204", _("'at' is {value!r}, not a UTC time like 2026-12-01T09:30:05Z").format(
            value=values["at"]), _("a reply stays as replies pull wrote it"))
    if values["visibility"] not in stored.VISIBILITIES:
        reader.error("visibility", "E206", _("'visibility' is {value!r}").format(value=values["visibility"]),
                     _("one of: {values}").format(values=", ".join(stored.VISIBILITIES)))
    for finding in scan(path, body, body_line):
        findings.append(finding)
    if stored.text_problem(stored.normalise_text(body)) is not None:
        findings.add(path, body_line, "E206", _("the reply's text is empty, too long or not text"),
                     _("a reply is at most {limit} characters of text").format(limit=stored.MAX_CHARACTERS))
    valid = where is not None and len([f for f in findings if f.is_error]) == before
    return ReplyFile(path=path, id=where["id"] if where else path, community=values["community"],
                     cable=values["cable"], author=values["author"], at=values["at"],
                     visibility=values["visibility"], text=body.rstrip("\n"), digest=digest, approvals=approvals,
                     valid=valid, lines=dict(reader.lines))


def _node(path: str, front: str, findings: Findings) -> yaml.MappingNode | None:
    """The front matter's YAML node, or None with a finding."""
    try:
        node = compose(front)
    except YamlError as exc:
        findings.add(path, exc.line + 1, "E106", exc.message,
                     exc.hint or _("reply files are written by the replies pull command"), col=exc.col)
        return None
    if not isinstance(node, yaml.MappingNode):
        findings.add(path, 2, "E105", _("the front matter is not a mapping of keys to values"),
                     _("reply files are written by the replies pull command"))
        return None
    return node


def scan(path: str, text: str, first_line: int) -> list[Finding]:
    """What ``check`` would refuse in a cable body holding ``text``, at ``path``'s lines."""
    found: list[Finding] = []
    markings = list(classification.find_markings(text))
    page = classification.read_page(text)
    seen = {m.line for m in markings}
    markings += [m for m in page.markings if m.line not in seen]
    for marking in markings:
        found.append(Finding(path, first_line + marking.line - 1, marking.col, "E302",
                             _("classification marking {text!r} ({kind}) in the reply").format(
                                 text=marking.text, kind=marking.kind),
                             _("only unclassified text may be passed on: this reply stays out of the repository")))
    for disguise in classification.find_disguises(text, page):
        code, message, hint = DISGUISES[disguise.kind]
        found.append(Finding(path, first_line + disguise.line - 1, disguise.col, code,
                             _("{what} in the reply: {text}").format(what=_(message), text=disguise.text), _(hint)))
    for unsafe in html_safety.find_unsafe(text):
        found.append(Finding(path, first_line + unsafe.line - 1, unsafe.col, "E501",
                             f"{unsafe.what}: {unsafe.text!r}", _("this reply stays out of the repository")))
    return sorted(found)


def at_time(text: str) -> dt.datetime | None:
    """The moment a reply's ``at`` names (None: not a UTC time as gate/store.py writes it)."""
    try:
        return parse_utc_text(text)
    except (ValueError, TypeError):
        return None
