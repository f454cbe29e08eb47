"""publish_all, the publish workflow as a library function (what the command and the demo call)."""

from __future__ import annotations

import json

import pytest
from contentrepo import make_repo

from gate.store import MEMBERS_KEY, FolderStore, NotFound, read_pointer
from pipeline.publication import Listener, publish_all
from pipeline.publish import PublishError, gc


class Recorder(Listener):
    """Keeps what publish_all told, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def published(self, result) -> None:
        self.events.append(("published", result.community))

    def tagged(self, tag: str) -> None:
        self.events.append(("tagged", tag))

    def failed(self, message: str) -> None:
        self.events.append(("failed", message))


@pytest.fixture
def repo(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001", "Analyse du marché de l'électricité.\n")
    repo.commit("a cable")
    repo.approve("2026-BERLIN-0001", "energie")
    repo.commit("approval")
    return repo


def test_publish_all_publishes_every_community_tags_each_new_release_and_tells_each_step(repo, tmp_path):
    store = FolderStore(tmp_path / "store")
    heard = Recorder()
    report = publish_all(repo.root, store, out=tmp_path / "build", tag=True, listener=heard)
    assert set(report.results) == {"energie", "onu"} and not report.errors and report.failure() is None
    assert read_pointer(store, "energie").release == report.results["energie"].release
    assert report.results["energie"].cables == 1 and report.results["onu"].cables == 0
    assert report.tags == {name: f"published/{name}/{r.release}" for name, r in report.results.items()}
    assert heard.events == [("published", "energie"), ("tagged", report.tags["energie"]),
                            ("published", "onu"), ("tagged", report.tags["onu"])]
    assert json.loads(store.get(MEMBERS_KEY))["communities"]["energie"]["members"]
    assert report.to_json() == {"communities": {n: r.summary() for n, r in report.results.items()},
                                "members": {"energie": {"added": ["a.martin@example.org"], "removed": [],
                                                        "renewed": [], "expiring": {}}}}

    again = publish_all(repo.root, store, out=tmp_path / "build", tag=True)
    assert not any(r.changed for r in again.results.values()) and again.tags == {}


def test_broken_membership_today_publishes_nothing_not_even_members(repo, tmp_path):
    (repo.root / "communities.yaml").write_text("communities: [broken\n")
    store = FolderStore(tmp_path / "store")
    with pytest.raises(PublishError, match="communities.yaml has errors; nothing was published"):
        publish_all(repo.root, store, out=tmp_path / "build")
    with pytest.raises(NotFound):
        store.get(MEMBERS_KEY)


def test_an_unknown_community_stops_before_any_build_but_after_members(repo, tmp_path):
    store = FolderStore(tmp_path / "store")
    with pytest.raises(PublishError, match="unknown community"):
        publish_all(repo.root, store, out=tmp_path / "build", only=["nosuch"])
    assert store.get(MEMBERS_KEY)
    assert read_pointer(store, "energie") is None


class Counting:
    """A real store that counts every request made of it."""

    def __init__(self, store) -> None:
        self.store, self.requests, self.read = store, 0, []

    def __getattr__(self, name):
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.requests += 1
            if name == "get":
                self.read.append(args[0])
            return attr(*args, **kwargs)
        return counted


def noop_requests(repo, store, out) -> int:
    publish_all(repo.root, store, out=out)  # whatever the last commit changed
    gc(store, keep=1)  # one release per community: a no-op looks at each older release, kept or not
    counting = Counting(store)
    report = publish_all(repo.root, counting, out=out)
    assert not any(r.changed for r in report.results.values()) and not report.errors
    # the sites built from what was published last: neither their files nor their manifests are read
    assert not [key for key in counting.read if key.startswith(("releases/", "blobs/"))]
    return counting.requests


def test_a_no_op_publication_asks_the_store_as_much_whatever_the_number_of_cables(repo, tmp_path):
    store = FolderStore(tmp_path / "store")
    few = noop_requests(repo, store, tmp_path / "build")
    for n in range(2, 22):
        repo.cable(f"2026-BERLIN-{n:04d}", f"Analyse {n} du marché de l'électricité.\n")
    repo.commit("twenty cables more")
    for n in range(2, 22):
        repo.approve(f"2026-BERLIN-{n:04d}", "energie")
    repo.commit("approvals")
    many = noop_requests(repo, store, tmp_path / "build")
    assert read_pointer(store, "energie") is not None
    assert many == few  # per community a pointer and its releases, never per file or per cable
