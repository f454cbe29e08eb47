"""The one address grammar of Diplomatie: a plain ``local@domain``, nothing else.

Every e-mail address that decides who may read (communities.yaml members, owners, editors and
``invited_by``, cable authors and approvers, the ``/login`` form, ``diplomatie link``, OpenID Connect
claims, the mail the gate sends) and every domain that admits its addresses goes through
:func:`parse_address` or :func:`parse_domain`. Mail headers allow far more (comments, RFC 2047
encoded words, quoted local parts, display names, route syntax, several ``@``) and mail libraries
decode those forms, so an address that looks like a ministry address can deliver elsewhere. Old
relays still honour the percent hack (``a%b@relay``) and bang paths (``host!user@relay``). We accept
none of them: what is validated is exactly what is compared and exactly where the mail goes.

The grammar, checked in this order:

- one line of printable text, no surrounding space, at most 254 characters, exactly one ``@``;
- local part: ASCII letters, digits and ``. _ - + '`` only, no leading, trailing or doubled dot;
- domain: a public-looking DNS name (email-validator: at least one dot, a real top-level domain,
  no IP literal, no trailing dot), written as its U-label or A-label (``bücher.de`` or
  ``xn--bcher-kva.de``), not as a compatibility form that IDNA maps (full-width letters);
- no look-alike domain label: a label mixing scripts (a Cyrillic ``о`` in ``gouv``), a non-Latin
  label made only of letters that have an ASCII twin (Cyrillic ``аре``), or a Latin letter that is
  neither ASCII nor an ASCII letter with accents (``ɡ``, ``ı``) is refused.

Contract for callers: the returned text is canonical (domain IDNA A-label, whole address lower
case); compare only canonical forms (:func:`is_canonical`), and build the SMTP envelope and ``To:``
from it alone.
"""

from __future__ import annotations

import functools
import unicodedata

import email_validator
import idna
from confusable_homoglyphs import categories, confusables

#: The characters a local part may hold: letters, digits and ``. _ - + '`` (no ``%`` or ``!``, which
#: old relays route on, nor anything mail headers give a meaning to).
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-+'")
#: Latin letters accepted in a domain besides ASCII letters with accents.
_LATIN_EXTRA = frozenset("ßæœøłđþð")
MAX_LENGTH = 254


class InvalidAddress(ValueError):
    """The text is not a plain address (or domain); ``str()`` says why, in English."""


def parse_domain(text: object) -> str:
    """The canonical (IDNA A-label, lower-case) form of a mail domain, or :class:`InvalidAddress`."""
    if not isinstance(text, str) or not text or "@" in text:
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
    local, written_domain = text.split("@")
    if not local or not local.isascii() or not set(local.lower()) <= _LOCAL_CHARS:
        raise InvalidAddress("the part before @ may hold only letters, digits and . _ - + '")
    try:
        result = email_validator.validate_email(
            text, check_deliverability=False, allow_smtputf8=False, allow_quoted_local=False,
            allow_domain_literal=False, allow_display_name=False, globally_deliverable=True)
    except email_validator.EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    domain = result.ascii_domain.lower()
    _check_domain(written_domain, domain)
    return f"{local.lower()}@{domain}"


def is_canonical(text: object) -> bool:
    """True when ``text`` is an address exactly as :func:`parse_address` writes it."""
    return isinstance(text, str) and _is_canonical(text)


@functools.lru_cache(maxsize=4096)  # the gate asks for each request of a domain member
def _is_canonical(text: str) -> bool:
    try:
        return parse_address(text) == text
    except InvalidAddress:
        return False


def _check_domain(written: str, ascii_domain: str) -> None:
    """Refuse a domain written in a mapped form or holding a look-alike label."""
    try:
        unicode_domain = idna.decode(ascii_domain)
    except idna.IDNAError as exc:
        raise InvalidAddress(f"the domain is not a valid international name ({exc})") from None
    labels = zip(unicodedata.normalize("NFC", written).lower().split("."), unicode_domain.split("."),
                 ascii_domain.split("."), strict=False)
    if len(written.split(".")) != len(ascii_domain.split(".")) or any(w not in (u, a) for w, u, a in labels):
        raise InvalidAddress(f"write the domain as {unicode_domain}, without look-alike characters")
    for label in unicode_domain.split("."):
        if not label.isascii() and _looks_alike(label):
            raise InvalidAddress(f"the domain label {label!r} imitates another name (look-alike letters)")


def _looks_alike(label: str) -> bool:
    """Mixed scripts, a whole-script twin of an ASCII name, or an unusual Latin letter."""
    if confusables.is_mixed_script(label):
        return True
    scripts = categories.unique_aliases(label) - {"COMMON"}
    if scripts == {"LATIN"}:
        return not all(ch.isascii() or ch in _LATIN_EXTRA or unicodedata.normalize("NFD", ch)[0].isascii()
                       for ch in label)
    letters = [ch for ch in label if categories.alias(ch) != "COMMON"]
    found = confusables.is_confusable(label, greedy=True, preferred_aliases=[]) or []
    twins = {f["character"] for f in found if any(h["c"].isascii() for h in f["homoglyphs"])}
    return bool(letters) and all(ch in twins for ch in letters)
