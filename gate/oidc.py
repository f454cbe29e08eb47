"""State agents' single sign-on: a small OpenID Connect relying party, free of any web framework.

The gate calls two functions:

- ``start(config, next_path)`` returns the provider's authorization URL to redirect to and the
  ``Set-Cookie`` value that carries this sign-in attempt (``state``, ``nonce``, PKCE verifier, where to
  go afterwards);
- ``finish(config, query_params, cookie_value)`` checks the provider's answer against that cookie,
  exchanges the code (PKCE S256, client secret), verifies the ID token against the provider's JWKS and
  returns the verified e-mail address, or raises ``OIDCError`` with a reason.

Why a sealed cookie instead of a server-side table: several gate processes share nothing but the store,
and a sign-in may start on one and come back on another. The cookie is encrypted and authenticated
(AES-GCM) with a key derived from the client secret, which every gate process of a deployment has; the
browser can neither read the verifier nor forge a state. It lives ten minutes.

The ID token is checked the strict way: algorithm pinned to what the provider advertises among RS256,
ES256 and EdDSA (never ``none`` nor an HMAC keyed with a public key), key picked by ``kid`` from the
provider's JWKS, ``iss`` equal to the configured issuer, ``aud`` containing the client id (and ``azp``
equal to it when there are several audiences), ``exp`` and ``iat`` against ``now`` with a small leeway,
``nonce`` equal to the one sealed in the cookie. The ``email`` claim must be a plain address
(gate/addresses.py) and ``email_verified`` must be present and exactly ``true``.

HTTP calls go through the standard library with a short timeout; they block, so the gate runs
``finish`` (and the first ``start``, which fetches the discovery document) in a worker thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gate.addresses import InvalidAddress, parse_address
from gate.tokens import b64url, time_claims_problem, unb64url

#: Signature algorithms accepted for ID tokens, when the provider advertises them.
ALGORITHMS = ("RS256", "ES256", "EdDSA")
#: Client authentication at the token endpoint (RFC 6749 §2.3.1; Basic is the default of OIDC Core).
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
#: Clock skew tolerated on ``exp`` and ``iat`` (seconds).
LEEWAY = 30
#: How long a sign-in attempt (the cookie) stays valid, in seconds.
ATTEMPT_TTL = 600
#: How long the discovery document and the JWKS are kept before being fetched again, in seconds.
METADATA_TTL = 3600
CALLBACK_PATH = "/oidc/callback"
LOGIN_PATH = "/oidc/login"
#: Answers larger than this are refused (a discovery document or token response is a few KB).
MAX_RESPONSE = 256 * 1024
#: Sealed cookies longer than this are refused before any decryption.
MAX_COOKIE = 2048


class OIDCError(Exception):
    """A sign-in that must not go through; ``reason`` says why (for the log, not for the page)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OIDCConfig:
    """The relying party's settings, from ``--oidc-issuer``, ``--oidc-client-id``, ``--oidc-client-secret``
    and the gate's ``--base-url``."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    secure_cookie: bool = True
    scope: str = "openid email"
    timeout: float = 5.0
    #: How the gate proves itself at the token endpoint: as registered at the provider.
    auth_method: str = "client_secret_basic"

    @classmethod
    def from_options(cls, issuer: str, client_id: str, client_secret: str, base_url: str,
                     auth_method: str = "client_secret_basic") -> OIDCConfig:
        """Build the config the way the gate's command line gives it; the callback is ``<base>/oidc/callback``."""
        if not issuer or not client_id or not client_secret:
            raise ValueError("--oidc-issuer, --oidc-client-id and --oidc-client-secret go together: give all three")
        parts = urllib.parse.urlsplit(issuer)
        local = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise ValueError(f"--oidc-issuer {issuer!r}: the issuer must be an https URL")
        if parts.query or parts.fragment:
            raise ValueError(f"--oidc-issuer {issuer!r}: the issuer URL has no query or fragment")
        if auth_method not in AUTH_METHODS:
            raise ValueError(f"--oidc-auth-method {auth_method!r}: use one of {', '.join(AUTH_METHODS)}")
        base = base_url.rstrip("/")
        return cls(issuer=issuer, client_id=client_id, client_secret=client_secret,
                   redirect_uri=base + CALLBACK_PATH, secure_cookie=base.startswith("https://"),
                   auth_method=auth_method)

    @property
    def cookie_name(self) -> str:
        # __Host-: the browser refuses it unless Secure, Path=/ and no Domain, so no sibling host can set it.
        return "__Host-oidc" if self.secure_cookie else "oidc"


