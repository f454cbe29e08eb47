"""Agents' single sign-on against a real OpenID provider (the npm package `oidc-provider`, started here).

Each provider listens on 127.0.0.1 on a free port with one confidential client (PKCE required) and one
static account; its interaction page signs that account in at once, so the whole authorization code
flow runs over plain HTTP: ``oidc.start`` → provider → callback URL → ``oidc.finish``.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from gate import oidc
from gate.http import cookie_value as cookie_in_header

PROVIDER_DIR = Path(__file__).parent / "oidcprovider"
BASE_URL = "http://127.0.0.1:9"  # the gate's base URL: never contacted, the test reads the callback itself
CLIENT_ID = "diplomatie-gate"
CLIENT_SECRET = "a-client-secret-for-tests-only"
EMAIL = "agent@diplomatie.gouv.example"
PROVIDER_EMAIL = "Agent@Diplomatie.gouv.example"  # as typed at the provider; the gate compares lower case

@dataclasses.dataclass
class Provider:
    issuer: str
    process: subprocess.Popen[str]

    def config(self, *, secret: str = CLIENT_SECRET) -> oidc.OIDCConfig:
        return oidc.OIDCConfig.from_options(self.issuer, CLIENT_ID, secret, BASE_URL)


@pytest.fixture(scope="module")
def provider_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    subprocess.run(["bash", str(PROVIDER_DIR.parent.parent / "tools" / "npm-ci.sh"), str(PROVIDER_DIR)], check=True)
    started: list[Provider] = []

    def launch(**options: object) -> Provider:
        cfg = {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "email": PROVIDER_EMAIL,
               "redirectUri": BASE_URL + oidc.CALLBACK_PATH, "idTokenTtl": 60, **options}
        log = workdir / f"provider-{len(started)}.log"
        process = subprocess.Popen(["node", "provider.js"], cwd=PROVIDER_DIR, text=True,
                                   stdout=subprocess.PIPE, stderr=log.open("w"),
                                   env={"PATH": "/usr/bin:/bin", "OIDC_TEST_CONFIG": json.dumps(cfg)})
        line = process.stdout.readline() if process.stdout else ""
        if not line:
            process.kill()
            process.wait()
            raise RuntimeError(f"the OpenID provider did not start:\n{log.read_text()}")
        provider = Provider(issuer=json.loads(line)["issuer"], process=process)
        started.append(provider)
        return provider

    workdir = tmp_path_factory.mktemp("oidc")
    launch.keys = workdir / "shared-jwks.json"  # type: ignore[attr-defined]
    yield launch
    for provider in started:
        provider.process.terminate()
    for provider in started:
        provider.process.wait(timeout=10)


@pytest.fixture(scope="module")
def provider(provider_factory) -> Provider:
    return provider_factory(jwksFile=str(provider_factory.keys))


def log_in(authorization_url: str, redirect_uri: str = BASE_URL + oidc.CALLBACK_PATH) -> dict[str, str]:
    """Follow the provider's redirects as a browser would, up to the callback; return its query."""
    with httpx.Client(timeout=10) as browser:
        url = authorization_url
        for _ in range(10):
            answer = browser.get(url)
            location = answer.headers.get("location")
            assert answer.is_redirect and location, f"provider stopped at {url}: {answer.status_code} {answer.text[:300]}"
            url = str(answer.url.join(location))
            if url.startswith(redirect_uri + "?"):
                return dict(parse_qsl(urlsplit(url).query))
    raise AssertionError("too many redirects")


def cookie_value(set_cookie: str) -> str:
    """What the browser sends back for this ``Set-Cookie``, read the way the gate reads it."""
    name, _, rest = set_cookie.partition("=")
    return cookie_in_header(f"diplomatie=abc; {name}={rest.split(';', 1)[0]}; other=1", name) or ""


def begin(config: oidc.OIDCConfig, next_path: str = "/c/eu/") -> tuple[str, str]:
    url, set_cookie = oidc.start(config, next_path)
    return url, cookie_value(set_cookie)


def test_agent_signs_in_and_gets_verified_email_and_next_path(provider: Provider) -> None:
    config = provider.config()
    url, set_cookie = oidc.start(config, "/c/eu/cables/")
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Max-Age=600" in set_cookie
    query = urlsplit(url).query
    params = dict(parse_qsl(query))
    assert params["code_challenge_method"] == "S256" and params["state"] and params["nonce"]
    assert params["state"] not in set_cookie and params["nonce"] not in set_cookie  # sealed, not readable
    callback = log_in(url)
    signed_in = oidc.finish(config, callback, cookie_value(set_cookie))
    assert signed_in == oidc.SignedIn(email=EMAIL, next_path="/c/eu/cables/")


