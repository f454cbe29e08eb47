"""The service's e-mails: the SMTP settings and delivery, the letter's look, and the alert digest.

A contract module, because two programs send mail: the gate (the sign-in link, gate/mail.py) and the
pipeline (``diplomatie notify``, pipeline/notify.py; the invitation of ``diplomatie invite``,
gate/welcome.py). Both build their messages here, so there is one
look (the header block of the service, inline styles only: mail clients ignore stylesheets; no
image, nothing fetched from elsewhere) and one way to hand a message to SMTP.

The recipient is the one thing an outsider may choose, so :func:`deliver` checks it again whatever
the caller did: only a canonical address (gate/addresses.py); the envelope (``RCPT TO``) is given
explicitly as that exact text, never derived by parsing the ``To:`` header back.

The alert never holds a cable's body: :func:`alert_message` takes :class:`Announcement` values,
which have no field for it.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import html
import os
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

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


def envelope_sender(sender: str) -> str:
    """The ``MAIL FROM`` of the operator's sender setting (which may carry a display name)."""
    return parseaddr(sender)[1] or sender


def require_canonical(to: object) -> None:
    """Refuse (:class:`InvalidAddress`) anything but a canonical plain address as a recipient."""
    if not is_canonical(to):
        raise InvalidAddress(f"refusing to mail {to!r}: not a canonical plain address")


def from_header(sender: str, name: str) -> str:
    """``From:``: the operator's sender as given when it has a display name, else the service's name."""
    return sender if parseaddr(sender)[0] else formataddr((name, envelope_sender(sender)))


def deliver(settings: SmtpSettings, message: EmailMessage, to: str) -> None:
    """Hand ``message`` to the SMTP server for ``to`` alone, on a connection of its own; raises
    ``OSError`` or ``SMTPException`` when the server does not accept it (the caller decides what a
    failure means)."""
    with Postman(settings) as postman:
        postman.send(message, to)


