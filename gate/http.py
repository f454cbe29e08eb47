"""What the gate knows of HTTP: the request and response it passes around, refusals, and its limits.

No framework sits on the request path; both server interfaces (RSGI and ASGI, in gate/app.py) build a
:class:`Request` and send a :class:`Response`. Everything read from the client is bounded here: a body
is refused as soon as its declared or streamed length passes the limit (never read whole first), and
must arrive within a timeout; query strings and forms must be valid UTF-8 of printable characters, or
the request is a 400 — never a 500 further down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from gate.i18n import N_

MAX_PATH = 1024
MAX_QUERY = 6144
MAX_FIELDS = 32

#: The headers every answer of the gate carries, whatever it answers (gate/state.py), and over https
#: also HSTS. nginx adds the first itself to the files it serves on a grant (gate/grants.py
#: ``nginx_headers_conf``, deploy/diplomatie_headers.conf).
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (("x-content-type-options", "nosniff"),
                                                ("referrer-policy", "no-referrer"), ("x-frame-options", "DENY"))
HSTS = ("strict-transport-security", "max-age=31536000; includeSubDomains")

#: Characters kept as they are in a Location header; anything else (non-ASCII included) is %-encoded.
_LOCATION_SAFE = "/:?&=#%;,+@!$'()*~-._"


class Refusal(Exception):
    """A request the gate answers with one of its own pages; raised by views, rendered once (gate/app.py).

    ``title`` and ``message`` are English msgids (plain text, marked with :func:`gate.i18n.N_`), shown
    in the reader's language by gate/pages.py; ``links`` are what to do next, ``(href, label msgid)``.
    """

    def __init__(self, status: int, title: str, message: str = "", *,
                 extra: list[tuple[str, str]] | None = None, subject: str | None = None,
                 community: str | None = None, links: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(f"{status} {title}")
        self.status = status
        self.title = title
        self.message = message
        self.extra = extra or []
        self.subject = subject
        self.community = community
        self.links = links


def bad_request(what: str = N_("This address is not valid.")) -> Refusal:
    return Refusal(400, N_("Bad request"), what)


def not_found() -> Refusal:
    return Refusal(404, N_("Page not found"), N_("There is nothing at this address."))


def unavailable(community: str | None = None, subject: str | None = None) -> Refusal:
    """503: something the answer depends on cannot be read; the visitor should retry, nothing is served."""
    return Refusal(503, N_("Temporarily unavailable"),
                   N_("The service cannot check your access right now. Please try again in a minute."),
                   extra=[("retry-after", "30")], subject=subject, community=community)


def too_large() -> Refusal:
    return Refusal(413, N_("Request too large"), N_("What was sent is larger than this service accepts."))


class Response:
    """An answer: status, headers, body; and, for the access log only, who asked (``subject``) about
    which community (``community``).

    Built with keywords for the last two, except on the hot path (gate/blobs.py), where passing them
    by position saves a keyword dictionary per request (measured: about 0.2 µs of a 4 µs answer).
    """

    __slots__ = ("status", "headers", "body", "subject", "community")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes = b"",
                 subject: str | None = None, community: str | None = None) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.subject = subject
        self.community = community


class Request:
    """What the gate needs of a request, from either interface (built per request: kept minimal)."""

    __slots__ = ("method", "path", "query", "header", "peer", "source")

    def __init__(self, method: str, path: str, query: str, header: Callable[[str], str | None], peer: Any,
                 source: Any) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.header = header
        self.peer = peer  # RSGI: "ip:port"; ASGI: (ip, port)
        self.source = source  # RSGI protocol object, the ASGI receive callable, or None (no body)

    @property
    def client(self) -> str:
        """The peer's IP address (a proxy in front is trusted only explicitly: see Gate.client_of)."""
        if isinstance(self.peer, str):
            return self.peer.rpartition(":")[0] or self.peer
        return str(self.peer[0]) if self.peer else ""

    async def read_body(self, limit: int, timeout: float) -> bytes:
        """The body, refused (413) as soon as its declared or received length passes ``limit``, (408) if slow."""
        length = self.header("content-length")
        if length is not None:
            if not (length.isascii() and length.isdigit()) or len(length) > 12:  # not "²", not "١"
                raise bad_request(N_("The request's length is not valid."))
            if int(length) > limit:
                raise too_large()
        if self.source is None:
            return b""
        try:
            async with asyncio.timeout(timeout):
                return await self._receive(limit)
        except TimeoutError:
            raise Refusal(408, N_("Request timeout"), N_("The request took too long to arrive.")) from None

    async def _receive(self, limit: int) -> bytes:
        chunks, size = [], 0
        if hasattr(self.source, "response_bytes"):  # RSGI: the protocol iterates over body chunks
            async for chunk in self.source:
                size += len(chunk)
                if size > limit:
                    raise too_large()
                chunks.append(chunk)
            return b"".join(chunks)
        while True:  # ASGI
            message = await self.source()
            if message.get("type") == "http.disconnect":
                raise bad_request(N_("The request ended early."))
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large()
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


def parse_query(text: str) -> dict[str, str]:
    """A query string or form as a dict; 400 unless it is short, UTF-8, and printable text."""
    if len(text) > MAX_QUERY:
        raise bad_request(N_("This address is too long."))
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                          max_num_fields=MAX_FIELDS)
    except (UnicodeError, ValueError):
        raise bad_request() from None
    for name, value in pairs:
        if not (name.isprintable() and value.isprintable()):
            raise bad_request()
    return dict(pairs)


def parse_form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body: ASCII on the wire (UTF-8 %-encoded), else 400."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise bad_request(N_("The form is not valid.")) from None
    return parse_query(text)


def cookie_value(header: str | None, name: str) -> str | None:
    """The value of the cookie ``name`` in a ``Cookie`` request header; None when absent or empty.

    The one cookie reader of the gate (session, link confirmation, single sign-on attempt). The
    first match wins; a cookie whose name merely ends with ``name`` is another cookie.
    """
    if not header:
        return None
    prefix = name + "="
    if header.startswith(prefix) and ";" not in header:  # the usual case: our one cookie
        return header[len(prefix):] or None
    for part in header.split(";"):
        part = part.strip()
        if part.startswith(prefix):
            return part[len(prefix):] or None
    return None


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a relative path on this site (no scheme, host, backslash or control char)."""
    if not target or len(target) > MAX_PATH or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or not target.isprintable():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def location(target: str) -> str:
    """A Location header value: ASCII whatever the target holds (a header is Latin-1 on the wire)."""
    return target if target.isascii() and target.isprintable() else quote(target, safe=_LOCATION_SAFE)


class InFlight:
    """At most ``cap`` requests in progress per client address (a slow client holds its own slots only)."""

    __slots__ = ("cap", "counts")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.counts: dict[str, int] = {}

    def enter(self, client: str) -> bool:
        count = self.counts.get(client, 0)
        if count >= self.cap:
            return False
        self.counts[client] = count + 1
        return True

    def leave(self, client: str) -> None:
        count = self.counts.pop(client, 1) - 1
        if count > 0:
            self.counts[client] = count
