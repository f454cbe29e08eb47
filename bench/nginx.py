"""Requests per second for an 8 KB page through nginx + gate (deploy/nginx.conf) against nginx alone, same run.

    .venv/bin/python bench/nginx.py [--duration 10] [--connections 64] [--workers 1]

Starts the gate with --accel-redirect behind the real nginx configured by the shipped deploy/nginx.conf
(the gate's decision cached 2 s per cookie and address, nginx sending the blob), and a plain nginx with
the same number of workers serving the same file from a folder; runs wrk against each in turn, with a
valid session cookie for the first, and prints one line per server and their ratio.
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

from bench.gate import NGINX_CONF, page, wrk  # noqa: E402
from gate import store as storage  # noqa: E402
from gate import tokens  # noqa: E402
from tests.gatekit import GateProcess, free_port, publish_site, write_members  # noqa: E402
from tests.nginxkit import ACCEL_PREFIX, running_nginx  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
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
        with running_nginx(tmp / "front", [gate.port], tmp / "store", port=front_port, workers=args.workers):
            cookie = gate.session_cookie("reader@example.org")
            front = f"http://127.0.0.1:{front_port}/c/bench/index.html"
            gate.port = front_port
            assert gate.get("/c/bench/index.html", cookie=cookie).body == body
            time.sleep(0.5)
            wrk(f"http://127.0.0.1:{plain_port}/index.html", 2, args.connections)  # warm-up
            wrk(front, 2, args.connections, cookie)
            n_rps, n_p99 = wrk(f"http://127.0.0.1:{plain_port}/index.html", args.duration, args.connections)
            f_rps, f_p99 = wrk(front, args.duration, args.connections, cookie)
        print(f"8 KB page, {args.connections} connections, {args.workers} nginx worker(s), {args.duration} s each")
        print(f"nginx alone         {n_rps:10.0f} req/s  p99 {n_p99}")
        print(f"nginx + gate        {f_rps:10.0f} req/s  p99 {f_p99}  (valid session, deploy/nginx.conf)")
        print(f"(nginx + gate)/nginx {f_rps / n_rps:.2f}")
    finally:
        if gate:
            gate.stop()
        if plain:
            plain.terminate()
            plain.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
