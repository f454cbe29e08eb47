"""Sending the one-time sign-in link: SMTP through the standard library, or the log in development.

The recipient is the one thing an outsider chooses, so it is checked here again whatever the caller
did: only a canonical address (gate/addresses.py) is accepted, and both the SMTP envelope recipient
(``RCPT TO``) and the ``To:`` header are that exact text. The envelope is given explicitly, never
derived by parsing the header back (a header parser decodes comments and encoded words).
"""

from __future__ import annotations

import html
import os
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from gate.addresses import InvalidAddress, is_canonical
from gate.i18n import DEFAULT, translations, valid
from gate.identity import SERVICE_NAME, Service
from gate.membership import CommunityAccess


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


def sign_in_message(sender: str, to: str, link: str, minutes: int, site: str, *, language: str = DEFAULT,
                    community: CommunityAccess | None = None, service: Service | None = None) -> EmailMessage:
    """The sign-in e-mail to ``to``, which must be canonical (:class:`InvalidAddress` otherwise).

    In ``language`` (the community's, gate/outbox.py), naming the community when there is one; plain
    text and the same in HTML, styled inline (mail clients ignore stylesheets), with no remote image.
    """
    _require_canonical(to)
    service = service or Service()
    t = translations(valid(language) or DEFAULT)
    _ = t.gettext
    name = service.name or _(SERVICE_NAME)
    message = EmailMessage()
    message["From"] = sender if parseaddr(sender)[0] else formataddr((name, envelope_sender(sender)))
    message["To"] = to
    message["Subject"] = (_("Your sign-in link — {community}").format(community=community.title) if community
                          else _("Your sign-in link to {service}").format(service=name))
    if community is not None:
        intro = _("To sign in to “{community}”, open this link within {minutes} minutes:").format(
            community=community.title, minutes=minutes)
    else:
        intro = _("To sign in to {service}, open this link within {minutes} minutes:").format(
            service=name, minutes=minutes)
    once = _("It works once. If you did not ask for it, ignore this message: nobody can sign in without it.")
    run_by = ""
    if community is not None:
        owner = (community.owner_name + (f", {community.owner_title}" if community.owner_title else "")
                 if community.owner_name else "")
        run_by = (_("Community run by {owner}.").format(owner=owner) if owner
                  else _("Community run by the team of “{community}”.").format(community=community.title))
    signature = service.title(t)
    message.set_content("\n\n".join(part for part in (
        _("Hello,"), intro, link, once, run_by, f"-- \n{signature}\n{site}") if part) + "\n")
    message.add_alternative(_html_letter(language, intro, link, once, run_by, signature, site,
                                         _("Sign in"), _("Hello,")), subtype="html")
    message["Content-Language"] = language  # after the parts: set_content clears every Content-* header
    return message


def _html_letter(language: str, intro: str, link: str, once: str, run_by: str, signature: str, site: str,
                 button: str, hello: str) -> str:
    """The HTML part: the header block of the service's look, inline-styled, no image, no remote asset."""
    e = html.escape
    font = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;"
    para = f'<p style="margin:0 0 16px;{font}font-size:16px;line-height:24px;color:#161616">'
    owner = f"{para}{e(run_by)}</p>" if run_by else ""
    return (
        f'<!doctype html><html lang="{e(language)}"><head><meta charset="utf-8">'
        f"<title>{e(signature)}</title></head>"
        '<body style="margin:0;padding:0;background:#f6f6f6">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f6f6f6">'
        '<tr><td align="center" style="padding:16px">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        'style="max-width:560px;background:#ffffff;border-top:4px solid #000091">'
        f'<tr><td style="padding:16px 24px;border-bottom:1px solid #dddddd;{font}">'
        '<p lang="fr" style="margin:0;font-weight:700;font-size:15px;line-height:17px;text-transform:uppercase;'
        'color:#161616">République<br>française</p>'
        '<p lang="fr" style="margin:6px 0 12px;font-size:11px;line-height:13px;font-style:italic;color:#3a3a3a">'
        "Liberté<br>Égalité<br>Fraternité</p>"
        f'<p style="margin:0;font-weight:700;font-size:18px;color:#161616">{e(signature)}</p></td></tr>'
        f'<tr><td style="padding:24px">{para}{e(hello)}</p>{para}{e(intro)}</p>'
        f'<p style="margin:0 0 16px"><a href="{e(link)}" style="display:inline-block;padding:10px 24px;'
        f'background:#000091;color:#ffffff;text-decoration:none;font-weight:700;{font}">{e(button)}</a></p>'
        f'<p style="margin:0 0 16px;{font}font-size:13px;line-height:20px;color:#3a3a3a;word-break:break-all">'
        f'<a href="{e(link)}" style="color:#000091">{e(link)}</a></p>'
        f"{para}{e(once)}</p>{owner}</td></tr>"
        f'<tr><td style="padding:16px 24px;border-top:1px solid #dddddd;{font}font-size:13px;color:#3a3a3a">'
        f"{e(signature)}<br>{e(site)}</td></tr></table></td></tr></table></body></html>"
    )


class Mailer:
    """Sends sign-in links; blocking, so the gate calls :meth:`send` from a thread."""

    def __init__(self, settings: SmtpSettings, log: Callable[[dict], None]) -> None:
        self.settings = settings
        self.log = log

    def send(self, to: str, link: str, *, minutes: int, site: str, language: str = DEFAULT,
             community: CommunityAccess | None = None, service: Service | None = None) -> None:
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
        message = sign_in_message(s.sender, to, link, minutes, site, language=language, community=community,
                                  service=service)
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