def test_sign_in_started_on_one_gate_process_finishes_on_another(provider: Provider) -> None:
    """Nothing is kept in memory between start and finish: another process, same settings, finishes."""
    url, cookie = begin(provider.config())
    callback = log_in(url)
    script = ("import json, sys; from gate import oidc; a = json.load(sys.stdin); "
              "c = oidc.OIDCConfig.from_options(a['issuer'], a['id'], a['secret'], a['base']); "
              "print(oidc.finish(c, a['query'], a['cookie']).email)")
    other_process = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(__file__).parent.parent, capture_output=True, text=True,
        input=json.dumps({"issuer": provider.issuer, "id": CLIENT_ID, "secret": CLIENT_SECRET, "base": BASE_URL,
                          "query": callback, "cookie": cookie}), check=True)
    assert other_process.stdout.strip() == EMAIL


def test_wrong_state_is_refused(provider: Provider) -> None:
    config = provider.config()
    url, cookie = begin(config)
    callback = log_in(url)
    with pytest.raises(oidc.OIDCError, match="state"):
        oidc.finish(config, {**callback, "state": callback["state"][:-2] + "xy"}, cookie)


def test_callback_with_another_attempts_cookie_is_refused(provider: Provider) -> None:
    config = provider.config()
    url, _ = begin(config)
    _, other_cookie = begin(config)
    with pytest.raises(oidc.OIDCError, match="state"):
        oidc.finish(config, log_in(url), other_cookie)


def test_missing_or_tampered_cookie_is_refused(provider: Provider) -> None:
    config = provider.config()
    url, cookie = begin(config)
    callback = log_in(url)
    with pytest.raises(oidc.OIDCError, match="no sign-in attempt cookie"):
        oidc.finish(config, callback, None)
    tampered = cookie[:20] + ("A" if cookie[20] != "A" else "B") + cookie[21:]
    with pytest.raises(oidc.OIDCError, match="altered"):
        oidc.finish(config, callback, tampered)
    # Sealed under another client secret: another deployment's cookie is worthless here.
    with pytest.raises(oidc.OIDCError, match="altered"):
        oidc.finish(config, callback, begin(provider.config(secret="another-secret"))[1])


def test_replayed_code_is_refused_by_the_provider(provider: Provider) -> None:
    config = provider.config()
    url, cookie = begin(config)
    callback = log_in(url)
    assert oidc.finish(config, callback, cookie).email == EMAIL
    with pytest.raises(oidc.OIDCError, match="invalid_grant"):
        oidc.finish(config, callback, cookie)


def test_wrong_nonce_is_refused(provider: Provider) -> None:
    config = provider.config()
    url, cookie = begin(config)
    callback = log_in(url)
    attempt = oidc.unseal(config, cookie, now=time.time())
    forged = oidc.seal(config, dataclasses.replace(attempt, nonce="a-nonce-this-browser-never-sent"))
    with pytest.raises(oidc.OIDCError, match="nonce"):
        oidc.finish(config, callback, forged)


def test_expired_id_token_is_refused(provider: Provider) -> None:
    config = provider.config()
    url, cookie = begin(config)
    callback = log_in(url)
    # The provider's ID tokens live 60 s; the attempt cookie lives 600 s: at +200 s only the token is stale.
    with pytest.raises(oidc.OIDCError, match="ID token expired"):
        oidc.finish(config, callback, cookie, now=time.time() + 200)


def test_authorization_answer_from_another_issuer_is_refused(provider: Provider, provider_factory) -> None:
    """Mix-up: the browser is sent to another provider with our state; its answer names its own issuer."""
    other = provider_factory(jwksFile=str(provider_factory.keys))
    config = provider.config()
    url, cookie = begin(config)
    other_auth = oidc.discover(other.config()).authorization_endpoint
    callback = log_in(other_auth + "?" + urlsplit(url).query)
    assert callback["iss"] == other.issuer
    with pytest.raises(oidc.OIDCError, match="issuer"):
        oidc.finish(config, callback, cookie)


