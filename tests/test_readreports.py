"""nginx's reports of the cable pages it served on a grant (gate/readreports.py), at the gate in process
with the injectable clock: the decision names the cable of a cable's page and nothing else; an authentic
report of a member's read of a serving cable is recorded like the gate's own read; every forged or
malformed report, and every read that the gate would not count itself, records nothing (generated
variants of each class). Through the real nginx: tests/test_nginx_reads.py."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate import store as storage
from gate import tokens
from gate.readreports import MAX_READS, PATH, WINDOW, ReportError, parse_report
from tests.gatekit import FakeClock, gate_in_process, publish_site, write_members

ANNE, BRUNO, CARLA = "a.martin@example.org", "b.durand@example.org", "c.roux@example.org"
CABLE, OTHER, PRESSE_CABLE = "2026-BERLIN-0001", "2026-BERLIN-0002", "2026-ROME-0007"
PROXY = "192.0.2.7"  # the in-process client's address (tests/gatekit.py GateClient)
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def publish(store, community: str, cables: tuple[str, ...]) -> None:
    files = {"index.html": b"<p>index</p>", "assets/site.css": b"p{}", "2026/search.html": b"<p>search</p>",
             **{f"2026/{cable}.html": f"<p>{cable}</p>".encode() for cable in cables}}
    manifest = publish_site(store, community, files, "20261130T000000.000Z-00000000")
    store.put(manifest.key, dataclasses.replace(manifest, cables=cables).to_json())


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    base = tmp_path_factory.mktemp("readreports")
    store = storage.FolderStore(base / "store")
    write_members(store, {"energie": {"members": {ANNE: None, BRUNO: None}}, "presse": {"members": {CARLA: None}}})
    publish(store, "energie", (CABLE, OTHER))
    publish(store, "presse", (PRESSE_CABLE,))
    tokens.init(base / "keys")
    clock = FakeClock()
    with gate_in_process(base / "store", base / "keys", clock=clock, accel_redirect="/_blobs",
                         grant_keys=str(base / "grants" / "keys"), trusted_proxies=(PROXY,)) as client:
        client.refresh()
        client.store = store
        client.grant_file = base / "grants" / "keys"
        yield client


def settle(gate) -> None:
    async def drain() -> None:
        while gate.gate.after_answer:
            await asyncio.gather(*list(gate.gate.after_answer))

    gate.run(drain())


def session(gate, email: str, **kw) -> str:
    return gate.session_cookie(email, **kw).split(";", 1)[0].split("=", 1)[1]


def body_of(gate, lines: list[str], at: float | None = None) -> bytes:
    written = int(gate.clock() if at is None else at)
    return (f"diplomatie-reads 1 {written}\n" + "".join(line + "\n" for line in lines)).encode()


def post(gate, body: bytes, signature: str | None = None, headers: dict[str, str] | None = None):
    keys = tokens.read_grant_keys(gate.grant_file)
    sent = {"Content-Type": "text/plain", **(headers or {})}
    sent[tokens.REPORT_HEADER] = tokens.sign_report(keys, body) if signature is None else signature
    reply = gate.request("POST", PATH, body=body, headers=sent)
    settle(gate)
    return reply


def reads(gate) -> set[str]:
    return set(gate.store.list("reads/"))


def key(community: str, cable: str, email: str, gate) -> str:
    return storage.read_key(community, storage.week_of(gate.clock()), cable, email)


def test_the_decision_names_the_cable_of_a_cable_page_only(gate):
    cookie = gate.session_cookie(ANNE)
    decide = {"X-Diplomatie-Decide": "1"}
    page = gate.get(f"/c/energie/2026/{CABLE}.html", cookie=cookie, headers=decide)
    assert page.status == 200 and page.header("x-diplomatie-cable") == CABLE
    for path in ("/c/energie/", "/c/energie/assets/site.css", "/c/energie/2026/search.html"):
        answer = gate.get(path, cookie=cookie, headers=decide)
        assert answer.status == 200 and answer.header("x-diplomatie-cable") is None, path


@SETTINGS
@given(st.lists(st.sampled_from([("energie", CABLE, ANNE), ("energie", OTHER, ANNE), ("energie", CABLE, BRUNO),
                                 ("presse", PRESSE_CABLE, CARLA)]), min_size=1, max_size=6))
def test_an_authentic_report_of_members_reads_is_recorded_like_the_gates_own(gate, entries):
    gate.clock.advance(7 * 86400)  # a new week each time: nothing recorded yet
    lines = [f"{community} {cable} {session(gate, who)}" for community, cable, who in entries]
    reply = post(gate, body_of(gate, lines))
    assert reply.status == 200, reply.body
    assert json.loads(reply.body) == {"recorded": len(entries), "refused": 0}
    week = storage.week_of(gate.clock())
    assert {k for k in reads(gate) if f"/{week}/" in k} == {key(c, cable, who, gate) for c, cable, who in entries}


def forged(gate, kind: str, noise: str) -> tuple[bytes, str | None, dict[str, str]]:
    """A report of a valid read (Anne, energie, CABLE) forged or malformed one way: (body, signature, headers)."""
    line = f"energie {CABLE} {session(gate, ANNE)}"
    body = body_of(gate, [line])
    keys = tokens.read_grant_keys(gate.grant_file)
    good = tokens.sign_report(keys, body)
    other = tokens.GrantKey(keys.keys[-1].kid, 0, (noise.encode() * 32 + b"x" * 32)[:32])
    forgeries = {
        "unknown key": f"r1.{'0' * 8}.{good.rsplit('.', 1)[1]}",
        "another secret": f"r1.{other.kid}.{tokens.report_mac(other, body)}",
        "no signature": "",
        "a signature of another body": tokens.sign_report(keys, body + noise.encode()),
        "a truncated signature": good[:-1],
        "another version": "r2" + good[2:],
    }
    if kind in forgeries:
        return body, forgeries[kind], {}
    if kind == "a tampered body":
        return body.replace(b"energie", b"energiE") + noise.encode(), good, {}
    if kind == "through the proxy":  # nginx's location / sets X-Forwarded-For on everything it proxies
        return body, good, {"X-Forwarded-For": noise or "203.0.113.9"}
    rewritten = {
        "written long ago": body_of(gate, [line], at=gate.clock() - WINDOW - 1 - len(noise)),
        "written in the future": body_of(gate, [line], at=gate.clock() + WINDOW + 1 + len(noise)),
        "no head": f"{line}\n".encode(),
        "a malformed line": body_of(gate, [f"energie {CABLE}{noise}  {session(gate, ANNE)}"]),
        "two fields": body_of(gate, [f"energie {session(gate, ANNE)}"]),
        "not ascii": body_of(gate, [line]) + "é".encode(),
        "a control character": body_of(gate, [f"energie {CABLE}\r {session(gate, ANNE)}"]),
        "too many reads": body_of(gate, [line] * (MAX_READS + 1)),
    }
    return rewritten[kind], None, {}


REPORT_FORGERIES = ("unknown key", "another secret", "no signature", "a signature of another body",
                    "a truncated signature", "another version", "a tampered body", "through the proxy",
                    "written long ago", "written in the future", "no head", "a malformed line", "two fields",
                    "not ascii", "a control character", "too many reads")


@SETTINGS
@given(st.sampled_from(REPORT_FORGERIES), st.text(alphabet="abcXYZ019-_", max_size=12))
def test_a_forged_or_malformed_report_is_refused_whole_and_records_nothing(gate, kind, noise):
    before = reads(gate)
    body, signature, headers = forged(gate, kind, noise)
    reply = post(gate, body, signature, headers)
    assert reply.status in (400, 404), (kind, reply.status)
    assert b"recorded" not in reply.body
    assert reads(gate) == before, kind


def unread(gate, kind: str, noise: str) -> str:
    """A line of an authentic report that names a read the gate would not count itself."""
    anne, carla = session(gate, ANNE), session(gate, CARLA)
    token = anne.split(".")
    lines = {
        "a member of another community": f"energie {CABLE} {carla}",
        "a cable of another community": f"energie {PRESSE_CABLE} {anne}",
        "no such cable": f"energie 2026-BERLIN-9{len(noise):03d} {anne}",
        "a page that is not a cable": f"energie search {anne}",
        "an asset": f"energie site.css {anne}",
        "no such community": f"energie{noise.lower() or 'x'} {CABLE} {anne}",
        "a non-member's session": f"energie {CABLE} {session(gate, 'z' + noise.lower() + '@example.org')}",
        "an expired session": f"energie {CABLE} {session(gate, ANNE, ttl=60, now=gate.clock() - 3600)}",
        "a forged session": f"energie {CABLE} {token[0]}.{token[1]}{noise or 'x'}.{token[2]}",
        "a session with another signature": f"energie {CABLE} {token[0]}.{token[1]}.{token[2][::-1]}",
    }
    return lines[kind]


UNREADS = ("a member of another community", "a cable of another community", "no such cable",
           "a page that is not a cable", "an asset", "no such community", "a non-member's session",
           "an expired session", "a forged session", "a session with another signature")


@SETTINGS
@given(st.sampled_from(UNREADS), st.text(alphabet="abcxyz019", max_size=8))
def test_a_reported_read_the_gate_would_not_count_itself_records_nothing(gate, kind, noise):
    before = reads(gate)
    reply = post(gate, body_of(gate, [unread(gate, kind, noise)]))
    assert reply.status == 200 and json.loads(reply.body) == {"recorded": 0, "refused": 1}, kind
    assert reads(gate) == before, kind


def test_one_unread_line_does_not_stop_the_others(gate):
    gate.clock.advance(7 * 86400)
    lines = [f"energie {CABLE} {session(gate, CARLA)}", f"energie {OTHER} {session(gate, BRUNO)}"]
    reply = post(gate, body_of(gate, lines))
    assert json.loads(reply.body) == {"recorded": 1, "refused": 1}
    week = storage.week_of(gate.clock())
    assert {k for k in reads(gate) if f"/{week}/" in k} == {key("energie", OTHER, BRUNO, gate)}


def test_only_the_trusted_proxy_may_report_and_only_behind_nginx(tmp_path, gate):
    """From another address the report is refused before its body is read; a gate without grant keys
    (not behind nginx) has no such address."""
    body = body_of(gate, [f"energie {CABLE} {session(gate, ANNE)}"])
    keys = tokens.read_grant_keys(gate.grant_file)
    store = storage.FolderStore(tmp_path / "store")
    write_members(store, {"energie": {"members": {ANNE: None}}})
    publish(store, "energie", (CABLE,))
    for options in ({"accel_redirect": "/_blobs", "grant_keys": str(tmp_path / "grants"), "trusted_proxies": ("10.0.0.1",)},
                    {"trusted_proxies": (PROXY,)}):
        with gate_in_process(tmp_path / "store", gate.keys_dir, clock=gate.clock, **options) as other:
            other.refresh()
            reply = other.request("POST", PATH, body=body, headers={tokens.REPORT_HEADER: tokens.sign_report(keys, body)})
            assert reply.status == 404
    assert list(store.list("reads/")) == []
    assert gate.get(PATH).status == 405  # and only POST


def test_parse_report_reads_its_own_format_only():
    now = 1_800_000_000
    token = "aaa.bbb.ccc"
    assert parse_report(f"diplomatie-reads 1 {now}\nenergie {CABLE} {token}\n".encode(), now)[0].cable == CABLE
    assert parse_report(f"diplomatie-reads 1 {now}\n".encode(), now) == []
    for bad in (b"", b"\n", f"diplomatie-reads 2 {now}\n".encode(), f"diplomatie-reads 1 {now}\n\n".encode(),
                f"diplomatie-reads 1 +{now}\n".encode(), f"diplomatie-reads 1 {now}\nEnergie {CABLE} {token}\n".encode(),
                f"diplomatie-reads 1 {now}\nenergie {CABLE} {token} x\n".encode()):
        with pytest.raises(ReportError):
            parse_report(bad, now)
