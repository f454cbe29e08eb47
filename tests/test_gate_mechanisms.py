"""One helper per mechanism, and one membership rule: what each promises, checked on generated inputs.

- cookies: ``gate.http.cookie_value`` (sessions, link confirmation, single sign-on attempt);
- base64url: ``gate.tokens.b64url`` / ``unb64url`` (thumbprints, PKCE, sealed cookies);
- JWT time claims: ``gate.tokens.time_claims_problem`` (our tokens and a provider's ID tokens);
- UTC text: ``gate.store.utc_text`` / ``parse_utc_text`` (store records, key dates, the log);
- the membership rule: ``gate.membership.admits``, which the gate's snapshot and the pipeline's
  ``communities.yaml`` model both apply (the pipeline computes who gets mail and who is invited with it;
  the gate lets people in with it: they must agree on every input);
- the outbox, given its collaborators (no whole gate): a member gets the link, nobody else does, and an
  unreadable membership sends nothing.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate import tokens
from gate.addresses import InvalidAddress, is_canonical, parse_address
from gate.http import cookie_value
from gate.logs import Log
from gate.mail import Mailer, SmtpSettings
from gate.membership import CommunityAccess, admits, is_current
from gate.outbox import Outbox
from gate.store import parse_utc_text, utc_text
from pipeline.communities import Community, Member, Selection

FAST = settings(max_examples=150, deadline=None, derandomize=True)

# -- cookies ---------------------------------------------------------------------------------------

NAMES = st.sampled_from(["diplomatie", "diplomatie-confirm", "__Host-diplomatie", "oidc", "x-diplomatie", "other"])
VALUES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789-_.=", max_size=12)


@FAST
@given(st.lists(st.tuples(NAMES, VALUES), max_size=5), NAMES, st.sampled_from(["; ", ";", " ; "]))
def test_the_cookie_reader_returns_the_first_cookie_of_that_exact_name(pairs, name, separator):
    header = separator.join(f"{n}={v}" for n, v in pairs)
    expected = next((v for n, v in pairs if n == name), None)
    assert cookie_value(header, name) == (expected or None)


def test_a_cookie_whose_name_only_ends_or_starts_like_ours_is_another_cookie():
    assert cookie_value("x-diplomatie=forged", "diplomatie") is None
    assert cookie_value("diplomatie-confirm=abc", "diplomatie") is None
    assert cookie_value("diplomatie-confirm=abc; diplomatie=tok", "diplomatie") == "tok"
    assert cookie_value(None, "diplomatie") is None
    assert cookie_value("diplomatie=", "diplomatie") is None


# -- base64url -------------------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=64))
def test_base64url_round_trips_without_padding(data):
    text = tokens.b64url(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert tokens.unb64url(text) == data


# -- JWT time claims -------------------------------------------------------------------------------

NOW = 1_800_000_000
LEEWAY = tokens.LEEWAY


@pytest.mark.parametrize(("claims", "problem"), [
    ({"iat": NOW, "nbf": NOW, "exp": NOW + 60}, None),
    ({"iat": NOW, "nbf": NOW, "exp": NOW - LEEWAY + 1}, None),  # within the leeway
    ({"iat": NOW, "nbf": NOW, "exp": NOW - LEEWAY}, "expired"),  # the boundary itself is expired
    ({"iat": NOW, "nbf": NOW + LEEWAY, "exp": NOW + 60}, None),
    ({"iat": NOW, "nbf": NOW + LEEWAY + 1, "exp": NOW + 60}, "not yet valid"),
    ({"iat": NOW + LEEWAY + 1, "nbf": NOW, "exp": NOW + 60}, "issued in the future"),
    ({"iat": NOW, "nbf": NOW, "exp": float(NOW + 60)}, "claim exp is not an integer"),
    ({"iat": NOW, "nbf": True, "exp": NOW + 60}, "claim nbf is not an integer"),
    ({"iat": NOW, "exp": NOW + 60}, "has no nbf claim"),
])
def test_time_claims_of_our_tokens(claims, problem):
    assert tokens.time_claims_problem(claims, NOW) == problem


@FAST
@given(st.integers(-200, 200), st.integers(-200, 200), st.booleans())
def test_an_id_token_and_our_token_read_time_claims_the_same_way(exp_offset, iat_offset, with_nbf):
    """The provider's ID tokens (seconds may be fractional, nbf optional) and ours agree on whole seconds."""
    claims = {"iat": NOW + iat_offset, "exp": NOW + exp_offset}
    ours = tokens.time_claims_problem({**claims, "nbf": NOW - 5}, NOW)
    theirs = tokens.time_claims_problem({**claims, **({"nbf": NOW - 5} if with_nbf else {})}, NOW,
                                        required=("exp", "iat"), whole_seconds=False)
    assert ours == theirs


