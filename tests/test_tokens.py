"""The token contract: keys on disk, issue/verify per kind, hostile tokens, rotation with grace."""

from __future__ import annotations

import json
import stat

import pytest

from gate import tokens
from tests import tokenforge as forge

ISS = "https://cables.example.org"
NOW = 1_800_000_000.0


def verify(ring, token, typ=tokens.SESSION, now=NOW, issuer=ISS, audience=ISS):
    return tokens.verify(ring, token, typ=typ, issuer=issuer, audience=audience, now=now)


def issue(ring, typ=tokens.SESSION, sub="a.martin@example.org", now=NOW, ttl=600, **kw):
    return tokens.issue(ring, typ, sub, issuer=ISS, audience=ISS, ttl=ttl, now=now, **kw)


@pytest.fixture()
def ring(tmp_path):
    return tokens.init(tmp_path / "keys", now=NOW)


def test_init_writes_private_set_0600_and_public_jwks_without_secrets(tmp_path):
    ring = tokens.init(tmp_path / "keys", now=NOW)
    private = tmp_path / "keys" / tokens.PRIVATE_FILE
    public = tmp_path / "keys" / tokens.PUBLIC_FILE
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    jwks = json.loads(public.read_text())
    assert [k["kid"] for k in jwks["keys"]] == [ring.current]
    assert jwks["keys"][0]["alg"] == "EdDSA" and jwks["keys"][0]["crv"] == "Ed25519"
    assert "d" not in jwks["keys"][0]
    assert tokens.thumbprint(jwks["keys"][0]) == ring.current
    assert tokens.load(tmp_path / "keys").current == ring.current


def test_init_refuses_to_overwrite_existing_keys(tmp_path):
    tokens.init(tmp_path / "keys", now=NOW)
    with pytest.raises(tokens.KeysError, match="already exists"):
        tokens.init(tmp_path / "keys", now=NOW)


def test_load_reports_missing_and_corrupt_key_sets(tmp_path):
    with pytest.raises(tokens.KeysError, match="keys init"):
        tokens.load(tmp_path)
    (tmp_path / tokens.PRIVATE_FILE).write_text("{not json")
    with pytest.raises(tokens.KeysError, match="cannot read"):
        tokens.load(tmp_path)


@pytest.mark.parametrize("typ", tokens.KINDS)
def test_each_kind_round_trips_and_is_refused_as_any_other_kind(ring, typ):
    token = issue(ring, typ, sub="A.Martin@Example.org", community="presse")
    claims = verify(ring, token, typ=typ)
    assert claims.sub == "a.martin@example.org" and claims.typ == typ and claims.community == "presse"
    for other in tokens.KINDS:
        if other != typ:
            with pytest.raises(tokens.TokenError, match="is not a"):
                verify(ring, token, typ=other)


def test_invitation_must_name_its_community(ring):
    with pytest.raises(ValueError):
        issue(ring, tokens.INVITATION)
    payload = forge.claims(tokens.INVITATION, "a@x.org", issuer=ISS, now=NOW)
    token = forge.with_header(ring, payload, {"alg": "EdDSA", "kid": ring.current, "typ": "JWT"})
    with pytest.raises(tokens.TokenError, match="without community"):
        verify(ring, token, typ=tokens.INVITATION)


def hostile_tokens(ring):
    good = issue(ring)
    payload = forge.claims(tokens.SESSION, "a.martin@example.org", issuer=ISS, now=NOW)
    header = {"alg": "EdDSA", "kid": ring.current, "typ": "JWT"}
    return {
        "alg none": forge.alg_none(payload, ring.current),
        "HS256 keyed with the public key": forge.hs256_with_public_key(payload, ring),
        "unknown kid": forge.with_header(ring, payload, {**header, "kid": "nope"}),
        "no kid": forge.with_header(ring, payload, {"alg": "EdDSA", "typ": "JWT"}),
        "embedded jwk header": forge.with_header(ring, payload, {**header, "jwk": ring.jwks()["keys"][0]}),
        "signed by a stranger under our kid": forge.signed_by_stranger(payload, ring.current),
        "tampered subject": forge.tampered(good, sub="boss@example.org"),
        "tampered expiry": forge.tampered(good, exp=int(NOW) + 10**6),
        "expired": issue(ring, now=NOW - 3600, ttl=600),
        "not yet valid": forge.with_header(ring, {**payload, "nbf": int(NOW) + 3600}, header),
        "issued in the future": forge.with_header(ring, {**payload, "iat": int(NOW) + 3600}, header),
        "wrong issuer": forge.with_header(ring, {**payload, "iss": "https://evil.example"}, header),
        "wrong audience": forge.with_header(ring, {**payload, "aud": "https://evil.example"}, header),
        "missing jti": forge.with_header(ring, {k: v for k, v in payload.items() if k != "jti"}, header),
        "string exp": forge.with_header(ring, {**payload, "exp": str(int(NOW) + 600)}, header),
        "truncated": good[:-5],
        "garbage": "not.a.token",
        "empty": "",
        "oversized": good + "A" * tokens.MAX_TOKEN_LENGTH,
    }


