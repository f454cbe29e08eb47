"""``communities.yaml``: the sharing communities, their selection rules, editors and members."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


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

    def is_current(self, today: dt.date) -> bool:
        """A member is current through the whole of their ``expires`` day."""
        return self.expires is None or today <= self.expires


@dataclass(frozen=True)
class Selection:
    """Which cables a community receives (see README: selection rules)."""

    subjects: tuple[str, ...] = ()
    posts: tuple[str, ...] = ()
    from_: dt.date | None = None
    until: dt.date | None = None
    cables: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


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
    require_signed_approvals: bool = False
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def editor_emails(self) -> frozenset[str]:
        return frozenset(e.email for e in self.editors)

    def is_member(self, email: str, today: dt.date) -> bool:
        """Listed and not expired, or an address of one of the community's domains."""
        email = email.strip().lower()
        if any(m.email == email and m.is_current(today) for m in self.members):
            return True
        domain = email.rpartition("@")[2]
        return bool(domain) and domain in self.domains
