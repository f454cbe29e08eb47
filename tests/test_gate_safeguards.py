"""The gate's safeguards, in process: CSP from the manifest, fail closed, bounded requests, the route table,
and no 5xx nor site byte for any input (hypothesis)."""

from __future__ import annotations

import asyncio
import os
import shutil
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate import store as storage
from gate import tokens
from gate.csp import GATE_POLICY, inline_hash, site_policy
from gate.http import Request
from tests.gatekit import (
    confirm,
    confirmation_form,
    cookie_of,
    follow_link,
    gate_in_process,
    publish_site,
    write_members,
)

SECRET = b"CONTENT-OF-"
THEME = inline_hash("__md_scope=new URL('.', location)")
PAGE = (b"<html><head><script>__md_scope=new URL('.', location)</script></head><body>CONTENT-OF-PRESSE"
        b"<script>alert('injected')</script></body></html>")


@pytest.fixture
def world(tmp_path):
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "presse", {"index.html": PAGE, "a.css": b"/* CONTENT-OF-PRESSE */",
                                   "b.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                                   "c.xml": b"<feed>CONTENT-OF-PRESSE</feed>", "d.js": b"var presse = 1;"}, "r1",
                 script_hashes=(THEME,))
    publish_site(store, "bare", {"index.html": b"<html>CONTENT-OF-BARE</html>"}, "r1")
    write_members(store, {"presse": {"members": {"a@press.org": None}},
                          "bare": {"members": {"a@press.org": None}}})
    tokens.init(tmp_path / "keys")
    with gate_in_process(tmp_path / "store", tmp_path / "keys", max_body=1024, body_timeout=0.2,
                         max_inflight=2) as gate:
        gate.store_dir = tmp_path / "store"
        yield gate


# -- Content-Security-Policy ---------------------------------------------------------------------


def test_pages_carry_the_policy_of_their_release_never_one_read_from_the_page(world):
    cookie = world.session_cookie("a@press.org")
    page = world.get("/c/presse/", cookie=cookie)
    assert page.status == 200
    assert page.header("content-security-policy") == site_policy((THEME,), ())
    assert inline_hash("alert('injected')") not in page.header("content-security-policy")


def test_files_that_are_neither_pages_nor_scripts_carry_a_policy_that_runs_and_loads_nothing(world):
    """A stylesheet, an image, a feed: a browser applies a response's policy only to what it shows as a
    document or runs as a worker; an SVG or XML file opened at its own address is a document, and runs
    nothing. A script may run as a worker (mkdocs-material's search): it gets the site's policy."""
    cookie = world.session_cookie("a@press.org")
    for name in ("a.css", "b.svg", "c.xml"):
        reply = world.get(f"/c/presse/{name}", cookie=cookie)
        assert reply.status == 200, name
        assert reply.header("content-security-policy") == "default-src 'none'; frame-ancestors 'none'", name
    assert world.get("/c/presse/d.js", cookie=cookie).header("content-security-policy") == site_policy((THEME,), ())


MEDIA_TYPE = st.from_regex(r"[a-zA-Z][a-zA-Z0-9.+-]{0,15}/[a-zA-Z0-9][a-zA-Z0-9.+-]{0,20}", fullmatch=True)
SITE_TYPES = ("text/html", "text/javascript", "application/javascript", "application/x-javascript",
              "application/ecmascript", "text/ecmascript")


@settings(max_examples=300, deadline=None)
@given(media=st.one_of(MEDIA_TYPE, st.sampled_from([*SITE_TYPES, "TEXT/HTML", "Text/JavaScript", "text/htm",
                                                    "text/html5", "application/xhtml+xml", "image/svg+xml",
                                                    "text/xml", "text/plain", "application/json",
                                                    "application/javascriptx", "module/javascript"])),
       params=st.sampled_from(["", "; charset=utf-8", ";charset=UTF-8", " ; q=1", "; charset=text/html"]),
       space=st.sampled_from(["", " ", "\t"]))