def test_id_token_from_another_issuer_is_refused_even_with_the_same_keys(provider: Provider,
                                                                         provider_factory) -> None:
    other = provider_factory(jwksFile=str(provider_factory.keys))
    other_config = provider.config().__class__.from_options(other.issuer, CLIENT_ID, CLIENT_SECRET, BASE_URL)
    url, cookie = begin(other_config)
    attempt = oidc.unseal(other_config, cookie, now=time.time())
    callback = log_in(url)
    other_metadata = oidc.discover(other_config)
    answer = oidc._exchange(other_config, other_metadata, callback["code"], attempt.verifier)
    # Genuine for its own issuer...
    assert oidc.verify_id_token(other_config, other_metadata, answer["id_token"], nonce=attempt.nonce,
                                now=time.time())["iss"] == other.issuer
    # ...refused by ours, although the signature verifies against our JWKS.
    config = provider.config()
    with pytest.raises(oidc.OIDCError, match="iss"):
        oidc.verify_id_token(config, oidc.discover(config), answer["id_token"], nonce=attempt.nonce,
                             now=time.time())


def test_id_token_signed_with_unknown_key_is_refused(provider: Provider, provider_factory,
                                                     tmp_path: Path) -> None:
    stranger = provider_factory(jwksFile=str(tmp_path / "own-keys.json"))
    stranger_config = oidc.OIDCConfig.from_options(stranger.issuer, CLIENT_ID, CLIENT_SECRET, BASE_URL)
    url, cookie = begin(stranger_config)
    attempt = oidc.unseal(stranger_config, cookie, now=time.time())
    callback = log_in(url)
    answer = oidc._exchange(stranger_config, oidc.discover(stranger_config), callback["code"], attempt.verifier)
    config = provider.config()
    with pytest.raises(oidc.OIDCError, match="JWKS|key"):
        oidc.verify_id_token(config, oidc.discover(config), answer["id_token"], nonce=attempt.nonce,
                             now=time.time())


def test_email_from_userinfo_when_the_id_token_has_none(provider_factory) -> None:
    lean = provider_factory(idTokenClaims=False)
    config = lean.config()
    url, cookie = begin(config)
    assert oidc.finish(config, log_in(url), cookie).email == EMAIL


def test_client_secret_post_when_registered_so(provider_factory) -> None:
    """The secret sent in the form body is accepted (oidc-provider also takes Basic from such a client)."""
    posting = provider_factory(authMethod="client_secret_post")
    config = oidc.OIDCConfig.from_options(posting.issuer, CLIENT_ID, CLIENT_SECRET, BASE_URL,
                                          auth_method="client_secret_post")
    url, cookie = begin(config)
    assert oidc.finish(config, log_in(url), cookie).email == EMAIL


def test_wrong_client_secret_is_refused_by_the_provider(provider: Provider) -> None:
    config = provider.config(secret="not-the-registered-secret")
    url, cookie = begin(config)
    with pytest.raises(oidc.OIDCError, match="invalid_client"):
        oidc.finish(config, log_in(url), cookie)


def test_unverified_email_is_refused(provider_factory) -> None:
    unverified = provider_factory(emailVerified=False)
    config = unverified.config()
    url, cookie = begin(config)
    with pytest.raises(oidc.OIDCError, match="not verified"):
        oidc.finish(config, log_in(url), cookie)


def test_provider_error_in_callback_is_refused(provider: Provider) -> None:
    config = provider.config()
    _, cookie = begin(config)
    with pytest.raises(oidc.OIDCError, match="access_denied"):
        oidc.finish(config, {"error": "access_denied", "state": "x"}, cookie)


def test_unreachable_provider_is_a_clear_error(tmp_path: Path) -> None:
    from tests.gatekit import refusing_port

    with refusing_port() as port:
        config = oidc.OIDCConfig.from_options(f"http://127.0.0.1:{port}", CLIENT_ID, CLIENT_SECRET, BASE_URL)
        with pytest.raises(oidc.OIDCError, match="unreachable"):
            oidc.start(config, "/")


def test_config_from_gate_options() -> None:
    config = oidc.OIDCConfig.from_options("https://sso.example.org/realms/mae", "gate", "s", "https://cables.example.org/")
    assert config.redirect_uri == "https://cables.example.org/oidc/callback"
    assert config.secure_cookie and config.cookie_name == "__Host-oidc"
    assert "; Secure" in oidc.set_cookie(config, "v")
    with pytest.raises(ValueError, match="https"):
        oidc.OIDCConfig.from_options("http://sso.example.org", "gate", "s", "https://cables.example.org")
    with pytest.raises(ValueError, match="auth-method"):
        oidc.OIDCConfig.from_options("https://sso.example.org", "gate", "s", "https://cables.example.org",
                                     auth_method="private_key_jwt")
    with pytest.raises(ValueError, match="all three"):
        oidc.OIDCConfig.from_options("https://sso.example.org", "gate", "", "https://cables.example.org")
