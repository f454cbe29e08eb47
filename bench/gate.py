"""Requests per second and p99 for an 8 KB page with a valid session: the gate against nginx, same run.

    .venv/bin/python bench/gate.py [--duration 10] [--connections 64] [--workers 1] [--interface rsgi]

Starts nginx (one worker, serving the same 8 KB file from a temporary folder), the gate (a store
built through gate.store) and, as the floor any Python application sits on, granian RSGI returning the
same bytes with no checks at all; runs wrk against each in turn and prints one line per server.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gate import store as storage  # noqa: E402
from gate import tokens  # noqa: E402
from tests.gatekit import GateProcess, free_port, publish_site, write_members  # noqa: E402

NGINX_CONF = """worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/t; proxy_temp_path {tmp}/t; fastcgi_temp_path {tmp}/t;
  uwsgi_temp_path {tmp}/t; scgi_temp_path {tmp}/t;
  types {{ text/html html; }}
  server {{ listen 127.0.0.1:{port}; root {tmp}/www; etag on; }}
}}
"""


FLOOR_APP = """
BODY = open({page!r}, "rb").read()
HEADERS = [("content-type", "text/html; charset=utf-8")]


async def app(scope, proto):
    proto.response_bytes(200, HEADERS, BODY)
"""


def page() -> bytes:
    """An 8 KB HTML page (deterministic)."""
    line = b"<p>Cable 2026-BERLIN-0042: paragraph of ordinary text about trade and culture.</p>\n"
    body = b"<!doctype html><html><head><title>bench</title></head><body>\n"
    while len(body) < 8192 - 20:
        body += line
    return (body + b"</body></html>\n")[:8192]


def wrk(url: str, duration: int, connections: int, cookie: str | None = None) -> tuple[float, str]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if cookie:
        args[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} error responses\n{out}")
    return rps, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--interface", choices=["rsgi", "asgi"], default="rsgi")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gate-bench-"))
    tmp.chmod(0o755)  # nginx workers may run as another user
    nginx = gate = floor = None
    try:
        body = page()
        (tmp / "www").mkdir()
        (tmp / "t").mkdir()
        (tmp / "www" / "index.html").write_bytes(body)
        port = free_port()
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port, workers=args.workers))
        nginx = subprocess.Popen(["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp)])
        (tmp / "floor_app.py").write_text(FLOOR_APP.format(page=str(tmp / "www" / "index.html")))
        floor_port = free_port()
        floor = subprocess.Popen([str(Path(sys.executable).parent / "granian"), "--interface", "rsgi", "--http", "1",
                                  "--no-ws", "--port", str(floor_port), "--workers", str(args.workers),
                                  "--log-level", "warning", "floor_app:app"], cwd=tmp, stdout=subprocess.DEVNULL)
        store = storage.open_store(tmp / "store")
        publish_site(store, "bench", {"index.html": body}, "r1")
        write_members(store, {"bench": {"members": {"reader@example.org": None}}})
        tokens.init(tmp / "keys")
        gate = GateProcess(tmp / "store", tmp / "keys", workers=args.workers, extra=("--interface", args.interface))
        cookie = gate.sign_in("bench", "reader@example.org")
        assert hashlib.sha256(gate.get("/c/bench/index.html", cookie=cookie).body).digest() == \
            hashlib.sha256(body).digest()
        time.sleep(0.5)
        wrk(f"http://127.0.0.1:{port}/index.html", 2, args.connections)  # warm-up
        wrk(f"{gate.base}/c/bench/index.html", 2, args.connections, cookie)
        n_rps, n_p99 = wrk(f"http://127.0.0.1:{port}/index.html", args.duration, args.connections)
        g_rps, g_p99 = wrk(f"{gate.base}/c/bench/index.html", args.duration, args.connections, cookie)
        f_rps, f_p99 = wrk(f"http://127.0.0.1:{floor_port}/", args.duration, args.connections)
        print(f"8 KB page, {args.connections} connections, {args.workers} worker(s), {args.duration} s each")
        print(f"nginx   {n_rps:10.0f} req/s  p99 {n_p99}")
        print(f"gate    {g_rps:10.0f} req/s  p99 {g_p99}  ({args.interface}, valid session)")
        print(f"floor   {f_rps:10.0f} req/s  p99 {f_p99}  (granian RSGI returning the bytes, no checks)")
        print(f"gate/nginx {g_rps / n_rps:.2f}   floor/nginx {f_rps / n_rps:.2f}   gate/floor {g_rps / f_rps:.2f}")
    finally:
        if gate:
            gate.stop()
        if floor:
            floor.terminate()
            floor.wait()
        if nginx:
            nginx.terminate()
            nginx.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
