"""A reply through the shipped nginx configuration (deploy/nginx.conf): the longest reply the gate takes
passes nginx's body limit, which stays small everywhere else; what the gate refuses, nginx refuses too."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlencode

import pytest

from gate import replies, tokens
from gate import store as storage
from tests.gatekit import publish_site, write_members
from tests.test_nginx import behind_nginx, front

pytestmark = pytest.mark.nginx

MEMBER = "a.martin@example.org"
CABLE = "2026-BERLIN-0042"
PAGE = f"/replies/energie/2026/{CABLE}.html"


def test_the_longest_reply_passes_nginx_and_an_oversized_one_is_refused(tmp_path):
    store = storage.open_store(tmp_path / "store")
    write_members(store, {"energie": {"title": "Énergie en Europe", "members": {MEMBER: None}}})
    manifest = publish_site(store, "energie", {f"2026/{CABLE}.html": b"<p>cable</p>"}, "r1")
    store.put(manifest.key, dataclasses.replace(manifest, cables=(CABLE,)).to_json(), "application/json")
    tokens.init(tmp_path / "keys")
    gates, server, port = behind_nginx(tmp_path, tmp_path / "store")
    try:
        with server:
            proxied = front(gates[0], port)
            cookie = proxied.session_cookie(MEMBER)
            page = proxied.get(PAGE, cookie=cookie)
            assert page.status == 200
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.body.decode()).group(1)
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}
            longest = "é" * replies.MAX_CHARACTERS  # 8,000 bytes of UTF-8, 24,000 %-encoded
            body = urlencode({"csrf": csrf, "text": longest}).encode()
            assert len(body) > 16 * 1024
            reply = proxied.request("POST", PAGE, body=body, cookie=cookie, headers=headers)
            assert reply.status == 303, (reply.status, reply.body[:300])
            [(key, data)] = list(replies.every_reply(store, "energie"))
            assert replies.reply_at(key, data).text == longest
            too_big = urlencode({"csrf": csrf, "text": "x" * 50_000}).encode()
            assert proxied.request("POST", PAGE, body=too_big, cookie=cookie, headers=headers).status == 413
            # Elsewhere the small limit holds
            assert proxied.request("POST", "/login", body=b"email=" + b"x" * 20_000,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"}).status == 413
    finally:
        for g in gates:
            g.stop()
