"""Readership behind the real nginx: the reads of cable pages nginx serves on a grant, without asking the
gate, are reported to the gate (deploy/diplomatie_grant.lua, gate/readreports.py) and counted by
``diplomatie activity`` exactly as the reads the gate serves itself; nothing else is; and a report that
does not come from nginx itself is refused. nginx reports every 0.2 s here (``@REPORT_EVERY@``)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import threading
import time

import pytest

from gate import store as storage
from gate import tokens
from gate.readreports import PATH
from tests.contentrepo import make_repo
from tests.gatekit import GateProcess, free_port, publish_site, wait_for, write_members
from tests.nginxkit import running_nginx
from tests.test_nginx import GATE_FLAGS, front, world_behind_nginx
from tests.test_nginx_grants import Browser

pytestmark = pytest.mark.nginx

ANNE = "a.martin@example.org"
READERS = tuple(f"reader{i}@example.org" for i in range(6))
CABLE, OTHER = "2026-BERLIN-0001", "2026-BERLIN-0002"


def publish(base):
    store = storage.open_store(base / "store")
    files = {"index.html": b"<p>index</p>", "404.html": b"<p>none</p>", "assets/site.css": b"p{}",
             "2026/search.html": b"<p>search</p>", f"2026/{CABLE}.html": b"<p>one</p>",
             f"2026/{OTHER}.html": b"<p>two</p>"}
    manifest = publish_site(store, "energie", files, "20261130T000000.000Z-00000000")
    store.put(manifest.key, dataclasses.replace(manifest, cables=(CABLE, OTHER)).to_json())
    write_members(store, {"energie": {"members": {ANNE: None, **{r: None for r in READERS}}}})
    tokens.init(base / "keys")
    return store


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("reads")
    store = publish(base)
    with world_behind_nginx(base, store, report_every=0.2) as proxied:
        yield proxied


def read_of(world, cable: str, who: str) -> bool:
    """Whether ``who``'s read of ``cable`` is recorded, this week (or the last, across a Monday)."""
    weeks = {storage.week_of(time.time()), storage.week_of(time.time() - 60)}
    return any(world.store.exists(storage.read_key("energie", week, cable, who)) for week in weeks)


def reads_of(world, who: str) -> set[str]:
    mine = storage.member_id(who)
    return {key.split("/")[3] for key in world.store.list("reads/energie/") if key.endswith(f"/{mine}.json")}


def read_on_a_grant(world, reader: str) -> Browser | None:
    """``reader`` signs in, gets a grant on the index, then opens pages nginx learned from Anne's reads:
    the browser, when nginx served the cable's page alone (no fresh grant: the gate was not asked)."""
    anne = Browser(world, world.session_cookie(ANNE))
    for cable in (CABLE, OTHER):  # the gate decides these pages (and records Anne's reads itself)
        assert anne.get(f"/c/energie/2026/{cable}.html").status == 200
    browser = Browser(world, world.session_cookie(reader))
    assert browser.get("/c/energie/").status == 200 and browser.asked == 1
    for path in ("/c/energie/assets/site.css", "/c/energie/2026/search.html", "/c/energie/"):
        assert browser.get(path).status == 200
    head = world.request("HEAD", f"/c/energie/2026/{OTHER}.html",
                         cookie=f"{browser.session}; {browser.grants['energie']}")
    assert head.status == 200
    page = browser.get(f"/c/energie/2026/{CABLE}.html")
    assert page.status == 200 and b"<p>one</p>" in page.body
    return browser if browser.asked == 1 else None  # a slow machine: nginx asked the gate again


def served_reader(world, readers: tuple[str, ...]) -> tuple[str, Browser]:
    """The first of ``readers`` whose read of CABLE nginx served alone (on a loaded machine, the news of
    the release may age between two requests, and nginx then asks the gate)."""
    for reader in readers:
        browser = read_on_a_grant(world, reader)
        if browser is not None:
            return reader, browser
    raise AssertionError("nginx never served a cable page on a grant")


