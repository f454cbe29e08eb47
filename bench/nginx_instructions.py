"""nginx's own work per request, counted in instructions (callgrind): nginx alone, this checkout's nginx
configuration and Lua module in front of its gate, and another checkout's.

    .venv/bin/python bench/nginx_instructions.py --site DIR [--baseline DIR] [--requests 1000] [--mix return]

Requests per second and CPU time per request on a shared 2-core machine move by tens of percent from one
run to the next (bench/nginx.py prints them run by run); the instructions nginx executes for the same
requests do not. Each setup's nginx runs in one process (no master) under valgrind's callgrind; the
requests of bench/nginx.py's page views (the same members, views and cookies; ``--mix return``: the page
whole and the rest revalidated with ``If-None-Match``, ``first``: every file whole) are sent one at a time
after a warm-up (nginx learns every address and admits every Cookie header), and the count is taken over
exactly those. User space only: the kernel's share (sockets, sendfile) is not counted.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.nginx import ACCEPT_ENCODING, PLAIN_CONF, fresh_forgeries, published_world, unseen_valid  # noqa: E402
from gate import tokens  # noqa: E402
from tests.gatekit import ROOT, GateProcess, free_port  # noqa: E402
from tests.nginxkit import ACCEL_PREFIX, NGINX, render  # noqa: E402

Requests = list[tuple[str, dict[str, str]]]


def control(proc: subprocess.Popen, command: str, port: int) -> None:
    """``callgrind_control command`` on nginx. Valgrind reads the command only while nginx runs, and
    an nginx with no timer of its own sleeps until a connection comes (nginx alone could wait minutes):
    it is woken by connections opened and closed (a few hundred instructions) until the command is done."""
    ctl = subprocess.Popen(["callgrind_control", command, str(proc.pid)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            if ctl.wait(timeout=0.2) != 0:
                raise SystemExit(f"callgrind_control {command} failed ({ctl.returncode})")
            return
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline:
                ctl.kill()
                raise SystemExit(f"callgrind_control {command}: nginx did not answer in 120 s") from None
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()


def counted(tmp: Path, label: str, conf: str, port: int, warm: Callable[[], Requests],
            measured: Callable[[], Requests]) -> tuple[int, dict[int, int]]:
    """Instructions nginx (``conf``, listening on ``port``) executes for the requests ``measured`` gives,
    after those ``warm`` gives, both made once it has started (grants expire within a minute); and
    their statuses."""
    runtime = tmp / f"run-{label}"
    runtime.mkdir()
    (runtime / "nginx.conf").write_text(conf)
    out = runtime / "callgrind.out"
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", NGINX, "-p", str(runtime),
                             "-c", str(runtime / "nginx.conf"), "-g", "daemon off; master_process off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"{label}: nginx did not start under valgrind") from None
                time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def send(target: str, headers: dict[str, str]) -> int:
            conn.request("GET", target, headers=headers)
            reply = conn.getresponse()
            reply.read()
            return reply.status

        for target, headers in warm():  # nginx learns every address and admits every Cookie header
            send(target, headers)
        requests = measured()
        control(proc, "--zero", port)
        statuses: dict[int, int] = {}
        for target, headers in requests:
            status = send(target, headers)
            statuses[status] = statuses.get(status, 0) + 1
        control(proc, "--dump", port)
        conn.close()
    finally:
        proc.terminate()
        proc.wait()
    dumps = [p for p in runtime.glob("callgrind.out.*") if p.name != out.name]
    if len(dumps) != 1:
        raise SystemExit(f"{label}: expected one callgrind dump, found {[p.name for p in dumps]}")
    for line in dumps[0].read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1]), statuses
    raise SystemExit(f"{label}: no total in {dumps[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, required=True, help="a build's output folder (bench/nginx.py --site)")
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. git archive main | tar -x -C DIR)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--mix", choices=("first", "return", "forged", "unseen"), default="return",
                        help="forged: a new well-shaped forged session and seal each request; unseen: a new valid "
                             "session and grant each request (both after a warm-up of first visits)")
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the callgrind files (to see where it goes)")
    args = parser.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise SystemExit("valgrind is needed (apt-get install valgrind)")
    tmp = Path(tempfile.mkdtemp(prefix="nginx-instructions-"))
    tmp.chmod(0o755)
    gates: list[GateProcess] = []
    try:
        site = args.site.resolve()
        views_of, communities, member_of = published_world(tmp, site, args.members)
        rng = random.Random(1)
        forger = tokens.init(tmp / "forger-keys")
        members_of = {c: [m for m, mc in member_of.items() if mc == c] for c in communities}
        sequence = [(m, rng.choice(views_of[c])) for m, c in (rng.choice(list(member_of.items()))
                                                               for _ in range(400))]
        setups: list[tuple[str, Path | None]] = [("baseline", args.baseline.resolve())] if args.baseline else []
        setups += [("this", ROOT)] + ([("nginx alone", None)] if args.mix in ("first", "return") else [])  # nginx alone gets this one's cookies (same parsing)
        print(f"{args.requests} requests, {args.mix} visits; nginx's user-space instructions per request")
        sessions: dict[str, str] = {}
        last_keys: Path | None = None  # nginx alone gets the last setup's cookies: the same headers to parse
        for label, checkout in setups:
            port = free_port()
            grant_keys: Path | None = None
            if checkout is None:
                conf = PLAIN_CONF.format(tmp=tmp, port=port, workers=1, site=site).replace("daemon off;\n", "")
            else:
                grant_keys = tmp / f"grants-{len(gates)}" / "keys"
                gate = GateProcess(tmp / "store", tmp / "keys", base_url=f"http://127.0.0.1:{port}", cwd=checkout,
                                   log=tmp / f"gate-{len(gates)}.log",
                                   extra=("--accel-redirect", ACCEL_PREFIX, "--trusted-proxy", "127.0.0.1",
                                          "--grant-keys", str(grant_keys), "--grant-ttl", str(tokens.MAX_GRANT_TTL)))
                gates.append(gate)
                (tmp / f"rt-{len(gates)}").mkdir()
                conf = render(tmp / f"rt-{len(gates)}", port, [gate.port], tmp / "store", grant_keys=grant_keys,
                              deploy=checkout / "deploy")
                sessions = {m: gate.session_cookie(m) for m in member_of}
                time.sleep(tokens.GRANT_KEY_SETTLE + 0.5)  # a new grant key signs once it has settled
                last_keys = grant_keys

            def make(keys_file: Path | None = grant_keys or last_keys, held_by: dict[str, str] = sessions,
                     etags: dict[str, str] | None = None) -> Requests:
                """The page views' requests, each member's cookies with a grant made now (as their browser
                holds), revalidating with ``etags`` on return visits."""
                cookies = dict(held_by)
                if keys_file is not None:
                    keys = tokens.read_grant_keys(keys_file)
                    for member, held in held_by.items():
                        session = held.split(";", 1)[0].split("=", 1)[1]
                        grant = tokens.issue_grant(keys, member_of[member], session, time.time())
                        cookies[member] = f"{held}; {keys.grant_cookie}={grant}"
                out = []
                for member, view in sequence:
                    for n, address in enumerate(view):
                        headers = {"Cookie": cookies[member], "Accept-Encoding": ACCEPT_ENCODING}
                        if etags is not None and n:
                            headers["If-None-Match"] = etags[address]
                        out.append((address, headers))
                return out[:args.requests]

            etags = etags_of(tmp, conf, port, make()) if args.mix == "return" else None

            def measured(m: Callable[..., Requests] = make, e: dict[str, str] | None = etags,
                         g: GateProcess | None = gates[-1] if checkout else None, k: Path | None = grant_keys) -> Requests:
                if args.mix == "forged":
                    keys = tokens.read_grant_keys(k)
                    forged = tokens.issue(forger, tokens.SESSION, "reader0@example.org", issuer=g.base, audience=g.base,
                                          ttl=3600)
                    return fresh_forgeries(m(), forged, f"{keys.seal_cookie}={tokens.SEAL_VERSION}.{keys.current.kid}.",
                                           rng)[:args.requests]
                if args.mix == "unseen":
                    return unseen_valid(m(), SimpleNamespace(gate=g, grant_keys=k), members_of, time.time(),
                                        count=args.requests)
                return m(etags=e)

            total, statuses = counted(tmp, label.replace(" ", "-"), conf, port, make, measured)
            print(f"  {label:12} {total / args.requests:9,.0f}   statuses {dict(sorted(statuses.items()))}")
    finally:
        for gate in gates:
            gate.stop()
        if args.keep:
            print(f"callgrind files kept in {tmp} (callgrind_annotate --inclusive=yes FILE)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def etags_of(tmp: Path, conf: str, port: int, requests: list[tuple[str, dict[str, str]]]) -> dict[str, str]:
    """The ETag nginx (``conf``) sends for each address."""
    return {address: headers["etag"] for address, headers in asked(tmp, conf, port, requests).items()}


def asked(tmp: Path, conf: str, port: int, requests: list[tuple[str, dict[str, str]]]) -> dict[str, dict[str, str]]:
    """The headers nginx (``conf``, started just for that) answers each address with, asked once each."""
    runtime = tmp / f"asked-{port}-{len(list(tmp.iterdir()))}"
    runtime.mkdir()
    (runtime / "nginx.conf").write_text(conf)
    proc = subprocess.Popen([NGINX, "-p", str(runtime), "-c", str(runtime / "nginx.conf"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("nginx did not start") from None
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        found = {}
        for address, headers in requests:
            if address not in found:
                conn.request("GET", address, headers=headers)
                reply = conn.getresponse()
                reply.read()
                found[address] = {k.lower(): v for k, v in reply.getheaders()}
        conn.close()
        return found
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
