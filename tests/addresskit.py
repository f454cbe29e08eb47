"""Addresses for the tests of the one address grammar (gate/addresses.py): hostile classes and valid ones.

Each hostile class is a way mail software reads an address as another mailbox (or a domain as another
domain); the strategies build variants of each class around generated local parts and domains, so a
test covers the class, not one spelling of it.
"""

from __future__ import annotations

from hypothesis import strategies as st

MEMBER_DOMAIN = "diplomatie.gouv.fr"

#: One or more examples of every hostile class, as an attacker (or a careless editor) would write them.
HOSTILE = {
    "encoded word + comment": f"=?utf-8?q?someone=40elsewhere.example?=(@{MEMBER_DOMAIN}",
    "encoded word base64": f"=?utf-8?b?c29tZW9uZUBlbHNld2hlcmUuZXhhbXBsZQ==?=@{MEMBER_DOMAIN}",
    "comment closing": f"root)x@{MEMBER_DOMAIN}",
    "comment in local": f"agent(comment)@{MEMBER_DOMAIN}",
    "comment in domain": f"agent@(comment){MEMBER_DOMAIN}",
    "group syntax": f"x:victim@{MEMBER_DOMAIN}",
    "quoted local": f'"agent"@{MEMBER_DOMAIN}',
    "quoted with @": f'"outsider@elsewhere.example"@{MEMBER_DOMAIN}',
    "display name": f"Agent <agent@{MEMBER_DOMAIN}>",
    "angle brackets": f"<agent@{MEMBER_DOMAIN}>",
    "route syntax": f"@elsewhere.example:agent@{MEMBER_DOMAIN}",
    "two @": f"outsider@elsewhere.example@{MEMBER_DOMAIN}",
    "list": f"outsider@elsewhere.example,agent@{MEMBER_DOMAIN}",
    "percent hack": f"outsider%elsewhere.example@{MEMBER_DOMAIN}",
    "bang path": f"elsewhere.example!outsider@{MEMBER_DOMAIN}",
    "trailing dot": f"agent@{MEMBER_DOMAIN}.",
    "leading space": f" agent@{MEMBER_DOMAIN}",
    "inner space": f"agent @{MEMBER_DOMAIN}",
    "newline": f"agent@{MEMBER_DOMAIN}\nBcc: outsider@elsewhere.example",
    "carriage return": f"agent@{MEMBER_DOMAIN}\r",
    "nul": f"agent\x00@{MEMBER_DOMAIN}",
    "zero-width space": "agent@diplomatie\u200b.gouv.fr",
    "cyrillic o": "agent@diplomatie.g\u043euv.fr",
    "cyrillic whole label": "agent@\u0430\u0440\u0435.fr",
    "latin look-alike g": "agent@diplomatie.\u0261ouv.fr",
    "full-width letters": "agent@diplomatie.\uff47\uff4f\uff55\uff56.fr",
    "ideographic full stop": "agent@diplomatie\u3002gouv.fr",
    "look-alike as A-label": "agent@diplomatie.xn--guv-sed.fr",
    "ip literal": "agent@[192.0.2.1]",
    "no domain dot": "agent@localhost",
    "empty local": f"@{MEMBER_DOMAIN}",
    "non-ASCII local": f"agént@{MEMBER_DOMAIN}",
    "kelvin sign local": f"\u212aelvin@{MEMBER_DOMAIN}",
    "backslash": f"agent\\@{MEMBER_DOMAIN}",
    "semicolon": f"agent;x@{MEMBER_DOMAIN}",
    "equals question": f"a=?b@{MEMBER_DOMAIN}",
}

#: Valid addresses and their canonical form.
VALID = {
    "agent@diplomatie.gouv.fr": "agent@diplomatie.gouv.fr",
    "Prenom.Nom@Diplomatie.Gouv.FR": "prenom.nom@diplomatie.gouv.fr",
    "a.martin+cables@example.org": "a.martin+cables@example.org",
    "o'brien@example.ie": "o'brien@example.ie",
    "jean_dupont-2@sub.example.org": "jean_dupont-2@sub.example.org",
    "contact@bücher.de": "contact@xn--bcher-kva.de",
    "contact@XN--BCHER-KVA.DE": "contact@xn--bcher-kva.de",
    "redaction@société.fr": "redaction@xn--socit-esab.fr",
    "info@пример.рф": "info@xn--e1afmkfd.xn--p1ai",
    "info@日本.jp": "info@xn--wgv71a.jp",
}

