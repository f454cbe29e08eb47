"""The invitation e-mail: what a new (or renewed) member receives after ``diplomatie invite``.

A contract module: the pipeline sends it (after ``publish``, or at once with ``invite --send``), in
the community's language through the gate's catalogues (gate/i18n.py), so its text is translated
and reviewed with the gate's other messages (``make catalogues``). It comes *from the owner's
name* (the display name of ``From:``; the address is the service's sender, so SPF and DKIM hold),
says what the community is (its description, as ``communities.yaml`` writes it), until when the
access runs, and holds a one-time sign-in link.

It is a letter like the others (gate/letters.py): the service's look, and handed to SMTP by
:func:`gate.letters.deliver`, which checks the recipient again (only a canonical address, given
explicitly as the envelope recipient, never parsed back from ``To:``).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr

from gate.i18n import DEFAULT, translations, valid
from gate.identity import SERVICE_NAME, Service
from gate.letters import FONT, LINK, PARA, button_html, envelope_sender, letter_html, require_canonical


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
    terms: bool = False  # the community has terms of use, accepted at the first sign-in (gate/terms.py)


def invitation_message(sender: str, to: str, link: str, welcome: Welcome, *, days: int, site: str,
                       service: Service | None = None) -> EmailMessage:
    """The invitation to ``to`` (canonical, else :class:`InvalidAddress`), text and HTML, in the
    community's language, in the service's look (gate/letters.py)."""
    require_canonical(to)
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
    terms = (_("“{community}” has terms of use: you will be asked to accept them when you first sign in.").format(
        community=welcome.community_title) if welcome.terms else "")
    parts = (hello, intro, welcome.description.strip(), terms, open_link, link, afterwards, until)
    message.set_content("\n\n".join(p for p in parts if p) + f"\n\n-- \n{signature}\n{site}\n")
    e = html.escape
    body = "".join(f"{PARA}{e(p)}</p>" for p in (hello, intro, welcome.description.strip(), terms, open_link) if p)
    body += button_html(link, _("Sign in"))
    body += (f'<p style="margin:0 0 16px;{FONT}font-size:13px;line-height:20px;color:#3a3a3a;word-break:break-all">'
             f'<a href="{e(link)}" style="{LINK}">{e(link)}</a></p>')
    body += "".join(f"{PARA}{e(p)}</p>" for p in (afterwards, until) if p)
    message.add_alternative(letter_html(language, signature, site, body), subtype="html")
    message["Content-Language"] = language  # after the parts: set_content clears every Content-* header
    return message

