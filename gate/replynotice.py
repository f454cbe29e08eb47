"""The e-mail telling a cable's author and a community's editors that replies arrived.

A contract module: ``diplomatie replies pull`` sends it (pipeline/replypull.py) in the community's
language, through the gate's catalogues (gate/i18n.py), in the letters' look and through
:func:`gate.letters.deliver` (gate/letters.py). It never holds a reply's text: :class:`Arrival` has no
field for it. It says which cable was answered, when, whether the member asked for the reply to be
shared, and where the reply now is (the file, on the branch of the content repository) for review.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from gate.i18n import DEFAULT, N_, translations, valid
from gate.identity import SERVICE_NAME, Service
from gate.letters import PARA, SMALL, envelope_sender, letter_html, require_canonical


@dataclass(frozen=True)
class Arrival:
    """What the notice says of one reply: never its text, nor who wrote it (there is no field for either)."""

    cable: str
    at: str  # gate/store.py utc_text
    shareable: bool
    path: str  # the file in the content repository


def reply_notice(sender: str, to: str, community_title: str, language: str, arrivals: Sequence[Arrival], *,
                 branch: str, now: dt.datetime, service: Service | None = None) -> EmailMessage:
    """The notice to ``to`` (canonical, else :class:`gate.addresses.InvalidAddress`): text and HTML, in
    ``language``, its subject naming the community."""
    require_canonical(to)
    service = service or Service()
    language = valid(language) or DEFAULT
    t = translations(language)
    _ = t.gettext
    name = service.name or _(SERVICE_NAME)
    message = EmailMessage()
    message["From"] = formataddr((name, envelope_sender(sender)))
    message["To"] = to
    message["Subject"] = t.ngettext("A reply to a cable of “{community}”", "Replies to cables of “{community}”",
                                    len(arrivals)).format(community=community_title)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=envelope_sender(sender).rpartition("@")[2] or None)
    intro = t.ngettext("A member of “{community}” answered a cable. The reply is in the content repository, on "
                       "the branch {branch}, for review:",
                       "Members of “{community}” answered cables. The replies are in the content repository, on "
                       "the branch {branch}, for review:", len(arrivals)).format(community=community_title,
                                                                                  branch=branch)
    lines = [line(_, arrival) for arrival in arrivals]
    never = _("This e-mail never holds the text of a reply: read it in the repository.")
    signature = service.title(t)
    message.set_content("\n\n".join([intro, "\n".join(f"- {entry}" for entry in lines), never])
                        + f"\n\n-- \n{signature}\n")
    e = html.escape
    items = "".join(f"<li>{e(entry)}</li>" for entry in lines)
    body = f'{PARA}{e(intro)}</p><ul style="margin:0 0 16px">{items}</ul>{SMALL}{e(never)}</p>'
    message.add_alternative(letter_html(language, signature, "", body), subtype="html")
    message["Content-Language"] = language  # after the parts: set_content clears every Content-* header
    return message


SHAREABLE = N_("{cable}, {at}: may be shared with the community once approved ({path})")
PRIVATE = N_("{cable}, {at}: for the author and editors only ({path})")


def line(_, arrival: Arrival) -> str:
    return _(SHAREABLE if arrival.shareable else PRIVATE).format(cable=arrival.cable, at=arrival.at,
                                                                 path=arrival.path)
