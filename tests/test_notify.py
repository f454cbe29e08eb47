"""Alerts (pipeline/notify.py): what members are told, exactly once, through a real SMTP server and
real stores (a folder; S3 for the concurrent claims). Time is an injected clock, never slept on."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import re
import smtplib
import subprocess
import sys
import threading
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate import alerts, tokens
from gate import store as storage
from gate.letters import SmtpSettings
from pipeline.communities import membership_snapshot
from pipeline.notify import CLAIM_LEASE, NotifySettings, notify
from pipeline.repository import load_communities
from tests.contentrepo import COMMUNITIES, OWNER, make_repo
from tests.smtpkit import smtp_fixture

smtp = smtp_fixture()

MEMBER = "a.martin@example.org"
GATE = "https://cables.example.org"
START = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC).timestamp()
BODY = "Le corps secret du télégramme, jamais dans un courriel.\n"
HOUR, DAY = 3600, 86400


class Clock:
    """The notifier's clock, moved by the test."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def communities(**members: str | None) -> dict:
    """communities.yaml with these members of "energie" (address -> last valid day, ISO, or None)."""
    data = copy.deepcopy(COMMUNITIES)
    data["communities"]["energie"]["members"] = [
        {"email": address, "name": address.split("@")[0], "sector": "research", "invited_by": OWNER,
         **({"expires": dt.date.fromisoformat(expires)} if expires else {})}
        for address, expires in members.items()]
    return data


class World:
    """A content repository, a store, keys and an SMTP server: what ``notify`` reads and writes."""

    def __init__(self, tmp: Path, smtp, store: storage.Store | None = None, members: dict | None = None) -> None:
        controller, self.mailbox = smtp
        self.mailbox.received.clear()
        self.repo = make_repo(tmp / "content", communities(**(members or {MEMBER: "2099-06-30"})))
        self.store = store or storage.FolderStore(tmp / "store")
        self.ring = tokens.init(tmp / "keys", START - DAY)
        self.smtp = SmtpSettings(host="127.0.0.1", port=controller.port, sender="Diplomatie <alertes@example.org>")
        self.settings = NotifySettings(gate_url=GATE, smtp=self.smtp, ring=self.ring)
        self.clock = Clock()
        self.release_number = 0

    def cable(self, cable_id: str, **front) -> None:
        front.setdefault("summary", f"Résumé de {cable_id}.")
        self.repo.cable(cable_id, body=BODY, title=f"Titre {cable_id}", **front)

    def publish(self, community: str, cables: list[str]) -> str:
        """Commit, write members.json from communities.yaml and a release listing ``cables``, as publish
        does (through the storage contract: manifest, then pointer)."""
        commit = self.repo.commit()
        today = load_communities(self.repo.root)
        self.store.put(storage.MEMBERS_KEY, json.dumps(membership_snapshot(today.communities, commit)).encode())
        self.release_number += 1
        release = f"20261201T0800{self.release_number:02d}.000Z-0000000{self.release_number}"
        manifest = storage.Manifest(community=community, release=release, commit=commit, built_at=None,
                                    published_at=storage.utc_now(), cables=tuple(cables), files={})
        storage.write_manifest(self.store, manifest)
        storage.write_pointer(self.store, storage.Pointer(community, release, storage.utc_now()))
        return commit

    def notify(self, **kwargs):
        return notify(self.store, self.repo.root, kwargs.pop("settings", self.settings), clock=self.clock, **kwargs)

    def received(self, address: str = MEMBER):
        return self.mailbox.to(address)


def subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def plain(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def html_part(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no HTML part")


def refs(message) -> set[str]:
    """The cable references a received alert names."""
    return set(re.findall(r"2026-[A-Z-]+-[0-9]{4}", plain(message)))


def first_run(world: World) -> None:
    """The first run sees the member: their baseline is what serves now, nothing is sent."""
    report = world.notify()
    assert report.baselined == 1 and not report.sent


# ------------------------------------------------------------------------------------------ contents


def test_a_member_is_told_of_new_cables_with_title_reference_date_post_summary_and_link_never_the_body(
        tmp_path, smtp):
    world = World(tmp_path, smtp)
    world.cable("2026-BERLIN-0001")
    world.publish("energie", ["2026-BERLIN-0001"])
    first_run(world)
    world.cable("2026-BERLIN-0002")
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0002"])
    report = world.notify()
    assert [(c, a, ids) for c, a, ids in report.sent] == [("energie", MEMBER, ("2026-BERLIN-0002",))]
    [message] = world.received()
    text, page = plain(message), html_part(message)
    for shown in ("Titre 2026-BERLIN-0002", "2026-BERLIN-0002", "2026-03-14", "BERLIN", "Résumé de 2026-BERLIN-0002.",
                  f"{GATE}/c/energie/2026/2026-BERLIN-0002.html"):
        assert shown in text and shown in page
    assert "2026-BERLIN-0001" not in text  # in the baseline: not new to this member
    raw = message.as_string()
    assert "corps secret" not in text and "corps secret" not in page and "corps secret" not in raw
    # The community's language and name, valid headers, the one-click unsubscribe and the preferences
    assert subject(message) == "Énergie en Europe : 1 nouveau télégramme"
    assert message["Content-Language"] == "fr"
    assert message["Message-ID"].endswith("@cables.example.org>") and message["Date"]
    assert message["List-Id"] == "<energie.alerts.cables.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{GATE}/unsubscribe?t=") and unsubscribe.endswith(">")
    claims = tokens.verify(world.ring, unsubscribe[len(f"<{GATE}/unsubscribe?t="):-1], typ=tokens.UNSUBSCRIBE,
                           issuer=GATE, audience=GATE, now=world.clock())
    assert (claims.sub, claims.community) == (MEMBER, "energie")
    assert f"{GATE}/preferences#c-energie" in text and f"{GATE}/preferences#c-energie" in page
    assert "<img" not in page and "<link" not in page and "http://" not in page
    assert message.get_content_type() == "multipart/alternative"


def test_a_withdrawn_or_embargoed_cable_is_never_announced(tmp_path, smtp):
    world = World(tmp_path, smtp)
    world.cable("2026-BERLIN-0001")
    world.publish("energie", ["2026-BERLIN-0001"])
    first_run(world)
    world.cable("2026-BERLIN-0002")
    world.cable("2026-BERLIN-0003", embargo=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    world.cable("2026-BERLIN-0004")
    # 0003 is under embargo and 0004 withdrawn: a release never lists them (publish holds them back);
    # even a release that did (a hand-made manifest) does not get them announced.
    storage.write_withdrawal(world.store, storage.WithdrawalRecord(
        cable="2026-BERLIN-0004", action="withdrawn", at=storage.utc_now(), commit=None, by="test"),
        dt.datetime.now(dt.UTC))
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0002", "2026-BERLIN-0003", "2026-BERLIN-0004"])
    world.notify()
    [message] = world.received()
    assert refs(message) == {"2026-BERLIN-0002"}
    # A cable dropped from the serving release before the alert goes is not announced either
    world.clock.now += 2 * DAY
    world.cable("2026-BERLIN-0005")
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0005"])
    world.publish("energie", ["2026-BERLIN-0001"])
    world.notify()
    assert len(world.received()) == 1


def test_an_expired_or_removed_member_gets_nothing(tmp_path, smtp):
    world = World(tmp_path, smtp, members={MEMBER: "2099-06-30", "b.durand@example.org": "2099-06-30"})
    world.cable("2026-BERLIN-0001")
    world.publish("energie", ["2026-BERLIN-0001"])
    report = world.notify()
    assert report.baselined == 2
    # b.durand expires; a.martin is removed from communities.yaml
    world.repo.communities(communities(**{"b.durand@example.org": "2026-11-30"}))
    world.cable("2026-BERLIN-0002")
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0002"])
    report = world.notify()
    assert report.sent == [] and world.mailbox.messages == []


def test_a_member_who_chose_never_gets_nothing_and_the_english_community_is_told_in_english(tmp_path, smtp):
    world = World(tmp_path, smtp)
    world.cable("2026-BERLIN-0001")
    world.cable("2026-NEW-YORK-ONU-0001", subjects=["onu"])
    world.publish("energie", ["2026-BERLIN-0001"])
    world.publish("onu", [])
    # onu admits the whole diplomatie.gouv.fr domain: such a member is known once they chose a frequency
    agent = "agent.x@diplomatie.gouv.fr"
    alerts.write_preference(world.store, "onu", agent, alerts.IMMEDIATE, storage.utc_now())
    alerts.write_preference(world.store, "energie", MEMBER, alerts.NEVER, storage.utc_now())
    assert world.notify().baselined == 1  # the agent; the member chose never
    world.cable("2026-BERLIN-0002")
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0002"])
    world.publish("onu", ["2026-NEW-YORK-ONU-0001"])
    world.notify()
    assert world.received(MEMBER) == []
    [message] = world.received(agent)
    assert subject(message) == "United Nations: 1 new cable" and message["Content-Language"] == "en"
    assert "2026-NEW-YORK-ONU-0001" in plain(message) and "Read the cable" in html_part(message)


# ---------------------------------------------------------------------------------------- frequencies


def test_daily_and_weekly_digests_wait_for_their_period_and_at_once_does_not(tmp_path, smtp):
    world = World(tmp_path, smtp, members={MEMBER: None, "w@example.org": None, "i@example.org": None})
    alerts.write_preference(world.store, "energie", "w@example.org", alerts.WEEKLY, storage.utc_now())
    alerts.write_preference(world.store, "energie", "i@example.org", alerts.IMMEDIATE, storage.utc_now())
    world.cable("2026-BERLIN-0001")
    world.publish("energie", ["2026-BERLIN-0001"])
    assert world.notify().baselined == 3
    published = ["2026-BERLIN-0001"]
    counts = {MEMBER: [], "w@example.org": [], "i@example.org": []}
    for hour in range(1, 8 * 24 + 1, 8):  # a cable every 8 hours for 8 days, notify after each
        world.clock.now = START + hour * HOUR
        cable_id = f"2026-BERLIN-{hour + 1:04d}"
        world.cable(cable_id)
        published.append(cable_id)
        world.publish("energie", published)
        world.notify()
        for address in counts:
            counts[address].append(len(world.received(address)))
    assert counts["i@example.org"][-1] == len(published) - 1  # one e-mail per cable, at once
    assert counts[MEMBER][-1] == 8  # daily: the first one at once, then one a day
    assert counts["w@example.org"][-1] == 2  # weekly: the first one, then a week later
    world.clock.now += 7 * DAY  # every digest is due: every cable reaches every member, once
    world.notify()
    for address in counts:
        seen = [r for m in world.received(address) for r in refs(m)]
        assert sorted(seen) == sorted(set(published[1:]))


# --------------------------------------------------------------------------------------- exactly once


def test_a_rerun_sends_nothing_twice(tmp_path, smtp):
    world = World(tmp_path, smtp)
    world.cable("2026-BERLIN-0001")
    world.publish("energie", ["2026-BERLIN-0001"])
    first_run(world)
    world.cable("2026-BERLIN-0002")
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0002"])
    world.notify()
    for _ in range(3):
        world.clock.now += 2 * DAY
        assert world.notify().sent == []
    assert len(world.received()) == 1
    assert world.store.exists(storage.alert_sent_key("energie", MEMBER, "2026-BERLIN-0002"))


def test_a_failed_delivery_is_retried_at_the_next_run(tmp_path, smtp):
    world = World(tmp_path, smtp)
    world.cable("2026-BERLIN-0001")
    world.publish("energie", ["2026-BERLIN-0001"])
    first_run(world)
    world.cable("2026-BERLIN-0002")
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0002"])
    from tests.gatekit import refusing_port

    with refusing_port() as port:
        down = NotifySettings(gate_url=GATE, ring=world.ring, smtp=SmtpSettings(host="127.0.0.1", port=port, timeout=2))
        report = world.notify(settings=down)
    assert report.sent == [] and list(report.failed) == [f"energie {MEMBER}"]
    assert report.failure() and "run notify again" in report.failure()
    assert world.received() == []
    report = world.notify()  # the server is back, a minute later
    assert [ids for _, _, ids in report.sent] == [("2026-BERLIN-0002",)]
    assert len(world.received()) == 1


# ------------------------------------------------------------------------------- crash, concurrency


class Stalling:
    """An SMTP handler that takes the message and never answers it: the notifier waits in ``DATA``."""

    def __init__(self) -> None:
        self.reached = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        import asyncio

        self.reached.set()
        await asyncio.sleep(60)
        return "451 too late"


def test_a_notifier_killed_between_claim_and_send_leaves_the_alert_late_never_lost_nor_doubled(tmp_path, smtp):
    """The documented outcome (docs/storage.md, Alerts): the killed run's claims stand for the lease,
    so a rerun at once sends nothing; after the lease the cable is claimed again and sent, once."""
    from aiosmtpd.controller import Controller

    from tests.gatekit import free_port, wait_for

    world = World(tmp_path, smtp)
    world.cable("2026-BERLIN-0001")
    world.publish("energie", ["2026-BERLIN-0001"])
    first_run(world)
    world.cable("2026-BERLIN-0002")
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0002"])
    stalling = Stalling()
    controller = Controller(stalling, hostname="127.0.0.1", port=free_port())
    controller.start()
    args = [sys.executable, "-m", "pipeline", "notify", "--root", str(world.repo.root), "--store",
            str(tmp_path / "store"), "--smtp", f"127.0.0.1:{controller.port}", "--gate-url", GATE,
            "--keys", str(tmp_path / "keys")]
    proc = subprocess.Popen(args, cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        claim = storage.alert_claim_key("energie", MEMBER, "2026-BERLIN-0002", 1)
        assert wait_for(lambda: stalling.reached.is_set() and world.store.exists(claim), timeout=60), \
            proc.stderr.read1().decode() if proc.poll() is not None else "the notifier did not reach DATA"
        proc.kill()  # between claim and send: the server holds the message, unanswered
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        controller.stop()
    killed_at = json.loads(world.store.get(claim))["claimed_at"]
    assert not world.store.exists(storage.alert_sent_key("energie", MEMBER, "2026-BERLIN-0002"))
    world.clock.now = storage.parse_utc_text(killed_at).timestamp() + 60
    assert world.notify().sent == [] and world.received() == []  # its claim stands: late, not doubled
    world.clock.now += CLAIM_LEASE
    report = world.notify()
    assert [ids for _, _, ids in report.sent] == [("2026-BERLIN-0002",)]
    assert world.store.exists(storage.alert_claim_key("energie", MEMBER, "2026-BERLIN-0002", 2))
    world.clock.now += 3 * DAY
    world.notify()
    [message] = world.received()
    assert refs(message) == {"2026-BERLIN-0002"}


def concurrent_notifiers(world: World, runs: int) -> None:
    members = [f"m{n}@example.org" for n in range(6)]
    barrier = threading.Barrier(runs)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            world.notify(by=threading.current_thread().name)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, name=f"notifier-{n}") for n in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    for address in members:
        seen = [r for m in world.received(address) for r in refs(m)]
        assert sorted(seen) == ["2026-BERLIN-0002", "2026-BERLIN-0003", "2026-BERLIN-0004"], (address, seen)


def prepare_crowd(world: World) -> None:
    world.cable("2026-BERLIN-0001")
    world.publish("energie", ["2026-BERLIN-0001"])
    for n in range(6):
        alerts.write_preference(world.store, "energie", f"m{n}@example.org", alerts.IMMEDIATE, storage.utc_now())
    assert world.notify().baselined == 6
    for cable_id in ("2026-BERLIN-0002", "2026-BERLIN-0003", "2026-BERLIN-0004"):
        world.cable(cable_id)
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0002", "2026-BERLIN-0003", "2026-BERLIN-0004"])


def crowd() -> dict[str, str | None]:
    return {f"m{n}@example.org": None for n in range(6)}


def test_notifiers_running_at_once_on_a_folder_store_send_each_cable_once(tmp_path, smtp):
    world = World(tmp_path, smtp, members=crowd())
    prepare_crowd(world)
    concurrent_notifiers(world, 4)


@pytest.mark.s3
def test_notifiers_running_at_once_on_s3_send_each_cable_once(tmp_path, smtp, s3_server, s3_bucket):
    store = storage.S3Store(s3_bucket, "pub", client=s3_server.client())
    world = World(tmp_path, smtp, store=store, members=crowd())
    prepare_crowd(world)
    concurrent_notifiers(world, 4)
    claims = [k for k in store.list("alerts/claims/") if k.endswith(".json")]
    assert len(claims) == 6 * 3  # one claim per member and cable: the conditional create let one win


# ------------------------------------------------------------------------------ at the end of publish


def test_publish_with_smtp_tells_members_of_what_it_published_and_nothing_held_back(tmp_path, smtp):
    """The whole path: a real build and publication, then the alerts read back from the store."""
    controller, mailbox = smtp
    mailbox.received.clear()
    repo = make_repo(tmp_path / "content")
    repo.cable("2026-BERLIN-0001", BODY)
    repo.commit("a cable")
    repo.approve("2026-BERLIN-0001", "energie")
    repo.commit("approved")
    tokens.init(tmp_path / "keys")
    alerts_args = ("--store", str(tmp_path / "store"), "--out", str(tmp_path / "build"), "--format", "json",
                   "--smtp", f"127.0.0.1:{controller.port}", "--gate-url", GATE, "--keys", str(tmp_path / "keys"))
    first = repo.run("publish", *alerts_args)
    assert first.code == 0, first.output
    assert json.loads(first.stdout)["alerts"]["baselined"] == 1 and mailbox.messages == []
    repo.cable("2026-BERLIN-0002", BODY, title="Marché du gaz", summary="Le point sur le gaz.")
    repo.cable("2026-BERLIN-0003", BODY, title="Sous embargo", embargo=dt.datetime(2027, 6, 1, tzinfo=dt.UTC))
    repo.commit("two more")
    repo.approve("2026-BERLIN-0002", "energie")
    repo.approve("2026-BERLIN-0003", "energie")
    repo.commit("approved")
    second = repo.run("publish", *alerts_args)
    assert second.code == 0, second.output
    assert json.loads(second.stdout)["alerts"]["sent"] == [
        {"community": "energie", "to": MEMBER, "cables": ["2026-BERLIN-0002"]}]
    [message] = mailbox.to(MEMBER)
    assert refs(message) == {"2026-BERLIN-0002"} and "Marché du gaz" in plain(message)
    assert "corps secret" not in plain(message) + html_part(message) and "Sous embargo" not in plain(message)
    assert repo.run("publish", *alerts_args).code == 0 and len(mailbox.to(MEMBER)) == 1


# ------------------------------------------------------------------------- both sides: gate and notify


def test_the_alerts_unsubscribe_link_works_on_the_gate_and_the_notifier_then_stays_silent(tmp_path, smtp):
    """The pipeline signs the link and reads the preference; the gate checks the link and writes it."""
    from urllib.parse import urlsplit

    from tests.gatekit import FakeClock, gate_in_process

    world = World(tmp_path, smtp)
    world.cable("2026-BERLIN-0001")
    world.publish("energie", ["2026-BERLIN-0001"])
    first_run(world)
    world.cable("2026-BERLIN-0002")
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0002"])
    world.notify()
    [message] = world.received()
    link = urlsplit(message["List-Unsubscribe"].strip("<>"))
    with gate_in_process(tmp_path / "store", tmp_path / "keys", base_url=GATE, clock=FakeClock(world.clock())) as gate:
        target = f"{link.path}?{link.query}"
        assert gate.get(target).status == 200  # a mail scanner opens it: nothing changes
        assert alerts.read_preference(world.store, "energie", MEMBER) == alerts.DAILY
        reply = gate.request("POST", target, body=b"List-Unsubscribe=One-Click",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert reply.status == 200
    assert alerts.read_preference(world.store, "energie", MEMBER) == alerts.NEVER
    world.clock.now += 2 * DAY
    world.cable("2026-BERLIN-0003")
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0002", "2026-BERLIN-0003"])
    assert world.notify().sent == [] and len(world.received()) == 1


# ------------------------------------------------------------------------------------ the command line


@pytest.mark.parametrize(("args", "said"), [
    (("--smtp", "mail.example.org", "--gate-url", GATE), "is not HOST:PORT"),
    (("--smtp", "127.0.0.1:25", "--gate-url", "cables.example.org"), "gate's public address"),
    (("--smtp", "127.0.0.1:25", "--gate-url", GATE, "--keys", "nowhere"), "no key set here"),
])
def test_notify_refuses_unclear_settings_before_anything_is_read_or_sent(tmp_path, args, said):
    repo = make_repo(tmp_path / "content")
    result = repo.run("notify", "--store", str(tmp_path / "store"), *args)
    assert result.code != 0 and said in result.output, result.output
    assert not (tmp_path / "store").exists()


# -------------------------------------------------------------------- any sequence of runs and faults


class Crash(BaseException):
    """The notifier's process dying while it hands a message over (nothing catches it)."""


STEPS = st.lists(st.sampled_from(["publish", "withdraw", "notify", "refused", "crash", "hour", "day"]),
                 min_size=2, max_size=9)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=STEPS)
def test_whatever_runs_fail_or_crash_each_cable_reaches_each_member_once_and_only_while_published(
        tmp_path_factory, smtp, steps):
    world = World(tmp_path_factory.mktemp("any"), smtp, members={MEMBER: None, "i@example.org": None})
    alerts.write_preference(world.store, "energie", "i@example.org", alerts.IMMEDIATE, storage.utc_now())
    world.cable("2026-BERLIN-0001")
    release = ["2026-BERLIN-0001"]
    world.publish("energie", release)
    assert world.notify().baselined == 2
    numbers = iter(range(2, 100))

    def refused(message, to):
        raise smtplib.SMTPDataError(554, b"refused")

    def crash(message, to):
        raise Crash

    def run(**kwargs) -> None:
        before = len(world.mailbox.messages)
        with contextlib.suppress(Crash):
            world.notify(**kwargs)
        for message in world.mailbox.messages[before:]:
            assert refs(message) <= set(release), "announced a cable the serving release does not hold"

    for step in steps:
        if step == "publish":
            cable_id = f"2026-BERLIN-{next(numbers):04d}"
            world.cable(cable_id)
            release.append(cable_id)
            world.publish("energie", release)
        elif step == "withdraw" and len(release) > 1:
            release.pop()
            world.publish("energie", release)
        elif step == "notify":
            run()
        elif step == "refused":
            run(deliver=refused)
        elif step == "crash":
            run(deliver=crash)
        elif step == "hour":
            world.clock.now += HOUR
        elif step == "day":
            world.clock.now += DAY
    world.clock.now += CLAIM_LEASE + 8 * DAY  # every claim of a crashed run has lapsed; every digest is due
    run()
    for address in (MEMBER, "i@example.org"):
        seen = [r for m in world.received(address) for r in refs(m)]
        assert len(seen) == len(set(seen)), f"{address} was told twice: {seen}"
        assert set(release[1:]) <= set(seen), f"{address} was never told of {set(release[1:]) - set(seen)}"


def test_an_unreadable_membership_snapshot_or_register_sends_nothing(tmp_path, smtp):
    """Fail closed: who may be told, and what was withdrawn, must be sure before any e-mail goes."""
    from pipeline.notify import NotifyError

    world = World(tmp_path, smtp, members={MEMBER: None, "i@example.org": None})
    alerts.write_preference(world.store, "energie", "i@example.org", alerts.IMMEDIATE, storage.utc_now())
    world.cable("2026-BERLIN-0001")
    world.publish("energie", ["2026-BERLIN-0001"])
    assert world.notify().baselined == 2
    world.cable("2026-BERLIN-0002")
    world.publish("energie", ["2026-BERLIN-0001", "2026-BERLIN-0002"])
    good = world.store.get(storage.MEMBERS_KEY)
    world.store.put(storage.MEMBERS_KEY, b'{"format": 1, "communities": []}')
    with pytest.raises(NotifyError, match="members.json"):
        world.notify()
    world.store.put(storage.MEMBERS_KEY, good)
    world.store.put("withdrawn/2026-BERLIN-0002/20261201T080000.000000Z-withdrawn-x.json", b"{broken")
    with pytest.raises(NotifyError, match="withdrawn register"):
        world.notify()
    assert world.mailbox.messages == []
    world.store.delete(["withdrawn/2026-BERLIN-0002/20261201T080000.000000Z-withdrawn-x.json"])
    assert len(world.notify().sent) == 2


@pytest.mark.s3
def test_two_notifier_processes_at_once_on_s3_send_each_cable_once(tmp_path, smtp, s3_server, s3_bucket):
    """``diplomatie notify`` twice at the same moment, as two cron hosts would run it."""
    import os

    controller, _ = smtp
    store = storage.S3Store(s3_bucket, "pub", client=s3_server.client())
    world = World(tmp_path, smtp, store=store, members=crowd())
    prepare_crowd(world)
    args = [sys.executable, "-m", "pipeline", "notify", "--root", str(world.repo.root), "--store",
            f"s3://{s3_bucket}/pub", "--smtp", f"127.0.0.1:{controller.port}", "--gate-url", GATE,
            "--keys", str(tmp_path / "keys"), "--format", "json"]
    env = {**os.environ, **s3_server.env()}
    root = Path(__file__).resolve().parent.parent
    runs = [subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    sent = [entry for out, _ in outputs for entry in json.loads(out)["sent"]]
    assert sorted(c for entry in sent for c in entry["cables"]) == sorted(
        ["2026-BERLIN-0002", "2026-BERLIN-0003", "2026-BERLIN-0004"] * 6)
    for n in range(6):
        seen = [r for m in world.received(f"m{n}@example.org") for r in refs(m)]
        assert sorted(seen) == ["2026-BERLIN-0002", "2026-BERLIN-0003", "2026-BERLIN-0004"]
