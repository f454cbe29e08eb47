"""Agents' single sign-on through the gate itself: /oidc/login → real OpenID provider → /oidc/callback.

The provider is the real `oidc-provider` of tests/test_oidc.py (its fixtures are imported); the gate is
a real process whose base URL is the one the provider's client is registered with. The agent's e-mail
counts like any member address: here through the presse community's `domains`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from gate import oidc, tokens
from gate import store as storage
from tests.gatekit import cookie_of, publish_site, running_gate, wait_for, write_members
from tests.test_gate import marker, site
from tests.test_oidc import BASE_URL, CLIENT_ID, CLIENT_SECRET, log_in, provider, provider_factory  # noqa: F401


@pytest.fixture(scope="module")
def sso_gate(tmp_path_factory, provider):  # noqa: F811 - the imported fixture
    base = tmp_path_factory.mktemp("gate-oidc")
    store = storage.open_store(base / "store")
    for community in ("presse", "business"):
        publish_site(store, community, site(community), "r1")
    write_members(store, {"presse": {"members": {"a@press.org": None}, "domains": ["diplomatie.gouv.example"]},
                          "business": {"members": {"b@biz.org": None}}})
    tokens.init(base / "keys")
    with running_gate(base / "store", base / "keys", base_url=BASE_URL,
                      extra=("--oidc-issuer", provider.issuer, "--oidc-client-id", CLIENT_ID),
                      env={"DIPLOMATIE_OIDC_CLIENT_SECRET": CLIENT_SECRET}) as gate:
        yield gate


def start(gate, next_path: str = "/c/presse/2026/2026-BERLIN-0042/") -> tuple[str, str]:
    """GET /oidc/login: the provider's authorization URL and the attempt cookie (name=value)."""
    reply = gate.get(f"/oidc/login?next={next_path}")
    assert reply.status == 302, reply.body[:300]
    assert reply.header("location").startswith(urlsplit(reply.header("location")).scheme + "://127.0.0.1")
    return reply.header("location"), cookie_of(reply)


def callback(gate, query: dict[str, str], attempt: str):
    return gate.get(f"{oidc.CALLBACK_PATH}?{urlencode(query)}", cookie=attempt)


def test_agent_signs_in_through_the_provider_and_reads_the_community(sso_gate):
    assert b"/oidc/login" in sso_gate.get("/login").body
    url, attempt = start(sso_gate)
    assert dict(parse_qsl(urlsplit(url).query))["code_challenge_method"] == "S256"
    answer = log_in(url)
    reply = callback(sso_gate, answer, attempt)
    assert reply.status == 302 and reply.header("location") == "/c/presse/2026/2026-BERLIN-0042/"
    session = [c for c in reply.headers["set-cookie"].split(", ") if c.startswith("diplomatie=")]
    assert session and "HttpOnly" in reply.headers["set-cookie"]
    cookie = session[0].split(";", 1)[0]
    page = sso_gate.get("/c/presse/2026/2026-BERLIN-0042/", cookie=cookie)
    assert page.status == 200 and marker("presse") in page.body
    assert sso_gate.get("/c/business/", cookie=cookie).status == 403  # an agent of another ministry's domain
    # the same answer again: the provider refuses a replayed code, the gate gives no session
    again = callback(sso_gate, answer, attempt)
    assert again.status == 400 and "diplomatie=" not in (again.header("set-cookie") or "")


def test_wrong_state_is_refused_by_the_gate(sso_gate):
    url, attempt = start(sso_gate)
    answer = log_in(url)
    reply = callback(sso_gate, {**answer, "state": answer["state"][:-2] + "xy"}, attempt)
    assert reply.status == 400 and "diplomatie=" not in (reply.header("set-cookie") or "")
    assert b"CONTENT-OF" not in reply.body


def test_callback_without_the_attempt_cookie_is_refused(sso_gate):
    url, _ = start(sso_gate)
    reply = callback(sso_gate, log_in(url), "")
    assert reply.status == 400 and "diplomatie=" not in (reply.header("set-cookie") or "")


def test_answer_from_another_issuer_is_refused(sso_gate, provider_factory):  # noqa: F811
    """The gate's own request (state, nonce, PKCE) sent to another provider: its answer is refused."""
    other = provider_factory()
    endpoint = oidc.discover(oidc.OIDCConfig.from_options(other.issuer, CLIENT_ID, CLIENT_SECRET, BASE_URL))
    url, attempt = start(sso_gate)
    answer = log_in(endpoint.authorization_endpoint + "?" + urlsplit(url).query)
    reply = callback(sso_gate, answer, attempt)
    assert reply.status == 400 and "diplomatie=" not in (reply.header("set-cookie") or "")
    assert wait_for(lambda: "issuer" in sso_gate.log.read_text().split("single sign-on refused")[-1])


def test_open_redirect_in_next_is_dropped(sso_gate):
    url, attempt = start(sso_gate, next_path="//evil.example/")
    reply = callback(sso_gate, log_in(url), attempt)
    assert reply.status == 302 and reply.header("location") == "/"


def test_sso_routes_do_not_exist_without_configuration(tmp_path):
    store = storage.open_store(tmp_path / "store")
    write_members(store, {"presse": {"members": {"a@press.org": None}}})
    tokens.init(tmp_path / "keys")
    with running_gate(tmp_path / "store", tmp_path / "keys") as gate:
        assert gate.get("/oidc/login").status == 404
        assert gate.get("/oidc/callback?code=x&state=y").status == 404
        assert b"/oidc/login" not in gate.get("/login").body
