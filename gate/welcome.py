"""The invitation e-mail: what a new (or renewed) member receives after ``diplomatie invite``.

A contract module: the pipeline sends it (after ``publish``, or at once with ``invite --send``), in
the community's language through the gate's catalogues (gate/i18n.py), so its text is translated
and reviewed with the gate's other messages (``make catalogues``). It comes *from the owner's
name* (the display name of ``From:``; the address is the service's sender, so SPF and DKIM hold),
says what the community is (its description, as ``communities.yaml`` writes it), until when the
access runs, and holds a one-time sign-in link.

The recipient is checked again here, whatever the caller did: only a canonical address
(gate/addresses.py), given explicitly as the envelope recipient, never parsed back from ``To:``.
"""

from __future__ import annotations

import datetime as dt
import html
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr

from gate.addresses import InvalidAddress, is_canonical
from gate.i18n import DEFAULT, translations, valid
from gate.identity import SERVICE_NAME, Service
from gate.mail import SmtpSettings, envelope_sender


@dataclass(frozen=True)
class Welcome:
    """What the invitation says: the community (title, description, language), who runs it, the
    member's name (may be empty) and last valid day (None: no end)."""

    community_title: str
    description: str
    language: str = DEFAULT
    owner_name: str = ""
    owner_title: str = ""
    member_name: str = ""
    expires: dt.date | None = None


def invitation_message(sender: str, to: str, link: str, welcome: Welcome, *, days: int, site: str,
                       service: Service | None = None) -> EmailMessage:
    """The invitation to ``to`` (canonical, else :class:`InvalidAddress`), text and HTML, in the
    community's language."""
    if not is_canonical(to):
        raise InvalidAddress(f"refusing to mail {to!r}: not a canonical plain address")
    service = service or Service()
    language = valid(welcome.language) or DEFAULT
    t = translations(language)
    _ = t.gettext
    name = service.name or _(SERVICE_NAME)
    owner = welcome.owner_name + (f", {welcome.owner_title}" if welcome.owner_name and welcome.owner_title else "")
    message = EmailMessage()
    message["From"] = formataddr((welcome.owner_name or name, envelope_sender(sender)))
    message["To"] = to
    message["Subject"] = _("Invitation to “{community}”").format(community=welcome.community_title)
    hello = _("Hello {name},").format(name=welcome.member_name) if welcome.member_name else _("Hello,")
    intro = (_("{owner} invites you to read “{community}” on {service}.") if owner
             else _("You are invited to read “{community}” on {service}.")).format(
        owner=owner, community=welcome.community_title, service=name)
    open_link = _("To sign in for the first time, open this link within {days} days:").format(days=days)
    afterwards = _("It works once. Afterwards, sign in at {site} with this address: each time, a link is "
                   "sent to you.").format(site=site)
    until = (_("Your access runs until {date} included.").format(date=welcome.expires.isoformat())
             if welcome.expires else "")
    signature = service.title(t)
    parts = (hello, intro, welcome.description.strip(), open_link, link, afterwards, until)
    message.set_content("\n\n".join(p for p in parts if p) + f"\n\n-- \n{signature}\n{site}\n")
    e = html.escape
    body = "".join(f"<p>{e(p)}</p>" for p in (hello, intro, welcome.description.strip(), open_link) if p)
    button = _("Sign in")
    body += f'<p><a href="{e(link)}">{e(button)}</a></p><p>{e(link)}</p>'
    body += "".join(f"<p>{e(p)}</p>" for p in (afterwards, until) if p)
    message.add_alternative(f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
                            f"<title>{e(signature)}</title></head><body>{body}"
                            f"<p>{e(signature)}<br>{e(site)}</p></body></html>", subtype="html")
    message["Content-Language"] = language  # after the parts: set_content clears every Content-* header
    return message


def deliver(settings: SmtpSettings, message: EmailMessage, to: str) -> None:
    """Hand ``message`` to the SMTP server for ``to`` (the explicit envelope); raises ``OSError`` or
    ``smtplib.SMTPException`` when it is not accepted, and ``ValueError`` when no server is set."""
    if not is_canonical(to):
        raise InvalidAddress(f"refusing to mail {to!r}: not a canonical plain address")
    if not settings.host:
        raise ValueError("no SMTP server: set DIPLOMATIE_SMTP_HOST (and _PORT, _FROM, _USER, _PASSWORD, "
                         "_STARTTLS as needed)")
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message, from_addr=envelope_sender(settings.sender), to_addrs=[to])
