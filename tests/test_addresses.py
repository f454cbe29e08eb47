"""One address grammar everywhere: every hostile class refused by the grammar, communities.yaml, cables,
``diplomatie link``, the membership snapshot, OIDC claims and the mailer; valid addresses canonicalised."""

from __future__ import annotations

import copy
import datetime as dt
import email
import email.policy
import email.utils
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate import oidc, tokens
from gate.addresses import InvalidAddress, is_canonical, parse_address, parse_domain
from gate.mail import Mailer, SmtpSettings, sign_in_message
from gate.membership import Snapshot
from pipeline import cables, communities
from pipeline.findings import Findings
from tests.addresskit import HOSTILE, MEMBER_DOMAIN, VALID, hostile_addresses, valid_addresses
from tests.contentrepo import COMMUNITIES, OWNER, cable_text, make_repo
from tests.test_tokens_cli import BASE, run

EXAMPLES = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TODAY = dt.date(2026, 6, 1)


# --- the grammar ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_every_hostile_class_is_refused_by_the_grammar(text):
    with pytest.raises(InvalidAddress):
        parse_address(text)
    assert not is_canonical(text)


@settings(EXAMPLES)
@given(hostile_addresses())
def test_generated_hostile_variants_are_refused(text):
    with pytest.raises(InvalidAddress):
        parse_address(text)


@pytest.mark.parametrize(("text", "canonical"), VALID.items())
def test_valid_addresses_are_accepted_and_canonicalised(text, canonical):
    assert parse_address(text) == canonical
    assert is_canonical(canonical) and parse_address(canonical) == canonical


@settings(EXAMPLES)
@given(valid_addresses())
def test_generated_valid_addresses_have_one_lower_case_canonical_form(text):
    canonical = parse_address(text)
    assert canonical == canonical.lower() and canonical.isascii()
    assert parse_address(canonical) == canonical
    assert parse_address(text.upper()) == canonical  # case never matters


def test_domains_use_the_same_grammar():
    assert parse_domain("Diplomatie.Gouv.FR") == "diplomatie.gouv.fr"
    assert parse_domain("société.fr") == "xn--socit-esab.fr"
    for bad in ("@diplomatie.gouv.fr", "diplomatie.gouv.fr.", "diplomatie.g\u043euv.fr", "x@y.fr", " a.fr",
                "localhost", "", "a..fr", None, 42):
        with pytest.raises(InvalidAddress):
            parse_domain(bad)


# --- communities.yaml and cables -------------------------------------------------------------------

def communities_yaml(member: str = "a.martin@example.org", owner: str = OWNER, domain: str = MEMBER_DOMAIN,
                     editor: str = "redaction@diplomatie.gouv.fr", invited_by: str = OWNER) -> bytes:
    spec = {"communities": {"c": {
        "title": "C", "description": "d", "language": "fr", "owner": owner, "editors": [editor],
        "select": {"subjects": ["energie"]}, "domains": [domain],
        "members": [{"email": member, "name": "M", "invited_by": invited_by}]}}}
    return yaml.safe_dump(spec, allow_unicode=True).encode()


def e205(data: bytes) -> list:
    findings = Findings()
    communities.parse(data, findings)
    return [f for f in findings if f.code == "E205"]


@pytest.mark.parametrize("field", ["member", "owner", "editor", "invited_by"])
@settings(settings(EXAMPLES, max_examples=40))
@given(text=hostile_addresses())
def test_communities_yaml_refuses_hostile_addresses_in_every_field(field, text):
    found = e205(communities_yaml(**{field: text}))
    assert found and all(f.line > 1 and f.hint for f in found)


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_communities_yaml_refuses_each_hostile_class_as_member(text):
    assert e205(communities_yaml(member=text))


@pytest.mark.parametrize("domain", ["@diplomatie.gouv.fr", "diplomatie.gouv.fr.", "diplomatie.g\u043euv.fr",
                                    "agent@diplomatie.gouv.fr", "diplomatie.\uff47ouv.fr", "localhost"])
def test_communities_yaml_refuses_hostile_domains(domain):
    found = e205(communities_yaml(domain=domain))
    assert found and "mail domain" in found[0].message


