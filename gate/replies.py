"""Replies: a member's answer to a cable, as the store keeps it (docs/storage.md, *Replies*).

A contract module: the gate writes a reply (its reply page, gate/replypage.py) and
``diplomatie replies pull`` reads it. One object per reply, ``replies/<community>/<cable>/<time>-
<member>-<nonce>.json`` (gate/store.py ``reply_key``), created with create-if-absent and never
rewritten: a second reply is a second object, and two gates writing at the same instant cannot
overwrite each other (a taken key makes the writer draw another nonce)::

    {"format": 1, "community": "energie", "cable": "2026-BERLIN-0042", "author": "a.martin@example.org",
     "release": "20261201T090000Z-ab12", "digest": "sha256:…", "at": "2026-12-01T09:00:00Z",
     "visibility": "editors", "text": "Markdown text as typed"}

``digest`` is the SHA-256 of the cable page the member answered, as the release served it (its blob),
and ``release`` that release: together they say which version of the cable was answered.

A reply's **id** (:func:`reply_id`) is ``<cable>/<time>-<nonce>``: its key without the community and
the member. ``replies pull`` names the reply's file after it (``replies/<community>/<id>.md``), and a
release that shows the reply on its cable page lists it in its manifest (gate/store.py
``Manifest.replies``): that is how the gate tells a member their reply is published
(:func:`published_in`), without the manifest naming anyone.

What the gate refuses itself (:func:`text_problem`): text that is empty, longer than
:data:`MAX_CHARACTERS` or :data:`MAX_BYTES`, or holds a control character other than a line break or
a tab (binary data, terminal escapes, bidirectional overrides). The text is kept as typed: the
classification guard and the HTML sanitiser are the pipeline's (the gate cannot import them), and
``replies pull`` runs them on every reply before it goes anywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from gate.addresses import is_canonical
from gate.store import (
    FORMAT,
    REPLIES_PREFIX,
    Manifest,
    NotFound,
    Store,
    StoreError,
    StoreUnavailable,
    member_id,
    parse_utc_text,
    replies_prefix,
    reply_key,
)

#: "For the author and editors only" (the default) and "may be shared with the community".
EDITORS = "editors"
COMMUNITY = "community"
VISIBILITIES = (EDITORS, COMMUNITY)
#: A reply is short: at most this many characters, and this many bytes of UTF-8.
MAX_CHARACTERS = 4000
MAX_BYTES = 12 * 1024
#: Characters below U+0020 a reply may hold: line breaks and tabs.
_ALLOWED_CONTROLS = frozenset("\n\t")
#: How many nonces a writer draws before it gives up (a collision is already one in 2**64).
_ATTEMPTS = 5


class ReplyRefused(ValueError):
    """The text cannot be taken as a reply; ``reason`` is one of the constants below."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


EMPTY, TOO_LONG, NOT_TEXT = "empty", "too long", "not text"


