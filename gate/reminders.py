"""The reminder e-mails: a member whose access ends soon, and the owner's digest of upcoming expiries.

A contract module, like gate/welcome.py: the pipeline sends them (``diplomatie remind``,
pipeline/reminders.py), in the gate's catalogues (gate/i18n.py) so they are translated and reviewed
with the other messages, in the letters' look and through :func:`gate.letters.deliver`.

The member's reminder is in the member's language (``language`` of their entry in
``communities.yaml``), else the community's, else French; it says when the access ends and whom to
ask for a renewal (the owner's name and title: never the owner's address, which the member may not
have been given). The owner's digest is in the community's language and lists each member whose
access ends within the reminder's window, with their last day; renewing is ``diplomatie invite`` again
with a new date.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from gate.i18n import DEFAULT, translations, valid
from gate.identity import SERVICE_NAME, Service
from gate.letters import PARA, from_header, letter_html, require_canonical


@dataclass(frozen=True)
class Expiry:
    """One member whose access ends soon: their address, name (may be empty) and last valid day."""

    email: str
    name: str
    expires: dt.date


def reminder_message(sender: str, to: str, *, member_name: str, expires: dt.date, community_title: str,
                     owner_name: str, owner_title: str, language: str, site: str,
                     service: Service | None = None) -> EmailMessage:
    """The reminder to ``to`` (canonical, else :class:`InvalidAddress`): text and HTML, in ``language``."""
    require_canonical(to)
    service = service or Service()
    language = valid(language) or DEFAULT
    t = translations(language)
    _ = t.gettext
    name = service.name or _(SERVICE_NAME)
    signature = service.title(t)
    message = EmailMessage()
    message["From"] = from_header(sender, name)
    message["To"] = to
    message["Subject"] = _("Your access to “{community}” ends on {date}").format(
        community=community_title, date=expires.isoformat())
    hello = _("Hello {name},").format(name=member_name) if member_name else _("Hello,")
    ends = _("Your access to “{community}” on {service} runs until {date} included.").format(
        community=community_title, service=name, date=expires.isoformat())
    owner = owner_name + (f", {owner_title}" if owner_name and owner_title else "")
    ask = (_("To keep it, ask {owner}, who runs the community, to renew it.").format(owner=owner) if owner
           else _("To keep it, ask the team that runs the community to renew it."))
    parts = (hello, ends, ask)
    message.set_content("\n\n".join(parts) + f"\n\n-- \n{signature}\n{site}\n")
    body = "".join(f"{PARA}{html.escape(p)}</p>" for p in parts)
    message.add_alternative(letter_html(language, signature, site, body), subtype="html")
    message["Content-Language"] = language  # after the parts: set_content clears every Content-* header
    return message


def expiries_message(sender: str, to: str, *, community_title: str, community_id: str, language: str,
                     expiries: Sequence[Expiry], site: str, service: Service | None = None) -> EmailMessage:
    """The owner's digest: every member of the community whose access ends soon, in its language."""
    require_canonical(to)
    if not expiries:
        raise ValueError("a digest of expiries names at least one member")
    service = service or Service()
    language = valid(language) or DEFAULT
    t = translations(language)
    _ = t.gettext
    name = service.name or _(SERVICE_NAME)
    signature = service.title(t)
    count = len(expiries)
    message = EmailMessage()
    message["From"] = from_header(sender, name)
    message["To"] = to
    message["Subject"] = t.ngettext("“{community}”: {count} access ends soon",
                                    "“{community}”: {count} accesses end soon", count).format(
        community=community_title, count=count)
    intro = t.ngettext("The access of this member of “{community}” ends soon:",
                       "The access of these members of “{community}” ends soon:", count).format(
        community=community_title)
    lines = [_("{who}: last day {date}").format(who=f"{e.name} <{e.email}>" if e.name else e.email,
                                                date=e.expires.isoformat())
             for e in sorted(expiries, key=lambda e: (e.expires, e.email))]
    renew = _("To renew an access, invite the member again with a new date: diplomatie invite {community} "
              "ADDRESS --expires DATE.").format(community=community_id)
    told = _("Each of them receives one e-mail telling them to ask you.")
    hello = _("Hello,")
    message.set_content("\n\n".join((hello, intro, "\n".join(f"- {line}" for line in lines), renew, told))
                        + f"\n\n-- \n{signature}\n{site}\n")
    e = html.escape
    items = "".join(f"<li>{e(line)}</li>" for line in lines)
    body = (f"{PARA}{e(hello)}</p>{PARA}{e(intro)}</p><ul>{items}</ul>{PARA}{e(renew)}</p>{PARA}{e(told)}</p>")
    message.add_alternative(letter_html(language, signature, site, body), subtype="html")
    message["Content-Language"] = language
    return message
