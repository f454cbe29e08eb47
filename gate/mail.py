"""Sending the one-time sign-in link: SMTP through gate/letters.py, or the log in development.

The recipient is the one thing an outsider chooses, so it is checked here again whatever the caller
did: only a canonical address (gate/addresses.py) is accepted, and both the SMTP envelope recipient
(``RCPT TO``) and the ``To:`` header are that exact text. The envelope is given explicitly, never
derived by parsing the header back (a header parser decodes comments and encoded words).
"""

from __future__ import annotations

import html
import smtplib
from collections.abc import Callable
from email.message import EmailMessage

from gate.addresses import InvalidAddress
from gate.i18n import DEFAULT, translations, valid
from gate.identity import SERVICE_NAME, Service
from gate.letters import (
    FONT,
    LINK,
    PARA,
    SmtpSettings,
    button_html,
    deliver,
    envelope_sender,
    from_header,
    letter_html,
    require_canonical,
)
from gate.membership import CommunityAccess

__all__ = ["Mailer", "SmtpSettings", "envelope_sender", "sign_in_message"]


def sign_in_message(sender: str, to: str, link: str, minutes: int, site: str, *, language: str = DEFAULT,
                    community: CommunityAccess | None = None, service: Service | None = None) -> EmailMessage:
    """The sign-in e-mail to ``to``, which must be canonical (:class:`InvalidAddress` otherwise).

    In ``language`` (the community's, gate/outbox.py), naming the community when there is one; plain
    text and the same in HTML, styled inline (mail clients ignore stylesheets), with no remote image.
    """
    require_canonical(to)
    service = service or Service()
    t = translations(valid(language) or DEFAULT)
    _ = t.gettext
    name = service.name or _(SERVICE_NAME)
    message = EmailMessage()
    message["From"] = from_header(sender, name)
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
    """The HTML part, in the service's look (gate/letters.py): inline-styled, no image, no remote asset."""
    e = html.escape
    owner = f"{PARA}{e(run_by)}</p>" if run_by else ""
    body = (f"{PARA}{e(hello)}</p>{PARA}{e(intro)}</p>{button_html(link, button)}"
            f'<p style="margin:0 0 16px;{FONT}font-size:13px;line-height:20px;color:#3a3a3a;word-break:break-all">'
            f'<a href="{e(link)}" style="{LINK}">{e(link)}</a></p>{PARA}{e(once)}</p>{owner}')
    return letter_html(language, signature, site, body)


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
            require_canonical(to)
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
            deliver(s, message, to)  # the envelope is explicit: the validated address (gate/letters.py)
        except (OSError, smtplib.SMTPException) as exc:
            self.log({"event": "mail failed", "to": to, "error": f"{type(exc).__name__}: {exc}"})