@settings(EXAMPLES)
@given(valid_addresses())
def test_communities_yaml_accepts_valid_addresses_in_canonical_form(text):
    findings = Findings()
    parsed = communities.parse(communities_yaml(member=text, domain="Société.FR"), findings)
    assert not [f for f in findings if f.code == "E205"]
    community = parsed["c"]
    assert community.members[0].email == parse_address(text)
    assert community.domains == ("xn--socit-esab.fr",)
    assert community.is_member(text, TODAY) and community.is_member("Agent@société.fr", TODAY)


def test_check_reports_the_file_line_and_a_hint(tmp_path):
    repo = make_repo(tmp_path / "repo", communities_yaml(member=HOSTILE["encoded word + comment"]).decode())
    result = repo.run("check")
    assert result.code != 0
    line = next(x for x in result.output.splitlines() if "E205" in x)
    assert "communities.yaml:" in line and "not a plain e-mail address" in line
    assert "write the address alone" in result.output


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_cable_author_and_approver_use_the_grammar(text):
    findings = Findings()
    cables.parse("cables/2026/2026-BERLIN-0001.md", cable_text(author=text).encode(), findings)
    assert "E205" in {f.code for f in findings}


def test_cable_author_is_canonical():
    findings = Findings()
    cable = cables.parse("cables/2026/2026-BERLIN-0001.md", cable_text(author="Agent@Diplomatie.gouv.FR").encode(),
                         findings)
    assert cable is not None and cable.author == "agent@diplomatie.gouv.fr"


# --- diplomatie link ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def link_repo(tmp_path_factory):
    base = tmp_path_factory.mktemp("link")
    repo = make_repo(base / "repo", COMMUNITIES)
    tokens.init(base / "keys")
    return repo, base / "keys"


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_link_refuses_each_hostile_class(link_repo, text):
    repo, keys = link_repo
    result = run("link", "onu", text, "--keys", str(keys), "--base-url", BASE, "--root", str(repo.root))
    assert result.exit_code == 2 and "not a plain e-mail address" in result.output
    assert "/auth?token=" not in result.output


@settings(settings(EXAMPLES, max_examples=40))
@given(text=hostile_addresses())
def test_link_refuses_generated_hostile_variants(link_repo, text):
    repo, keys = link_repo
    result = run("link", "onu", text, "--keys", str(keys), "--base-url", BASE, "--root", str(repo.root))
    assert result.exit_code != 0 and "/auth?token=" not in result.output


def test_link_names_the_canonical_address(link_repo):
    repo, keys = link_repo
    result = run("link", "onu", "Agent@Diplomatie.Gouv.FR", "--keys", str(keys), "--base-url", BASE,
                 "--root", str(repo.root))
    assert result.exit_code == 0, result.output
    token = result.output.strip().split("token=", 1)[1]
    claims = tokens.verify(tokens.load(keys), token, typ=tokens.INVITATION, issuer=BASE, audience=BASE)
    assert claims.sub == "agent@diplomatie.gouv.fr"


# --- the gate's membership snapshot ----------------------------------------------------------------------

def snapshot(members: dict, domains: list) -> Snapshot:
    return Snapshot.from_json(json.dumps({"format": 1, "communities": {
        "c": {"title": "C", "domains": domains, "members": members}}}).encode())


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_snapshot_admits_no_hostile_form_of_a_domain_address(text):
    access = snapshot({}, [MEMBER_DOMAIN])
    assert not access.admits("c", text, TODAY)
    assert access.admits("c", "agent@" + MEMBER_DOMAIN, TODAY)


@settings(EXAMPLES)
@given(hostile_addresses())
def test_snapshot_admits_no_generated_hostile_variant(text):
    assert not snapshot({}, [MEMBER_DOMAIN]).communities_of(text.lower(), TODAY)


def test_snapshot_ignores_members_and_domains_not_in_canonical_form():
    access = snapshot({"Agent@Example.org": None, "x:victim@example.org": None, "ok@example.org": None},
                      ["Example.NET", "@example.com", "example.org.", "xn--bcher-kva.de"])
    assert dict(access.communities["c"].members) == {"ok@example.org": None}
    assert access.communities["c"].domains == frozenset({"xn--bcher-kva.de"})
    assert not access.admits("c", "agent@example.org", TODAY)
    assert not access.admits("c", "someone@example.net", TODAY)
    assert access.admits("c", "someone@xn--bcher-kva.de", TODAY)


