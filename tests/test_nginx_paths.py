"""Odd path forms through the real nginx with the shipped deploy/nginx.conf: 400 or 404, never a 5xx, never
a page.

nginx normalises the path it matches locations with (dot segments, ``%2e``, ``%2f``, merged slashes) but
asks the gate about the raw request URI; a raw URI the gate reads differently once made nginx answer
500 (``/x/../c/<community>/``). The table below is generated from each class (dot segments, encoded
dots, encoded slashes, doubled slashes, backslashes, and their mixtures) around real site paths, and
every entry is tried without a session and with a member's.
"""

from __future__ import annotations

import http.client
import itertools
import re
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.gatekit import refusing_port
from tests.nginxkit import DEPLOY, TEMPLATE, running_nginx
from tests.test_gate import marker
from tests.test_nginx import world  # noqa: F401 - the gate behind nginx

pytestmark = pytest.mark.nginx

TARGETS = ("c/presse/", "c/presse/assets/main.css", "c/business/2026/2026-BERLIN-0042/")
DOT = (".", "%2e", "%2E")
DOTDOT = ("..", "%2e%2e", "%2E%2E", ".%2e", "%2e.")
SLASH = ("//", "%2f", "%2F", "\\", "%5c", "%5C")


def _variants(target: str) -> set[str]:
    community, *rest = target.split("/", 2)[1:]
    tail = rest[0] if rest else ""
    end = "/" + target.rstrip("/") + "/"  # a dot segment starts after a slash (main.css.. is a name)
    out = set()
    for dd in DOTDOT:
        out |= {f"/x/{dd}/{target}", f"/c/x/{dd}/{community}/{tail}", f"/c/{community}/{dd}/{community}/{tail}",
                f"/c/{community}/x/{dd}/{tail}", f"{end}{dd}", f"{end}x/{dd}", f"/c/{dd}/c/{community}/{tail}",
                f"/c/{community}/{dd}/../business/"}
    for d in DOT:
        out |= {f"/{d}/{target}", f"/c/{d}/{community}/{tail}", f"{end}{d}", f"{end}{d}/"}
    for s in SLASH:
        out |= {f"/{s}{target}", f"/c{s}{community}/{tail}", f"/c/{community}{s}{tail}",
                f"/x{s}..{s}{target}", f"/c/{community}/{s}..{s}..{s}c{s}business/"}
    return out


PATHS = sorted(set(itertools.chain.from_iterable(_variants(t) for t in TARGETS)))
CONTENT = (marker("presse"), marker("business"))


def test_the_table_covers_every_class():
    assert len(PATHS) > 200
    for needle in ("/../", "%2e%2e", "%2E", "//", "%2f", "\\", "%5c"):
        assert any(needle in p for p in PATHS), needle


#: What an odd path is: in the path part of the raw URI (before the first "?"), a doubled slash, a dot
#: segment ("/." or "/.." followed by "/", "?" or the end), an encoded dot, slash or backslash, or a
#: backslash. Written this way a regular expression backtracks over the whole path at every slash: the
#: shipped one (deploy/nginx.conf) reads the path once, possessively, and must refuse exactly the same.
ODD = re.compile(r"^[^?]*(//|/\.\.?(/|\?|$)|%2e|%2f|%5c|\x5c)", re.IGNORECASE)


def shipped_odd_path() -> re.Pattern[str]:
    found = re.search(r'if \(\$request_uri ~\* "([^"]+)"\)', (DEPLOY / "diplomatie_odd_path.conf").read_text())
    assert found, "deploy/diplomatie_odd_path.conf: no odd-path check"
    return re.compile(found.group(1), re.IGNORECASE)


def test_every_location_a_client_reaches_refuses_odd_paths_first():
    """The check is in each location a request from outside can land in (internal and named ones are
    reached only from those), before anything else; in location /c/ only the usual request comes
    first, which answers nothing but addresses learned after the check."""
    text = TEMPLATE.read_text()
    server = text[text.index("    server {"):]
    blocks = re.findall(r"\n        location ([^{]+)\{\n(.*?)\n        \}", server, re.S)
    reached = {name.strip(): body for name, body in blocks if not name.startswith("@")
               and not re.search(r"^\s*internal;", body, re.M)}
    assert set(reached) == {"/", "/replies/", "^~ /c/"}, set(reached)
    include = "include @DEPLOY@/diplomatie_odd_path.conf;"
    for name, body in reached.items():
        lines = [line.split("#", 1)[0].strip() for line in body.splitlines()]
        lines = [line for line in lines if line]
        before = lines[:lines.index(include)] if include in lines else None
        assert before is not None, f"location {name}: no odd-path check"
        if name == "^~ /c/":  # the usual request: set_by_lua and its 304, nothing that hands the request on
            assert before[0] == "uninitialized_variable_warn off;" and before[1].startswith("set_by_lua $d_blob")
            assert all(not line.startswith(("error_page", "rewrite", "proxy_pass", "try_files")) for line in before)
        else:
            assert before == [], f"location {name}: {before} before the odd-path check"
    assert "$request_uri ~*" not in text  # one check, in one file


PIECES = ("/", ".", "..", "?", "%", "2", "e", "E", "f", "F", "5", "c", "C", "\\", "%2e", "%2F", "%5c", "a", "x", "-")


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(PIECES), max_size=16).map("".join))
def test_the_shipped_odd_path_expression_refuses_exactly_the_odd_paths(path):
    """The class of the table below, generated: any mixture of the characters that make a path odd."""
    assert bool(shipped_odd_path().search(path)) == bool(ODD.search(path)), path


