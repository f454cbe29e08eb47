"""The service's identity: its name, its stylesheet, and the header and footer every page carries.

In the manner of the French state's design system: the "République française" block on two lines
with the motto "Liberté, Égalité, Fraternité", then the service's name; bleu France for primary
elements; system fonts only, and nothing fetched from another site. The gate's own pages use it
(gate/pages.py) and the community sites' theme is meant to include the same stylesheet and header,
so it is a contract module (with gate/i18n.py, which it speaks through): the pipeline may import it.

The stylesheet is two files: ``gate/static/identity.css``, the identity the sites share (colours,
header, footer, skip link: class selectors only, so it sits beside mkdocs-material's styles; the site
build copies it into every site), then ``gate/static/diplomatie.css``, the gate's own pages. The gate
serves them as one stylesheet at :data:`STYLESHEET_PATH` with a version (the first hex digits of its
SHA-256) in the query string, so it can be cached as immutable and still change with a new release.
"""

from __future__ import annotations

import functools
import gettext
import hashlib
import html
from dataclasses import dataclass
from pathlib import Path

from gate.i18n import N_

IDENTITY_STYLESHEET_FILE = Path(__file__).resolve().parent / "static" / "identity.css"
STYLESHEET_FILE = Path(__file__).resolve().parent / "static" / "diplomatie.css"
STYLESHEET_PATH = "/_gate/diplomatie.css"

#: The service's name and what it is, as shown in every header (the operator may replace them).
SERVICE_NAME = N_("Diplomatie")
SERVICE_TAGLINE = N_("Communities of the Ministry for Europe and Foreign Affairs")
#: Whose service this is, in every footer.
PUBLISHER = N_("A service of the French Ministry for Europe and Foreign Affairs.")
#: The Republic's name and motto in the header's block: French on every page, whatever its language.
REPUBLIC = ("République", "française")
MOTTO = ("Liberté", "Égalité", "Fraternité")


@functools.cache
def stylesheet() -> tuple[bytes, str]:
    """The stylesheet's bytes (the identity's, then the gate pages') and version (12 hex digits of
    its SHA-256), read once per process."""
    data = IDENTITY_STYLESHEET_FILE.read_bytes() + b"\n" + STYLESHEET_FILE.read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:12]


def stylesheet_href() -> str:
    """The stylesheet's address with its version, for a ``<link rel="stylesheet">``."""
    return f"{STYLESHEET_PATH}?v={stylesheet()[1]}"


@dataclass(frozen=True)
class Service:
    """What the header names: the service and its tagline; empty means the catalogue's default."""

    name: str = ""
    tagline: str = ""

    def title(self, t: gettext.NullTranslations) -> str:
        """"Diplomatie — Communautés du ministère …": the full name, for a page title or a sender."""
        name = self.name or t.gettext(SERVICE_NAME)
        tagline = self.tagline or t.gettext(SERVICE_TAGLINE)
        return f"{name} — {tagline}"


def texts(t: gettext.NullTranslations, service: Service = Service()) -> dict[str, object]:
    """What the header and footer say, as plain text: for a community site's theme, which prints the
    same block and footer as :func:`header` and :func:`footer` in its own templates."""
    return {"republic": REPUBLIC, "motto": MOTTO, "name": service.name or t.gettext(SERVICE_NAME),
            "tagline": service.tagline or t.gettext(SERVICE_TAGLINE), "title": service.title(t),
            "publisher": t.gettext(PUBLISHER)}


def header(t: gettext.NullTranslations, service: Service, *, home: str = "/", switch: str = "") -> str:
    """The page header: the "République française" block and motto, the service, and ``switch`` (HTML)."""
    _ = t.gettext
    name = html.escape(service.name or _(SERVICE_NAME))
    tagline = html.escape(service.tagline or _(SERVICE_TAGLINE))
    home_title = html.escape(_("Home — {service}").format(service=service.title(t)))
    # The block's text is the Republic's own name: French on every page, whatever the page's language.
    return (f'<header class="dip-header"><div class="dip-header__body">'
            f'<p class="dip-marianne" lang="fr"><span class="dip-marianne__name">{"<br>".join(REPUBLIC)}</span>'
            f'<span class="dip-marianne__motto">{"<br>".join(MOTTO)}</span></p>'
            f'<p class="dip-service"><a class="dip-service__name" href="{html.escape(home)}" '
            f'title="{home_title}">{name}</a>'
            f'<span class="dip-service__tagline">{tagline}</span></p>'
            f"{switch}</div></header>")


def footer(t: gettext.NullTranslations, service: Service) -> str:
    """The page footer: whose service this is."""
    _ = t.gettext
    whose = html.escape(_(PUBLISHER))
    legal = html.escape(_("Legal notice and personal data"))  # the gate's /legal (gate/legal.py)
    return (f'<footer class="dip-footer"><div class="dip-footer__body">'
            f"<p>{html.escape(service.title(t))}</p>"
            f"<p>{whose}</p>"
            f'<p><a href="/legal">{legal}</a></p>'
            "</div></footer>")
