"""Gate configuration: https gets HSTS and a Secure __Host- cookie; bad base URLs and limits are refused."""

from __future__ import annotations

import pytest

from gate import store as storage
from gate import tokens
from gate.app import GateConfig
from tests.gatekit import cookie_of, follow_link, gate_in_process, publish_site, write_members


def test_https_gate_sends_hsts_and_a_secure_host_cookie(tmp_path):
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "presse", {"index.html": b"<html>home</html>"}, "r1")
    write_members(store, {"presse": {"members": {"a@press.org": None}}})
    tokens.init(tmp_path / "keys")
    with gate_in_process(tmp_path / "store", tmp_path / "keys", base_url="https://cables.example.org") as gate:
        reply = follow_link(gate, f"/auth?token={gate.invitation('presse', 'a@press.org')}")
        assert reply.status == 303
        assert reply.header("strict-transport-security").startswith("max-age=")
        cookie = reply.header("set-cookie")
        assert cookie.startswith("__Host-diplomatie=") and "; Secure" in cookie and "HttpOnly" in cookie
        page = gate.get("/c/presse/", cookie=cookie_of(reply))
        assert page.status == 200 and page.body == b"<html>home</html>"
        assert page.header("strict-transport-security")
        # the plain-http cookie name is not accepted by an https gate
        plain = gate.get("/c/presse/", cookie="diplomatie=" + cookie_of(reply).split("=", 1)[1])
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


@pytest.mark.parametrize("option, value, message", [
    ("mail_interval", 301, "5 minutes"),
    ("max_body", 0, "at least 1"),
    ("metrics_token", "short", "16 characters"),
])
def test_limits_that_would_break_a_promise_are_refused(tmp_path, option, value, message):
    with pytest.raises(ValueError, match=message):
        GateConfig(store=str(tmp_path), keys=str(tmp_path), base_url="https://cables.example.org", **{option: value})
