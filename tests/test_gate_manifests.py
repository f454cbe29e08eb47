"""The gate reading format 2 manifests (docs/storage.md): a root naming content-addressed nodes.

A release is read whole, every node checked against its hash, before it serves; a switch reads only
the nodes that changed; a release with a node missing, damaged, or of a format this gate does not
know never serves: the previous one keeps serving, and a community with nothing readable answers 503.
"""

from __future__ import annotations

import json

import pytest
from gatekit import gate_in_process, publish_site, write_members

from gate import store as storage
from gate import tokens

MEMBER = "a@press.org"


def pages(version: str, n: int = 300) -> dict[str, bytes]:
    """A site big enough for a table of several levels; ``index.html`` says which version it is."""
    files = {f"2026/2026-BERLIN-{i:04d}.html": f"<html>page {i}</html>".encode() for i in range(n)}
    files["index.html"] = f"<html>VERSION-{version}</html>".encode()
    return files


@pytest.fixture
def world(tmp_path):
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "presse", pages("one"), "r1")
    write_members(store, {"presse": {"members": {MEMBER: None}}})
    tokens.init(tmp_path / "keys")
    with gate_in_process(tmp_path / "store", tmp_path / "keys") as gate:
        gate.store = store
        gate.cookie = gate.session_cookie(MEMBER)
        yield gate


def home(world) -> bytes:
    reply = world.get("/c/presse/", cookie=world.cookie)
    return reply.body if reply.status == 200 else str(reply.status).encode()


def test_a_format_2_release_serves_and_a_switch_reads_only_the_nodes_that_changed(world):
    assert b"VERSION-one" in home(world)
    first = world.gate.manifest_nodes.fetched
    assert first > 3  # the table of 300 files has several levels
    new = pages("two")
    new["2026/2026-BERLIN-0007.html"] = b"<html>page 7, corrected</html>"
    publish_site(world.store, "presse", new, "r2")
    world.refresh()
    assert b"VERSION-two" in home(world)
    assert world.get("/c/presse/2026/2026-BERLIN-0007.html", cookie=world.cookie).body.endswith(b"corrected</html>")
    depth = json.loads(world.store.get(storage.manifest_key("presse", "r2")))["table"]["depth"]
    # two files changed: at most their two leaves and the nodes above them, and no cable list
    assert 0 < world.gate.manifest_nodes.fetched - first <= 2 * depth + 1


def _next_release_damaged(world, damage: str) -> None:
    before = storage.read_manifest(world.store, "presse", "r1")
    after = publish_site(world.store, "presse", pages("two"), "r2")
    victim = sorted(after.nodes - before.nodes)[0]
    if damage == "missing":
        world.store.delete([storage.blob_key(victim)])
    elif damage == "corrupt":
        data = bytearray(world.store.get(storage.blob_key(victim)))
        data[len(data) // 2] ^= 0x20
        world.store.put(storage.blob_key(victim), bytes(data))
    elif damage == "unknown format":
        root = world.store.get(storage.manifest_key("presse", "r2")).replace(b'"format": 2', b'"format": 3')
        world.store.put(storage.manifest_key("presse", "r2"), root)


@pytest.mark.parametrize("damage", ["missing", "corrupt", "unknown format"])
def test_a_release_that_cannot_be_read_whole_never_serves_the_previous_one_does(world, damage):
    assert b"VERSION-one" in home(world)
    _next_release_damaged(world, damage)
    world.refresh()
    assert b"VERSION-one" in home(world)  # not a mix, not an error: the release that was whole
    assert "presse" in world.gate.release_errors and not world.gate.healthy
    if damage == "unknown format":
        assert "format 3 is not one this version reads" in world.gate.release_errors["presse"]


@pytest.mark.parametrize("damage", ["missing", "corrupt", "unknown format"])
def test_a_first_release_that_cannot_be_read_whole_answers_503_and_no_bytes_of_it(tmp_path, damage):
    store = storage.open_store(tmp_path / "store")
    manifest = publish_site(store, "presse", pages("one"), "r1")
    victim = sorted(manifest.nodes)[0]
    if damage == "missing":
        store.delete([storage.blob_key(victim)])
    elif damage == "corrupt":
        store.put(storage.blob_key(victim), store.get(storage.blob_key(victim)) + b" ")
    else:
        store.put(manifest.key, store.get(manifest.key).replace(b'"format": 2', b'"format": 99'))
    write_members(store, {"presse": {"members": {MEMBER: None}}})
    tokens.init(tmp_path / "keys")
    with gate_in_process(tmp_path / "store", tmp_path / "keys") as gate:
        reply = gate.get("/c/presse/", cookie=gate.session_cookie(MEMBER))
        assert reply.status == 503 and b"VERSION-one" not in reply.body and b"Traceback" not in reply.body


def test_rolling_back_serves_the_older_release_whole_again(world):
    publish_site(world.store, "presse", pages("two"), "r2")
    world.refresh()
    assert b"VERSION-two" in home(world)
    storage.write_pointer(world.store, storage.Pointer("presse", "r1", storage.utc_now()))
    world.refresh()
    assert b"VERSION-one" in home(world)
    assert world.get("/c/presse/2026/2026-BERLIN-0299.html", cookie=world.cookie).status == 200


def test_the_gate_keeps_in_memory_only_the_nodes_of_the_releases_it_serves(world):
    home(world)
    publish_site(world.store, "presse", pages("two", n=10), "r2")
    world.refresh()
    serving = storage.read_manifest(world.store, "presse", "r2")
    assert set(world.gate.manifest_nodes.memory) == set(serving.nodes)
