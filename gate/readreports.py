"""nginx's reports of the cable pages it served on a grant, so that ``activity`` counts them too.

Behind the shipped nginx, a member holding a valid grant is served by nginx alone
(deploy/diplomatie_grant.lua): the gate never sees those requests. The gate's decision names the cable
an address is the page of (``X-Diplomatie-Cable``, from :meth:`gate.readership.Readership.cable_of`,
the one rule of what a read is); nginx remembers it with the address, and for each GET of such a page
it answers 200 or 304 on a grant, it notes (community, cable, session) once per session, cable and
week, and posts the notes every few seconds to ``POST /_reads``, answered here.

A report is refused whole, recording nothing, unless every check passes, in this order: the gate has
grant keys; the peer is a ``--trusted-proxy`` and the request did not come through it from a client
(no ``X-Forwarded-For``: nginx sets one on every request it proxies); the ``X-Diplomatie-Reads``
signature is an HMAC of the body under a key of the grant key file (gate/tokens.py
``report_problem``) -- 404; then the body is a well-formed report
(below) written less than :data:`WINDOW` seconds from the gate's clock -- 400. Then each read is
checked on its own, as a read the gate serves itself: the session is valid (signature, expiry, not
signed out: gate/sessions.py), its subject a current member of the community, the cable one of the
serving release's cables; a read failing any is not recorded (a member removed, or a release
replaced, between the page and the report), the others are, with the gate's clock (the week is the
gate's, as for its own reads). The answer is 200 with ``{"recorded": n, "refused": m}``.

The body, ASCII::

    diplomatie-reads 1 <unix time>
    <community> <cable> <session token>
    ...
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from gate import tokens
from gate.http import Request, Response, bad_request, not_found
from gate.state import GateState

PATH = "/_reads"
HEAD = "diplomatie-reads 1"
#: Largest report read (nginx sends batches of at most 64 KiB).
MAX_BODY = 256 * 1024
#: Most reads in one report.
MAX_READS = 500
#: A report written further than this from the gate's clock (seconds) is refused: a copy of one cannot
#: be replayed into another week.
WINDOW = 60

_COMMUNITY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_CABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")  # gate/store.py names (the gate checks the cable)
_SESSION = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_MAX_SESSION = 4096


class ReportError(ValueError):
    """The body is not a well-formed report written now."""


@dataclass(frozen=True)
class ReportedRead:
    community: str
    cable: str
    session: str


def parse_report(body: bytes, now: float) -> list[ReportedRead]:
    """The reads of a report ``body``, or ReportError (see the module's doc for the format)."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise ReportError("not ASCII") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ReportError("empty")
    head, _, written = lines[0].rpartition(" ")
    if head != HEAD or not (written.isascii() and written.isdigit()) or len(written) > 12:
        raise ReportError("not a report")
    if abs(int(written) - now) > WINDOW:
        raise ReportError("written too long ago, or in the future")
    if len(lines) - 1 > MAX_READS:
        raise ReportError("too many reads")
    reads = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(" ")
        if len(fields) != 3:
            raise ReportError(f"line {number}: not three fields")
        community, cable, session = fields
        if (not _COMMUNITY.fullmatch(community) or not _CABLE.fullmatch(cable)
                or len(session) > _MAX_SESSION or not _SESSION.fullmatch(session)):
            raise ReportError(f"line {number}: malformed")
        reads.append(ReportedRead(community, cable, session))
    return reads


def authentic(gate: GateState, req: Request, body: bytes) -> bool:
    """Whether the report comes from nginx itself: a trusted proxy, no client behind it, the MAC right."""
    keys = gate.grants.keys
    if keys is None or req.client not in gate.config.trusted_proxies or req.header("x-forwarded-for") is not None:
        return False
    return tokens.report_problem(keys, req.header(tokens.REPORT_HEADER), body) is None


async def receive(gate: GateState, req: Request) -> Response:
    """``POST /_reads``: record the reads of an authentic report that may be counted (module's doc)."""
    if gate.grants.keys is None or req.client not in gate.config.trusted_proxies:
        raise not_found()  # before reading a body: only nginx's address may send one
    body = await req.read_body(MAX_BODY, gate.config.body_timeout)
    if not authentic(gate, req, body):
        gate.log.event({"event": "read report refused", "reason": "not authenticated"})
        raise not_found()
    now = gate.clock()
    try:
        reads = parse_report(body, now)
    except ReportError as exc:
        gate.log.event({"event": "read report refused", "reason": str(exc)})
        raise bad_request() from None
    recorded = refused = 0
    today = gate.today(now)
    members = gate.members()
    for read in reads:
        claims = await gate.sessions.session(f"{gate.sessions.cookie_name}={read.session}", now)
        if (claims is None or not members.admits(read.community, claims.sub, today)
                or not gate.readership.serves(read.community, read.cable)):
            refused += 1
            continue
        gate.readership.record(read.community, read.cable, claims.sub, now)
        recorded += 1
    if refused:
        gate.log.event({"event": "reported reads not recorded", "count": refused})
    return gate.pages.plain(200, json.dumps({"recorded": recorded, "refused": refused}) + "\n", "application/json")
