"""Sign-in e-mails: the same work for every address, decided and sent after the answer.

``/login`` calls :meth:`Outbox.request` for any valid address: a link is signed at once, whoever the
address belongs to, and a send job is queued; the job (in a worker thread, after the answer has
gone) drops the link unless the address is a current member. Within the recipient's interval
(gate/throttle.py) the request joins one delayed send, made with a fresh link by the poller's tick
(:meth:`Outbox.send_due`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import quote

from gate import tokens
from gate.mail import Mailer
from gate.throttle import MailSchedule

if TYPE_CHECKING:
    from gate.app import Gate


class Outbox:
    """The sign-in e-mails of one gate process."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.schedule = MailSchedule(gate.config.mail_interval)
        self.mailer = Mailer(gate.config.smtp, gate.log.event)
        self.background: set[asyncio.Future] = set()

    def request(self, address: str, next_path: str | None, now: float) -> None:
        """Someone asked for a link for ``address`` (a valid address; member or not, the same work)."""
        token = self._link_token(address, now)
        when = self.schedule.request(address, now)
        if when is not None and when <= now:
            self._send_soon(address, token, next_path)

    def send_due(self) -> None:
        """The poller's tick: the delayed e-mails whose time has come (fresh links, no ``next``)."""
        now = self.gate.clock()
        for address in self.schedule.pop_due(now):
            self._send_soon(address, self._link_token(address, now), None)

    def _link_token(self, address: str, now: float) -> str:
        origin = self.gate.config.origin
        return tokens.issue(self.gate.ring, tokens.MAGIC, address, issuer=origin, audience=origin,
                            ttl=tokens.MAGIC_TTL, now=now)

    def _send_soon(self, address: str, token: str, next_path: str | None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the server (tests, tools): send in this thread
            self._send(address, token, next_path)
            return
        future = loop.run_in_executor(None, self._send, address, token, next_path)
        self.background.add(future)
        future.add_done_callback(self.background.discard)

    def _send(self, address: str, token: str, next_path: str | None) -> None:
        """In a worker thread: mail the link if the address is a member now (else drop it, silently)."""
        gate = self.gate
        if gate.membership.error is not None:
            gate.log.event({"event": "sign-in link not sent: membership unreadable"})
            return
        if not gate.membership.snapshot.communities_of(address, gate.today(gate.clock())):
            return
        link = f"{gate.config.origin}/auth?token={token}"
        if next_path:
            link += "&next=" + quote(next_path, safe="/")
        self.mailer.send(address, link, minutes=tokens.MAGIC_TTL // 60, site=gate.config.origin)