@dataclass(frozen=True)
class SignedIn:
    """What a successful sign-in yields: the verified address and where the agent was going."""

    email: str
    next_path: str


@dataclass(frozen=True)
class _Attempt:
    state: str
    nonce: str
    verifier: str
    next_path: str
    expires: float


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]
    auth_methods: tuple[str, ...]
    iss_parameter: bool


# ------------------------------------------------------------------------------------------ HTTP


def _http(request: urllib.request.Request, timeout: float, what: str) -> tuple[int, Any]:
    """One request, JSON answer; HTTP errors with a JSON body are returned, not raised (token errors are)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (https/http issuer only)
            status, body = response.status, response.read(MAX_RESPONSE + 1)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(MAX_RESPONSE + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise OIDCError(f"{what}: provider unreachable ({exc})") from exc
    if len(body) > MAX_RESPONSE:
        raise OIDCError(f"{what}: answer too large")
    try:
        return status, json.loads(body)
    except ValueError as exc:
        raise OIDCError(f"{what}: answer is not JSON (HTTP {status})") from exc


# ------------------------------------------------------------------------------------ discovery

_lock = threading.Lock()
_metadata: dict[str, tuple[float, ProviderMetadata]] = {}
_jwks: dict[str, jwt.PyJWKClient] = {}


def discover(config: OIDCConfig, *, now: float | None = None) -> ProviderMetadata:
    """The provider's discovery document, fetched once an hour per process; its issuer must be ours."""
    now = time.time() if now is None else now
    with _lock:
        cached = _metadata.get(config.issuer)
    if cached and now - cached[0] < METADATA_TTL:
        return cached[1]
    url = config.issuer.rstrip("/") + "/.well-known/openid-configuration"
    status, doc = _http(urllib.request.Request(url, headers={"accept": "application/json"}),
                        config.timeout, "discovery")
    if status != 200 or not isinstance(doc, dict):
        raise OIDCError(f"discovery: HTTP {status} from {url}")
    if doc.get("issuer") != config.issuer:
        raise OIDCError(f"discovery: the document names issuer {doc.get('issuer')!r}, not {config.issuer!r}")
    try:
        advertised = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata = ProviderMetadata(
            issuer=doc["issuer"],
            authorization_endpoint=_endpoint(doc, "authorization_endpoint"),
            token_endpoint=_endpoint(doc, "token_endpoint"),
            jwks_uri=_endpoint(doc, "jwks_uri"),
            userinfo_endpoint=_endpoint(doc, "userinfo_endpoint") if doc.get("userinfo_endpoint") else None,
            algorithms=tuple(a for a in ALGORITHMS if a in advertised),
            auth_methods=tuple(doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]),
            iss_parameter=bool(doc.get("authorization_response_iss_parameter_supported")),
        )
    except (KeyError, TypeError) as exc:
        raise OIDCError(f"discovery: incomplete document ({exc})") from exc
    if not metadata.algorithms:
        raise OIDCError(f"discovery: the provider signs ID tokens with none of {', '.join(ALGORITHMS)}")
    if "S256" not in (doc.get("code_challenge_methods_supported") or ["S256"]):
        raise OIDCError("discovery: the provider does not support PKCE S256")
    with _lock:
        _metadata[config.issuer] = (now, metadata)
    return metadata


def _endpoint(doc: Mapping[str, Any], name: str) -> str:
    value = doc[name]
    parts = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
        raise OIDCError(f"discovery: {name} is not a URL")
    return value


def _jwks_client(metadata: ProviderMetadata, timeout: float) -> jwt.PyJWKClient:
    with _lock:
        client = _jwks.get(metadata.jwks_uri)
        if client is None:
            # PyJWKClient fetches again when a token names a kid it does not know (key rotation).
            client = jwt.PyJWKClient(metadata.jwks_uri, cache_keys=True, lifespan=METADATA_TTL, timeout=timeout)
            _jwks[metadata.jwks_uri] = client
    return client


# ------------------------------------------------------------------------------- sealed attempt


def _key(config: OIDCConfig) -> bytes:
    info = b"diplomatie oidc attempt\0" + config.issuer.encode() + b"\0" + config.client_id.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(config.client_secret.encode())


