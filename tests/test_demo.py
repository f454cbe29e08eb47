"""``diplomatie demo`` (what ``make demo`` runs): sample content to a working gate, links that open sites."""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.gatekit import Reply, cookie_of, follow_link, free_port

PROJECT = Path(__file__).resolve().parent.parent


class Demo:
    """The demo gate as a client of tests/gatekit.py's link helpers (open a link, then confirm)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None,
                cookie: str | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, path, body=body, headers={**(headers or {}), **({"Cookie": cookie} if cookie else {})})
        response = conn.getresponse()
        reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        conn.close()
        return reply


def get(port: int, path: str, cookie: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


def test_demo_publishes_the_sample_and_its_links_open_the_community_site(tmp_path):
    root = tmp_path / "content-repo"
    root.mkdir()
    shutil.copytree(PROJECT / "content", root / "content")
    shutil.copy(PROJECT / "communities.yaml", root / "communities.yaml")
    shutil.copy(PROJECT / "vocabulary.yaml", root / "vocabulary.yaml")
    port = free_port()
    log = (tmp_path / "demo.log").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "demo", "--root", str(root), "--var",
                             str(tmp_path / "var"), "--port", str(port)], stdout=subprocess.PIPE, stderr=log,
                            text=True, start_new_session=True)
    try:
        links: dict[str, str] = {}
        community = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if re.match(r"^\S+ — ", line):
                community = line.split(" — ")[0]
            match = re.search(r"(http://127\.0\.0\.1:\d+/auth\?token=\S+)", line)
            if match and community not in links:
                links[community] = match.group(1)
            if len(links) == 3:
                break
        assert set(links) == {"afrique-developpement", "energie-europe", "un-multilateral"}, log.read()
        while time.monotonic() < deadline:
            try:
                if get(port, "/healthz").status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        target = urlsplit(links["energie-europe"])
        answer = follow_link(Demo(port), f"{target.path}?{target.query}")
        assert answer.status == 303
        cookie = cookie_of(answer)
        assert answer.header("location").endswith("/c/energie-europe/")
        home = get(port, "/c/energie-europe/", cookie)
        assert home.status == 200
        assert "Énergie en Europe" in home.body.decode()
        assert get(port, "/c/un-multilateral/", cookie).status == 403
        assert get(port, f"{target.path}?{target.query}").status >= 400  # one-time link
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
