"""``diplomatie keys init|rotate`` and ``diplomatie link``: files, modes, refusals, exit codes."""

from __future__ import annotations

import copy
import datetime as dt
import json
import stat
from urllib.parse import parse_qs, urlsplit

from click.testing import CliRunner

from gate import tokens
from pipeline.cli import main
from tests.contentrepo import COMMUNITIES, OWNER, make_repo

BASE = "https://cables.example.org"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_keys_init_then_rotate(tmp_path):
    keys = tmp_path / "keys"
    first = run("keys", "init", "--dir", str(keys))
    assert first.exit_code == 0, first.output
    assert stat.S_IMODE((keys / "keys.json").stat().st_mode) == 0o600
    kid = tokens.load(keys).current
    assert kid in first.output
    again = run("keys", "init", "--dir", str(keys))
    assert again.exit_code == 1 and "already exists" in again.output
    rotated = run("keys", "rotate", "--dir", str(keys), "--grace", "2d")
    assert rotated.exit_code == 0, rotated.output
    ring = tokens.load(keys)
    assert ring.current != kid and ring.keys[kid].retires is not None
    assert {k["kid"] for k in json.loads((keys / "jwks.json").read_text())["keys"]} == {kid, ring.current}
    bad = run("keys", "rotate", "--dir", str(keys), "--grace", "soon")
    assert bad.exit_code == 2 and "--grace" in bad.output
    missing = run("keys", "rotate", "--dir", str(tmp_path / "nowhere"))
    assert missing.exit_code == 1 and "keys init" in missing.output


def test_link_prints_an_invitation_for_a_current_member(tmp_path):
    repo = make_repo(tmp_path / "repo")
    tokens.init(tmp_path / "keys")
    result = run("link", "energie", "A.Martin@Example.org", "--keys", str(tmp_path / "keys"), "--base-url", BASE,
                 "--ttl", "2d", "--root", str(repo.root))
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()  # stderr says whether publication was checked (link --store)
    assert url.startswith(f"{BASE}/auth?token=")
    token = parse_qs(urlsplit(url).query)["token"][0]
    claims = tokens.verify(tokens.load(tmp_path / "keys"), token, typ=tokens.INVITATION, issuer=BASE, audience=BASE)
    assert claims.sub == "a.martin@example.org" and claims.community == "energie"
    assert claims.exp - claims.iat == 2 * 86400


def test_link_accepts_a_domain_member(tmp_path):
    repo = make_repo(tmp_path / "repo")
    tokens.init(tmp_path / "keys")
    result = run("link", "onu", "agent@diplomatie.gouv.fr", "--keys", str(tmp_path / "keys"), "--base-url", BASE,
                 "--root", str(repo.root))
    assert result.exit_code == 0, result.output


def test_link_refuses_strangers_expired_members_and_unknown_communities(tmp_path):
    spec = copy.deepcopy(COMMUNITIES)
    spec["communities"]["energie"]["members"].append(
        {"email": "old@example.org", "name": "Old", "sector": "media", "invited_by": OWNER,
         "expires": dt.date.today() - dt.timedelta(days=2)})
    repo = make_repo(tmp_path / "repo", spec)
    tokens.init(tmp_path / "keys")
    common = ("--keys", str(tmp_path / "keys"), "--base-url", BASE, "--root", str(repo.root))
    stranger = run("link", "energie", "nobody@example.org", *common)
    assert stranger.exit_code == 1 and "not a member of energie; invite them first" in stranger.output
    assert "auth?token" not in stranger.output
    expired = run("link", "energie", "old@example.org", *common)
    assert expired.exit_code == 1 and "expired on" in expired.output and "--expires" in expired.output
    other = run("link", "onu", "a.martin@example.org", *common)
    assert other.exit_code == 1
    unknown = run("link", "nope", "a.martin@example.org", *common)
    assert unknown.exit_code == 1 and "no community" in unknown.output
    bad_ttl = run("link", "energie", "a.martin@example.org", *common, "--ttl", "forever")
    assert bad_ttl.exit_code == 2


def test_link_refuses_while_communities_yaml_has_errors(tmp_path):
    spec = copy.deepcopy(COMMUNITIES)
    spec["communities"]["energie"]["members"][0]["expires"] = "someday"  # unparsable: must not mean "never"
    repo = make_repo(tmp_path / "repo", spec)
    tokens.init(tmp_path / "keys")
    result = run("link", "energie", "a.martin@example.org", "--keys", str(tmp_path / "keys"), "--base-url", BASE,
                 "--root", str(repo.root))
    assert result.exit_code == 1 and "communities.yaml" in result.output and "auth?token" not in result.output


def test_gate_command_reports_bad_configuration_without_traceback(tmp_path):
    tokens.init(tmp_path / "keys")
    plain_http = run("gate", "--store", str(tmp_path / "store"), "--keys", str(tmp_path / "keys"),
                     "--base-url", "http://cables.example.org")
    assert plain_http.exit_code == 1 and "https" in plain_http.output
    remote_dev = run("gate", "--store", str(tmp_path / "store"), "--keys", str(tmp_path / "keys"),
                     "--base-url", "http://cables.example.org", "--insecure-dev")
    assert remote_dev.exit_code == 1 and "localhost" in remote_dev.output
    no_keys = run("gate", "--store", str(tmp_path / "store"), "--keys", str(tmp_path / "none"),
                  "--base-url", "https://cables.example.org")
    assert no_keys.exit_code == 1 and "keys init" in no_keys.output
    assert "Traceback" not in plain_http.output + remote_dev.output + no_keys.output