class Postman:
    """One SMTP connection for many messages (``diplomatie notify`` sends hundreds in a run: one
    connection, TLS handshake and login, not one per message). A message the server refuses leaves
    the connection usable; a connection error drops it, and the next message opens a new one. A
    failed message is never sent again here: the caller decides (the notifier retries at its next run)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Postman:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> smtplib.SMTP:
        s = self.settings
        if not s.host:
            raise smtplib.SMTPException("no SMTP server configured")
        if self._smtp is None:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            try:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    smtp.login(s.username, s.password or "")
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def send(self, message: EmailMessage, to: str) -> None:
        """Send ``message`` to ``to`` alone (which must be canonical); raises when it was not accepted."""
        require_canonical(to)
        smtp = self._connection()
        try:
            # The envelope is explicit: the validated address, not whatever a parser reads in To:.
            smtp.send_message(message, from_addr=envelope_sender(self.settings.sender), to_addrs=[to])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError):
            raise  # the server said no to this message; the connection goes on
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


# -------------------------------------------------------------------------------------- the look

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;"
PARA = f'<p style="margin:0 0 16px;{FONT}font-size:16px;line-height:24px;color:#161616">'
SMALL = f'<p style="margin:0 0 16px;{FONT}font-size:13px;line-height:20px;color:#3a3a3a">'
LINK = "color:#000091"


def button_html(link: str, label: str) -> str:
    """A primary button (a styled link: e-mail has no forms worth trusting)."""
    e = html.escape
    return (f'<p style="margin:0 0 16px"><a href="{e(link)}" style="display:inline-block;padding:10px 24px;'
            f'background:#000091;color:#ffffff;text-decoration:none;font-weight:700;{FONT}">{e(label)}</a></p>')


def letter_html(language: str, signature: str, site: str, body: str, footer: str = "") -> str:
    """A whole HTML letter in the service's look: the header block (République française, the motto,
    the service), ``body`` (HTML, already escaped), then the signature, the site and ``footer`` (HTML)."""
    e = html.escape
    return (
        f'<!doctype html><html lang="{e(language)}"><head><meta charset="utf-8">'
        f"<title>{e(signature)}</title></head>"
        '<body style="margin:0;padding:0;background:#f6f6f6">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f6f6f6">'
        '<tr><td align="center" style="padding:16px">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        'style="max-width:560px;background:#ffffff;border-top:4px solid #000091">'
        f'<tr><td style="padding:16px 24px;border-bottom:1px solid #dddddd;{FONT}">'
        '<p lang="fr" style="margin:0;font-weight:700;font-size:15px;line-height:17px;text-transform:uppercase;'
        'color:#161616">République<br>française</p>'
        '<p lang="fr" style="margin:6px 0 12px;font-size:11px;line-height:13px;font-style:italic;color:#3a3a3a">'
        "Liberté<br>Égalité<br>Fraternité</p>"
        f'<p style="margin:0;font-weight:700;font-size:18px;color:#161616">{e(signature)}</p></td></tr>'
        f'<tr><td style="padding:24px">{body}</td></tr>'
        f'<tr><td style="padding:16px 24px;border-top:1px solid #dddddd;{FONT}font-size:13px;color:#3a3a3a">'
        f"{e(signature)}<br>{e(site)}{footer}</td></tr></table></td></tr></table></body></html>"
    )


# ------------------------------------------------------------------------------------- the alert


@dataclass(frozen=True)
class Announcement:
    """What an alert says of one cable: never its body (there is no field for it)."""

    reference: str
    title: str
    date: dt.date
    post: str
    summary: str
    url: str


def alert_message(sender: str, to: str, community: CommunityAccess, cables: Sequence[Announcement], *,
                  site: str, preferences_url: str, unsubscribe_url: str, list_domain: str,
                  now: dt.datetime, service: Service | None = None) -> EmailMessage:
    """The e-mail telling ``to`` what ``community`` published: in the community's language, text and
    HTML, its subject naming the community, with ``Message-ID``, ``Date``, ``List-Id``, the RFC 8058
    one-click unsubscribe (``List-Unsubscribe`` + ``List-Unsubscribe-Post``) and a link to the
    preferences. ``to`` must be canonical (:class:`InvalidAddress` otherwise)."""
    require_canonical(to)
    if not cables:
        raise ValueError("an alert announces at least one cable")
    service = service or Service()
    language = valid(community.language) or DEFAULT
    t = translations(language)
    _ = t.gettext
    name = service.name or _(SERVICE_NAME)
    signature = service.title(t)
    count = len(cables)
    # Headers up to RFC 5322's 998 characters: the unsubscribe URL has no space to fold at, and an
    # encoded word there would break it for the clients that act on List-Unsubscribe.
    message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    message["From"] = from_header(sender, name)
    message["To"] = to
    message["Subject"] = t.ngettext("{community}: {count} new cable", "{community}: {count} new cables", count).format(
        community=community.title, count=count)
    message["Date"] = format_datetime(now.astimezone(dt.UTC))
    message["Message-ID"] = make_msgid("alert", domain=list_domain)
    message["List-Id"] = f"{_list_phrase(community.title)}<{community.id}.alerts.{list_domain}>"
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    intro = t.ngettext("“{community}” published {count} new cable:", "“{community}” published {count} new cables:",
                       count).format(community=community.title, count=count)
    why = _("You receive this message as a member of “{community}”.").format(community=community.title)
    choose = _("Choose how often you are told (at once, daily, weekly or never):")
    stop = _("Stop these e-mails for this community:")
    read = _("Read the cable")
    text = [_("Hello,"), intro]
    rows = []
    e = html.escape
    for cable in cables:
        day = cable.date.isoformat()
        meta = f"{cable.reference} · {day} · {cable.post}"
        text.append("\n".join(part for part in (f"* {cable.title}", f"  {meta}",
                                                 f"  {cable.summary}" if cable.summary else "",
                                                 f"  {cable.url}") if part))
        summary = (f'<p style="margin:4px 0 0;{FONT}font-size:15px;line-height:22px;color:#161616">'
                   f"{e(cable.summary)}</p>" if cable.summary else "")
        rows.append(
            '<div style="margin:0 0 16px;padding:0 0 0 12px;border-left:4px solid #000091">'
            f'<p style="margin:0;{FONT}font-size:17px;line-height:24px;font-weight:700">'
            f'<a href="{e(cable.url)}" style="{LINK};text-decoration:none">{e(cable.title)}</a></p>'
            f'<p style="margin:2px 0 0;{FONT}font-size:13px;line-height:20px;color:#3a3a3a">{e(meta)}</p>'
            f"{summary}"
            f'<p style="margin:4px 0 0;{FONT}font-size:13px"><a href="{e(cable.url)}" style="{LINK}">'
            f"{e(read)}</a></p></div>")
    text += [why, f"{choose}\n{preferences_url}", f"{stop}\n{unsubscribe_url}", f"-- \n{signature}\n{site}"]
    message.set_content("\n\n".join(text) + "\n")
    hello, preferences, unsubscribe = _("Hello,"), _("Your alert preferences"), _("Unsubscribe")
    body = f"{PARA}{e(hello)}</p>{PARA}{e(intro)}</p>{''.join(rows)}"
    footer = (f'<br><br>{e(why)}<br>{e(choose)} <a href="{e(preferences_url)}" style="{LINK}">'
              f'{e(preferences)}</a><br>{e(stop)} <a href="{e(unsubscribe_url)}" style="{LINK}">'
              f"{e(unsubscribe)}</a>")
    message.add_alternative(letter_html(language, signature, site, body, footer), subtype="html")
    message["Content-Language"] = language  # after the parts: set_content clears every Content-* header
    return message


def _list_phrase(title: str) -> str:
    """The List-Id's description (RFC 2919, optional): the community's title as a quoted phrase and a
    space when it is plain printable ASCII, else nothing (an encoded word may not sit in a phrase)."""
    cleaned = " ".join(title.replace('"', "").replace("\\", "").split())
    return f'"{cleaned}" ' if cleaned and cleaned.isascii() and cleaned.isprintable() else ""
