"""Gate configuration: https gets HSTS and a Secure __Host- cookie; bad base URLs are refused."""

from __future__ import annotations

import asyncio
import io

import pytest

from gate import store as storage
from gate import tokens
from gate.app import Gate, GateConfig, Request
from tests.gatekit import publish_site, write_members


def call(gate: Gate, method: str, path: str, headers: dict[str, str] | None = None):
    async def run():
        return await gate.handle(Request(method, path.partition("?")[0], path.partition("?")[2],
                                         (headers or {}).get, ("127.0.0.1", 1), None))
    return asyncio.run(run())


def test_https_gate_sends_hsts_and_a_secure_host_cookie(tmp_path):
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "presse", {"index.html": b"<html>home</html>"}, "r1")
    write_members(store, {"presse": {"members": {"a@press.org": None}}})
    ring = tokens.init(tmp_path / "keys")
    base = "https://cables.example.org"
    gate = Gate(GateConfig(store=str(tmp_path / "store"), keys=str(tmp_path / "keys"), base_url=base),
                log_stream=io.StringIO())
    token = tokens.issue(ring, tokens.INVITATION, "a@press.org", issuer=base, audience=base, ttl=600,
                         community="presse")
    reply = call(gate, "GET", f"/auth?token={token}")
    headers = dict(reply.headers)
    assert reply.status == 302
    assert headers["strict-transport-security"].startswith("max-age=")
    cookie = headers["set-cookie"]
    assert cookie.startswith("__Host-diplomatie=") and "; Secure" in cookie and "HttpOnly" in cookie
    page = call(gate, "GET", "/c/presse/", {"cookie": cookie.split(";", 1)[0]})
    assert page.status == 200 and page.body == b"<html>home</html>"
    assert "strict-transport-security" in dict(page.headers)
    # the plain-http cookie name is not accepted by an https gate
    plain = call(gate, "GET", "/c/presse/", {"cookie": "diplomatie=" + cookie.split(";", 1)[0].split("=", 1)[1]})
    assert plain.status == 302


@pytest.mark.parametrize("base_url, insecure_dev, message", [
    ("http://cables.example.org", False, "https"),
    ("http://cables.example.org", True, "localhost"),
    ("https://cables.example.org/sub", False, "scheme and host only"),
    ("cables.example.org", False, "scheme and host only"),
])
def test_bad_base_urls_are_refused(tmp_path, base_url, insecure_dev, message):
    with pytest.raises(ValueError, match=message):
        GateConfig(store=str(tmp_path), keys=str(tmp_path), base_url=base_url, insecure_dev=insecure_dev)
