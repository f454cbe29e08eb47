"""Sign-in e-mails: the same work for every address, decided and sent after the answer.

``/login`` calls :meth:`Outbox.request` for any valid address: a link is signed at once, whoever the
address belongs to, and a send job is queued; the job (in a worker thread, after the answer has
gone) drops the link unless the address is a current member. Within the recipient's interval
(gate/throttle.py) the request joins one delayed send, made with a fresh link by the poller's tick
(:meth:`Outbox.send_due`).

The e-mail is in the language of the community it is about (the ``next`` the member was going to, or
their only community), else of all their communities if they share one, else French.

The outbox is given what it uses, not the whole gate: a mailer, a function that signs a link, a
membership look-up, a clock and a log; so it sits below the gate's state and depends on nothing above.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from urllib.parse import quote

from gate import tokens
from gate.i18n import DEFAULT
from gate.identity import Service
from gate.mail import Mailer
from gate.membership import CommunityAccess
from gate.throttle import MailSchedule

#: ``sign_link(address, now)``: the full sign-in URL (``…/auth?token=…``) holding a fresh link for ``address``.
SignLink = Callable[[str, float], str]

#: ``communities_of(address, now)``: the communities ``address`` may read now (empty when none), None
#: when the membership cannot be read (then nothing is sent: fail closed).
MemberCheck = Callable[[str, float], "Sequence[CommunityAccess] | None"]


class Outbox:
    """The sign-in e-mails of one gate process."""

    def __init__(self, *, mailer: Mailer, sign_link: SignLink, communities_of: MemberCheck,
                 clock: Callable[[], float], log: Callable[[dict], None], interval: float, site: str,
                 service: Service | None = None) -> None:
        self.mailer = mailer
        self.sign_link = sign_link
        self.communities_of = communities_of
        self.service = service or Service()
        self.clock = clock
        self.log = log  # one structured event per call
        self.site = site  # the gate's origin, named in the e-mail
        self.schedule = MailSchedule(interval)
        self.background: set[asyncio.Future] = set()

    def request(self, address: str, next_path: str | None, now: float) -> None:
        """Someone asked for a link for ``address`` (a valid address; member or not, the same work)."""
        link = self.sign_link(address, now)
        when = self.schedule.request(address, now)
        if when is not None and when <= now:
            self._send_soon(address, link, next_path)

    def send_due(self) -> None:
        """The poller's tick: the delayed e-mails whose time has come (fresh links, no ``next``)."""
        now = self.clock()
        for address in self.schedule.pop_due(now):
            self._send_soon(address, self.sign_link(address, now), None)

    def _send_soon(self, address: str, link: str, next_path: str | None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the server (tests, tools): send in this thread
            self._send(address, link, next_path)
            return
        future = loop.run_in_executor(None, self._send, address, link, next_path)
        self.background.add(future)
        future.add_done_callback(self.background.discard)

    def _send(self, address: str, link: str, next_path: str | None) -> None:
        """In a worker thread: mail the link if the address is a member now (else drop it, silently)."""
        communities = self.communities_of(address, self.clock())
        if communities is None:
            self.log({"event": "sign-in link not sent: membership unreadable"})
            return
        if not communities:
            return
        if next_path:
            link += "&next=" + quote(next_path, safe="/")
        community = addressed_community(communities, next_path)
        self.mailer.send(address, link, minutes=tokens.MAGIC_TTL // 60, site=self.site, community=community,
                         language=letter_language(communities, community), service=self.service)


def addressed_community(communities: Sequence[CommunityAccess], next_path: str | None) -> CommunityAccess | None:
    """The community the e-mail is about: the one the member was going to (``next``), or their only one."""
    wanted = next_path[3:].partition("/")[0] if next_path and next_path.startswith("/c/") else None
    for community in communities:
        if community.id == wanted:
            return community
    return communities[0] if len(communities) == 1 else None


def letter_language(communities: Sequence[CommunityAccess], community: CommunityAccess | None) -> str:
    """The e-mail's language: its community's; else the one all the member's communities share; else French."""
    if community is not None:
        return community.language
    languages = {c.language for c in communities}
    return languages.pop() if len(languages) == 1 else DEFAULT
