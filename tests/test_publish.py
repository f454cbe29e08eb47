"""Publication into the store, on the folder store and on a real S3 server: atomic, incremental, purging."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import shutil
from dataclasses import replace

import brotli
import pytest
from sitefactory import corpus, make_site, readable

from gate.store import (
    BLOBS_PREFIX,
    MEMBERS_KEY,
    BlobReader,
    FileEntry,
    FolderStore,
    Pointer,
    S3Store,
    StoreUnavailable,
    WithdrawalRecord,
    blob_key,
    lease_key,
    read_manifest,
    read_pointer,
    read_table,
    write_pointer,
    write_withdrawal,
)
from pipeline import publish as publish_mod
from pipeline.publish import (
    PublishError,
    gc,
    ledger,
    list_releases,
    publish_site,
    rollback,
    scan_site,
    site_fingerprint,
    write_members,
)


@pytest.fixture(params=["folder", pytest.param("s3", marks=pytest.mark.s3)])
def store(request, tmp_path):
    if request.param == "folder":
        return FolderStore(tmp_path / "store")
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Store(bucket, "pub", client=server.client())


def all_blob_bytes(store) -> list[bytes]:
    return [readable(store.get(k)) for k in store.list(BLOBS_PREFIX)]


def test_first_publication_uploads_every_file_and_switches_the_pointer(store, tmp_path):
    site = make_site(tmp_path / "build", "europe", corpus(5))
    result = publish_site(store, site)
    files = sorted(p for p in site.path.rglob("*") if p.is_file() and ".diplomatie" not in p.parts)  # never a page
    assert result.changed and result.previous is None
    manifest = read_manifest(store, "europe", result.release)
    # every file, and the gzip and brotli representations of its text files (docs/storage.md)
    encoded = [enc for e in manifest.files.values() for _, enc in e.encodings]
    assert len(manifest.files) == len(files) and encoded
    assert result.uploaded == len(files) + len(encoded) and result.skipped == 0 and result.cables == 5
    assert result.bytes_uploaded == sum(p.stat().st_size for p in files) + sum(enc.size for enc in encoded)
    pointer = read_pointer(store, "europe")
    assert pointer is not None and pointer.release == result.release
    assert manifest.cables == site.cables and manifest.commit == site.commit
    assert manifest.files["index.html"].type == "text/html; charset=utf-8"
    for rel, entry in manifest.files.items():
        assert store.get(blob_key(entry.sha256)) == (site.path / rel).read_bytes()
    assert list(store.list("publishing/")) == []


def test_unchanged_site_publishes_with_zero_uploads_and_no_new_release(store, tmp_path):
    site = make_site(tmp_path / "build", "europe", corpus(5))
    first = publish_site(store, site)
    again = publish_site(store, site)
    assert not again.changed and again.uploaded == 0 and again.release == first.release
    assert [r.release for r in list_releases(store, "europe")] == [first.release]


class Reading:
    """A real store that remembers the keys a publication reads."""

    def __init__(self, store) -> None:
        self.store, self.read = store, []

    def __getattr__(self, name):
        return getattr(self.store, name)

    def get(self, key):
        self.read.append(key)
        return self.store.get(key)


def test_a_site_whose_build_key_serves_as_recorded_is_not_read_again(store, tmp_path):
    site = replace(make_site(tmp_path / "build", "europe", corpus(5)), key="build-key-1")
    stamp: dict = {}
    first = publish_site(store, site, stamp=stamp)
    assert stamp["release"] == first.release and stamp["fingerprint"] == site_fingerprint(store, site)
    shutil.rmtree(site.path)  # whatever is in the folder now: its build key says it is the site published
    reading = Reading(store)
    again = publish_site(reading, site, stamp=stamp)
    assert not again.changed and again.release == first.release and again.uploaded == 0
    assert again.skipped == len(read_manifest(store, "europe", first.release).blobs() -
                                read_manifest(store, "europe", first.release).nodes)
    assert f"releases/europe/{first.release}.json" not in reading.read and not any(
        k.startswith("blobs/") for k in reading.read)  # neither the manifest nor its nodes
    assert [r.release for r in list_releases(store, "europe")] == [first.release]


def test_a_recorded_site_is_read_again_when_another_release_serves(store, tmp_path):
    cables = corpus(4)
    stamp: dict = {}
    old = publish_site(store, replace(make_site(tmp_path / "a", "europe", cables), key="k1"), stamp=stamp)
    cables["2026-POST-0001"] = "Corrected."
    new_site = replace(make_site(tmp_path / "b", "europe", cables), key="k2")
    new = publish_site(store, new_site, stamp=stamp)
    rollback(store, "europe", old.release)  # another publisher's act: the store no longer serves the stamp's release
    again = publish_site(store, new_site, stamp=stamp)
    assert again.changed and again.release not in (old.release, new.release)
    served = read_manifest(store, "europe", read_pointer(store, "europe").release)
    assert store.get(blob_key(served.files["2026/2026-POST-0001/index.html"].sha256)) == \
        (new_site.path / "2026/2026-POST-0001/index.html").read_bytes()
    assert stamp["release"] == again.release


@pytest.mark.parametrize("change", ["key", "cables", "commit", "store"])
def test_any_change_to_what_identifies_a_site_makes_it_read_again(store, tmp_path, change):
    site = replace(make_site(tmp_path / "build", "europe", corpus(3)), key="k1", commit="a" * 40)
    other = {"key": replace(site, key="k2"), "cables": replace(site, cables=site.cables[1:]),
             "commit": replace(site, commit="b" * 40), "store": site}[change]
    target = FolderStore(tmp_path / "other-store") if change == "store" else store
    assert site_fingerprint(target, other) != site_fingerprint(store, site)
    assert site_fingerprint(store, replace(site, key="")) == ""  # a site without a build key is always read


class AllRequests:
    """A real store that counts every request a publication makes."""

    METHODS = ("get", "put", "exists", "list", "scan", "head", "create", "delete")

    def __init__(self, store) -> None:
        self.store, self.count = store, 0

    def __getattr__(self, name):
        attribute = getattr(self.store, name)
        if name not in self.METHODS:
            return attribute

        def counted(*args, **kwargs):
            self.count += 1
            return attribute(*args, **kwargs)
        return counted


def test_a_no_op_publication_asks_the_store_the_same_whatever_the_communitys_history(store, tmp_path):
    """Older releases already found to hold no cable outside the site are remembered with the site's
    record: a no-op does not ask about each of them again (before, two requests per older release)."""
    cables, stamp = corpus(3), {}

    def corrections(count: int):
        for _ in range(count):
            n = len(list_releases(store, "europe"))
            cables["2026-POST-0001"] = f"Correction {n}."
            site = replace(make_site(tmp_path / f"build{n}", "europe", cables), key=f"k{n}")
            assert publish_site(store, site, stamp=stamp).changed
        return site

    def no_op(site) -> int:
        counting = AllRequests(store)
        assert not publish_site(counting, site, stamp=stamp).changed
        return counting.count

    site = corrections(2)
    few = no_op(site)
    site = corrections(6)
    assert no_op(site) == few and len(list_releases(store, "europe")) == 8
    assert no_op(site) == few
    older = {r.release for r in list_releases(store, "europe")} - {stamp["release"]}
    assert set(stamp["clean"]) == older  # what the record remembers: the releases there are, no other


def test_a_release_another_publisher_left_behind_is_still_marked_by_a_no_op(tmp_path):
    """A release written but never switched to (its publication stopped before the pointer) is not in
    the record: the next no-op reads it, and marks it when it holds a cable the site does not publish."""
    store = FolderStore(tmp_path / "store")
    cables, stamp = corpus(2), {}
    site = replace(make_site(tmp_path / "ours", "europe", cables), key="k1")
    ours = publish_site(store, site, stamp=stamp)

    class PointerFails(FolderStore):
        def put(self, key, data, content_type="application/octet-stream"):
            if key.startswith("communities/"):
                raise StoreUnavailable("disk went away")
            super().put(key, data, content_type)

    other = make_site(tmp_path / "other", "europe", {**cables, "2026-POST-0060": "Withdrawn since."})
    with pytest.raises(PublishError, match="before the switch"):
        publish_site(PointerFails(store.root), other)
    left = [r.release for r in list_releases(store, "europe") if r.release != ours.release]
    assert len(left) == 1 and read_pointer(store, "europe").release == ours.release
    again = publish_site(store, site, stamp=stamp)
    assert not again.changed and again.unrestorable == tuple(left)
    assert not publish_site(store, site, stamp=stamp).unrestorable  # marked once, then skipped


def test_a_withdrawn_cable_is_refused_even_in_a_site_recorded_as_serving(store, tmp_path):
    site = replace(make_site(tmp_path / "build", "europe", corpus(3)), key="k1")
    stamp: dict = {}
    first = publish_site(store, site, stamp=stamp)
    write_withdrawal(store, WithdrawalRecord(site.cables[0], "withdrawn", "2026-11-28T14:00:00Z", None, "u@h"),
                     dt.datetime.now(dt.UTC))
    with pytest.raises(PublishError, match=f"refused.*{site.cables[0]}"):
        publish_site(store, site, stamp=stamp)
    assert read_pointer(store, "europe").release == first.release


def test_one_cable_edit_uploads_only_the_pages_whose_bytes_changed(store, tmp_path):
    cables = corpus(6)
    first = publish_site(store, make_site(tmp_path / "build", "europe", cables))
    cables["2026-POST-0003"] = "Corrected analysis."
    result = publish_site(store, make_site(tmp_path / "build", "europe", cables))
    before, after = read_manifest(store, "europe", first.release), read_manifest(store, "europe", result.release)
    changed = sorted(p for p in after.files if after.files[p].sha256 != before.files[p].sha256)
    assert changed == ["2026/2026-POST-0003/index.html", "feed.xml", "index.html", "search/search_index.json"]
    # those four files, each with its gzip and brotli forms (the short corrected page has none), and
    # the manifest's one leaf (a site this small has a table of one node; its cable list is unchanged)
    assert result.uploaded == len(after.blobs() - after.nodes - before.blobs()) == 3 * 3 + 1 and result.changed
    assert len(after.nodes - before.nodes) == 1 and result.manifest_bytes < 6 * 1024
    assert result.added == () and result.removed == ()
    assert len(list_releases(store, "europe")) == 2


class Counting:
    """A real store that counts the requests a publication makes."""

    def __init__(self, store) -> None:
        self.store, self.calls = store, {"list": 0, "head": 0}

    def __getattr__(self, name):
        return getattr(self.store, name)

    def list(self, prefix):
        if prefix == BLOBS_PREFIX:
            self.calls["list"] += 1
        return self.store.list(prefix)

    def head(self, key):
        self.calls["head"] += 1
        return self.store.head(key)


def test_one_cable_edit_looks_up_only_the_new_blobs_not_the_whole_store(store, tmp_path):
    cables = corpus(300)
    counting = Counting(store)
    publish_site(counting, make_site(tmp_path / "build", "europe", cables))
    assert counting.calls["list"] == 2  # first publication: 300+ blobs, one listing before and one after
    cables["2026-POST-0003"] = "Corrected analysis."
    counting.calls = {"list": 0, "head": 0}
    before = read_manifest(store, "europe", read_pointer(store, "europe").release)
    result = publish_site(counting, make_site(tmp_path / "build", "europe", cables))
    assert result.uploaded == 3 * 3 + 1 and counting.calls["list"] == 0  # 4 files, 3 with gzip and brotli
    # the manifest's nodes that changed: per changed file, its leaf and the nodes above it, no more
    after = read_manifest(store, "europe", result.release)
    depth = json.loads(store.get(after.key))["table"]["depth"]
    new_nodes = after.nodes - before.nodes
    assert depth == 2 and 1 <= len(new_nodes) <= 1 + 4 * depth
    assert result.manifest_bytes < sum(len(store.get(blob_key(n))) for n in before.nodes) / 3
    # each new blob looked for before and after the manifest, and checked once after its upload
    assert counting.calls["head"] == 3 * (3 * 3 + 1 + len(new_nodes))


def test_a_blob_lost_from_the_store_is_uploaded_again(store, tmp_path):
    cables = corpus(4)
    first = publish_site(store, make_site(tmp_path / "build", "europe", cables))
    manifest = read_manifest(store, "europe", first.release)
    lost = manifest.files["2026/2026-POST-0001/index.html"].sha256
    store.delete([blob_key(lost)])
    cables["2026-POST-0001"] = "Corrected."
    publish_site(store, make_site(tmp_path / "build", "europe", cables))  # its page changes: not the lost blob
    cables["2026-POST-0001"] = corpus(4)["2026-POST-0001"]  # back to the text whose blob was lost
    again = publish_site(store, make_site(tmp_path / "build", "europe", cables))
    assert store.get(blob_key(lost)) == (tmp_path / "build/europe/2026/2026-POST-0001/index.html").read_bytes()
    assert again.uploaded >= 1


def test_text_files_are_stored_with_gzip_and_brotli_forms_that_decompress_to_their_bytes(store, tmp_path):
    site = make_site(tmp_path / "build", "europe", corpus(5))
    (site.path / "assets/logo.png").write_bytes(os.urandom(2000))  # compressed already: never compressed again
    (site.path / "pagefind/fragment/en_1.pf_fragment").parent.mkdir(parents=True)
    (site.path / "pagefind/fragment/en_1.pf_fragment").write_bytes(gzip.compress(b"fragment " * 300))
    manifest = read_manifest(store, "europe", publish_site(store, site).release)
    for path in ("index.html", "search/search_index.json", "feed.xml", "2026/2026-POST-0001/index.html"):
        entry = manifest.files[path]
        identity = (site.path / path).read_bytes()
        assert [name for name, _ in entry.encodings] == ["br", "gzip"], path
        br, gz = store.get(blob_key(entry.encoded("br").sha256)), store.get(blob_key(entry.encoded("gzip").sha256))
        assert brotli.decompress(br) == identity and gzip.decompress(gz) == identity
        assert entry.encoded("br").size == len(br) < entry.encoded("gzip").size == len(gz) < entry.size
    for path in ("assets/logo.png", "pagefind/fragment/en_1.pf_fragment", "assets/stylesheets/main0.css", "404.html"):
        assert manifest.files[path].encodings == (), path  # not text, or too small to gain anything
    # the manifest's table says so in JSON, next to each file's own blob (docs/storage.md)
    root = json.loads(store.get(f"releases/europe/{manifest.release}.json"))
    entries, _ = read_table(root["table"], BlobReader(store))
    raw = entries["f:index.html"]
    assert set(raw["encodings"]) == {"br", "gzip"} and set(raw["encodings"]["br"]) == {"sha256", "size"}
    assert "encodings" not in entries["f:404.html"]


def test_compressed_forms_are_the_same_bytes_whoever_publishes_them(tmp_path):
    """gzip without a name or a time, brotli without either: a fresh store gets the same blobs, so a site
    published again (or the same page in another community) finds its compressed forms already there."""
    site = make_site(tmp_path / "build", "europe", corpus(5))
    first = FolderStore(tmp_path / "one")
    second = FolderStore(tmp_path / "two")
    a = read_manifest(first, "europe", publish_site(first, site).release)
    b = read_manifest(second, "europe", publish_site(second, site, now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)).release)
    assert a.files == b.files and any(e.encodings for e in a.files.values())
    again = make_site(tmp_path / "build", "afrique", corpus(5))
    assert publish_site(first, again).uploaded == 0  # every blob, compressed ones included, is there


def test_a_release_published_before_compression_gets_its_compressed_forms_at_the_next_publish(store, tmp_path):
    site = make_site(tmp_path / "build", "europe", corpus(3))
    first = publish_site(store, site)
    manifest = read_manifest(store, "europe", first.release)
    plain = {p: FileEntry(e.sha256, e.size, e.type) for p, e in manifest.files.items()}
    old = replace(manifest, release="20200101T000000.000Z-00000000", files=plain)
    store.put(old.key, old.to_json(), "application/json")
    write_pointer(store, Pointer("europe", old.release, "2020-01-01T00:00:00Z"))
    assert b"encodings" not in store.get(old.key)
    upgraded = publish_site(store, site)
    assert upgraded.changed and upgraded.uploaded == 0  # the compressed blobs of the first release are there
    assert read_manifest(store, "europe", upgraded.release).files == manifest.files
    assert not publish_site(store, site).changed


def test_a_file_another_community_serves_is_not_compressed_again(store, tmp_path, monkeypatch):
    first = read_manifest(store, "europe", publish_site(store, make_site(tmp_path / "a", "europe", corpus(3))).release)
    log = tmp_path / "compressed.txt"  # written by the worker processes that compress
    real = publish_mod.precompress

    def counting(data, kind):
        with log.open("a") as f:
            f.write(hashlib.sha256(data).hexdigest() + "\n")
        return real(data, kind)

    monkeypatch.setattr(publish_mod, "precompress", counting)
    cables = {**corpus(3), "2026-POST-0777": "Only in Africa: " + "savane " * 60}
    second = read_manifest(store, "afrique", publish_site(store, make_site(tmp_path / "b", "afrique", cables)).release)
    compressed = set(log.read_text().split())
    shared = [p for p, e in first.files.items() if e.encodings and second.files.get(p) == e]
    assert "2026/2026-POST-0001/index.html" in shared  # same bytes, same compressed copies, taken from europe
    assert compressed and not compressed & {first.files[p].sha256 for p in shared}
    assert second.files["2026/2026-POST-0777/index.html"].sha256 in compressed


def test_a_lost_compressed_copy_is_made_again_by_the_next_publication(store, tmp_path):
    cables = corpus(4)
    europe = read_manifest(store, "europe", publish_site(store, make_site(tmp_path / "a", "europe", cables)).release)
    lost = europe.files["2026/2026-POST-0001/index.html"].encoded("br")
    store.delete([blob_key(lost.sha256)])
    # another community with the same page takes europe's copies, finds this one missing, and makes it again
    publish_site(store, make_site(tmp_path / "b", "afrique", cables))
    page = (tmp_path / "a/europe/2026/2026-POST-0001/index.html").read_bytes()
    assert brotli.decompress(store.get(blob_key(lost.sha256))) == page


def test_identical_files_are_stored_once_across_communities(store, tmp_path):
    publish_site(store, make_site(tmp_path / "build", "europe", corpus(2), assets=4))
    second = publish_site(store, make_site(tmp_path / "build", "afrique", corpus(2, seed="x"), assets=4))
    assert second.skipped >= 5  # the four stylesheets and 404.html


def test_withdrawn_cable_text_is_in_no_blob_after_the_next_publication(store, tmp_path):
    canary = "CANARY-7f3a-never-to-be-served"
    cables = corpus(4)
    cables["2026-POST-0099"] = f"Sensitive paragraph {canary}."
    r1 = publish_site(store, make_site(tmp_path / "build", "europe", cables))
    cables["2026-POST-0001"] = "An edit, so there are two releases holding the canary."
    r2 = publish_site(store, make_site(tmp_path / "build", "europe", cables))
    assert any(canary.encode() in b for b in all_blob_bytes(store))
    compressed = [store.get(blob_key(enc.sha256)) for e in read_manifest(store, "europe", r2.release).files.values()
                  for _, enc in e.encodings]
    assert any(canary.encode() in readable(b) and canary.encode() not in b for b in compressed)

    del cables["2026-POST-0099"]
    r3 = publish_site(store, make_site(tmp_path / "build", "europe", cables))
    assert r3.removed == ("2026-POST-0099",)
    assert set(r3.unrestorable) == {r1.release, r2.release}
    assert r3.deleted_blobs > 0
    assert not any(canary.encode() in b for b in all_blob_bytes(store))
    # the serving release is complete, compressed representations included
    for sha in read_manifest(store, "europe", r3.release).blobs():
        assert store.exists(blob_key(sha))
    restorable = {r.release: r.restorable for r in list_releases(store, "europe")}
    assert restorable == {r1.release: False, r2.release: False, r3.release: True}
    with pytest.raises(PublishError, match="cannot be restored"):
        rollback(store, "europe", to=r1.release)
    with pytest.raises(PublishError, match="no restorable release"):
        rollback(store, "europe")


def test_withdrawal_keeps_a_page_another_community_still_publishes(store, tmp_path):
    shared = {"2026-POST-0001": "Shared analysis."}
    publish_site(store, make_site(tmp_path / "a", "europe", {**shared, "2026-POST-0002": "Europe only."}))
    b = publish_site(store, make_site(tmp_path / "b", "afrique", {**shared, "2026-POST-0002": "Europe only."}))
    publish_site(store, make_site(tmp_path / "a", "europe", shared))
    for entry in read_manifest(store, "afrique", b.release).files.values():
        assert store.exists(blob_key(entry.sha256))


def test_purge_interrupted_after_marking_is_finished_by_the_next_publication(tmp_path):
    store = FolderStore(tmp_path / "store")
    canary = "CANARY-interrupted"
    cables = {**corpus(2), "2026-POST-0050": canary}
    publish_site(store, make_site(tmp_path / "build", "europe", cables))
    del cables["2026-POST-0050"]
    site = make_site(tmp_path / "build", "europe", cables)

    class SweepFails(FolderStore):
        def scan(self, prefix):
            if prefix == BLOBS_PREFIX and any(self.list("purge-pending/")):
                raise StoreUnavailable("disk went away")
            return super().scan(prefix)

    with pytest.raises(PublishError, match="run publish again"):
        publish_site(SweepFails(store.root), site)
    assert any(canary.encode() in b for b in all_blob_bytes(store))
    again = publish_site(store, site)
    assert not again.changed
    assert not any(canary.encode() in b for b in all_blob_bytes(store))


def test_rollback_returns_to_the_previous_release_and_is_recorded(store, tmp_path):
    cables = corpus(3)
    r1 = publish_site(store, make_site(tmp_path / "build", "europe", cables))
    cables["2026-POST-0000"] = "Edited."
    r2 = publish_site(store, make_site(tmp_path / "build", "europe", cables))
    pointer = rollback(store, "europe")
    assert pointer.release == r1.release == read_pointer(store, "europe").release
    assert [r.release for r in list_releases(store, "europe") if r.current] == [r1.release]
    rollback(store, "europe", to=r2.release)
    assert read_pointer(store, "europe").release == r2.release
    actions = [(rec["action"], rec.get("release")) for rec in ledger(store)]
    assert actions == [("publish", r1.release), ("publish", r2.release), ("rollback", r1.release),
                       ("rollback", r2.release)]
    with pytest.raises(PublishError, match="no release"):
        rollback(store, "europe", to="20200101T000000.000Z-00000000")


def test_ledger_records_who_published_what(store, tmp_path):
    cables = corpus(2)
    publish_site(store, make_site(tmp_path / "build", "europe", cables), by="editor@example.org")
    cables["2026-POST-0007"] = "New."
    del cables["2026-POST-0000"]
    r2 = publish_site(store, make_site(tmp_path / "build", "europe", cables), by="editor@example.org")
    record = [r for r in ledger(store) if r["action"] == "publish"][-1]
    assert record["by"] == "editor@example.org" and record["release"] == r2.release
    assert record["added"] == ["2026-POST-0007"] and record["removed"] == ["2026-POST-0000"]
    assert record["commit"] == "c0ffee" + "0" * 34


def test_gc_keeps_the_newest_releases_and_deletes_blobs_only_older_ones_use(store, tmp_path):
    cables = corpus(2)
    results = []
    for i in range(4):
        cables["2026-POST-0000"] = f"Version {i}."
        results.append(publish_site(store, make_site(tmp_path / "build", "europe", cables)))
    out = gc(store, keep=2, min_age=dt.timedelta(0))
    assert {r for _, r in out.dropped} == {results[0].release, results[1].release}
    assert [r.release for r in list_releases(store, "europe")] == [results[3].release, results[2].release]
    remaining = b"".join(all_blob_bytes(store))
    assert b"Version 0." not in remaining and b"Version 1." not in remaining
    assert b"Version 2." in remaining and b"Version 3." in remaining


def test_gc_always_keeps_the_serving_release(store, tmp_path):
    cables = corpus(2)
    first = None
    for i in range(3):
        cables["2026-POST-0000"] = f"Version {i}."
        r = publish_site(store, make_site(tmp_path / "build", "europe", cables))
        first = first or r
    rollback(store, "europe", to=first.release)
    gc(store, keep=1, min_age=dt.timedelta(0))
    for sha in read_manifest(store, "europe", first.release).blobs():
        assert store.exists(blob_key(sha))


class Hooked:
    """The same store, calling ``hook(key)`` after each write (to act in the middle of a publication)."""

    def __init__(self, inner, hook) -> None:
        self.inner, self.hook = inner, hook

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def put(self, key, data, content_type="application/octet-stream"):
        self.inner.put(key, data, content_type)
        self.hook(key)

    def create(self, key, data, content_type="application/octet-stream"):
        created = self.inner.create(key, data, content_type)
        self.hook(key)
        return created


def test_gc_keeps_the_blobs_a_running_publication_needs(store, tmp_path):
    publish_site(store, make_site(tmp_path / "build", "europe", corpus(2)))
    site = make_site(tmp_path / "build", "europe", {"2026-POST-0500": "Being published right now."})
    seen = {}

    def gc_after_first_blob(key):  # gc with no age margin, while the publication is uploading
        if key.startswith(BLOBS_PREFIX) and not seen:
            seen["gc"] = gc(store, keep=1, min_age=dt.timedelta(0))

    result = publish_site(Hooked(store, gc_after_first_blob), site)
    assert seen["gc"].deleted_blobs == 0
    for sha in read_manifest(store, "europe", result.release).blobs():
        assert store.exists(blob_key(sha))


def test_a_switch_by_someone_else_during_publication_is_not_overwritten(store, tmp_path):
    cables = corpus(2)
    r1 = publish_site(store, make_site(tmp_path / "a", "europe", cables))
    cables["2026-POST-0001"] = "Newer text, published by another run."
    newer = make_site(tmp_path / "b", "europe", cables)
    stale = make_site(tmp_path / "c", "europe", {**corpus(2), "2026-POST-0009": "Stale build."})
    seen = {}

    def other_publication_finishes(key):
        if key.startswith("releases/") and not seen:
            seen["other"] = publish_site(store, newer)

    with pytest.raises(PublishError, match="while this one ran"):
        publish_site(Hooked(store, other_publication_finishes), stale)
    assert read_pointer(store, "europe").release == seen["other"].release != r1.release


def test_gc_ignores_the_lease_of_a_publication_that_died(tmp_path):
    store = FolderStore(tmp_path / "store")
    store.put(blob_key("a" * 64), b"orphan")
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).isoformat()
    store.put(lease_key("europe", "r1"), json.dumps({"started_at": old, "blobs": ["a" * 64]}).encode())
    assert gc(store, min_age=dt.timedelta(0)).deleted_blobs == 1


def test_members_snapshot_is_written_whole(store):
    snapshot = {"format": 1, "commit": None, "communities": {"europe": {
        "title": "Europe", "language": "fr", "domains": ["diplomatie.gouv.fr"],
        "members": {"a.martin@example.org": "2027-06-30"}}}}
    write_members(store, snapshot)
    assert json.loads(store.get(MEMBERS_KEY)) == snapshot
    with pytest.raises(PublishError):
        write_members(store, {"communities": {}})


def test_publishing_a_missing_site_is_a_clear_error(store, tmp_path):
    site = make_site(tmp_path / "build", "europe", corpus(1))
    with pytest.raises(PublishError, match="no built site"):
        publish_site(store, type(site)("europe", tmp_path / "nowhere", ()))


def test_unchanged_files_are_not_read_again_and_changed_ones_always_are(tmp_path):
    site = make_site(tmp_path / "build", "europe", corpus(3))
    known: dict = {}
    first = scan_site(site.path, known)
    assert set(known) == set(first) and all(len(v) == 5 for v in known.values())
    again = scan_site(site.path, known)
    assert {p: f.entry for p, f in again.items()} == {p: f.entry for p, f in first.items()}
    # Same size, same modification time: rewritten all the same, so read again (inode and ctime moved).
    page = site.path / "index.html"
    st = page.stat()
    text = page.read_text()
    page.unlink()
    page.write_text(text.replace("Analyse", "Anal_se"))
    os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert page.stat().st_size == st.st_size
    assert scan_site(site.path, known)["index.html"].entry.sha256 != first["index.html"].entry.sha256


def test_a_wrong_remembered_digest_never_stores_bytes_under_another_name(store, tmp_path):
    site = make_site(tmp_path / "build", "europe", corpus(3))
    known: dict = {}
    scan_site(site.path, known)
    known["index.html"][4] = "0" * 64  # a digest that does not match the file
    with pytest.raises(PublishError, match="changed while it was being published"):
        publish_site(store, site, file_digests=known)
    assert store.head(blob_key("0" * 64)) is None
