"""``/signed-in``: the "Signed in as <name>" line of every page of a community site.

The sites' pages are static files, the same bytes for every member (and, behind nginx, served from
its cache on a grant): a page cannot carry the reader's name. So the theme's header holds an empty,
hidden slot and a script of the theme (``assets/javascripts/signedin.js``, same-origin, allowed by
the site's Content-Security-Policy as it is) asks this endpoint who is signed in, then shows the
line beside the header's sign-out link. Without the script, or signed out, nothing is shown.

The answer is JSON, never cached (``no-store``), and says only what the member already knows: their
name as ``communities.yaml`` gives it for that community (``names`` in ``members.json``), else their
address, in the page's language. It needs the session cookie; without a valid one it is a 401 with
nothing in it.
"""

from __future__ import annotations

import json

from gate import i18n
from gate.http import Request, Response, parse_query
from gate.i18n import N_
from gate.state import GateState

PATH = "/signed-in"
LINE = N_("Signed in as {name}")


def display_name(gate: GateState, address: str, community: str | None) -> str:
    """The member's name in the community (its members' list in ``communities.yaml``), else their address."""
    access = gate.community_shown(community) if community else None
    if access is None:
        return address
    return access.names.get(address) or address


async def signed_in(gate: GateState, req: Request) -> Response:
    now = gate.clock()
    cookie = req.header("cookie")
    claims = gate.sessions.cached(gate.sessions.token(cookie), now) or await gate.sessions.session(cookie, now)
    headers = [("content-type", "application/json"), ("cache-control", "no-store"), ("vary", "Cookie"),
               *gate.pages.policy_and_security]
    if claims is None:
        return Response(401, headers, b"{}")
    query = parse_query(req.query)
    community = query.get("c") or None
    access = gate.community_shown(community) if community else None
    language = i18n.valid(query.get("lang")) or (access.language if access else None) or i18n.LANGUAGES[0]
    name = display_name(gate, claims.sub, community)
    text = i18n.translations(language).gettext(LINE).format(name=name)
    body = json.dumps({"name": name, "text": text}, ensure_ascii=False).encode()
    return Response(200, headers, body, subject=claims.sub, community=access.id if access else None)
