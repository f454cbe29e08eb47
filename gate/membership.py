"""Who may read which community: the ``members.json`` snapshot that ``publish`` writes to the store.

The gate never reads ``communities.yaml``; it trusts only this snapshot (format in docs/storage.md).
:class:`Membership` keeps the current snapshot in memory and re-reads the key when it changes, so a
publish that removes a member cuts them off within seconds, without restarting the gate. While
storage is unreachable or the snapshot is malformed, the last good snapshot stays in force (an empty
one if none was ever read: nobody gets in).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from gate.addresses import InvalidAddress, is_canonical, parse_domain
from gate.store import MEMBERS_KEY, TERMS_VERSION, NotFound, Store, StoreUnavailable


def is_current(expires: dt.date | None, today: dt.date) -> bool:
    """A listed member is current through the whole of their ``expires`` day (UTC); None: no end."""
    return expires is None or today <= expires


def admits(members: Mapping[str, dt.date | None], domains: Collection[str], address: str, today: dt.date) -> bool:
    """THE membership rule, for the pipeline and the gate alike: ``address`` may read the community on
    ``today`` when it is listed in ``members`` (address -> last valid day) and current
    (:func:`is_current`), or when it is an address at one of ``domains``.

    ``members`` and ``domains`` hold canonical forms (gate/addresses.py); only a canonical ``address``
    is ever admitted, so anything else a caller passes (``"x:victim@domain"``,
    ``"=?utf-8?q?…?=(@domain"``) is refused. Each address is listed once: the ``members.json``
    snapshot is a mapping, so a later listing of the same address replaces an earlier one.
    """
    if address in members and is_current(members[address], today):  # keys are canonical, so is an equal string
        return True
    domain = address.rpartition("@")[2]
    return bool(domain) and domain in domains and is_canonical(address)


class SnapshotError(ValueError):
    """members.json is not a valid format-1 snapshot."""


@dataclass(frozen=True)
class CommunityAccess:
    """One community as the gate sees it: title, language, its owner's name and title (shown on the
    gate's pages instead of the owner's address, which the snapshot never holds), domains, and
    member -> last valid day."""

    id: str
    title: str
    language: str = "fr"
    domains: frozenset[str] = frozenset()
    members: Mapping[str, dt.date | None] = field(default_factory=dict)
    owner_name: str = ""
    owner_title: str = ""
    #: The version (``sha256:<hex>`` of the file) of the community's terms of use a member must accept
    #: before reading any page; empty: no terms. Its text is at ``gate.store.terms_key``.
    terms: str = ""
    #: Member address -> their name as ``communities.yaml`` gives it (optional in the snapshot): what the
    #: sites' "Signed in as" line shows (gate/signedin.py) instead of the address.
    names: Mapping[str, str] = field(default_factory=dict)

    def admits(self, email: str, today: dt.date) -> bool:
        """Whether ``email`` may read this community on ``today`` (:func:`admits`, the one rule)."""
        return admits(self.members, self.domains, email, today)


@dataclass(frozen=True)
class Snapshot:
    """The parsed members.json: every community the gate serves and who may read it."""

    commit: str | None = None
    communities: Mapping[str, CommunityAccess] = field(default_factory=dict)
    digest: str = ""

    def admits(self, community: str, email: str, today: dt.date) -> bool:
        """Whether ``email`` may read ``community`` on ``today`` (asked for every request of a site file)."""
        access = self.communities.get(community)
        return access is not None and admits(access.members, access.domains, email, today)

    def communities_of(self, email: str, today: dt.date) -> list[CommunityAccess]:
        """The communities ``email`` may read today, in id order."""
        return [c for _, c in sorted(self.communities.items()) if c.admits(email, today)]

    @classmethod
    def from_json(cls, data: bytes) -> Snapshot:
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise SnapshotError(f"members.json: not valid JSON: {exc}") from exc
        if not isinstance(obj, dict) or obj.get("format") != 1:
            raise SnapshotError("members.json: not a format 1 membership snapshot")
        raw = obj.get("communities")
        if not isinstance(raw, dict):
            raise SnapshotError("members.json: 'communities' must be a mapping")
        communities = {cid: _community(cid, entry) for cid, entry in raw.items()}
        commit = obj.get("commit")
        return cls(commit if isinstance(commit, str) else None, communities, hashlib.sha256(data).hexdigest())


def _community(cid: str, entry: Any) -> CommunityAccess:
    if not isinstance(entry, dict):
        raise SnapshotError(f"members.json: community {cid!r} is not a mapping")
    members: dict[str, dt.date | None] = {}
    for email, last in (entry.get("members") or {}).items():
        try:
            expiry = None if last is None else dt.date.fromisoformat(last)
        except (TypeError, ValueError) as exc:
            raise SnapshotError(f"members.json: {cid}: {email}: bad expiry {last!r}") from exc
        # Fail closed: publish writes canonical addresses only, so any other form is ignored, never
        # re-parsed into something that might match a different mailbox.
        if is_canonical(email):
            members[email] = expiry
    from gate.i18n import LANGUAGES  # here: the pipeline's commands import this module for its rules alone

    return CommunityAccess(
        id=cid,
        title=str(entry.get("title") or cid),
        language=entry.get("language") if entry.get("language") in LANGUAGES else "fr",
        domains=frozenset(d for d in entry.get("domains") or () if _canonical_domain(d)),
        members=members,
        owner_name=_label(entry.get("owner_name")),
        owner_title=_label(entry.get("owner_title")),
        terms=_terms(cid, entry.get("terms")),
        names=_names(entry.get("names"), members),
    )


def _names(value: object, members: Mapping[str, dt.date | None]) -> dict[str, str]:
    """The members' names: only for listed members, only a name that :func:`_label` keeps; anything
    else is left out (the line then shows the address), never a reason to refuse the snapshot."""
    if not isinstance(value, dict):
        return {}
    names = {}
    for address, name in value.items():
        label = _label(name)
        if address in members and label:
            names[address] = label
    return names


def _terms(cid: str, value: object) -> str:
    """The terms' version, or "" for none. Anything else fails the whole snapshot (the previous one stays
    in force): a community whose terms cannot be known must not be served without them."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not TERMS_VERSION.match(value):
        raise SnapshotError(f"members.json: {cid}: terms {value!r} is not sha256:<64 hex digits>")
    return value