def test_only_pages_and_scripts_get_the_site_policy_every_other_type_the_one_that_runs_nothing(media, params,
                                                                                                 space):
    from gate.csp import RESOURCE_POLICY, policy_for

    site = site_policy((THEME,), ())
    expected = site if media.lower() in SITE_TYPES else RESOURCE_POLICY
    assert policy_for(f"{space}{media}{space}{params}", site) == expected


def test_a_release_without_hashes_runs_no_inline_script(world):
    policy = world.get("/c/bare/", cookie=world.session_cookie("a@press.org")).header("content-security-policy")
    # 'wasm-unsafe-eval' lets search compile the site's WebAssembly; it runs no inline script.
    assert "script-src 'self' 'wasm-unsafe-eval';" in policy and "sha256-" not in policy


def test_gate_pages_carry_the_gate_policy(world):
    for path in ("/login", "/nowhere", f"/auth?token={world.invitation('presse', 'a@press.org')}"):
        assert world.get(path).header("content-security-policy") == GATE_POLICY


# -- fail closed ---------------------------------------------------------------------------------


def break_claims(world) -> None:
    """The claims area becomes unreadable: every read or write under it fails (not 'absent')."""
    claims = world.store_dir / "claims"
    shutil.rmtree(claims, ignore_errors=True)
    claims.write_text("not a folder")


def test_unreadable_sign_out_records_refuse_even_a_cached_session(world):
    cookie = world.sign_in("presse", "a@press.org")
    assert world.get("/c/presse/", cookie=cookie).status == 200  # verified and cached
    break_claims(world)
    world.clock.advance(world.gate.config.revocation_check + 1)  # time to check for sign-out again
    reply = world.get("/c/presse/", cookie=cookie)
    assert reply.status == 503 and SECRET not in reply.body and reply.header("retry-after")
    assert "Réessayez" in reply.body.decode()  # French, the default language: the page says to try again


def test_unreadable_one_time_claims_refuse_the_link_without_spending_it(world):
    token = world.invitation("presse", "a@press.org")
    shown = world.get(f"/auth?token={token}")
    break_claims(world)
    assert world.get(f"/auth?token={token}").status == 503
    spent = confirm(world, shown)
    assert spent.status == 503 and not spent.header("set-cookie")


def test_unreadable_membership_refuses_pages_and_links(world):
    cookie = world.session_cookie("a@press.org")
    members = world.store_dir / "members.json"
    members.unlink()
    os.symlink("members.json", members)  # a loop: reading it fails
    world.refresh()
    for reply in (world.get("/c/presse/", cookie=cookie),
                  world.get(f"/auth?token={world.invitation('presse', 'a@press.org')}"),
                  world.get("/", cookie=cookie)):
        assert reply.status == 503 and SECRET not in reply.body
    assert world.get("/healthz").status == 503


# -- bounded requests ----------------------------------------------------------------------------


class Body:
    """An ASGI receive callable that counts what the gate asked for."""

    def __init__(self, chunks: list[bytes], *, stall: bool = False) -> None:
        self.chunks, self.stall, self.calls = chunks, stall, 0

    async def __call__(self) -> dict:
        self.calls += 1
        if not self.chunks:
            if self.stall:
                await asyncio.sleep(3600)
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks) or self.stall}


def post(world, body: Body, headers: dict[str, str], client: str = "192.0.2.1"):
    headers = {"content-type": "application/x-www-form-urlencoded", **headers}
    return world.run(world.gate.handle(Request("POST", "/login", "", headers.get, (client, 1), body)))


def test_a_declared_length_over_the_limit_is_refused_before_reading(world):
    body = Body([b"x" * 10])
    assert post(world, body, {"content-length": str(400 * 1024 * 1024)}).status == 413
    assert body.calls == 0