def test_id_token_time_claims_may_be_fractional_but_never_text_or_booleans():
    relaxed = {"required": ("exp", "iat"), "whole_seconds": False}
    assert tokens.time_claims_problem({"iat": NOW + 0.5, "exp": NOW + 60.25}, NOW, **relaxed) is None
    assert tokens.time_claims_problem({"iat": NOW, "exp": str(NOW + 60)}, NOW, **relaxed) == "claim exp is not a number"
    assert tokens.time_claims_problem({"iat": False, "exp": NOW + 60}, NOW, **relaxed) == "claim iat is not a number"
    assert tokens.time_claims_problem({"iat": NOW}, NOW, **relaxed) == "has no exp claim"


# -- UTC text --------------------------------------------------------------------------------------


@FAST
@given(st.integers(0, 4_000_000_000), st.integers(-14 * 60, 14 * 60))
def test_utc_text_is_one_text_for_one_moment_whatever_its_form(seconds, offset_minutes):
    aware = dt.datetime.fromtimestamp(seconds, dt.timezone(dt.timedelta(minutes=offset_minutes)))
    text = utc_text(seconds + 0.999)
    assert text == utc_text(aware) == utc_text(float(seconds))
    assert len(text) == 20 and text.endswith("Z")
    assert parse_utc_text(text) == dt.datetime.fromtimestamp(seconds, dt.UTC)


def test_a_naive_moment_is_refused_since_its_zone_is_a_guess():
    with pytest.raises(ValueError, match="no time zone"):
        utc_text(dt.datetime(2026, 3, 1, 9, 30))
    with pytest.raises(ValueError, match="no time zone"):
        parse_utc_text("2026-03-01T09:30:00")


def test_the_log_writes_the_same_utc_text_with_milliseconds():
    log = Log(io.StringIO(), lambda: 0.0)
    assert log.timestamp(1_772_357_400.25) == utc_text(1_772_357_400).removesuffix("Z") + ".250Z"


# -- the membership rule ---------------------------------------------------------------------------

TODAY = dt.date(2026, 3, 1)
ADDRESSES = st.sampled_from(["ana@example.org", "bo@example.org", "cy@ministry.example", "Ana@Example.org",
                             "x:ana@example.org", "dee@sub.ministry.example", "not an address", ""])
EXPIRY = st.one_of(st.none(), st.integers(-3, 3).map(lambda d: TODAY + dt.timedelta(days=d)))


def test_a_member_is_current_through_the_whole_expires_day():
    assert is_current(None, TODAY)
    assert is_current(TODAY, TODAY)
    assert not is_current(TODAY - dt.timedelta(days=1), TODAY)


@FAST
@given(st.lists(st.tuples(st.sampled_from(["ana@example.org", "bo@example.org", "cy@ministry.example"]), EXPIRY),
                max_size=4),
       st.lists(st.sampled_from(["ministry.example", "example.org"]), max_size=2, unique=True), ADDRESSES)
def test_the_pipeline_and_the_gate_admit_exactly_the_same_addresses(listed, domains, address):
    """communities.yaml as the pipeline reads it, and members.json as the gate reads it, say the same."""
    community = Community(id="c", title="C", description="", language="fr", owner="o@example.org", editors=(),
                          select=Selection(), domains=tuple(domains),
                          members=tuple(Member(email=e, expires=x) for e, x in listed))
    snapshot = {e: x for e, x in listed}  # what publish writes (the last listing of an address wins)
    access = CommunityAccess(id="c", title="C", domains=frozenset(domains), members=snapshot)
    gate_says = access.admits(address, TODAY)
    assert gate_says == admits(snapshot, frozenset(domains), address, TODAY)
    if is_canonical(address):
        assert community.is_member(address, TODAY) == gate_says
    else:
        assert not gate_says  # the gate admits canonical addresses only
        try:
            canonical = parse_address(address)
        except InvalidAddress:
            assert not community.is_member(address, TODAY)
        else:  # the pipeline reads what a person typed: it answers for the canonical form
            assert community.is_member(address, TODAY) == access.admits(canonical, TODAY)


# -- the outbox, given its collaborators ------------------------------------------------------------


def outbox_with(communities_of):
    events: list[dict] = []
    box = Outbox(mailer=Mailer(SmtpSettings(), events.append),
                 sign_link=lambda address, now: f"https://gate.example/auth?token=for-{address}-at-{int(now)}",
                 communities_of=communities_of, clock=lambda: 1000.0, log=events.append, interval=60,
                 site="https://gate.example")
    return box, events


def test_the_outbox_mails_a_member_and_drops_everyone_else_silently():
    berlin = CommunityAccess("berlin", "Berlin", members={"ana@example.org": None})
    box, events = outbox_with(lambda address, now: [berlin] if berlin.admits(address, dt.date(2026, 1, 1)) else [])
    box.request("ana@example.org", "/c/berlin/", 1000.0)
    box.request("eve@example.org", None, 1000.0)
    assert events == [{"event": "sign-in link (no SMTP configured)", "to": "ana@example.org",
                       "link": "https://gate.example/auth?token=for-ana@example.org-at-1000&next=/c/berlin/"}]


def test_the_outbox_sends_nothing_while_membership_is_unreadable():
    box, events = outbox_with(lambda address, now: None)
    box.request("ana@example.org", None, 1000.0)
    assert events == [{"event": "sign-in link not sent: membership unreadable"}]
