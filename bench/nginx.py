"""Requests per second for an 8 KB page through nginx + gate (deploy/nginx.conf) against nginx alone, same run.

    .venv/bin/python bench/nginx.py [--duration 10] [--connections 64,256] [--workers 1]

Starts the gate with --accel-redirect behind the real nginx configured by the shipped deploy/nginx.conf
(the gate's decision cached 2 s per cookie and address, nginx sending the blob), and a plain nginx with
the same number of workers serving the same file from a folder; runs wrk against each in turn, with a
valid session cookie for the first, and prints one line per server (requests per second, p50, p99,
resident memory) and their ratio. As in bench/gate.py, on two CPUs or more every server process runs
on CPU 0 and wrk on CPU 1.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gate import NGINX_CONF, cpus, page, pin, rss_mib, wrk  # noqa: E402
from gate import store as storage  # noqa: E402
from gate import tokens  # noqa: E402
from tests.gatekit import GateProcess, free_port, publish_site, write_members  # noqa: E402
from tests.nginxkit import ACCEL_PREFIX, running_nginx  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="64,256", help="comma-separated: one wrk run per value")
    parser.add_argument("--workers", type=int, default=1, help="nginx workers (both) and gate workers")
    parser.add_argument("--tmp", help="where the store and nginx files go (e.g. /dev/shm: a tmpfs)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nginx-bench-", dir=args.tmp))
    tmp.chmod(0o755)  # nginx workers may run as another user
    plain = gate = None
    try:
        body = page()
        (tmp / "www").mkdir()
        (tmp / "t").mkdir()
        (tmp / "www" / "index.html").write_bytes(body)
        plain_port = free_port()
        (tmp / "plain.conf").write_text(NGINX_CONF.format(tmp=tmp, port=plain_port, workers=args.workers))
        plain = subprocess.Popen(["nginx", "-c", str(tmp / "plain.conf"), "-p", str(tmp)])
        store = storage.open_store(tmp / "store")
        publish_site(store, "bench", {"index.html": body}, "r1")
        write_members(store, {"bench": {"members": {"reader@example.org": None}}})
        tokens.init(tmp / "keys")
        front_port = free_port()
        gate = GateProcess(tmp / "store", tmp / "keys", workers=args.workers,
                           base_url=f"http://127.0.0.1:{front_port}",
                           extra=("--accel-redirect", ACCEL_PREFIX, "--trusted-proxy", "127.0.0.1"))
        server_cpu, wrk_cpu = cpus() or (None, None)
        with running_nginx(tmp / "front", [gate.port], tmp / "store", port=front_port, workers=args.workers) as front_nginx:
            cookie = gate.session_cookie("reader@example.org")
            front = f"http://127.0.0.1:{front_port}/c/bench/index.html"
            gate.port = front_port
            assert gate.get("/c/bench/index.html", cookie=cookie).body == body
            for pid in (plain.pid, front_nginx.proc.pid, gate.proc.pid):
                pin(pid, server_cpu)
            time.sleep(0.5)
            plain_url = f"http://127.0.0.1:{plain_port}/index.html"
            wrk(plain_url, 2, 64, None, wrk_cpu)  # warm-up
            wrk(front, 2, 64, cookie, wrk_cpu)
            pinned = f"servers on CPU {server_cpu}, wrk on CPU {wrk_cpu}" if server_cpu else "not pinned (one CPU)"
            print(f"8 KB page, {args.workers} nginx worker(s), {args.duration} s per run, {pinned}")
            print(f"{'setup':14} {'conns':>5} {'req/s':>10} {'p50':>9} {'p99':>9} {'RSS MiB':>8}")
            for connections in (int(c) for c in args.connections.split(",")):
                n_rps, n_p50, n_p99 = wrk(plain_url, args.duration, connections, None, wrk_cpu)
                print(f"{'nginx alone':14} {connections:5d} {n_rps:10.0f} {n_p50:>9} {n_p99:>9} "
                      f"{rss_mib(plain.pid):8.1f}")
                f_rps, f_p50, f_p99 = wrk(front, args.duration, connections, cookie, wrk_cpu)
                print(f"{'nginx + gate':14} {connections:5d} {f_rps:10.0f} {f_p50:>9} {f_p99:>9} "
                      f"{rss_mib(front_nginx.proc.pid) + rss_mib(gate.proc.pid):8.1f}")
                print(f"  {connections} connections: (nginx + gate)/nginx {f_rps / n_rps:.2f}")
        print("reproduce: .venv/bin/python bench/nginx.py " + " ".join(sys.argv[1:]))
    finally:
        if gate:
            gate.stop()
        if plain:
            plain.terminate()
            plain.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
