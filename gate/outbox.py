"""Sign-in e-mails: the same work for every address, decided and sent after the answer.

``/login`` calls :meth:`Outbox.request` for any valid address: a link is signed at once, whoever the
address belongs to, and a send job is queued; the job (in a worker thread, after the answer has
gone) drops the link unless the address is a current member. Within the recipient's interval
(gate/throttle.py) the request joins one delayed send, made with a fresh link by the poller's tick
(:meth:`Outbox.send_due`).

The outbox is given what it uses, not the whole gate: a mailer, a function that signs a link, a
membership check, a clock and a log; so it sits below the gate's state and depends on nothing above.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import quote

from gate import tokens
from gate.mail import Mailer
from gate.throttle import MailSchedule

#: ``sign_link(address, now)``: the full sign-in URL (``…/auth?token=…``) holding a fresh link for ``address``.
SignLink = Callable[[str, float], str]

#: ``is_member(address, now)``: True when ``address`` may read some community now, False when it may
#: not, None when the membership cannot be read (then nothing is sent: fail closed).
MemberCheck = Callable[[str, float], "bool | None"]


class Outbox:
    """The sign-in e-mails of one gate process."""

    def __init__(self, *, mailer: Mailer, sign_link: SignLink, is_member: MemberCheck,
                 clock: Callable[[], float], log: Callable[[dict], None], interval: float, site: str) -> None:
        self.mailer = mailer
        self.sign_link = sign_link
        self.is_member = is_member
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
        member = self.is_member(address, self.clock())
        if member is None:
            self.log({"event": "sign-in link not sent: membership unreadable"})
            return
        if not member:
            return
        if next_path:
            link += "&next=" + quote(next_path, safe="/")
        self.mailer.send(address, link, minutes=tokens.MAGIC_TTL // 60, site=self.site)
