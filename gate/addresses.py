"""The one address grammar of Diplomatie: a plain ``local@domain``, nothing else.

Every e-mail address that decides who may read (communities.yaml members, owners and editors, the
``/login`` form, ``diplomatie link``, OpenID Connect claims) and every domain that admits its
addresses goes through :func:`parse_address` or :func:`parse_domain`. Mail headers allow far more
(comments, RFC 2047 encoded words, quoted local parts, display names, route syntax) and mail
libraries decode those forms, so an address that looks like a ministry address can deliver
elsewhere. We accept none of them: what is validated is exactly what is compared and exactly where
the mail goes.

Contract for callers: the returned text is canonical (domain IDNA-normalised, whole address lower
case); compare only canonical forms, and build the SMTP envelope and ``To:`` from it alone.
"""

from __future__ import annotations

import email_validator

#: Characters a local part may hold here: a conservative subset of RFC 5322 atext. Everything used
#: to hide another mailbox (``= ? ( ) " : < > , ; @ \\`` and spaces) is outside it.
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.!#$%&'*+-/^_`{|}~")
MAX_LENGTH = 254


class InvalidAddress(ValueError):
    """The text is not a plain address (or domain); ``str()`` says why, in English."""


def parse_domain(text: object) -> str:
    """The canonical (IDNA, lower-case) form of a mail domain, or :class:`InvalidAddress`."""
    if not isinstance(text, str) or not text or text != text.strip():
        raise InvalidAddress("not a domain name")
    return parse_address("x@" + text).split("@", 1)[1]


def parse_address(text: object) -> str:
    """The canonical form of a plain ``local@domain`` address, or :class:`InvalidAddress`."""
    if not isinstance(text, str) or not text:
        raise InvalidAddress("not an e-mail address")
    if len(text) > MAX_LENGTH or text != text.strip() or not text.isprintable():
        raise InvalidAddress("an address is one line of printable text, at most 254 characters")
    if text.count("@") != 1:
        raise InvalidAddress("an address has exactly one @")
    local = text.split("@", 1)[0].lower()
    if not local or not set(local) <= _LOCAL_CHARS or "=?" in local:
        raise InvalidAddress("the part before @ may hold only letters, digits and . _ - + '")
    try:
        result = email_validator.validate_email(
            text, check_deliverability=False, allow_smtputf8=False, allow_quoted_local=False,
            allow_domain_literal=False, allow_display_name=False, globally_deliverable=True)
    except email_validator.EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    domain = result.ascii_domain.lower()
    return f"{local}@{domain}"