def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit(world):
    body = Body([b"e" * 512] * 10_000)  # 5 MB, chunked (no Content-Length)
    assert post(world, body, {}).status == 413
    assert body.calls == 3  # 1536 bytes read, not 5 MB


def test_a_body_that_does_not_arrive_in_time_is_refused(world):
    assert post(world, Body([b"email=a"], stall=True), {}).status == 408


def test_a_client_holds_at_most_max_inflight_requests(world):
    async def scenario():
        stalled = [asyncio.ensure_future(world.gate.handle(Request(
            "POST", "/login", "", {"content-type": "application/x-www-form-urlencoded"}.get, ("192.0.2.66", i),
            Body([b"email="], stall=True)))) for i in range(2)]
        await asyncio.sleep(0)
        form = {"content-type": "application/x-www-form-urlencoded"}.get
        third = await world.gate.handle(Request("POST", "/login", "", form, ("192.0.2.66", 9), Body([b"email=x"])))
        other = await world.gate.handle(Request("POST", "/login", "", form, ("192.0.2.67", 9), Body([b"email=x"])))
        page = await world.gate.handle(Request("GET", "/healthz", "", {}.get, ("192.0.2.66", 9), None))
        assert page.status == 200  # reading pages never waits on the client: no slot needed
        results = await asyncio.gather(*stalled)
        return third.status, other.status, [r.status for r in results]

    assert world.run(scenario()) == (429, 400, [408, 408])  # 400: 'x' is not an address
    assert world.get("/healthz").status == 200  # the slots were given back


# -- the route table -----------------------------------------------------------------------------


def test_405_and_allow_come_from_the_route_table(world):
    for path, route in world.gate.routes.items():
        reply = world.request("DELETE", path)
        assert reply.status == 405 and reply.header("allow") == route.allow, path
        assert ("GET" in route.methods) == ("HEAD" in route.methods)
    site = world.request("POST", "/c/presse/", cookie=world.session_cookie("a@press.org"))
    assert site.status == 405 and site.header("allow") == "GET, HEAD" and SECRET not in site.body


@pytest.mark.parametrize("name, value", [("range", b"bytes=\xb2-"), ("range", b"bytes=0-\xb9"),
                                         ("content-length", b"\xb2"), ("if-none-match", b"\xff")])
def test_digits_that_are_not_ascii_are_not_numbers(world, name, value):
    headers = [(b"cookie", world.session_cookie("a@press.org").encode()), (name.encode(), value)]
    for method in ("GET", "POST"):
        status, _ = world.run(asgi(world.gate, method, "/c/presse/a.css" if method == "GET" else "/login", b"",
                                   headers, b""))
        assert status < 500


@pytest.mark.parametrize("path", ["/\u202eevil", "/a\x00b", "/\x7f", "/" + "a" * 2000])
def test_odd_paths_are_bad_requests(world, path):
    status, body = world.run(asgi(world.gate, "GET", path, b"", [], b""))
    assert status == 400


def test_head_of_a_link_spends_nothing(world):
    token = world.invitation("presse", "a@press.org")
    assert world.request("HEAD", f"/auth?token={token}").status == 200
    assert follow_link(world, f"/auth?token={token}").status == 303


