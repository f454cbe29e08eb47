"""Per-community grants: the cookies that let nginx serve a member without asking the gate each time.

When nginx asks for a decision (gate/serving.py ``decision``) and the answer is yes, the session is
valid and its subject a current member of the community; the gate then also sets a grant cookie
scoped to ``Path=/c/<community>/``, valid ``grant_ttl`` seconds (gate/tokens.py holds its format and
its keys). nginx checks the grant itself (deploy/diplomatie_grant.lua) and asks again only when it is
missing, invalid or expired, so sign-out and removal of a member take effect behind nginx within the
grant lifetime plus the gate's own delays (docs/gate.md).

The grant key file is shared with nginx: every gate process reads it at each poll and the first to
find its current key older than ``tokens.GRANT_ROTATE`` replaces it (the previous key still verifies).
When the file cannot be read or written, no grant is issued: nginx then asks the gate for every page
(slower, never more open).

Beside the grants, every session the gate issues or accepts for nginx gets a seal (gate/tokens.py
``issue_seal``): nginx asks the gate about a session only when its seal is valid, so a forged session
costs nginx one HMAC, never the gate a signature check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gate import tokens
from gate.blobs import FILE_CACHE_CONTROL
from gate.config import GateConfig
from gate.http import SECURITY_HEADERS

#: Decisions tell nginx when the session itself was refused, so that it may answer later requests
#: carrying the same cookie with the sign-in redirect without asking again (deploy/diplomatie_grant.lua).
SESSION_HEADER = "x-diplomatie-session"
#: A "yes" names the community's current release: nginx keeps each address's blob under it and asks
#: again when the news is older than 2 s, so a new release is followed within that.
RELEASE_HEADER = "x-diplomatie-release"
#: A "yes" for a cable's page names the cable (gate/readership.py ``cable_of``): nginx reports the reads
#: of that page it serves on a grant (gate/readreports.py), so that they are counted like the gate's own.
CABLE_HEADER = "x-diplomatie-cable"

#: Where nginx reads the headers it adds itself (deploy/nginx.conf includes it, deploy/diplomatie_grant.lua
#: reads it): written by :func:`nginx_headers_conf`, never by hand.
NGINX_HEADERS_FILE = "deploy/diplomatie_headers.conf"
#: The headers nginx adds itself to the files of location /c/ only: written by
#: :func:`nginx_file_headers_conf`.
NGINX_FILE_HEADERS_FILE = "deploy/diplomatie_file_headers.conf"


def nginx_headers_conf() -> str:
    """deploy/diplomatie_headers.conf: the headers every answer of the gate carries (``SECURITY_HEADERS``),
    for nginx to add itself to the files it serves on a grant, from this one definition.

    nginx then sets none of them per request; the Lua module reads the same file and lets the gate
    answer any address whose decision does not carry exactly these headers, so a file that no longer
    matches the gate costs speed, never a header the gate did not send. HSTS (https only) is not among
    them: it comes with each decision.
    """
    return _add_headers(SECURITY_HEADERS, [
        "# Generated from the gate's own headers (gate/http.py SECURITY_HEADERS): do not edit; regenerate with",
        "#   python -m gate.grants > deploy/diplomatie_headers.conf",
        "# Added by nginx itself to every answer of its locations /c/ and @decide (deploy/nginx.conf);",
        "# deploy/diplomatie_grant.lua reads this file too, and lets the gate answer an address whose",
        "# headers are not exactly these."])


def nginx_file_headers_conf() -> str:
    """deploy/diplomatie_file_headers.conf: the headers every file of a site carries and no other answer
    does (its ``Cache-Control``), for nginx to add itself in location /c/, where Lua names the file, as
    a constant rather than a variable Lua sets on every request. Lua reads it too: an address whose
    decision does not carry exactly these is served from @decide, with the gate's own values."""
    return _add_headers([("cache-control", FILE_CACHE_CONTROL)], [
        "# Generated from the gate's own headers (gate/blobs.py FILE_CACHE_CONTROL): do not edit; regenerate with",
        "#   python -m gate.grants files > deploy/diplomatie_file_headers.conf",
        "# Added by nginx itself to the files its location /c/ serves (deploy/nginx.conf);",
        "# deploy/diplomatie_grant.lua reads this file too, and has @decide serve an address whose",
        "# headers are not exactly these."])


