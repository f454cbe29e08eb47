"""Requests per second, p50 and p99 for an 8 KB page with a valid session: the gate against nginx, same run.

    .venv/bin/python bench/gate.py [--duration 10] [--connections 64,256] [--workers 1] [--interface rsgi]

Starts nginx (one worker, serving the same 8 KB file from a temporary folder), the gate (a store
built through gate.store) and, as the floor any Python application sits on, granian RSGI returning the
same bytes with no checks at all; runs wrk against each in turn, for each number of connections, and
prints one line per server: requests per second, p50, p99 and the server's resident memory (all its
processes) after the load. On a machine with two CPUs or more, every server runs on CPU 0 and wrk on
CPU 1, so the load generator and each server share the cores the same way. Last, the cost of one
session verification in process (Ed25519 signature and claims: what the gate pays once per session
before caching it) and of a cached session look-up.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
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


def cpus() -> tuple[str, str] | None:
    """(servers' CPU, wrk's CPU), or None on a single CPU."""
    mine = sorted(os.sched_getaffinity(0))
    return (str(mine[0]), str(mine[1])) if len(mine) >= 2 else None


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def pin(pid: int, cpu: str | None) -> None:
    """Every thread of ``pid`` and of its descendants onto ``cpu``."""
    if cpu is None:
        return
    for p in tree(pid):
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                os.sched_setaffinity(int(task.name), {int(cpu)})


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, MiB."""
    total = 0
    for p in tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


def wrk(url: str, duration: int, connections: int, cookie: str | None = None,
        cpu: str | None = None, script: Path | None = None, threads: int = 1) -> tuple[float, str, str]:
    """wrk's requests/s, p50 and p99; ``script``: a wrk Lua script choosing each request (bench/nginx.py)."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if cookie:
        args[1:1] = ["-H", f"Cookie: {cookie}"]
    if script is not None:
        args[1:1] = ["-s", str(script)]
    if cpu is not None:
        args = ["taskset", "-c", cpu, *args]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    # Read the "Latency Distribution" lines only: the thread-stats line ends in a "+/- Stdev" column
    # such as "75.50%", which an unanchored "50%" would take for the median.
    p50 = re.search(r"^\s*50%\s+(\S+)\s*$", out, re.M).group(1)
    p99 = re.search(r"^\s*99%\s+(\S+)\s*$", out, re.M).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} error responses\n{out}")
    return rps, p50, p99


def verification_us(keys: Path, origin: str) -> tuple[float, float]:
    """Microseconds for one full session verification, and for a cached session look-up."""
    ring = tokens.load(keys)
    token = tokens.issue(ring, tokens.SESSION, "reader@example.org", issuer=origin, audience=origin, ttl=3600)
    runs = 2000
    full = timeit.timeit(lambda: tokens.verify(ring, token, typ=tokens.SESSION, issuer=origin, audience=origin),
                         number=runs) / runs
    cache = {token: (None, time.time() + 3600, time.time())}
    cached = timeit.timeit(lambda: cache.get(token), number=runs * 100) / (runs * 100)
    return full * 1e6, cached * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="64,256", help="comma-separated: one wrk run per value")
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
        server_cpu, wrk_cpu = cpus() or (None, None)
        servers = {"nginx": (nginx.pid, f"http://127.0.0.1:{port}/index.html", None),
                   "gate": (gate.proc.pid, f"{gate.base}/c/bench/index.html", cookie),
                   "floor": (floor.pid, f"http://127.0.0.1:{floor_port}/", None)}
        time.sleep(0.5)
        for pid, _, _ in servers.values():
            pin(pid, server_cpu)
        idle = {name: rss_mib(pid) for name, (pid, _, _) in servers.items()}
        for _, url, ck in servers.values():
            wrk(url, 2, 64, ck, wrk_cpu)  # warm-up
        pinned = f"servers on CPU {server_cpu}, wrk on CPU {wrk_cpu}" if server_cpu else "not pinned (one CPU)"
        print(f"8 KB page, {args.workers} worker(s), {args.duration} s per run, {pinned}")
        print(f"{'server':8} {'conns':>5} {'req/s':>10} {'p50':>9} {'p99':>9} {'RSS MiB':>8}")
        for connections in (int(c) for c in args.connections.split(",")):
            rps = {}
            for name, (pid, url, ck) in servers.items():
                rps[name], p50, p99 = wrk(url, args.duration, connections, ck, wrk_cpu)
                print(f"{name:8} {connections:5d} {rps[name]:10.0f} {p50:>9} {p99:>9} {rss_mib(pid):8.1f}")
            print(f"  {connections} connections: gate/nginx {rps['gate'] / rps['nginx']:.2f}   "
                  f"floor/nginx {rps['floor'] / rps['nginx']:.2f}   gate/floor {rps['gate'] / rps['floor']:.2f}")
        print("idle RSS MiB: " + ", ".join(f"{n} {v:.1f}" for n, v in idle.items()))
        full, cached = verification_us(tmp / "keys", gate.base)
        print(f"session verification: {full:.0f} us in full (Ed25519 + claims, once per session), "
              f"{cached:.2f} us from the gate's session cache")
        print("reproduce: .venv/bin/python bench/gate.py " + " ".join(sys.argv[1:]))
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
