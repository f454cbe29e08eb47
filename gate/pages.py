"""The gate's own pages (sign-in, confirmation, refusals): minimal HTML, no script, GATE_POLICY."""

from __future__ import annotations

import html

from gate.csp import GATE_POLICY
from gate.http import Refusal, Response, location


class Pages:
    """Builds the gate's responses with the headers every one of them carries."""

    def __init__(self, security: list[tuple[str, str]]) -> None:
        self.security = security
        self.policy_and_security = [("content-security-policy", GATE_POLICY), *security]
        """What every answer of the gate's own carries, whatever its type and caching."""
        self.page_headers = [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store"),
                             *self.policy_and_security]

    def page(self, status: int, title: str, body_html: str, *, extra: list[tuple[str, str]] | None = None,
             subject: str | None = None, community: str | None = None, lang: str = "en") -> Response:
        document = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
                    f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                    f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>"
                    f"{body_html}</main></body></html>").encode()
        return Response(status, [*self.page_headers, *(extra or [])], document, subject=subject, community=community)

    def refusal(self, refusal: Refusal) -> Response:
        """The one place a raised refusal becomes its page."""
        return self.page(refusal.status, refusal.title, refusal.message_html, extra=refusal.extra,
                         subject=refusal.subject, community=refusal.community)

    def redirect(self, target: str, status: int = 302, extra: list[tuple[str, str]] | None = None,
                 subject: str | None = None, community: str | None = None) -> Response:
        headers = [("location", location(target)), ("cache-control", "no-store"),
                   ("content-security-policy", GATE_POLICY), *self.security, *(extra or [])]
        return Response(status, headers, b"", subject=subject, community=community)

    def plain(self, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
        return Response(status, [("content-type", content_type), ("cache-control", "no-store"),
                                 ("content-security-policy", GATE_POLICY), *self.security], text.encode())
