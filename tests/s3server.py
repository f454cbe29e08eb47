"""A real S3-compatible server for the suite: Ceph RADOS Gateway started by tools/s3-server.sh.

Fixtures (import them into a test module or list this module in ``pytest_plugins``):

- ``s3_server`` (session): starts radosgw once per test session on free loopback ports, yields an
  :class:`S3Server`, stops it at the end. If it cannot start, every test using it FAILS, unless
  ``DIPLOMATIE_SKIP_S3=1`` is set, in which case they are skipped.
- ``s3_bucket`` (function): a fresh, uniquely named bucket, emptied and deleted after the test.
"""

from __future__ import annotations

import os
import random
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gatekit import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "s3-server.sh"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self, endpoint_url: str | None = None, **config):
        """A boto3 S3 client for this server (path-style), optionally through another endpoint."""
        import boto3

        from gate.store import s3_config

        return boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or self.endpoint_url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region, config=s3_config(**config))

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (the CLI) that talks to this server."""
        return {"AWS_ENDPOINT_URL_S3": self.endpoint_url, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_DEFAULT_REGION": self.region}


def _parse_exports(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line[len("export "):].partition("=")
            env[name] = value.strip("'\"")
    return env


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    if os.environ.get("DIPLOMATIE_SKIP_S3") == "1":
        pytest.skip("DIPLOMATIE_SKIP_S3=1: tests that need the S3 server are skipped")
    base = random.randrange(20000, 30000, 100)
    env = dict(os.environ, S3_RGW_DIR=str(tmp_path_factory.mktemp("rgw") / "cluster"),
               S3_RGW_PORT=str(free_port()), S3_RGW_MON_PORT=str(free_port()),
               S3_RGW_OSD_PORTS=f"{base}-{base + 99}", S3_RGW_MEM_GB="2")
    try:
        started = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True,
                                 timeout=300)
    except subprocess.TimeoutExpired as exc:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
        pytest.fail(f"the S3 server (radosgw) did not start within {exc.timeout} s", pytrace=False)
    if started.returncode != 0:
        pytest.fail("the S3 server (radosgw) did not start (set DIPLOMATIE_SKIP_S3=1 to skip these tests):\n"
                    + started.stderr[-4000:], pytrace=False)
    exports = _parse_exports(started.stdout)
    try:
        yield S3Server(exports["S3_ENDPOINT_URL"], exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"])
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)


def empty_bucket(client, bucket: str) -> None:
    """Delete every object of the bucket, then the bucket."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    client = s3_server.client()
    name = f"t-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        empty_bucket(client, name)


@pytest.fixture(params=["folder", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path):
    """The store on both backends a test asks for by this name: a folder, and the real S3 server
    (marked ``s3``). A test module may define its own ``store``; that one wins there."""
    from gate.store import FolderStore, S3Store

    if request.param == "folder":
        return FolderStore(tmp_path / "store")
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Store(bucket, "site-store", client=server.client())