def test_reads_nginx_serves_on_a_grant_are_counted_by_activity(world, tmp_path):
    served, _ = served_reader(world, READERS[:4])
    assert wait_for(lambda: read_of(world, CABLE, served)), world.nginx.error_log()
    # the index, an asset, a page that is not a cable and a HEAD came before it: none is a read
    assert reads_of(world, served) == {CABLE}
    again = Browser(world, world.session_cookie(served))
    for _ in range(3):
        again.get(f"/c/energie/2026/{CABLE}.html")
    repo = make_repo(tmp_path / "repo")
    result = repo.run("activity", "energie", "--store", str(world.base_dir / "store"), "--format", "json")
    assert result.code == 0, result.output
    counts = {entry["cable"]: entry["weeks"] for entry in json.loads(result.stdout)["cables"]}
    readers = {who for who in (ANNE, *READERS) if read_of(world, CABLE, who)}
    assert served in readers and sum(counts[CABLE].values()) == len(readers)  # one per member and week


def test_a_report_that_does_not_come_from_nginx_is_refused_and_records_nothing(world):
    reader = READERS[-1]
    session = world.session_cookie(reader).split(";", 1)[0].split("=", 1)[1]
    body = f"diplomatie-reads 1 {int(time.time())}\nenergie {OTHER} {session}\n".encode()
    keys = tokens.read_grant_keys(world.base_dir / "grants" / "keys")
    signed = {"Content-Type": "text/plain", tokens.REPORT_HEADER: tokens.sign_report(keys, body)}
    # a client through nginx, with the right key even: nginx names it in X-Forwarded-For
    assert world.request("POST", PATH, body=body, headers=signed).status == 404
    # the gate's own port from nginx's address, with another key
    other = dataclasses.replace(keys, keys=(tokens.new_grant_key(time.time()),))
    forged = {**signed, tokens.REPORT_HEADER: tokens.sign_report(other, body)}
    assert world.direct.request("POST", PATH, body=body, headers=forged).status == 404
    assert not read_of(world, OTHER, reader)
    # and the same report, signed with the file's key, from nginx's address: recorded
    taken = world.direct.request("POST", PATH, body=body, headers=signed)
    assert taken.status == 200 and json.loads(taken.body) == {"recorded": 1, "refused": 0}
    assert wait_for(lambda: read_of(world, OTHER, reader))


class HungGate:
    """A port that takes reports and never answers them (a gate that hangs), until closed."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.held.append(self.sock.accept()[0])

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept() and stops listening
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_a_gate_that_does_not_take_a_report_never_holds_a_page_and_loses_only_that_report(tmp_path):
    """nginx reports to a gate that hangs: pages on a grant are served while the report waits; the
    report is then dropped (with a warning), its read not recorded and noted again at the next read."""
    store = publish(tmp_path)
    hung = HungGate()
    grant_keys = tmp_path / "grants" / "keys"
    port = free_port()
    gate = GateProcess(tmp_path / "store", tmp_path / "keys", base_url=f"http://127.0.0.1:{port}",
                       extra=(*GATE_FLAGS, "--grant-keys", str(grant_keys)), log=tmp_path / "gate.log")
    try:
        with running_nginx(tmp_path / "nginx", [gate.port], tmp_path / "store", port=port, grant_keys=grant_keys,
                           report_every=0.2, report_ports=[hung.port]) as nginx:
            world = front(gate, port)
            world.store, world.nginx = store, nginx
            reader, browser = served_reader(world, READERS)
            assert wait_for(lambda: hung.held), nginx.error_log()  # the report waits on the hung gate
            for _ in range(3):  # meanwhile nginx serves pages on the grant as before
                for path in ("/c/energie/", "/c/energie/assets/site.css"):
                    assert browser.get(path).status == 200
            hung.close()
            assert wait_for(lambda: "read report not taken" in nginx.error_log())
            assert not read_of(world, CABLE, reader)  # the report is lost, and only it
            # At least that report is dropped: nginx's timer fires every 0.2 s whether or not the last
            # post is done, so reads noted in a later tick (other readers' cable pages, when a slow
            # machine made served_reader try several) are posted beside it, held, and dropped too.
            dropped = nginx.error_log().count("read report not taken")
            for _ in range(3):  # read again on the grant (unless nginx had to ask the gate): noted again
                asked = browser.asked
                assert browser.get(f"/c/energie/2026/{CABLE}.html").status == 200
                if browser.asked == asked:
                    break
            assert wait_for(lambda: nginx.error_log().count("read report not taken") > dropped), nginx.error_log()
    finally:
        hung.close()
        gate.stop()
