"""Invitation links: the one-time sign-in URL a member receives (``diplomatie link``, ``diplomatie demo``)."""

from __future__ import annotations

from gate import tokens


def invitation_url(ring: tokens.Keyring, base_url: str, community: str, email: str, ttl: int,
                   now: float | None = None) -> str:
    """The ``<base>/auth?token=…`` URL of a fresh one-time invitation to ``community`` for ``email``,
    valid ``ttl`` seconds; issuer and audience are the gate's own origin."""
    origin = base_url.rstrip("/")
    token = tokens.issue(ring, tokens.INVITATION, email, issuer=origin, audience=origin, ttl=ttl,
                         now=now, community=community)
    return f"{origin}/auth?token={token}"
