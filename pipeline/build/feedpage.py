"""The site's Atom feed, readable in a browser: an XSLT stylesheet served beside ``feed.xml``.

A feed reader reads ``feed.xml`` as Atom; a person who follows the home page's "Flux Atom" link would
see raw XML. So the feed names a stylesheet (``<?xml-stylesheet type="text/xsl" href="feed.xsl"?>``,
which feed readers ignore: the document stays the same Atom feed), and a browser transforms the feed
with it into a page in the service's look: the gate's header and footer (gate/identity.py), the
feed's title, what the page is and where a feed reader gets an address it can use (the member's
personal feed, gate/feeds.py), then each entry as a link to its cable with its date and summary.

It stays within the sites' Content-Security-Policy (gate/csp.py ``site_policy``) without changing it:
the stylesheet is the site's own file (``script-src 'self'``, which governs XSLT), and the page it
makes has no script, no inline style and no event handler; its one stylesheet is the gate's own
(``style-src 'self'``). The texts come from the ``pipeline`` catalogue in the site's language; the
entries' texts are the feed's, which the browser inserts as text (``xsl:value-of``), never as markup.

Browsers have announced that they will stop applying XSLT (Chromium warns in the console); when one
does, it shows the feed as the XML it is, and the member's personal feed address still opens as a
page in any browser (the gate answers a browser with a page there: gate/feeds.py).
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as etree

from gate import i18n, identity
from pipeline.messages import N_
from pipeline.messages import translations_for as site_translations

TITLE = N_("Atom feed")
INTRO = N_("This page shows the site's Atom feed: the latest cables published by the community. A feed reader "
           "cannot use this address, which needs you to be signed in: to follow the new cables in a feed "
           "reader, get your personal feed address.")
PERSONAL = N_("Get a personal feed address")
LATEST = N_("Latest cables")
NONE = N_("No cable has been published yet.")
HOME = N_("Back to the site's home page")
MONTHS = (N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"), N_("July"),
          N_("August"), N_("September"), N_("October"), N_("November"), N_("December"))


def _text(value: str) -> str:
    """Text for an element of the stylesheet (escaped for XML)."""
    return html.escape(value, quote=False)


def _attribute(value: str) -> str:
    """Text for a literal attribute of the stylesheet: escaped for XML, braces doubled (XSLT reads
    ``{…}`` in a literal result element's attribute as an expression)."""
    return html.escape(value, quote=True).replace("{", "{{").replace("}", "}}")


def _xml(fragment: str) -> str:
    """An HTML fragment of the gate's identity as XML (its only void element is ``<br>``)."""
    return fragment.replace("<br>", "<br/>")


def stylesheet(language: str, community: str, *, feeds_url: str, stylesheet_href: str) -> bytes:
    """``feed.xsl`` (pipeline/site.py ``FEED_STYLESHEET``) of a site in ``language`` (``fr`` or ``en``):
    ``feeds_url`` is the gate's page of personal feeds, followed by the community's id (empty: no
    link), ``stylesheet_href`` the gate's stylesheet."""
    t = site_translations(language)
    _ = t.gettext
    gate_t = i18n.translations(language)
    skip = _("Skip to content")
    month_names = "".join(f'<xsl:when test="$month = {n:02d}">{_text(_(name))}</xsl:when>'
                          for n, name in enumerate(MONTHS, 1))
    personal = (f'<ul class="dip-next"><li><a href="{_attribute(feeds_url + community + "/")}">{_text(_(PERSONAL))}'
                "</a></li></ul>" if feeds_url else "")
    long_date = ('<xsl:value-of select="number($day)"/><xsl:text> </xsl:text><xsl:value-of select="$name"/>'
                 '<xsl:text> </xsl:text><xsl:value-of select="$year"/>'
                 if language == "fr" else
                 '<xsl:value-of select="$name"/><xsl:text> </xsl:text><xsl:value-of select="number($day)"/>'
                 '<xsl:text>, </xsl:text><xsl:value-of select="$year"/>')
    text = f"""<?xml version="1.0" encoding="utf-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:atom="http://www.w3.org/2005/Atom" exclude-result-prefixes="atom">
<xsl:output method="html" encoding="utf-8" indent="no" doctype-system="about:legacy-compat"/>
<xsl:template match="/atom:feed">
<html lang="{_attribute(language)}" dir="ltr">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title><xsl:value-of select="atom:title"/> — {_text(_(TITLE))}</title>
<link rel="stylesheet" href="{_attribute(stylesheet_href)}"/>
<link rel="icon" href="data:,"/>
</head>
<body>
<a class="dip-skip" href="#contenu">{_text(skip)}</a>
{_xml(identity.header(gate_t, identity.Service(), home="./"))}
<main class="dip-main dip-feed" id="contenu">
<h1><xsl:value-of select="atom:title"/> — {_text(_(TITLE))}</h1>
<p><xsl:value-of select="atom:subtitle"/></p>
<p>{_text(_(INTRO))}</p>
{personal}
<h2>{_text(_(LATEST))}</h2>
<xsl:choose>
<xsl:when test="atom:entry">
<ul class="dip-list"><xsl:apply-templates select="atom:entry"/></ul>
</xsl:when>
<xsl:otherwise><p>{_text(_(NONE))}</p></xsl:otherwise>
</xsl:choose>
<ul class="dip-next"><li><a href="./">{_text(_(HOME))}</a></li></ul>
</main>
{_xml(identity.footer(gate_t, identity.Service()))}
</body>
</html>
</xsl:template>
<xsl:template match="atom:entry">
<li><a href="{{atom:link[@rel='alternate']/@href}}"><xsl:value-of select="atom:title"/></a>
<span class="dip-list__meta"><time datetime="{{atom:updated}}"><xsl:call-template name="date">
<xsl:with-param name="when" select="atom:updated"/></xsl:call-template></time></span>
<xsl:if test="atom:summary != atom:title"><span class="dip-list__summary"><xsl:value-of select="atom:summary"/></span></xsl:if>
</li>
</xsl:template>
<xsl:template name="date">
<xsl:param name="when"/>
<xsl:variable name="year" select="substring($when, 1, 4)"/>
<xsl:variable name="month" select="substring($when, 6, 2)"/>
<xsl:variable name="day" select="substring($when, 9, 2)"/>
<xsl:variable name="name"><xsl:choose>{month_names}</xsl:choose></xsl:variable>
{long_date}
</xsl:template>
</xsl:stylesheet>
"""
    data = text.encode("utf-8")
    etree.fromstring(data)  # well-formed, or the build stops here rather than publish a broken page
    return data