# --- OIDC claims -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_oidc_refuses_each_hostile_email_claim(text):
    with pytest.raises(oidc.OIDCError, match="not a plain address"):
        oidc._email({"email": text, "email_verified": True})


@settings(EXAMPLES)
@given(hostile_addresses())
def test_oidc_refuses_generated_hostile_email_claims(text):
    with pytest.raises(oidc.OIDCError):
        oidc._email({"email": text, "email_verified": True})


@pytest.mark.parametrize("verified", [None, False, "true", 1, "yes", [True], {}], ids=repr)
def test_oidc_requires_email_verified_exactly_true(verified):
    claims = {"email": "agent@diplomatie.gouv.fr"} | ({} if verified is None else {"email_verified": verified})
    with pytest.raises(oidc.OIDCError, match="not verified"):
        oidc._email(claims)


@settings(EXAMPLES)
@given(valid_addresses())
def test_oidc_gives_the_canonical_address(text):
    assert oidc._email({"email": text, "email_verified": True}) == parse_address(text)


# --- the mailer (no server needed to refuse: nothing is sent) ------------------------------------------------

@pytest.mark.parametrize("text", [*HOSTILE.values(), "Agent@diplomatie.gouv.fr", "agent@société.fr"],
                         ids=[*HOSTILE.keys(), "not lower case", "not IDNA"])
def test_mailer_refuses_anything_not_canonical(text):
    events: list[dict] = []
    # An address nobody listens on: a refusal must come before any connection (an attempt would log "mail failed").
    mailer = Mailer(SmtpSettings(host="127.0.0.1", port=9, timeout=0.5), events.append)
    with pytest.raises(InvalidAddress):
        mailer.send(text, "https://cables.example.org/auth?token=t", minutes=15, site="https://cables.example.org")
    assert [e["event"] for e in events] == ["mail refused: not a plain address"]


def test_mailer_in_development_mode_refuses_too():
    events: list[dict] = []
    with pytest.raises(InvalidAddress):
        Mailer(SmtpSettings(), events.append).send(HOSTILE["group syntax"], "link", minutes=15, site="s")
    assert not any("link" in e for e in events)


def test_an_editor_at_an_international_domain_approves_in_any_letter_case(tmp_path):
    spec = copy.deepcopy(COMMUNITIES)
    spec["communities"]["energie"]["editors"] = ["redaction@société.fr"]
    repo = make_repo(tmp_path / "repo", spec)
    path = repo.write("content/2026/2026-BERLIN-0001.md", cable_text())
    result = repo.run("approve", "2026-BERLIN-0001", "--community", "energie", "--editor", "Redaction@Société.FR")
    assert result.code == 0, result.output
    assert "by: redaction@xn--socit-esab.fr" in path.read_text()
    assert "E403" not in repo.run("check").output
    hostile = repo.run("approve", "2026-BERLIN-0001", "--community", "energie", "--editor",
                       "x:redaction@société.fr")
    assert hostile.code != 0 and "not a plain e-mail address" in hostile.output


# --- what is accepted is read back as itself by the mail library ----------------------------------------------

_MAIL_CHARS = st.sampled_from(list("aZ09._-+'@%!=?()<>[]:;,\"\\ \t\n.") + ["\u043e", "\uff47", "é", "=?", "?="])


def _mail_text(size: int):
    return st.lists(_MAIL_CHARS, max_size=size).map("".join)


def _read_back(canonical: str) -> list[str]:
    """The recipients Python's mail library reads in a To: header holding ``canonical``."""
    message = sign_in_message("cables@example.org", canonical, "https://x.example/auth?token=t", 15, "x")
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    return [a.addr_spec for a in parsed["To"].addresses]


@settings(EXAMPLES)
@given(st.one_of(valid_addresses(), hostile_addresses(), _mail_text(40),
                 st.builds(lambda a, b: a + "@" + b, _mail_text(15), _mail_text(15))))
def test_whatever_the_grammar_accepts_the_mail_library_reads_as_exactly_that_one_mailbox(text):
    try:
        canonical = parse_address(text)
    except InvalidAddress:
        return
    assert _read_back(canonical) == [canonical]
    assert email.utils.getaddresses([canonical]) == [("", canonical)]
