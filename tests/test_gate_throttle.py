"""Sign-in throttling delays, never locks out; /login does the same work for members and strangers.

In process, with the gate's fake clock: a stranger submitting a member's address in a loop delays that
member's e-mail by at most the recipient interval (60 s), a member asking always gets a link within it,
and the answer's timing does not tell members from strangers (measured as distributions).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate import store as storage
from gate import tokens
from gate.http import Request
from gate.throttle import MailSchedule, TokenBucket
from tests.gatekit import gate_in_process, publish_site, write_members

INTERVAL = 60.0


@pytest.fixture
def world(tmp_path):
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "presse", {"index.html": b"<html>CONTENT-OF-PRESSE</html>"}, "r1")
    write_members(store, {"presse": {"members": {"a@press.org": None}, "domains": ["alpha.example"]}})
    tokens.init(tmp_path / "keys")
    with gate_in_process(tmp_path / "store", tmp_path / "keys", trusted_proxies=("192.0.2.7",)) as gate:
        yield gate


def ask(gate, address: str, client: str = "198.51.100.1"):
    return gate.post_form("/login", {"email": address}, headers={"X-Forwarded-For": client})


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.floats(0, 600, allow_nan=False)), max_size=60))
def test_schedule_spaces_sends_and_answers_every_request_within_the_interval(requests):
    schedule = MailSchedule(INTERVAL)
    sends: dict[str, list[float]] = {"a": [], "b": []}
    popped = scheduled = 0
    for address, t in sorted(requests, key=lambda r: r[1]):
        popped += len(schedule.pop_due(t))
        when = schedule.request(address, t)
        if when is not None:
            sends[address].append(when)
            scheduled += when > t
    popped += len(schedule.pop_due(float("inf")))
    assert popped == scheduled  # every delayed send is made, once
    for address, t in requests:
        times = sorted(sends[address])
        assert all(b - a >= INTERVAL - 1e-9 for a, b in zip(times, times[1:], strict=False))
        assert any(t <= s <= t + INTERVAL for s in times), (address, t, times)


def test_token_bucket_refills_instead_of_locking_out():
    bucket = TokenBucket(burst=3, refill=10)
    assert [bucket.take("x", 0) for _ in range(3)] == [0, 0, 0]
    assert bucket.take("x", 0) == pytest.approx(10)
    assert bucket.take("x", 5) == pytest.approx(5)
    assert bucket.take("x", 10) == 0
    assert bucket.take("y", 10) == 0  # another client is not affected


def test_a_stranger_flooding_a_members_address_delays_the_link_by_at_most_a_minute(world):
    start = world.clock()
    asked_at = []
    for second in range(300):
        ask(world, "a@press.org", client=f"203.0.113.{second % 250}")  # the stranger, every second
        if second in (5, 61, 130, 131, 299):
            ask(world, "a@press.org")  # the member
            asked_at.append(world.clock() - start)
        world.clock.advance(1)
        world.refresh()  # the poller's tick
    world.clock.advance(INTERVAL)
    world.refresh()
    links = world.mailed_links()
    assert {to for to, _ in links} == {"a@press.org"}
    # links were signed when sent: read the send times from the tokens themselves
    ring = tokens.load(world.keys_dir)
    sent = sorted(tokens.verify(ring, link.split("token=", 1)[1].split("&")[0], typ=tokens.MAGIC,
                                issuer=world.base, audience=world.base, now=world.clock() - 60).iat - start
                  for _, link in links)
    assert all(b - a >= INTERVAL for a, b in zip(sent, sent[1:], strict=False))
    assert len(sent) <= 300 / INTERVAL + 2
    for t in asked_at:
        assert any(t <= s <= t + INTERVAL + 1 for s in sent), (t, sent)


def test_a_client_over_its_budget_waits_and_is_then_served(world):
    replies = [ask(world, f"x{i}@elsewhere.example") for i in range(21)]
    assert [r.status for r in replies[:20]] == [200] * 20
    assert replies[20].status == 429 and int(replies[20].header("retry-after")) <= 15
    assert ask(world, "x@elsewhere.example", client="198.51.100.2").status == 200  # another client
    world.clock.advance(15)
    assert ask(world, "y@elsewhere.example").status == 200


def test_login_answers_members_and_strangers_alike(world):
    member = ask(world, "someone@alpha.example")
    stranger = ask(world, "someone@bravo.example")
    assert member.status == stranger.status == 200 and member.body == stranger.body
    assert [to for to, _ in world.mailed_links()] == ["someone@alpha.example"]  # dropped after the answer


def test_login_takes_the_same_time_for_members_and_strangers(tmp_path):
    """Interleaved timings of many requests: neither the medians nor the ranks tell members from strangers."""
    store = storage.open_store(tmp_path / "store")
    write_members(store, {"presse": {"members": {}, "domains": ["alpha.example"]}})
    tokens.init(tmp_path / "keys")
    with gate_in_process(tmp_path / "store", tmp_path / "keys", login_burst=10_000) as client:
        gate = client.gate
        body = {}

        async def one(address: str) -> float:
            data = f"email={address}".encode()
            body[address] = data
            messages = iter([{"type": "http.request", "body": data, "more_body": False}])

            async def receive():
                return next(messages)

            headers = {"content-type": "application/x-www-form-urlencoded", "content-length": str(len(data))}
            req = Request("POST", "/login", "", headers.get, ("192.0.2.9", 1), receive)
            started = time.perf_counter()
            resp = await gate.handle(req)
            elapsed = time.perf_counter() - started
            assert resp.status == 200
            await asyncio.gather(*list(gate.outbox.background))  # the send job, outside the timed part
            return elapsed

        async def run() -> tuple[list[float], list[float]]:
            order = ["member", "stranger"] * 300
            random.Random(7).shuffle(order)
            times: dict[str, list[float]] = {"member": [], "stranger": []}
            for i, kind in enumerate(order):
                domain = "alpha.example" if kind == "member" else "bravo.example"
                times[kind].append(await one(f"u{i:04d}@{domain}"))
            return times["member"], times["stranger"]

        members, strangers = client.run(run())
    m, s = statistics.median(members), statistics.median(strangers)
    assert abs(m - s) / min(m, s) < 0.25, (m, s)
    slower = sum(a > b for a in members for b in strangers) / (len(members) * len(strangers))
    assert 0.35 < slower < 0.65, slower  # 0.5 when the two distributions are the same
