"""The publish, releases, rollback and gc commands on a real content repository, through a real build."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from contentrepo import Result, make_repo
from sitefactory import stored_text

from gate.store import FolderStore, read_pointer
from pipeline.cli import main

CANARY = "CANARY-d41d8c-withdrawn-paragraph"


@pytest.fixture
def repo(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001", "Analyse du marché de l'électricité.\n")
    repo.cable("2026-BERLIN-0002", f"Un paragraphe qui sera retiré : {CANARY}.\n")
    repo.commit("two cables")
    repo.approve("2026-BERLIN-0001", "energie")
    repo.approve("2026-BERLIN-0002", "energie")
    repo.commit("approvals")
    return repo


def run(*args: str) -> Result:
    """A store command (no content repository involved)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def publish(repo, tmp_path, *extra):
    result = repo.run("publish", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "build"),
                      "--format", "json", *extra)
    assert result.code == 0, result.output
    return json.loads(result.stdout)["communities"]


def blob_text(tmp_path) -> bytes:
    store = FolderStore(tmp_path / "store")
    return stored_text(store)  # compressed copies read too


def test_publish_prints_per_community_counts_and_a_rerun_uploads_nothing(repo, tmp_path):
    first = publish(repo, tmp_path)
    assert set(first) == {"energie", "onu"}
    assert first["energie"]["cables"] == 2 and first["energie"]["uploaded"] > 0
    assert set(first["energie"]) == {"release", "uploaded", "skipped", "bytes_uploaded", "manifest_bytes", "cables"}
    store = FolderStore(tmp_path / "store")
    assert read_pointer(store, "energie").release == first["energie"]["release"]
    members = json.loads(store.get("members.json"))
    assert members["communities"]["energie"]["members"] == {"a.martin@example.org": "2099-06-30"}
    again = publish(repo, tmp_path)
    assert again["energie"]["uploaded"] == 0 and again["onu"]["uploaded"] == 0
    assert again["energie"]["release"] == first["energie"]["release"]


def test_withdrawn_cable_text_leaves_the_store_at_the_next_publish(repo, tmp_path):
    publish(repo, tmp_path)
    assert CANARY.encode() in blob_text(tmp_path)
    (repo.root / "content/2026/2026-BERLIN-0002.md").unlink()
    repo.commit("withdraw 2026-BERLIN-0002")
    after = publish(repo, tmp_path)
    assert after["energie"]["cables"] == 1
    assert CANARY.encode() not in blob_text(tmp_path)
    listing = run("releases", "energie", "--store", str(tmp_path / "store"))
    assert listing.code == 0 and "not restorable" in listing.stdout
    refused = run("rollback", "energie", "--store", str(tmp_path / "store"))
    assert refused.code == 1 and "no restorable release" in refused.output


def test_rollback_and_gc_commands(repo, tmp_path):
    first = publish(repo, tmp_path)["energie"]["release"]
    repo.cable("2026-BERLIN-0003", "Une troisième analyse.\n")
    repo.commit("third")
    repo.approve("2026-BERLIN-0003", "energie")
    repo.commit("approve third")
    second = publish(repo, tmp_path)["energie"]
    assert second["uploaded"] < second["skipped"]
    store_args = ("--store", str(tmp_path / "store"))
    listing = json.loads(run("releases", "energie", *store_args, "--format", "json").stdout)
    assert [r["current"] for r in listing["releases"]] == [True, False]
    out = run("rollback", "energie", *store_args)
    assert out.code == 0 and f"now serves {first}" in out.stdout
    assert run("gc", *store_args, "--keep", "1").code == 0
    assert read_pointer(FolderStore(tmp_path / "store"), "energie").release == first


def test_unknown_store_scheme_is_a_clear_error(repo, tmp_path):
    result = repo.run("publish", "--store", "ftp://example/x")
    assert result.code == 1 and "s3://bucket/prefix" in result.output
    assert "Traceback" not in result.output


@pytest.mark.s3
def test_publish_to_s3_with_an_endpoint_url(repo, tmp_path, s3_server, s3_bucket, monkeypatch):
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    result = repo.run("publish", "--store", f"s3://{s3_bucket}/sites", "--endpoint-url", s3_server.endpoint_url,
                      "--out", str(tmp_path / "build"), "--format", "json")
    assert result.code == 0, result.output
    assert json.loads(result.stdout)["communities"]["energie"]["cables"] == 2
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert "sites/communities/energie/current.json" in keys and "sites/members.json" in keys
    # the standard boto3 configuration alone (AWS_ENDPOINT_URL_S3) finds the server too
    again = repo.run("publish", "--store", f"s3://{s3_bucket}/sites", "--out", str(tmp_path / "build"),
                     "--format", "json")
    assert again.code == 0, again.output
    assert json.loads(again.stdout)["communities"]["energie"]["uploaded"] == 0


def test_unusable_store_fails_with_a_message_not_a_traceback(repo, tmp_path):
    (tmp_path / "store").write_text("a file where the store should be")
    result = repo.run("publish", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "build"))
    assert result.code == 1
    # members.json is written first; when even that fails, nothing is published
    assert "members.json could not be written" in result.output and "nothing was published" in result.output
    assert "run publish again" in result.output and "Traceback" not in result.output