def seal(config: OIDCConfig, attempt: _Attempt) -> str:
    """The cookie value for one attempt: AES-GCM under the deployment's derived key."""
    iv = os.urandom(12)
    plain = json.dumps({"s": attempt.state, "n": attempt.nonce, "v": attempt.verifier,
                        "t": attempt.next_path, "e": attempt.expires}, separators=(",", ":")).encode()
    return b64url(iv + AESGCM(_key(config)).encrypt(iv, plain, config.cookie_name.encode()))


def unseal(config: OIDCConfig, value: str | None, *, now: float) -> _Attempt:
    """The attempt sealed in the cookie; anything altered, foreign or expired is refused."""
    if not value:
        raise OIDCError("no sign-in attempt cookie (cookies blocked, or the callback opened twice)")
    if len(value) > MAX_COOKIE:
        raise OIDCError("sign-in attempt cookie too long")
    try:
        raw = unb64url(value)
        plain = AESGCM(_key(config)).decrypt(raw[:12], raw[12:], config.cookie_name.encode())
        data = json.loads(plain)
        attempt = _Attempt(state=data["s"], nonce=data["n"], verifier=data["v"], next_path=data["t"],
                           expires=float(data["e"]))
    except (ValueError, KeyError, TypeError, InvalidTag) as exc:
        raise OIDCError("sign-in attempt cookie altered or from another deployment") from exc
    if attempt.expires < now:
        raise OIDCError("sign-in attempt expired: start again")
    return attempt


def set_cookie(config: OIDCConfig, value: str, max_age: int = ATTEMPT_TTL) -> str:
    """A ``Set-Cookie`` header value; Lax so it comes back on the provider's top-level redirect."""
    secure = "; Secure" if config.secure_cookie else ""
    return f"{config.cookie_name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}"


def clear_cookie(config: OIDCConfig) -> str:
    """The ``Set-Cookie`` value that removes the attempt cookie once the callback is handled."""
    return set_cookie(config, "", max_age=0)


# ------------------------------------------------------------------------------------ the flow


