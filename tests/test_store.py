"""The storage contract, run identically against the folder store and a real S3 server (radosgw)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.store import (
    MANIFEST_FORMAT,
    MEMBERS_KEY,
    BlobReader,
    Encoded,
    FileEntry,
    FolderStore,
    Manifest,
    ManifestUnreadable,
    NotFound,
    Pointer,
    S3Store,
    StoreUnavailable,
    blob_key,
    claim_key,
    manifest_key,
    open_store,
    pointer_key,
    read_manifest,
    read_pointer,
    read_release_cables,
    read_release_head,
    s3_config,
    write_manifest,
    write_pointer,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_then_get_returns_the_same_bytes(store):
    data = b"<html>\x00\xff bonjour</html>"
    store.put(blob_key(sha(data)), data, "text/html")
    assert store.get(blob_key(sha(data))) == data
    assert store.exists(blob_key(sha(data)))
    info = store.head(blob_key(sha(data)))
    assert info is not None and info.size == len(data)


def test_put_replaces_the_whole_object(store):
    store.put(MEMBERS_KEY, b"old contents, rather long" * 100)
    store.put(MEMBERS_KEY, b"new")
    assert store.get(MEMBERS_KEY) == b"new"


def test_missing_key_raises_not_found_and_does_not_exist(store):
    with pytest.raises(NotFound):
        store.get("releases/c/nothing.json")
    assert not store.exists("releases/c/nothing.json")
    assert store.head("releases/c/nothing.json") is None


def test_create_writes_once_and_refuses_the_second_time(store):
    assert store.create(claim_key("jti-1"), b"first") is True
    assert store.create(claim_key("jti-1"), b"second") is False
    assert store.get(claim_key("jti-1")) == b"first"


def test_concurrent_creates_of_one_key_let_exactly_one_win(store):
    results: list[bool] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        won = store.create(claim_key("contested"), f"{i}".encode())
        with lock:
            results.append(won)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_list_returns_keys_under_a_prefix_in_order(store):
    for key in ["releases/b/2.json", "releases/a/1.json", "releases/a/0.json", "communities/a/current.json"]:
        store.put(key, b"{}")
    assert list(store.list("releases/a/")) == ["releases/a/0.json", "releases/a/1.json"]
    assert list(store.list("releases/")) == ["releases/a/0.json", "releases/a/1.json", "releases/b/2.json"]
    assert list(store.list("nothing/")) == []


def test_list_pages_through_more_than_a_thousand_keys(store):
    if isinstance(store, FolderStore):
        keys = [f"claims/k{i:05d}" for i in range(1100)]
        for k in keys:
            store.put(k, b"")
    else:  # one listing page holds 1000 keys: go past it
        keys = [f"claims/k{i:05d}" for i in range(1100)]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: store.put(k, b""), keys))
    assert list(store.list("claims/")) == keys


def test_delete_removes_keys_and_ignores_absent_ones(store):
    store.put("claims/a", b"1")
    store.put("claims/b", b"2")
    store.delete(["claims/a", "claims/never"])
    assert list(store.list("claims/")) == ["claims/b"]


def _manifest(n_files: int = 2, release: str = "20261128T140000Z-abcd1234") -> Manifest:
    files = {"index.html": FileEntry(sha(b"i"), 1, "text/html; charset=utf-8"),
             "assets/app.css": FileEntry(sha(b"c"), 1, "text/css", (("gzip", Encoded(sha(b"z"), 9)),))}
    files.update({f"2026/c{i}.html": FileEntry(sha(b"%d" % i), i, "text/html; charset=utf-8")
                  for i in range(n_files - 2)})
    return Manifest("europe", release, "f" * 40, "2026-11-28T13:59:00Z", "2026-11-28T14:00:00Z",
                    ("2026-BERLIN-0042", "2026-ROME-0001"), files, script_hashes=("sha256-AAAA",),
                    texts={"2026-BERLIN-0042": "sha256:" + sha(b"t")})


def test_manifest_and_pointer_round_trip_through_the_store(store):
    m = write_manifest(store, _manifest())
    assert m.format == MANIFEST_FORMAT and m.nodes
    assert read_manifest(store, "europe", m.release) == m
    assert read_manifest(store, "europe", m.release).files["index.html"]["sha256"] == sha(b"i")
    assert m.nodes <= read_manifest(store, "europe", m.release).blobs()  # gc keeps the nodes with the files
    assert read_pointer(store, "europe") is None
    write_pointer(store, Pointer("europe", m.release, "2026-11-28T14:00:01Z"))
    pointer = read_pointer(store, "europe")
    assert pointer is not None and pointer.release == m.release
    assert pointer.manifest == manifest_key("europe", m.release)
    assert b'"manifest": "releases/europe/20261128T140000Z-abcd1234.json"' in store.get(pointer_key("europe"))


def test_withdrawn_register_records_round_trip_in_order_and_are_never_rewritten(store):
    import datetime as dt

    from gate.store import WithdrawalRecord, read_withdrawals, withdrawal_key, write_withdrawal

    withdrawn = WithdrawalRecord("2026-BERLIN-0042", "withdrawn", "2026-11-28T14:00:00Z", "f" * 40, "u@h",
                                 ("sha256:" + "1" * 64,), ("sha256:" + "2" * 64,))
    back = WithdrawalRecord("2026-BERLIN-0042", "reinstated", "2026-11-29T09:00:00Z", "e" * 40, "u@h",
                            approvals=({"community": "europe", "by": "r@diplomatie.gouv.fr",
                                        "date": "2026-11-29T08:00:00Z"},))
    key = write_withdrawal(store, withdrawn, dt.datetime(2026, 11, 28, 14, tzinfo=dt.UTC))
    write_withdrawal(store, back, dt.datetime(2026, 11, 29, 9, tzinfo=dt.UTC))
    assert key.startswith("withdrawn/2026-BERLIN-0042/20261128T140000.000000Z-withdrawn-")
    assert read_withdrawals(store) == [withdrawn, back]
    assert not store.create(key, b"{}")  # create-if-absent: a record is never rewritten
    with pytest.raises(ValueError):
        withdrawal_key("../x", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "withdrawn", "n")
    with pytest.raises(ValueError):
        withdrawal_key("2026-BERLIN-0042", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "forgotten", "n")


def test_a_register_record_that_cannot_be_read_fails_closed(store):
    from gate.store import StoreError, read_withdrawals

    store.put("withdrawn/2026-BERLIN-0042/20261128T140000.000000Z-withdrawn-x.json", b'{"format": 1}')
    with pytest.raises(StoreError):
        read_withdrawals(store)


def test_keys_reject_path_tricks():
    with pytest.raises(ValueError):
        manifest_key("../etc", "r")
    with pytest.raises(ValueError):
        blob_key("not-a-sha")
    assert claim_key("a/../b").startswith("claims/sha256-")
    assert claim_key("-Ab_9") == "claims/-Ab_9"
    with pytest.raises(ValueError):
        FolderStore("/tmp/x").get("../../etc/passwd")


def test_open_store_understands_paths_file_urls_and_s3_urls(tmp_path):
    assert isinstance(open_store(tmp_path), FolderStore)
    assert open_store(f"file://{tmp_path}").root == tmp_path
    s3 = open_store("s3://bucket/some/prefix", endpoint_url="http://127.0.0.1:9")
    assert isinstance(s3, S3Store) and s3.bucket == "bucket" and s3.prefix == "some/prefix/"
    with pytest.raises(ValueError):
        open_store("ftp://host/x")


def test_folder_store_gives_the_file_for_x_accel(tmp_path):
    store = FolderStore(tmp_path)
    store.put(blob_key(sha(b"x")), b"x")
    path = store.local_path(blob_key(sha(b"x")))
    assert isinstance(path, Path) and path.read_bytes() == b"x"


def test_folder_store_on_a_broken_disk_is_unavailable_not_a_crash(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    store = FolderStore(tmp_path / "file")
    with pytest.raises(StoreUnavailable):
        store.put("claims/a", b"1")


def test_folder_store_leaves_no_temporary_files(tmp_path):
    store = FolderStore(tmp_path)
    store.put("claims/a", b"1")
    store.create("claims/a", b"2")
    store.create("claims/b", b"3")
    assert sorted(p.name for p in (tmp_path / "claims").iterdir()) == ["a", "b"]


def test_unreachable_s3_is_unavailable_not_a_crash(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = S3Store("bucket", "p", endpoint_url="http://127.0.0.1:9",
                    config=s3_config(retries={"max_attempts": 1}))
    with pytest.raises(StoreUnavailable):
        store.get("members.json")
    with pytest.raises(StoreUnavailable):
        store.put("members.json", b"{}")


@pytest.mark.s3
def test_wrong_s3_secret_is_refused(s3_server, s3_bucket):
    from s3server import S3Server

    bad = S3Server(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key + "x")
    store = S3Store(s3_bucket, client=bad.client())
    with pytest.raises(StoreUnavailable, match="SignatureDoesNotMatch"):
        store.put("members.json", b"{}")


@pytest.mark.s3
def test_s3_store_writes_under_its_prefix_only(s3_server, s3_bucket):
    client = s3_server.client()
    store = S3Store(s3_bucket, "deep/prefix", client=client)
    store.put("members.json", b"{}")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == ["deep/prefix/members.json"]
    assert list(store.list("")) == ["members.json"]


# ------------------------------------------------------------------ manifests: format 2, shared tables


def test_a_format_1_manifest_is_still_read_whole(store):
    m = _manifest()
    store.put(m.key, m.to_json(), "application/json")
    read = read_manifest(store, "europe", m.release)
    assert read.format == 1 and read.files == m.files and read.cables == m.cables and not read.nodes
    assert read_release_cables(store, "europe", m.release) == m.cables
    assert read_release_head(store, "europe", m.release).files == 2


def test_the_root_is_small_and_names_its_table_cables_and_counts(store):
    m = write_manifest(store, _manifest(3000))
    root = store.get(m.key)
    assert len(root) < 1500, "the root must not grow with the site"
    head = read_release_head(store, "europe", m.release)
    assert (head.files, head.cables, head.format) == (3000, 2, MANIFEST_FORMAT)
    assert read_release_cables(store, "europe", m.release) == m.cables
    assert read_manifest(store, "europe", m.release).files == m.files


def test_a_manifest_of_an_unknown_format_is_refused_naming_the_formats_read(store):
    m = write_manifest(store, _manifest())
    newer = store.get(m.key).replace(b'"format": 2', b'"format": 3')
    store.delete([m.key])
    store.put(m.key, newer)
    for read in (read_manifest, read_release_cables, read_release_head):
        with pytest.raises(ManifestUnreadable, match=r"format 3 is not one this version reads \(1, 2\)"):
            read(store, "europe", m.release)


@pytest.mark.parametrize("damage", ["missing", "corrupt", "swapped"])
def test_a_release_with_a_node_missing_or_damaged_is_not_read_at_all(store, damage):
    m = write_manifest(store, _manifest(400))
    other = write_manifest(store, _manifest(401, "20261128T150000Z-abcd1234"))
    victim = sorted(m.nodes - other.nodes)[0]
    if damage == "missing":
        store.delete([blob_key(victim)])
    elif damage == "corrupt":
        data = bytearray(store.get(blob_key(victim)))
        data[len(data) // 2] ^= 1
        store.put(blob_key(victim), bytes(data))
    else:  # another node's bytes under this name
        store.put(blob_key(victim), store.get(blob_key(sorted(other.nodes - m.nodes)[0])))
    with pytest.raises(ManifestUnreadable, match=victim):
        read_manifest(store, "europe", m.release)
    assert read_manifest(store, "europe", other.release).files == other.files  # the other release reads


def test_nodes_read_once_are_read_from_the_cache_folder_not_the_store(store, tmp_path):
    m = write_manifest(store, _manifest(600))
    first = BlobReader(store, cache_dir=tmp_path / "nodes")
    assert read_manifest(store, "europe", m.release, first) == m and first.fetched == len(m.nodes)
    again = BlobReader(store, cache_dir=tmp_path / "nodes")
    assert read_manifest(store, "europe", m.release, again) == m and again.fetched == 0
    # a damaged copy in the cache is not trusted: the store's is read again
    victim = sorted(m.nodes)[0]
    (tmp_path / "nodes" / victim[:2] / victim).write_bytes(b"{}")
    third = BlobReader(store, cache_dir=tmp_path / "nodes")
    assert read_manifest(store, "europe", m.release, third) == m and third.fetched == 1


_keys = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(entries=st.dictionaries(_keys, st.integers(0, 10**6), max_size=300), key=_keys, value=st.integers(-5, -1))
def test_a_table_reads_back_whole_and_one_changed_entry_changes_one_node_per_level(entries, key, value):
    import tempfile

    from gate.store import build_table, read_table

    with tempfile.TemporaryDirectory() as folder:
        store = FolderStore(folder, fsync=False)
        ref, nodes = build_table(entries)
        for sha_, data in nodes.items():
            store.put(blob_key(sha_), data)
        read, seen = read_table(ref, BlobReader(store))
        assert read == entries and seen == set(nodes)
        assert build_table(dict(reversed(list(entries.items()))))[0] == ref  # order does not matter
        changed = {**entries, key: value}
        ref2, nodes2 = build_table(changed)
        if ref2["depth"] == ref["depth"]:
            assert len(set(nodes2) - set(nodes)) <= ref["depth"] + 1


def test_a_node_holding_an_entry_out_of_its_place_is_refused(tmp_path):
    import json as _json

    from gate.store import build_table, read_table

    store = FolderStore(tmp_path / "s", fsync=False)
    entries = {f"f:page{i}.html": i for i in range(100)}
    ref, nodes = build_table(entries)
    assert ref["depth"] == 1
    leaves = {s_: _json.loads(d) for s_, d in nodes.items() if _json.loads(d)["kind"] == "leaf"}
    # a leaf given an extra entry that belongs elsewhere, re-hashed and named by a forged parent
    first, second = sorted(leaves)[:2]
    moved = dict(leaves[first])
    moved["entries"] = {**moved["entries"], **leaves[second]["entries"]}
    data = _json.dumps(moved, separators=(",", ":"), sort_keys=True).encode()
    forged = hashlib.sha256(data).hexdigest()
    top = _json.loads(nodes[ref["sha256"]])
    top["children"] = {d: (forged if c == first else c) for d, c in top["children"].items()}
    top_data = _json.dumps(top, separators=(",", ":"), sort_keys=True).encode()
    for s_, d in {**nodes, forged: data, hashlib.sha256(top_data).hexdigest(): top_data}.items():
        store.put(blob_key(s_), d)
    with pytest.raises(ManifestUnreadable, match="out of place"):
        read_table({**ref, "sha256": hashlib.sha256(top_data).hexdigest()}, BlobReader(store))
