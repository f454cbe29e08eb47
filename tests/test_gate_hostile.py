"""A table of hostile tokens, paths and headers: each is refused, with no site content, never a 500."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass

import pytest

from gate import store as storage
from gate import tokens
from tests import tokenforge as forge
from tests.gatekit import Reply, confirm, follow_link, publish_site, running_gate, write_members

SECRET = b"CONTENT-OF-"


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    store = storage.open_store(base / "store")
    for community in ("presse", "business"):
        publish_site(store, community, {
            "index.html": f"<html>CONTENT-OF-{community} home</html>".encode(),
            "404.html": b"<html>no such page</html>",
            "a/index.html": f"<html>CONTENT-OF-{community} a</html>".encode(),
        }, "r1")
    write_members(store, {"presse": {"members": {"a@press.org": None}},
                          "business": {"members": {"b@biz.org": None}}})
    tokens.init(base / "keys")
    with running_gate(base / "store", base / "keys") as running:
        running.ring = tokens.load(base / "keys")
        yield running


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    allowed: tuple[int, ...] = (302, 400, 403, 404, 405, 413, 414, 431)


def raw_request(gate, case: Case) -> Reply:
    """Send the path byte for byte (http.client would not normalise it, but be explicit)."""
    conn = http.client.HTTPConnection("127.0.0.1", gate.port, timeout=15)
    try:
        conn.putrequest(case.method, case.path, skip_accept_encoding=True)
        for name, value in case.headers:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        return Reply(0, {}, b"")  # the server refused to read it at all: also a refusal
    finally:
        conn.close()


def cases(gate) -> list[Case]:
    ring, base = gate.ring, gate.base
    now = time.time()

    def tok(typ, sub="a@press.org", **kw):
        kw.setdefault("ttl", 600)
        return tokens.issue(ring, typ, sub, issuer=base, audience=base, now=kw.pop("now", now), **kw)

    def payload(typ, sub="a@press.org", **extra):
        return forge.claims(typ, sub, issuer=base, now=now, **extra)

    header = {"alg": "EdDSA", "kid": ring.current, "typ": "JWT"}
    inv = dict(com="presse")
    spent = tok(tokens.INVITATION, community="presse")
    assert follow_link(gate, f"/auth?token={spent}").status == 303  # spend it once
    business_session = tok(tokens.SESSION, sub="b@biz.org")
    presse_session = tok(tokens.SESSION)

    def auth(name, token, **kw):
        return Case(f"/auth: {name}", "GET", f"/auth?token={token}", **kw)

    def cookie(name, token, path="/c/presse/"):
        return Case(f"cookie: {name}", "GET", path, (("Cookie", f"diplomatie={token}"),))

    def path(name, p):
        return Case(f"path: {name}", "GET", p, (("Cookie", f"diplomatie={presse_session}"),))

    return [
        # invitation tokens at /auth
        auth("alg none", forge.alg_none(payload(tokens.INVITATION, **inv), ring.current)),
        auth("HS256 keyed with the public key", forge.hs256_with_public_key(payload(tokens.INVITATION, **inv), ring)),
        auth("unknown kid", forge.with_header(ring, payload(tokens.INVITATION, **inv), {**header, "kid": "x"})),
        auth("signed by a stranger", forge.signed_by_stranger(payload(tokens.INVITATION, **inv), ring.current)),
        auth("tampered subject", forge.tampered(tok(tokens.INVITATION, community="presse"), sub="boss@press.org")),
        auth("tampered community", forge.tampered(tok(tokens.INVITATION, community="presse"), com="business")),
        auth("expired", tok(tokens.INVITATION, community="presse", now=now - 7200, ttl=600)),
        auth("not yet valid", forge.with_header(ring, payload(tokens.INVITATION, nbf=int(now) + 3600, **inv), header)),
        auth("wrong iss", forge.with_header(ring, {**payload(tokens.INVITATION, **inv), "iss": "https://evil"}, header)),
        auth("wrong aud", forge.with_header(ring, {**payload(tokens.INVITATION, **inv), "aud": "https://evil"}, header)),
        auth("wrong typ", forge.with_header(ring, payload("admin", **inv), header)),
        auth("session token used as an invitation", presse_session),
        auth("reused one-time link", spent),
        auth("invitation for a community the subject is not in", tok(tokens.INVITATION, sub="b@biz.org",
                                                                        community="presse")),
        auth("garbage", "not-a-token"),
        auth("empty", ""),
        auth("oversized", "a" * 9000),
        # tokens as the session cookie
        cookie("alg none", forge.alg_none(payload(tokens.SESSION), ring.current)),
        cookie("HS256 keyed with the public key", forge.hs256_with_public_key(payload(tokens.SESSION), ring)),
        cookie("invitation used as a session", tok(tokens.INVITATION, community="presse")),
        cookie("magic link used as a session", tok(tokens.MAGIC)),
        cookie("expired session", tok(tokens.SESSION, now=now - 7200, ttl=600)),
        cookie("wrong aud", forge.with_header(ring, {**payload(tokens.SESSION), "aud": "https://evil"}, header)),
        cookie("tampered subject", forge.tampered(business_session, sub="a@press.org")),
        cookie("community A's member on community B", business_session),
        cookie("oversized cookie", "x" * 8000),
        Case("huge header", "GET", "/c/presse/", (("X-Padding", "y" * 200_000),), allowed=(302, 400, 413, 431, 0)),
        # traversal and tricks, signed in as a presse member
        path("dot-dot", "/c/presse/../business/"),
        path("encoded dot-dot", "/c/presse/%2e%2e/business/"),
        path("encoded slash", "/c/presse/..%2fbusiness/"),
        path("double encoding", "/c/presse/%252e%252e/business/"),
        path("backslash", "/c/presse/..\\business\\"),
        path("encoded backslash", "/c/presse/..%5cbusiness%5c"),
        path("NUL", "/c/presse/index.html%00.css"),
        path("absolute path", "/c/presse//etc/passwd"),
        path("overlong path", "/c/presse/" + "a/" * 700),
        path("dot-dot as community", "/c/../c/business/"),
        path("encoded community", "/c/%62usiness/"),  # decodes to "business": still not a member
        path("single dot", "/c/presse/./a/"),
        path("file outside the manifest", "/c/presse/../../members.json"),
        path("manifest key", "/c/presse/releases/presse/r1.json"),
        Case("POST to content", "POST", "/c/presse/", (("Cookie", f"diplomatie={presse_session}"),)),
    ]


def test_hostile_table_is_refused_without_content(gate):
    table = cases(gate)
    assert len(table) >= 30
    failures = []
    for case in table:
        reply = raw_request(gate, case)
        if reply.status not in case.allowed or SECRET in reply.body or reply.header("set-cookie"):
            failures.append((case.name, reply.status, reply.body[:120]))
    assert not failures, failures


@pytest.mark.parametrize("target", [
    "//evil.example/", "https://evil.example/", "/\\evil.example", "http:/evil.example", "/\t/evil.example",
    "javascript:alert(1)", "evil.example",
])
def test_next_is_never_an_open_redirect(gate, target):
    from urllib.parse import quote

    token = tokens.issue(gate.ring, tokens.INVITATION, "a@press.org", issuer=gate.base, audience=gate.base,
                         ttl=600, community="presse")
    shown = gate.get(f"/auth?token={token}&next={quote(target, safe='')}")
    if shown.status != 400:  # a control character in next is refused outright
        reply = confirm(gate, shown)
        assert reply.status == 303
        assert reply.header("location") == "/c/presse/"
    login = gate.get(f"/login?next={quote(target, safe='')}")
    assert b'name="next"' not in login.body


def test_gate_still_healthy_after_the_table(gate):
    assert gate.get("/healthz").status == 200
    assert json.loads(gate.get("/.well-known/jwks.json").body)["keys"]
