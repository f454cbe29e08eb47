"""The hot path: a member's request for a file of their community's current release.

Order of checks in :func:`serve_site`: the path (validated before any storage access), the session
(cached), membership, the release, the manifest entry; then the bytes (gate/blobs.py), either from the
blob cache or, behind nginx, as an ``X-Accel-Redirect`` naming the blob, with ONE conditional-request
check and ONE range parser whoever sends them.

Every page and script carries the Content-Security-Policy of the release it comes from, built once per
release from the manifest's theme hashes (gate/csp.py), never from the page being served; every other
file the policy that allows nothing.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

from gate.blobs import Release, cache_key
from gate.feedpage import FEED_FILE, feed_answer
from gate.http import MAX_PATH, Refusal, Request, Response, bad_request, unavailable
from gate.i18n import N_
from gate.state import GateState

DECIDE_HEADER = "x-diplomatie-decide"  # set by nginx's /_decide location only (deploy/nginx.conf)
_COMMUNITY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def clean_site_path(rest: str) -> str | None:
    """The path inside a community site, or None when it is a trick (refused before any storage access).

    The server has already percent-decoded the path once; anything still containing ``%`` was encoded
    twice. Refused: ``.``/``..`` segments, empty segments, backslashes, NUL and control characters,
    absolute paths, overlong paths.
    """
    if len(rest) > MAX_PATH or "%" in rest or "\\" in rest or not rest.isprintable() or rest.startswith("/"):
        return None
    parts = rest.split("/")
    last = len(parts) - 1
    for i, part in enumerate(parts):
        if part in (".", "..") or (part == "" and i != last) or part.strip() != part:
            return None
    return rest


def split_site_path(path: str) -> tuple[str, str, str] | bool:
    """``/c/<community>/<rest>`` -> (community, "/" or "", rest), or False for a refused path."""
    community, slash, rest = path[3:].partition("/")
    if not _COMMUNITY.match(community) or (rest and clean_site_path(rest) is None):
        return False
    return community, slash, rest


def decision(resp: Response) -> Response:
    """For nginx's decision subrequest (deploy/diplomatie_grant.lua): serve this blob, or ask me.

    200 with the page's headers and ``X-Diplomatie-Blob: <sha256>`` when the answer is that blob;
    401 for anything else (redirect, refusal, 404 page, error), on which nginx sends the request to
    the gate itself. Never a body, so a forged header gets nothing from a gate reached directly.
    """
    accel = [v for k, v in resp.headers if k == "x-accel-redirect"]
    if resp.status != 200 or not accel:
        return Response(401, [("cache-control", "no-store")], b"", subject=resp.subject, community=resp.community)
    headers = [(k, v) for k, v in resp.headers if k != "x-accel-redirect"]
    headers.append(("x-diplomatie-blob", accel[0].rpartition("/")[2]))
    return Response(200, headers, b"", subject=resp.subject, community=resp.community)


async def serve_site(gate: GateState, req: Request) -> Response:
    """``/c/<community>/<path>``: the file, to a current member with a session; a refusal otherwise."""
    parsed = gate.site_paths.get(req.path)
    if parsed is None:
        parsed = split_site_path(req.path)
        if len(req.path) <= MAX_PATH + 80:  # never let a client fill memory with long paths
            if len(gate.site_paths) >= 20_000:
                gate.site_paths.clear()
            gate.site_paths[req.path] = parsed
    if parsed is False:
        raise bad_request()
    community, slash, rest = parsed
    now = gate.clock()
    cookie = req.header("cookie")
    claims = gate.sessions.cached(gate.sessions.token(cookie), now)
    if claims is None:
        claims = await gate.sessions.session(cookie, now)
        if claims is None:
            return gate.pages.redirect("/login?next=" + quote(req.path, safe="/"))
    subject = claims.sub
    if not gate.members().admits(community, subject, gate.today(now)):
        raise Refusal(403, N_("Not a member of this community"),
                      N_("You are signed in, but not as a member of this community. If you think you should be, "
                         "write to the person who invited you."),
                      links=(("/", N_("Go to your communities")), ("/logout", N_("Sign in with another address"))),
                      subject=subject, community=community)
    if not slash:
        return gate.pages.redirect(f"/c/{community}/", 301, subject=subject)
    release = await serving_release(gate, community, subject)
    files = release.manifest.files
    name = rest + "index.html" if rest == "" or rest.endswith("/") else rest
    entry = files.get(name)
    blobs = gate.blobs
    if entry is None:
        if f"{name}/index.html" in files:
            return gate.pages.redirect(f"/c/{community}/{name}/", 301, subject=subject)
        page = files.get("404.html")
        if page is None:
            raise Refusal(404, N_("Page not found"), N_("There is no such page in this community."),
                          links=((f"/c/{community}/", N_("Go to the community's home page")),),
                          subject=subject, community=community)
        served = await blobs.served(page, release.policy(page), blobs.coding(req, page))
        return Response(404, served.headers, served.body, subject=subject, community=community)
    if name == FEED_FILE:  # a browser gets it as a page, a feed reader as Atom: always from here
        return await feed_answer(gate, req, release, entry, subject=subject, community=community, personal=False)
    if blobs.accel_prefix is not None:
        return blobs.accel(req, entry, release.policy(entry), subject=subject, community=community)
    coding = blobs.coding(req, entry)  # identity, or the gzip or brotli representation the client accepts
    served = blobs.cache.get(cache_key(entry, release.policy(entry), coding))
    if served is None:
        served = await blobs.served(entry, release.policy(entry), coding)
    else:
        blobs.metrics.blob_hits += 1
    return blobs.answer(req, served, subject=subject, community=community)


async def serving_release(gate: GateState, community: str, subject: str | None) -> Release:
    """The community's serving release, loaded from the store if this process has not yet; refused as
    "not published yet" (404) when it has none, or "unavailable" (503) when the store cannot say."""
    release = gate.releases.get(community)
    if release is None:
        release = await asyncio.to_thread(gate.refresh_release, community)
        if release is None:
            if community in gate.release_errors:
                raise unavailable(community, subject)
            raise Refusal(404, N_("Not published yet"), N_("This community has no documents yet. Come back later."),
                          links=(("/", N_("Go to your communities")),), subject=subject, community=community)
    return release