def test_hostile_tokens_are_refused(ring):
    for name, token in hostile_tokens(ring).items():
        with pytest.raises(tokens.TokenError):
            verify(ring, token)
            pytest.fail(f"accepted: {name}")


def test_leeway_tolerates_small_clock_skew_only(ring):
    token = issue(ring, now=NOW + 10)  # issued by a gate whose clock is 10 s ahead
    assert verify(ring, token, now=NOW).sub
    token = issue(ring, now=NOW, ttl=60)
    assert verify(ring, token, now=NOW + 60 + tokens.LEEWAY - 1)
    with pytest.raises(tokens.TokenError, match="expired"):
        verify(ring, token, now=NOW + 60 + tokens.LEEWAY)


def test_rotation_keeps_previous_key_during_grace_then_drops_it(tmp_path):
    keys = tmp_path / "keys"
    first = tokens.init(keys, now=NOW)
    old_token = issue(first, ttl=30 * 86400)
    second = tokens.rotate(keys, now=NOW + 100, grace=7 * 86400)
    assert second.current != first.current
    new_token = issue(second, now=NOW + 100, ttl=30 * 86400)
    reloaded = tokens.load(keys)
    # during the grace period: both verify; both are published
    assert verify(reloaded, old_token, now=NOW + 86400).kid == first.current
    assert verify(reloaded, new_token, now=NOW + 86400).kid == second.current
    assert {k["kid"] for k in reloaded.jwks(NOW + 86400)["keys"]} == {first.current, second.current}
    # after it: the old key no longer verifies and is no longer published
    after = NOW + 100 + 7 * 86400
    with pytest.raises(tokens.TokenError, match="retired"):
        verify(reloaded, old_token, now=after)
    assert verify(reloaded, issue(second, now=after), now=after)
    assert [k["kid"] for k in reloaded.jwks(after)["keys"]] == [second.current]
    # the next rotation drops it from the files altogether
    third = tokens.rotate(keys, now=after + 1)
    assert first.current not in third.keys and second.current in third.keys


def test_parse_duration():
    assert tokens.parse_duration("7d") == 7 * 86400
    assert tokens.parse_duration("15m") == 900
    assert tokens.parse_duration("8h") == 8 * 3600
    assert tokens.parse_duration("90") == 90
    for bad in ("", "0d", "-1h", "7x", "d"):
        with pytest.raises(ValueError):
            tokens.parse_duration(bad)


def test_an_unsubscribe_token_names_its_community_and_is_no_other_kind(tmp_path):
    """The alerts' one-click unsubscribe (docs/tokens.md): scoped to one member and one community."""
    ring = tokens.init(tmp_path / "unsubscribe-keys", 1_000_000)
    with pytest.raises(ValueError):
        tokens.issue(ring, tokens.UNSUBSCRIBE, "a@example.org", issuer=ISS, audience=ISS, ttl=60, now=1_000_000)
    token = tokens.issue(ring, tokens.UNSUBSCRIBE, "A@Example.org", issuer=ISS, audience=ISS,
                         ttl=tokens.UNSUBSCRIBE_TTL, now=1_000_000, community="energie")
    claims = tokens.verify(ring, token, typ=tokens.UNSUBSCRIBE, issuer=ISS, audience=ISS, now=1_000_000 + 86400 * 300)
    assert (claims.sub, claims.community) == ("a@example.org", "energie")
    for kind in (tokens.SESSION, tokens.MAGIC, tokens.INVITATION):
        with pytest.raises(tokens.TokenError):
            tokens.verify(ring, token, typ=kind, issuer=ISS, audience=ISS, now=1_000_000)
