"""Sending the one-time sign-in link: SMTP through the standard library, or the log in development.

The recipient is the one thing an outsider chooses, so it is checked here again whatever the caller
did: only a canonical address (gate/addresses.py) is accepted, and both the SMTP envelope recipient
(``RCPT TO``) and the ``To:`` header are that exact text. The envelope is given explicitly, never
derived by parsing the header back (a header parser decodes comments and encoded words).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

from gate.addresses import InvalidAddress, is_canonical


@dataclass(frozen=True)
class SmtpSettings:
    """Where to send mail; ``host=None`` means no SMTP (development: links go to the log)."""

    host: str | None = None
    port: int = 25
    sender: str = "diplomatie@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> SmtpSettings:
        """``DIPLOMATIE_SMTP_HOST``, ``_PORT``, ``_FROM``, ``_USER``, ``_PASSWORD``, ``_STARTTLS`` (1/0)."""
        env = dict(os.environ if env is None else env)
        return cls(
            host=env.get("DIPLOMATIE_SMTP_HOST") or None,
            port=int(env.get("DIPLOMATIE_SMTP_PORT") or 25),
            sender=env.get("DIPLOMATIE_SMTP_FROM") or cls.sender,
            username=env.get("DIPLOMATIE_SMTP_USER") or None,
            password=env.get("DIPLOMATIE_SMTP_PASSWORD") or None,
            starttls=(env.get("DIPLOMATIE_SMTP_STARTTLS") or "0") not in ("0", "", "false", "no"),
        )


def sign_in_message(sender: str, to: str, link: str, minutes: int, site: str) -> EmailMessage:
    """The sign-in e-mail to ``to``, which must be canonical (:class:`InvalidAddress` otherwise)."""
    _require_canonical(to)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"Your sign-in link for {site}"
    message.set_content(
        f"Hello,\n\nTo sign in to {site}, open this link within {minutes} minutes:\n\n{link}\n\n"
        "It works once. If you did not ask for it, ignore this message.\n"
    )
    return message


class Mailer:
    """Sends sign-in links; blocking, so the gate calls :meth:`send` from a thread."""

    def __init__(self, settings: SmtpSettings, log: Callable[[dict], None]) -> None:
        self.settings = settings
        self.log = log

    def send(self, to: str, link: str, *, minutes: int, site: str) -> None:
        """Send the link to ``to``; refuses (logs, raises :class:`InvalidAddress`) a non-canonical address."""
        s = self.settings
        try:
            _require_canonical(to)
        except InvalidAddress:
            self.log({"event": "mail refused: not a plain address", "to": repr(to)})
            raise
        if not s.host:
            # Development only: no SMTP configured, so the operator reads the link in the log.
            self.log({"event": "sign-in link (no SMTP configured)", "to": to, "link": link})
            return
        message = sign_in_message(s.sender, to, link, minutes, site)
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    smtp.login(s.username, s.password or "")
                # The envelope is explicit: the validated address, not whatever a parser reads in To:.
                smtp.send_message(message, from_addr=envelope_sender(s.sender), to_addrs=[to])
        except (OSError, smtplib.SMTPException) as exc:
            self.log({"event": "mail failed", "to": to, "error": f"{type(exc).__name__}: {exc}"})


def envelope_sender(sender: str) -> str:
    """The ``MAIL FROM`` of the operator's ``--smtp-from`` (which may carry a display name)."""
    return parseaddr(sender)[1] or sender


def _require_canonical(to: object) -> None:
    if not is_canonical(to):
        raise InvalidAddress(f"refusing to mail {to!r}: not a canonical plain address")