def _add_headers(headers: list[tuple[str, str]], comments: list[str]) -> str:
    """nginx ``add_header`` lines (``always``: on a 304 too) for ``headers``, after ``comments``."""
    lines = list(comments)
    for name, value in headers:
        if any(c in value for c in '"$\\;{}\n') or not name.replace("-", "").isalnum():
            raise ValueError(f"{name}: {value!r} cannot be written as an nginx add_header")
        lines.append(f'add_header {"-".join(p.capitalize() for p in name.split("-"))} "{value}" always;')
    return "\n".join(lines) + "\n"


class Grants:
    """The grant key file of one gate process, and the cookies it sets and clears."""

    def __init__(self, config: GateConfig, session_cookie: str, redirect_headers: list[tuple[str, str]],
                 log: Callable[[dict], None]) -> None:
        self.path = Path(config.grant_keys) if config.grant_keys else None
        self.log = log
        self.cookie_name = "diplomatie-grant" if config.insecure_dev else "__Secure-diplomatie-grant"
        self.seal_name = "diplomatie-seal" if config.insecure_dev else "__Secure-diplomatie-seal"
        self.session_ttl = config.session_ttl
        self.flags = "; HttpOnly; SameSite=Lax" + ("" if config.insecure_dev else "; Secure")
        self.wanted = tokens.GrantKeys(session_cookie, self.cookie_name, config.grant_ttl,
                                       not config.insecure_dev, (),
                                       tuple((k, v) for k, v in redirect_headers if k != "location"), self.seal_name)
        self.keys: tokens.GrantKeys | None = None

    def start(self, now: float) -> None:
        """At start: the key file must be writable or readable, else the gate refuses to start."""
        if self.path is None:
            return
        try:
            self.keys = tokens.ensure_grant_keys(self.path, self.wanted, now)
        except OSError as exc:
            raise tokens.KeysError(f"--grant-keys {self.path}: cannot write the grant key file ({exc})") from exc

    def refresh(self, now: float) -> None:
        """At each poll: follow another process's rotation, or rotate; on failure issue no grant."""
        if self.path is None:
            return
        before = self.keys.current.kid if self.keys else None
        try:
            self.keys = tokens.ensure_grant_keys(self.path, self.wanted, now)
        except OSError as exc:
            self.keys = None
            self.log({"event": "grant keys unavailable, no grants issued", "error": str(exc)})
            return
        if self.keys.current.kid != before:
            self.log({"event": "grant key in use", "kid": self.keys.current.kid})

    def cookie(self, community: str, session_token: str, now: float) -> str | None:
        """The Set-Cookie value of a fresh grant, or None when grants are off or their keys unavailable."""
        keys = self.keys
        if keys is None:
            return None
        value = tokens.issue_grant(keys, community, session_token, now)
        return f"{self.cookie_name}={value}; Max-Age={keys.ttl}; Path=/c/{community}/{self.flags}"

    def seal(self, session_token: str, now: float) -> str | None:
        """The Set-Cookie value of the session's seal (tokens.issue_seal), for every community's pages; None
        when grants are off or their keys unavailable (nginx then asks the gate about every session)."""
        keys = self.keys
        if keys is None:
            return None
        value = tokens.issue_seal(keys, session_token, now)
        return f"{self.seal_name}={value}; Max-Age={self.session_ttl}; Path=/c/{self.flags}"

    def clear(self, communities: list[str]) -> list[tuple[str, str]]:
        """Set-Cookie headers deleting the grants of these communities (at sign-out).

        A grant left in the browser is useless anyway once the session cookie is gone: nginx accepts a
        grant only beside the session it names.
        """
        if self.path is None:
            return []
        return [("set-cookie", f"{self.cookie_name}=; Max-Age=0; Path=/c/{c}/{self.flags}") for c in communities] + [
            ("set-cookie", f"{self.seal_name}=; Max-Age=0; Path=/c/{self.flags}")]


if __name__ == "__main__":
    import sys

    print(nginx_file_headers_conf() if sys.argv[1:] == ["files"] else nginx_headers_conf(), end="")