@pytest.mark.parametrize("field", ["next", "token", "csrf"])
def test_a_confirmation_with_text_that_is_not_utf8_is_refused_and_spends_nothing(world, field):
    token = world.invitation("presse", "a@press.org")
    shown = world.get(f"/auth?token={token}")
    fields, _ = confirmation_form(shown)
    body = urlencode(fields).encode() + f"&{field}=%FF%FE".encode()
    reply = world.request("POST", "/auth", body=body, cookie=cookie_of(shown),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 400 and not reply.header("set-cookie")
    assert confirm(world, shown).status == 303


# -- any input -----------------------------------------------------------------------------------

METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "X" * 20])
PATHS = st.one_of(
    st.text(max_size=60).map(lambda t: "/" + t),
    st.builds(lambda c, t: f"/c/{c}/{t}", st.sampled_from(["presse", "bare", "PRESSE", "..", "", "x" * 70]),
              st.text(max_size=40)),
    st.sampled_from(["/", "/login", "/auth", "/logout", "/metrics", "/healthz", "/.well-known/jwks.json",
                     "/oidc/login", "/c/presse", "/c/presse/", "/c/presse/a.css", "/c/presse/../bare/"]),
)
HEADER_NAMES = st.sampled_from(["cookie", "origin", "content-type", "content-length", "range", "if-none-match",
                                "if-range", "authorization", "x-forwarded-for", "x-diplomatie-decide", "x-any"])
NUMBERS = st.lists(st.sampled_from(["0", "7", "\u00b2", "\u00b9", "-", ",", " ", '"', "*"]), max_size=5).map(
    lambda parts: "".join(parts).encode("latin-1"))  # numbers as headers write them, and digits that are not ASCII
HEADER_VALUES = st.one_of(st.binary(max_size=80), NUMBERS, NUMBERS.map(lambda v: b"bytes=" + v))
HEADERS = st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=6).map(lambda d: list(d.items()))


async def asgi(gate, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes):
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode("utf-8", "surrogateescape"),
             "query_string": query, "headers": headers, "client": ("192.0.2.44", 1)}
    await gate(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(method=METHODS, path=PATHS, query=st.binary(max_size=80), headers=HEADERS, body=st.binary(max_size=200),
       cookie=st.text(max_size=60))
def test_no_input_gets_a_5xx_or_a_site_byte_without_a_session(world, method, path, query, headers, body, cookie):
    raw = [(name.encode(), value) for name, value in headers]
    raw.append((b"cookie", ("diplomatie=" + cookie).encode("utf-8", "surrogatepass")))
    status, sent = world.run(asgi(world.gate, method, path, query, raw, body))
    assert status < 500 and SECRET not in sent, (status, sent[:200])


FILES = st.sampled_from(["/c/presse/", "/c/presse/a.css", "/c/bare/", "/login", "/auth", "/logout"])


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(method=st.one_of(st.sampled_from(["GET", "POST"]), METHODS), path=st.one_of(FILES, PATHS),
       query=st.binary(max_size=80), headers=HEADERS)
def test_no_input_gets_a_5xx_with_a_valid_session_either(world, method, path, query, headers):
    raw = [(name.encode(), value) for name, value in headers if name != "cookie"]
    raw.append((b"cookie", world.session_cookie("a@press.org").encode()))
    status, _ = world.run(asgi(world.gate, method, path, query, raw, b""))
    assert status < 500


# -- end to end: the real server ----------------------------------------------------------------


def resident_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (the gate command, granian, its workers), MiB."""
    from pathlib import Path

    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            status = (Path("/proc") / str(p) / "status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def test_a_huge_chunked_body_is_refused_by_the_real_server_without_being_read_whole(tmp_path):
    import http.client

    from tests.gatekit import running_gate

    store = storage.open_store(tmp_path / "store")
    write_members(store, {"presse": {"members": {"a@press.org": None}}})
    tokens.init(tmp_path / "keys")
    with running_gate(tmp_path / "store", tmp_path / "keys") as gate:
        before = resident_mib(gate.proc.pid)
        conn = http.client.HTTPConnection("127.0.0.1", gate.port, timeout=30)
        conn.putrequest("POST", "/login")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b"e" * (1 << 20))
        sent = 0
        try:
            while sent < 400:  # up to 400 MiB, unless the gate answers and closes first
                conn.send(chunk)
                sent += 1
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert conn.getresponse().status == 413
        conn.close()
        assert resident_mib(gate.proc.pid) - before < 64, (before, resident_mib(gate.proc.pid))
        assert gate.get("/healthz").status == 200