def _label(value: object) -> str:
    """A name or title to print as text: a short single line, else nothing (never an address)."""
    if not isinstance(value, str) or len(value) > 200 or not value.isprintable() or "@" in value:
        return ""
    return value.strip()


def _canonical_domain(text: object) -> bool:
    """True when ``text`` is a domain exactly as gate/addresses.py writes it (others are ignored)."""
    try:
        return parse_domain(text) == text
    except InvalidAddress:
        return False


class Membership:
    """The snapshot in force, re-read from the store by :meth:`refresh` when its bytes change."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.snapshot = Snapshot()
        self.error: str | None = None
        self._raw = b""  # the empty snapshot: no members.json, nobody gets in

    def refresh(self) -> bool:
        """Re-read members.json (blocking: call it from a thread); True when the snapshot changed.

        A missing snapshot means nobody is a member; an unreadable or malformed one keeps the last
        good snapshot and records the error (reported by /healthz and the log).
        """
        try:
            raw = self.store.get(MEMBERS_KEY)
        except NotFound:
            raw = b""
        except StoreUnavailable as exc:
            self.error = f"members.json unavailable: {exc}"
            return False
        if raw == self._raw:
            self.error = None
            return False
        try:
            snapshot = Snapshot.from_json(raw) if raw else Snapshot()
        except SnapshotError as exc:
            self.error = str(exc)
            return False
        self.snapshot, self._raw, self.error = snapshot, raw, None
        return True