_atoms = st.from_regex(r"\A[a-zA-Z0-9]{1,10}\Z")
#: Valid local parts: atoms joined by one of . _ - + ' (never two in a row, never at an end).
local_parts = st.builds(lambda first, rest: first + "".join(s + a for s, a in rest),
                        _atoms, st.lists(st.tuples(st.sampled_from(list("._-+'")), _atoms), max_size=3))
_labels = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?\Z").filter(lambda s: "--" not in s)
#: Valid domains: ASCII labels under a real top-level domain, or a known international name.
domains = st.one_of(
    st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(_labels, min_size=1, max_size=3),
              st.sampled_from(["fr", "org", "example", "de", "eu", "int"])),
    st.sampled_from(["bücher.de", "société.fr", "élysée.fr", "пример.рф", "ελλάδα.gr"]),
)


def _random_case(draw, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))


@st.composite
def valid_addresses(draw) -> str:
    """A plain address, in any letter case."""
    return _random_case(draw, draw(local_parts)) + "@" + _random_case(draw, draw(domains))


_TWINS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445",
          "i": "\u0456", "g": "\u0261"}
_INVISIBLE = ["\u200b", "\u200d", "\u00a0", "\t", "\n", "\r", "\x00", "\x7f", "\u2028", " ", "\ufeff"]


@st.composite
def hostile_addresses(draw) -> str:
    """A variant of one hostile class around a generated member-looking address."""
    local, domain = draw(local_parts), MEMBER_DOMAIN
    other = draw(local_parts) + "@" + draw(domains)
    kind = draw(st.sampled_from(["encoded", "comment", "group", "quoted", "display", "route", "multi",
                                 "percent", "bang", "dot", "invisible", "twin", "wide", "special"]))
    if kind == "encoded":
        word = other.replace("@", draw(st.sampled_from(["=40", "_=40_", "@"])))
        return f"=?{draw(st.sampled_from(['utf-8', 'UTF-8', 'iso-8859-1']))}?q?{word}?={draw(st.sampled_from(['(', '', ' ']))}@{domain}"
    if kind == "comment":
        comment = draw(st.sampled_from(["(", ")", "(x)", f"({other})"]))
        at = draw(st.integers(0, len(local)))
        return local[:at] + comment + local[at:] + "@" + domain
    if kind == "group":
        return f"{draw(_atoms)}:{local}@{domain}"
    if kind == "quoted":
        return f'"{draw(st.sampled_from([local, other, local + " x"]))}"@{domain}'
    if kind == "display":
        return f"{draw(_atoms)} <{local}@{domain}>"
    if kind == "route":
        return f"@{draw(domains)}:{local}@{domain}"
    if kind == "multi":
        return f"{other}@{domain}"
    if kind == "percent":
        return f"{other.replace('@', '%')}@{domain}"
    if kind == "bang":
        return f"{draw(domains)}!{local}@{domain}"
    if kind == "dot":
        return f"{local}@{domain}" + draw(st.sampled_from([".", ".."]))
    if kind == "invisible":
        text = f"{local}@{domain}"
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.sampled_from(_INVISIBLE)) + text[at:]
    if kind == "twin":
        spots = [i for i, c in enumerate(domain) if c in _TWINS]
        at = draw(st.sampled_from(spots))
        return f"{local}@{domain[:at]}{_TWINS[domain[at]]}{domain[at + 1:]}"
    if kind == "wide":
        return local + "@" + "".join(chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in domain)
    special = draw(st.sampled_from(list("%!=?()<>[]:;,\"\\/|`#$&*^{}~")))
    at = draw(st.integers(0, len(local)))
    return local[:at] + special + local[at:] + "@" + domain