def test_the_shipped_odd_path_expression_agrees_on_the_table_and_on_site_paths():
    shipped = shipped_odd_path()
    assert all(shipped.search(p) for p in PATHS)
    for path in ("/c/presse/", "/c/presse/assets/main.css", "/c/presse/?q=a/../b", "/c/presse/a.b/",
                 "/c/presse/.well-known/x", "/c/presse/..x/", "/c/presse/%41/", "/c/presse/x?%2e"):
        assert not shipped.search(path) and not ODD.search(path), path


@pytest.mark.parametrize("signed_in", [False, True], ids=["no session", "member session"])
def test_odd_paths_answer_400_or_404_never_5xx_nor_a_page(world, signed_in):  # noqa: F811
    cookie = world.session_cookie("a@press.org") if signed_in else None
    wrong = []
    for path in PATHS:
        reply = world.get(path, cookie=cookie)
        if reply.status not in (400, 404) or any(m in reply.body for m in CONTENT):
            wrong.append((path, reply.status, reply.body[:80]))
    assert not wrong, f"{len(wrong)} of {len(PATHS)} paths answered otherwise: {wrong[:10]}"
    assert "auth request unexpected status" not in world.nginx.error_log()


def test_odd_forms_of_a_learned_address_are_refused_even_to_the_usual_request(world):  # noqa: F811
    """The usual request (an admitted Cookie header, a learned address) is decided before the odd-path
    check: an odd form of a learned address, revalidated with its ETag, is still a 400, never its 304."""
    from tests.test_nginx_grants import Browser

    browser = Browser(world, world.session_cookie("a@press.org"))
    learned = [browser.get(page) for page in ("/c/presse/assets/main.css",) * 3][-1]
    assert learned.status == 200 and learned.header("etag")
    cookie = f"{browser.session}; {browser.grants['presse']}"
    assert world.get("/c/presse/assets/main.css", cookie=cookie,
                     headers={"If-None-Match": learned.header("etag")}).status == 304
    for odd in ("/c/presse//assets/main.css", "/c/presse/./assets/main.css", "/c/presse/x/../assets/main.css",
                "/c/presse/%61ssets/..%2fassets/main.css", "/c/presse/assets%2fmain.css", "/c/presse\\assets/main.css"):
        reply = world.get(odd, cookie=cookie, headers={"If-None-Match": learned.header("etag")})
        assert reply.status == 400 and b"not valid" in reply.body, (odd, reply.status)


def test_normal_paths_still_serve_members(world):  # noqa: F811
    cookie = world.session_cookie("a@press.org")
    for path in ("/c/presse/", "/c/presse/assets/main.css", "/c/presse/?q=a/../b", "/c/presse/a.b/"):
        reply = world.get(path, cookie=cookie)
        assert reply.status < 500, (path, reply.status)
    assert marker("presse") in world.get("/c/presse/", cookie=cookie).body


@pytest.mark.parametrize("path", ["/%63/presse/", "/c/%70resse/", "/%63/presse/assets/main.css", "/c/pr%65sse/%69ndex.html",
                                  "/c/presse/%E2%82%AC/", "/c/presse/%ff/", "/c/presse/%00/", "/c/%C3%A9/"])
def test_percent_encoded_paths_never_answer_5xx(world, path):  # noqa: F811
    """nginx decodes these before matching and the gate may not: the gate decides, never an nginx 500."""
    reply = world.get(path)
    assert reply.status < 500, (path, reply.status)
    assert not any(m in reply.body for m in CONTENT)
    member = world.get(path, cookie=world.session_cookie("a@press.org"))
    assert member.status < 500, (path, member.status)
    assert marker("business") not in member.body


def test_a_gate_that_cannot_decide_is_a_bad_gateway_not_an_nginx_error(tmp_path):
    """Any decision answer but 200 (here none: the gate is down) hands the request to the gate location,
    so a gate that is down reads as 502 (and a gate that answers, its own), never an nginx 500."""
    with refusing_port() as nobody, running_nginx(tmp_path / "nginx", [nobody], tmp_path / "store") as nginx:
        conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
        conn.request("GET", "/c/presse/")
        status = conn.getresponse().status
        conn.close()
    assert status == 502


def test_healthz_through_nginx_answers_within_a_second_while_2000_clients_send_half_requests(world):  # noqa: F811
    """nginx in front holds the slow connections itself (worker_connections, client_header_timeout)."""
    opened: list[socket.socket] = []
    try:
        for _ in range(2000):
            conn = socket.socket()
            opened.append(conn)
            conn.bind(("127.0.0.2", 0))
            conn.connect(("127.0.0.1", world.port))
            conn.sendall(b"GET /c/presse/ HTTP/1.1\r\nHost: gate\r\nX-Slow: ")
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", world.port), timeout=5,
                                          source_address=("127.0.0.3", 0)) as conn:
                started = time.monotonic()
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: gate\r\nConnection: close\r\n\r\n")
                first = conn.recv(64)
                elapsed = time.monotonic() - started
            assert first.startswith(b"HTTP/1.1 200"), first
            assert elapsed < 1.0, f"/healthz through nginx took {elapsed:.2f} s"
    finally:
        for conn in opened:
            conn.close()
