"""Any sequence of publications, withdrawals, edits, rollbacks and gc keeps the store's promises.

- the serving release of each community is complete (every blob of its manifest is stored);
- it holds no cable that community's latest publication left out (no rollback brings one back);
- the text of a cable no community publishes any more is in no blob.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sitefactory import make_site, stored_text

from gate.store import FolderStore, blob_key, read_manifest, read_pointer
from pipeline.publish import PublishError, gc, publish_site, rollback

CABLES = [f"2026-POST-{i:04d}" for i in range(6)]
COMMUNITIES = ["europe", "afrique"]


def token(cable: str) -> str:
    return f"TOKEN-{cable}-"


publish_op = st.tuples(st.just("publish"), st.sampled_from(COMMUNITIES),
                       st.frozensets(st.sampled_from(CABLES), min_size=1), st.integers(0, 2))
rollback_op = st.tuples(st.just("rollback"), st.sampled_from(COMMUNITIES))
gc_op = st.tuples(st.just("gc"), st.integers(1, 3))
operations = st.lists(st.one_of(publish_op, publish_op, rollback_op, gc_op), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_any_sequence_of_operations_keeps_the_store_promises(ops):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = FolderStore(root / "store", fsync=False)
        latest: dict[str, frozenset[str]] = {}
        clock = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
        for op in ops:
            clock += dt.timedelta(seconds=1)
            if op[0] == "publish":
                _, community, cables, version = op
                texts = {c: f"{token(c)} version {version} of {c}." for c in cables}
                publish_site(store, make_site(root / "build", community, texts), now=clock)
                latest[community] = cables
            elif op[0] == "rollback":
                with contextlib.suppress(PublishError):
                    rollback(store, op[1], now=clock)
            else:
                gc(store, keep=op[1], now=clock, min_age=dt.timedelta(0))
            check_promises(store, latest)


def check_promises(store: FolderStore, latest: dict[str, frozenset[str]]) -> None:
    for community, cables in latest.items():
        pointer = read_pointer(store, community)
        assert pointer is not None
        manifest = read_manifest(store, community, pointer.release)
        assert set(manifest.cables) <= cables
        for sha in manifest.blobs():  # files and their compressed copies
            assert store.exists(blob_key(sha))
    still_published = set().union(*latest.values()) if latest else set()
    blobs = stored_text(store)  # inside the compressed copies too
    for cable in CABLES:
        if cable not in still_published:
            assert token(cable).encode() not in blobs