def start(config: OIDCConfig, next_path: str, *, now: float | None = None) -> tuple[str, str]:
    """Begin a sign-in: the authorization URL to redirect to, and the ``Set-Cookie`` value to send with it.

    ``next_path`` must already be a safe relative path (the gate's ``safe_next``); it comes back from
    ``finish`` untouched.
    """
    now = time.time() if now is None else now
    metadata = discover(config, now=now)
    attempt = _Attempt(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                       verifier=secrets.token_urlsafe(48), next_path=next_path, expires=now + ATTEMPT_TTL)
    challenge = b64url(hashlib.sha256(attempt.verifier.encode()).digest())
    query = urllib.parse.urlencode({
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": config.redirect_uri,
        "scope": config.scope,
        "state": attempt.state,
        "nonce": attempt.nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    separator = "&" if urllib.parse.urlsplit(metadata.authorization_endpoint).query else "?"
    return metadata.authorization_endpoint + separator + query, set_cookie(config, seal(config, attempt))


def finish(config: OIDCConfig, query_params: Mapping[str, str], cookie_value: str | None, *,
           now: float | None = None) -> SignedIn:
    """Complete a sign-in from the callback's query and the attempt cookie; raises ``OIDCError``."""
    now = time.time() if now is None else now
    if "error" in query_params:
        raise OIDCError(f"provider answered {query_params['error']!r}: {query_params.get('error_description', '')}")
    attempt = unseal(config, cookie_value, now=now)
    if not hmac.compare_digest(str(query_params.get("state", "")).encode(), attempt.state.encode()):
        raise OIDCError("state does not match this browser's sign-in attempt")
    metadata = discover(config, now=now)
    # RFC 9207: the issuer in the answer defeats mix-up between providers.
    answered_iss = "iss" in query_params or metadata.iss_parameter
    if answered_iss and query_params.get("iss") != metadata.issuer:
        raise OIDCError(f"authorization answer from issuer {query_params.get('iss')!r}, not {metadata.issuer!r}")
    code = query_params.get("code")
    if not code:
        raise OIDCError("no authorization code in the callback")
    tokens = _exchange(config, metadata, code, attempt.verifier)
    claims = verify_id_token(config, metadata, tokens.get("id_token"), nonce=attempt.nonce, now=now)
    if "email" not in claims and metadata.userinfo_endpoint and isinstance(tokens.get("access_token"), str):
        claims = {**_userinfo(config, metadata, tokens["access_token"], claims["sub"]), **claims}
    return SignedIn(email=_email(claims), next_path=attempt.next_path)


def _exchange(config: OIDCConfig, metadata: ProviderMetadata, code: str, verifier: str) -> dict[str, Any]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": config.redirect_uri,
            "code_verifier": verifier}
    headers = {"accept": "application/json", "content-type": "application/x-www-form-urlencoded"}
    if config.auth_method not in metadata.auth_methods:
        raise OIDCError(f"token exchange: the provider does not accept {config.auth_method}")
    if config.auth_method == "client_secret_basic":
        # RFC 6749 §2.3.1: each part is form-encoded before the Basic encoding.
        pair = f"{urllib.parse.quote_plus(config.client_id)}:{urllib.parse.quote_plus(config.client_secret)}"
        headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form |= {"client_id": config.client_id, "client_secret": config.client_secret}
    request = urllib.request.Request(metadata.token_endpoint, data=urllib.parse.urlencode(form).encode(),
                                     headers=headers, method="POST")
    status, answer = _http(request, config.timeout, "token exchange")
    if status != 200 or not isinstance(answer, dict):
        error = answer.get("error") if isinstance(answer, dict) else None
        raise OIDCError(f"token exchange refused (HTTP {status}, {error or 'no error code'})")
    return answer


def verify_id_token(config: OIDCConfig, metadata: ProviderMetadata, id_token: Any, *, nonce: str,
                    now: float) -> dict[str, Any]:
    """The ID token's claims once signature, issuer, audience, times and nonce all hold."""
    if not isinstance(id_token, str) or not id_token:
        raise OIDCError("no ID token in the token response")
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as exc:
        raise OIDCError(f"ID token unreadable ({exc})") from exc
    alg = header.get("alg")
    if alg not in metadata.algorithms:
        raise OIDCError(f"ID token signed with {alg!r}; accepted: {', '.join(metadata.algorithms)}")
    try:
        key = _jwks_client(metadata, config.timeout).get_signing_key_from_jwt(id_token)
        claims = jwt.decode(
            id_token, key.key, algorithms=[alg], audience=config.client_id, issuer=metadata.issuer,
            options={"require": ["iss", "aud", "sub", "exp", "iat", "nonce"],
                     "verify_exp": False, "verify_iat": False, "verify_nbf": False},  # checked against now
        )
    except jwt.PyJWKClientError as exc:
        raise OIDCError(f"ID token key not found in the provider's JWKS ({exc})") from exc
    except jwt.PyJWTError as exc:
        raise OIDCError(f"ID token refused ({exc})") from exc
    problem = time_claims_problem(claims, now, leeway=LEEWAY, required=("exp", "iat"), whole_seconds=False)
    if problem is not None:
        raise OIDCError(f"ID token {problem}")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != config.client_id:
        raise OIDCError("ID token has several audiences and another authorised party")
    if not isinstance(claims["nonce"], str) or not hmac.compare_digest(claims["nonce"].encode(), nonce.encode()):
        raise OIDCError("ID token nonce does not match this sign-in attempt")
    return claims


def _userinfo(config: OIDCConfig, metadata: ProviderMetadata, access_token: str, sub: str) -> dict[str, Any]:
    """Claims from the userinfo endpoint, for providers that keep the e-mail out of the ID token."""
    assert metadata.userinfo_endpoint
    request = urllib.request.Request(metadata.userinfo_endpoint, headers={
        "authorization": f"Bearer {access_token}", "accept": "application/json"})
    status, info = _http(request, config.timeout, "userinfo")
    if status != 200 or not isinstance(info, dict):
        raise OIDCError(f"userinfo refused (HTTP {status})")
    if info.get("sub") != sub:
        raise OIDCError("userinfo names another subject than the ID token")
    return info


def _email(claims: Mapping[str, Any]) -> str:
    """The canonical address of a verified ``email`` claim (gate/addresses.py), or :class:`OIDCError`.

    ``email_verified`` must be exactly ``true``: a provider that lets users type any address without
    proving it (or says nothing) would let anyone claim a ministry address.
    """
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise OIDCError("the provider gave no e-mail address (is the 'email' scope allowed for this client?)")
    if claims.get("email_verified") is not True:
        raise OIDCError("the provider has not verified this e-mail address (email_verified is not true)")
    try:
        # The one grammar: case and IDNA normalised, and nothing that reads as another mailbox
        # (a second @, a comment, an encoded word).
        return parse_address(email)
    except InvalidAddress as exc:
        raise OIDCError(f"the provider's e-mail claim {email!r} is not a plain address ({exc})") from None
