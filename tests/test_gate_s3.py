"""The gate on the real S3-compatible server: serving, then an outage (503, no content), then recovery.

The gate reaches radosgw through the fault-injecting proxy, so the test decides when storage fails.
"""

from __future__ import annotations

import pytest

from gate import store as storage
from gate import tokens
from tests.faultproxy import Fault, FaultProxy
from tests.gatekit import publish_site, running_gate, wait_for, write_members

pytestmark = pytest.mark.s3


def test_gate_serves_from_s3_answers_503_during_an_outage_and_recovers(s3_server, s3_bucket, tmp_path):
    store = storage.S3Store(s3_bucket, "pub", client=s3_server.client())
    files = {"index.html": b"<html>CONTENT-OF-PRESSE home</html>", "a/index.html": b"<html>CONTENT-OF-PRESSE a</html>",
             "404.html": b"<html>no such page</html>"}
    publish_site(store, "presse", files, "r1")
    write_members(store, {"presse": {"members": {"a@press.org": None}}})
    tokens.init(tmp_path / "keys")
    host, port = s3_server.endpoint_url.removeprefix("http://").split(":")
    with FaultProxy((host, int(port))) as proxy, running_gate(
            f"s3://{s3_bucket}/pub", tmp_path / "keys", log=tmp_path / "gate.log", env=s3_server.env(),
            extra=("--endpoint-url", proxy.url)) as gate:
        cookie = gate.session_cookie("a@press.org")
        assert gate.get("/c/presse/", cookie=cookie).body == files["index.html"]
        assert gate.get("/healthz").status == 200

        proxy.rule = lambda method, path, n: Fault("error", status=503)
        cached = gate.get("/c/presse/", cookie=cookie)  # in the blob cache: still served
        assert cached.status == 200
        down = gate.get("/c/presse/a/", cookie=cookie)  # needs storage
        assert down.status == 503 and b"CONTENT-OF" not in down.body and b"Traceback" not in down.body
        assert down.header("retry-after")
        assert wait_for(lambda: gate.get("/healthz").status == 503, timeout=30)

        proxy.rule = lambda method, path, n: None
        assert wait_for(lambda: gate.get("/c/presse/a/", cookie=cookie).status == 200, timeout=30)
        assert gate.get("/c/presse/a/", cookie=cookie).body == files["a/index.html"]
        assert wait_for(lambda: gate.get("/healthz").status == 200, timeout=30)