def normalise_text(text: str) -> str:
    """The text as stored: line breaks as ``\\n`` (browsers send ``\\r\\n``), trailing blanks off."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def text_problem(text: str) -> str | None:
    """Why ``text`` (normalised) cannot be a reply, or None. Refused: empty, over the limits, or holding
    a character that is not text: a control character (C0 but line break and tab, DEL, C1), a
    format character (bidirectional overrides, zero-width joiners used to hide text), a surrogate, a
    private-use or unassigned code point."""
    if not text.strip():
        return EMPTY
    if len(text) > MAX_CHARACTERS or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return TOO_LONG
    for char in text:
        if char in _ALLOWED_CONTROLS:
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            return NOT_TEXT
    return None


@dataclass(frozen=True)
class Reply:
    """One reply, as stored."""

    community: str
    cable: str
    author: str
    release: str
    digest: str
    at: str  # gate/store.py utc_text
    visibility: str
    text: str

    def to_json(self) -> bytes:
        return (json.dumps({"format": FORMAT, "community": self.community, "cable": self.cable,
                            "author": self.author, "release": self.release, "digest": self.digest,
                            "at": self.at, "visibility": self.visibility, "text": self.text},
                           ensure_ascii=False, indent=1) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> Reply:
        """A stored reply; :class:`StoreError` when it is not one (a reader must never guess)."""
        try:
            obj = json.loads(data)
            if not isinstance(obj, dict) or obj.get("format") != FORMAT:
                raise ValueError("not a format 1 record")
            fields = {name: obj[name] for name in ("community", "cable", "author", "release", "digest", "at",
                                                   "visibility", "text")}
            if not all(isinstance(value, str) for value in fields.values()):
                raise ValueError("a field is not text")
            record = cls(**fields)
            parse_utc_text(record.at)
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"reply: {exc}") from exc
        if record.visibility not in VISIBILITIES:
            raise StoreError(f"reply: unknown visibility {record.visibility!r}")
        return record

    def validate(self) -> None:
        """Refuse (ReplyRefused, ValueError) a reply that the store must never hold."""
        problem = text_problem(self.text)
        if problem is not None:
            raise ReplyRefused(problem)
        if self.visibility not in VISIBILITIES:
            raise ValueError(f"unknown visibility {self.visibility!r}: one of {', '.join(VISIBILITIES)}")
        if not is_canonical(self.author):
            raise ValueError(f"author {self.author!r} is not a canonical address")


def write_reply(store: Store, reply: Reply, moment: dt.datetime) -> str:
    """Store a new reply under a key of its own (create-if-absent: never over another); its key."""
    reply.validate()
    data = reply.to_json()
    for _ in range(_ATTEMPTS):
        key = reply_key(reply.community, reply.cable, moment, reply.author, secrets.token_hex(8))
        if store.create(key, data, "application/json"):
            return key
    raise StoreError(f"no free key for a reply to {reply.cable} after {_ATTEMPTS} attempts")


def reply_id(key: str) -> str:
    """The id of the reply stored under ``key`` (``<cable>/<time>-<nonce>``); ValueError when ``key`` is
    not a reply's key. The one place the id is made: the repository's file and the manifest use it."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] + "/" != REPLIES_PREFIX or not parts[3].endswith(".json"):
        raise ValueError(f"{key!r} is not a reply's key")
    pieces = parts[3].removesuffix(".json").split("-")
    if len(pieces) != 3 or not all(pieces):
        raise ValueError(f"{key!r} is not a reply's key")
    time, _member, nonce = pieces
    return f"{parts[2]}/{time}-{nonce}"


def published_in(manifest: Manifest, key: str) -> bool:
    """Whether the release of ``manifest`` shows the reply stored under ``key`` (its id is listed)."""
    try:
        return reply_id(key) in manifest.replies
    except ValueError:
        return False


def reply_at(key: str, data: bytes) -> Reply:
    """The reply stored under ``key``: :class:`StoreError` unless it reads, and its community, cable and
    author are the ones its key names (a record copied elsewhere says nothing)."""
    reply = Reply.from_json(data)
    prefix = replies_prefix(reply.community, reply.cable)
    name = key[len(prefix):] if key.startswith(prefix) else ""
    if name.count("-") < 2 or name.split("-")[1] != member_id(reply.author):
        raise StoreError(f"{key}: its record names another community, cable or author")
    return reply


def replies_of(store: Store, community: str, cable: str, author: str) -> list[tuple[str, Reply]]:
    """The author's own replies to the cable, oldest first; others' are never read. Unreadable ones are
    skipped; :class:`StoreUnavailable` passes."""
    mine = member_id(author)
    found = []
    prefix = replies_prefix(community, cable)
    for key in store.list(prefix):
        parts = key[len(prefix):].split("-")
        if len(parts) < 3 or parts[1] != mine:
            continue
        try:
            found.append((key, reply_at(key, store.get(key))))
        except StoreUnavailable:
            raise
        except (NotFound, StoreError):
            continue
    return found


def every_reply(store: Store, community: str) -> Iterator[tuple[str, bytes]]:
    """(key, bytes) of every reply stored for the community's cables, in key order (time per cable):
    what ``replies pull`` reads and judges. Deleted meanwhile: skipped."""
    for key in store.list(replies_prefix(community)):
        if not key.endswith(".json"):
            continue
        try:
            yield key, store.get(key)
        except NotFound:
            continue
