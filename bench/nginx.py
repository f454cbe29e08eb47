"""Real page views through nginx + Lua grants + gate (the shipped deploy/nginx.conf) against nginx alone.

    .venv/bin/python bench/nginx.py [--cables 200] [--communities 2] [--members 8] [--views 400]
                                    [--duration 10] [--connections 64] [--workers 1] [--gate-workers 1]
                                    [--site DIR] [--tmp DIR] [--baseline DIR]

Builds a real site (bench/corpus.py, then `diplomatie build`: mkdocs-material with its CSS, JavaScript,
images and search index), or takes one already built (``--site``: the build's output folder), and
publishes it to a store. A page view is a cable page and everything it loads: its stylesheets,
scripts and images, and the search index and worker when the site has them. ``--views`` page views
of members with distinct cookies (each a member of one community, browsing its cable pages) are
replayed by wrk (a generated Lua script holding every request, in view order) against:

- nginx alone, serving the same files from the build folder under the same addresses;
- nginx with the shipped configuration in front of the gate (``--accel-redirect``, ``--grant-keys``):
  nginx checks each member's grant itself and asks the gate only for a missing or expired grant, to
  learn which blob a new address is, and once per community every 1.5 s for its current release.

Two mixes: first visits (every file fetched whole) and return visits (the page fetched whole, the
files it loads revalidated with ``If-None-Match``, as a browser does under ``Cache-Control:
no-cache``). Both setups run on the same CPUs (nothing pinned: nginx, the gate and wrk share every
CPU of this process's affinity), one after the other. Last, refusals of forged session cookies on the
same addresses: garbage, one well-shaped forged token repeated, and a new well-shaped token with a
seal under the real key id but a made-up MAC for every request, against valid first visits.

``--baseline DIR``: another checkout (for example ``git archive main | tar -x -C DIR``) whose gate and
deploy/ (nginx.conf, Lua module) run as a second front on the same store, alternated with this
checkout's in every run, so that both see the same load.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from posixpath import normpath
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import corpus  # noqa: E402
from bench.gate import tree, wrk  # noqa: E402
from gate import store as storage  # noqa: E402
from gate import tokens  # noqa: E402
from tests.gatekit import ROOT, GateProcess, free_port, publish_folder, write_members  # noqa: E402
from tests.nginxkit import ACCEL_PREFIX, NGINX, Nginx  # noqa: E402

ACCEPT_ENCODING = "gzip, deflate, br"  # what browsers send

PLAIN_CONF = """worker_processes {workers};
daemon off;
pid {tmp}/plain.pid;
error_log {tmp}/plain-error.log;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  server_tokens off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  include /etc/nginx/mime.types;
  client_body_temp_path {tmp}/t; proxy_temp_path {tmp}/t; fastcgi_temp_path {tmp}/t;
  uwsgi_temp_path {tmp}/t; scgi_temp_path {tmp}/t;
  server {{
    listen 127.0.0.1:{port};
    location /c/ {{
      alias {site}/;
      open_file_cache max=10000 inactive=30s;
      add_header Cache-Control "private, no-cache";
    }}
  }}
}}
"""


class Loads(HTMLParser):
    """The addresses a page makes the browser fetch: stylesheets, icons, scripts, images."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        rel = (values.get("rel") or "").split()
        if tag == "link" and ({"stylesheet", "icon", "shortcut"} & set(rel)) and values.get("href"):
            self.found.append(values["href"] or "")
        elif tag in ("script", "img") and values.get("src"):
            self.found.append(values["src"] or "")


def page_views(site: Path) -> dict[str, list[list[str]]]:
    """community -> [[cable page address, then each address it loads], ...], files that exist only."""
    views: dict[str, list[list[str]]] = {}
    for folder in sorted(p for p in site.iterdir() if p.is_dir()):
        community = folder.name
        search = [f"search/{p.name}" for p in sorted((folder / "search").glob("*.json"))]
        search += [p.relative_to(folder).as_posix()
                   for p in sorted((folder / "assets" / "javascripts" / "workers").glob("search*.js"))]
        for page in sorted(folder.glob("[0-9][0-9][0-9][0-9]/*.html")):
            rel = page.relative_to(folder).as_posix()
            parser = Loads()
            parser.feed(page.read_text(encoding="utf-8"))
            loads: list[str] = []
            for ref in parser.found:
                parts = urlsplit(ref)
                if parts.scheme or parts.netloc or not parts.path:
                    continue
                target = normpath(f"{Path(rel).parent.as_posix()}/{parts.path}")
                if (folder / target).is_file() and target not in loads:
                    loads.append(target)
            loads += [s for s in search if s not in loads]
            views.setdefault(community, []).append([f"/c/{community}/{p}" for p in [rel, *loads]])
    if not views:
        raise SystemExit(f"{site}: no cable pages (<community>/<year>/<id>.html) found; give a build's output")
    return views


def published_world(tmp: Path, site: Path, members: int) -> tuple[dict[str, list[list[str]]], list[str], dict[str, str]]:
    """The built ``site`` published in a folder store under ``tmp`` (release r1, with its script
    hashes), ``members`` readers each a member of one community, the gate's keys in ``tmp/keys``:
    the page views of each community, the communities, and each reader's community."""
    views_of = page_views(site)
    store = storage.open_store(tmp / "store")
    for community in views_of:
        publish_folder(store, community, site / community, "r1", hashes=True)
    communities = sorted(views_of)
    member_of = {f"reader{i}@example.org": communities[i % len(communities)] for i in range(members)}
    write_members(store, {c: {"members": {m: None for m, mc in member_of.items() if mc == c}} for c in communities})
    tokens.init(tmp / "keys")
    return views_of, communities, member_of


def build_site(work: Path, cables: int, communities: int) -> Path:
    root, out = work / "repo", work / "site"
    corpus.write_corpus(root, cables, communities, git=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "pipeline", "build", "--root", str(root), "--out", str(out)],
                   check=True, capture_output=True)
    print(f"built {cables} cables in {communities} communities in {time.monotonic() - started:.0f} s")
    return out


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_script(path: Path, requests: list[tuple[str, dict[str, str]]]) -> Path:
    """A wrk script sending ``requests`` in order, round and round (formatted once, at wrk's start)."""
    lines = ["local reqs = {}"]
    for i, (target, headers) in enumerate(requests, start=1):
        table = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
        lines.append(f"reqs[{i}] = {{{lua_string(target)}, {{{table}}}}}")
    lines += ["function init(args)  -- after wrk.init has set the Host header",
              "  for i, r in ipairs(reqs) do reqs[i] = wrk.format('GET', r[1], r[2]) end",
              "end",
              "local i = 0",
              "function request() i = i % #reqs + 1; return reqs[i] end"]
    path.write_text("\n".join(lines) + "\n")
    return path


FRESH_FORGERIES = 5_000  # distinct forged cookies per run, made in advance (wrk then costs what it costs for valid ones)


def fresh_forgeries(requests: list[tuple[str, dict[str, str]]], token: str, seal: str,
                    rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    """``requests`` (cycled) each with a session cookie never seen before: ``token``'s header and payload
    with a random signature, and a seal (``<cookie name>=s1.<a real key id>.``) with a random MAC, so that
    nginx computes the HMAC: the dearest forgery for it."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    prefix = token.rsplit(".", 1)[0] + "."
    out = []
    for n in range(FRESH_FORGERIES):
        target, headers = requests[n % len(requests)]
        signature = "".join(rng.choices(alphabet, k=86))
        mac = "".join(rng.choices(alphabet[:62], k=27))
        out.append((target, {**headers, "Cookie": f"diplomatie={prefix}{signature}; {seal}{mac}"}))
    return out


UNSEEN = 30_000  # distinct valid cookies per run: more than a worker remembers (ADMITTED_MAX, 20,000)


def unseen_valid(requests: list[tuple[str, dict[str, str]]], front: Front, members: dict[str, list[str]],
                 now: float, count: int = UNSEEN) -> list[tuple[str, dict[str, str]]]:
    """``requests`` (cycled) each with a valid session, seal and grant nginx has never seen: a new session
    per request, signed by the gate's keys, so that nginx checks the grant's HMAC and the session's
    reference (what the first request of each page view of a new browser costs). ``members``: community ->
    its members."""
    ring = tokens.load(front.gate.keys_dir)
    keys = tokens.read_grant_keys(front.grant_keys)
    out = []
    for n in range(count):
        target, headers = requests[n % len(requests)]
        community = target.split("/")[2]
        member = members[community][n % len(members[community])]
        session = tokens.issue(ring, tokens.SESSION, member, issuer=front.gate.base,
                               audience=front.gate.base, ttl=3600, now=now)
        cookie = (f"{keys.session_cookie}={session}; {keys.seal_cookie}={tokens.issue_seal(keys, session, now)}; "
                  f"{keys.grant_cookie}={tokens.issue_grant(keys, community, session, now)}")
        out.append((target, {**headers, "Cookie": cookie}))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes and their descendants (/proc), seconds."""
    ticks = 0
    for pid in pids:
        for p in tree(pid):
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def etags(port: int, addresses: set[str], cookie_of: dict[str, str]) -> dict[str, str]:
    """The ETag each address is served with by the server on ``port`` (a GET each, with a member's cookie)."""
    import http.client

    found = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for address in sorted(addresses):
        conn.request("GET", address, headers={"Cookie": cookie_of[address.split("/")[2]],
                                              "Accept-Encoding": ACCEPT_ENCODING})
        reply = conn.getresponse()
        reply.read()
        if reply.status != 200:
            raise SystemExit(f"{address}: {reply.status} on port {port}")
        found[address] = reply.headers["etag"]
    conn.close()
    return found


class Front:
    """nginx with a checkout's deploy/nginx.conf in front of that checkout's gate (its own grant keys)."""

    def __init__(self, label: str, checkout: Path, tmp: Path, workers: int, gate_workers: int) -> None:
        self.label = label
        self.port = free_port()
        self.grant_keys = tmp / f"grants-{label}" / "keys"
        self.gate = GateProcess(tmp / "store", tmp / "keys", workers=gate_workers,
                                base_url=f"http://127.0.0.1:{self.port}", cwd=checkout,
                                log=tmp / f"gate-{label}.log",
                                extra=("--accel-redirect", ACCEL_PREFIX, "--trusted-proxy", "127.0.0.1",
                                       "--grant-keys", str(self.grant_keys),
                                       "--grant-ttl", str(tokens.MAX_GRANT_TTL)))
        self.nginx: Nginx | None = None
        try:
            self.nginx = Nginx(tmp / f"front-{label}", [self.gate.port], tmp / "store", port=self.port,
                               workers=workers, grant_keys=self.grant_keys, deploy=checkout / "deploy")
        except Exception:
            self.gate.stop()
            raise
        self.client = copy.copy(self.gate)
        self.client.port = self.port  # talk to nginx

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        self.gate.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cables", type=int, default=200)
    parser.add_argument("--communities", type=int, default=2)
    parser.add_argument("--members", type=int, default=8, help="members with distinct cookies")
    parser.add_argument("--views", type=int, default=400, help="page views in the replayed sequence")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each setup, alternated; the median is printed (a shared machine is noisy)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="nginx workers (both setups)")
    parser.add_argument("--gate-workers", type=int, default=1)
    parser.add_argument("--site", type=Path, help="a build's output folder (one folder per community)")
    parser.add_argument("--tmp", help="where the store, site and nginx files go (e.g. /dev/shm)")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout (e.g. `git archive main | tar -x -C DIR`): its gate and deploy/ "
                             "run too, alternated with this one's, in the same runs")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nginx-bench-", dir=args.tmp))
    tmp.chmod(0o755)  # nginx workers may run as another user
    plain = None
    fronts: list[Front] = []
    try:
        site = args.site.resolve() if args.site else build_site(tmp, args.cables, args.communities)
        views_of, communities, member_of = published_world(tmp, site, args.members)
        if args.baseline:
            fronts.append(Front("baseline", args.baseline.resolve(), tmp, args.workers, args.gate_workers))
        fronts.append(Front("this", ROOT, tmp, args.workers, args.gate_workers))
        plain_port = free_port()
        (tmp / "t").mkdir()
        (tmp / "plain.conf").write_text(PLAIN_CONF.format(tmp=tmp, port=plain_port, workers=args.workers, site=site))
        plain = subprocess.Popen([NGINX, "-c", str(tmp / "plain.conf"), "-p", str(tmp)])
        this = fronts[-1]
        sessions = {f.label: {m: f.gate.session_cookie(m) for m in member_of} for f in fronts}
        rng = random.Random(1)
        sequence = [(m, rng.choice(views_of[c])) for m, c in (rng.choice(list(member_of.items()))
                                                               for _ in range(args.views))]
        addresses = {a for _, view in sequence for a in view}
        per_view = sum(len(view) for _, view in sequence) / len(sequence)
        view_bytes = sum((site / a[3:]).stat().st_size for _, view in sequence for a in view) / len(sequence) / 1024
        cpus = sorted(os.sched_getaffinity(0))

        def member_cookies(front: Front) -> dict[str, str]:
            """Each member's session and a fresh grant for their community (as their browser holds)."""
            held = {}
            for member, community in member_of.items():
                reply = front.client.get(f"/c/{community}/", cookie=sessions[front.label][member])
                grant = (reply.header("set-cookie") or "").split(";", 1)[0]
                assert reply.status == 200 and grant.startswith("diplomatie-grant="), reply.status
                held[member] = f"{sessions[front.label][member]}; {grant}"
            return held

        def requests(cookies: dict[str, str], tags: dict[str, str] | None) -> list[tuple[str, dict[str, str]]]:
            out = []
            for member, view in sequence:
                for n, address in enumerate(view):
                    headers = {"Cookie": cookies[member], "Accept-Encoding": ACCEPT_ENCODING}
                    if tags is not None and n > 0:
                        headers["If-None-Match"] = tags[address]
                    out.append((address, headers))
            return out

        def run(port: int, reqs: list, forgery: tuple[str, Front] | None = None) -> tuple[float, str, str]:
            if forgery is not None and forgery[0] == "unseen":
                reqs = unseen_valid(reqs, forgery[1], {c: [m for m, mc in member_of.items() if mc == c]
                                                       for c in communities}, time.time())
            elif forgery is not None:
                keys = tokens.read_grant_keys(forgery[1].grant_keys)
                seal = f"{keys.seal_cookie}={tokens.SEAL_VERSION}.{keys.current.kid}."
                reqs = fresh_forgeries(reqs, forgery[0], seal, rng)
            script = write_script(tmp / f"{len(os.listdir(tmp))}.lua", reqs)
            return wrk(f"http://127.0.0.1:{port}/", args.duration, args.connections, script=script)

        def gate_requests(front: Front) -> float:
            return sum(float(line.rsplit(" ", 1)[1]) for line in front.gate.metrics().splitlines()
                       if line.startswith("diplomatie_gate_requests_total{"))

        cookie_of = {c: member_cookies(this)[next(m for m, mc in member_of.items() if mc == c)] for c in communities}
        plain_tags = etags(plain_port, addresses, cookie_of)
        tags_of = {}
        for front in fronts:
            held = member_cookies(front)
            tags_of[front.label] = etags(front.port, addresses,
                                         {c: held[next(m for m, mc in member_of.items() if mc == c)]
                                          for c in communities})
        run(plain_port, requests(member_cookies(this), None))  # warm-up: files in the page cache, Lua, the gate
        for front in fronts:
            run(front.port, requests(member_cookies(front), None))
        print(f"{len({v[0] for _, v in sequence})} cable pages in {len(communities)} communities, "
              f"{args.members} members, {len(sequence)} page views of {per_view:.1f} requests "
              f"({view_bytes:.0f} KiB) each; {args.duration} s per run, {args.connections} connections, "
              f"nginx workers {args.workers}, gate workers {args.gate_workers}; nginx, gate and wrk share "
              f"CPUs {','.join(map(str, cpus))}; median of {args.repeat} alternated runs"
              + (f"; baseline: {args.baseline}" if args.baseline else ""))
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        print(f"{'run':52} {'req/s':>9} {'p50':>9} {'p99':>9} {'views/s':>8} {'gate req/s':>10} "
              f"{'nginx µs/req':>12} {'gate µs/req':>11}")
        rows: dict[str, float] = {}
        cpu_of: dict[str, float] = {}  # the servers' CPU per request (nginx + gate), µs
        prefix = {f.label: (f"{f.label}: " if args.baseline else "") for f in fronts}

        def measure(port: int, make: Callable[[], list], front: Front | None,
                    forgery: tuple[str, Front] | None = None) -> tuple[float, str, str, float, float, float]:
            """One run: wrk's figures, gate requests/s, and nginx's and the gate's CPU per request (user +
            system time of all their processes over the run); ``front`` None: nginx alone."""
            server = front.nginx.proc.pid if front else plain.pid
            gate_pid = [front.gate.proc.pid] if front else []
            asked = gate_requests(front) if front else 0.0
            nginx_cpu, gate_cpu = cpu_seconds([server]), cpu_seconds(gate_pid)
            rps, p50, p99 = run(port, make(), forgery)
            nginx_cpu, gate_cpu = cpu_seconds([server]) - nginx_cpu, cpu_seconds(gate_pid) - gate_cpu
            total = rps * args.duration
            if front is None:
                return rps, p50, p99, -1.0, nginx_cpu / total * 1e6, -1.0
            return rps, p50, p99, (gate_requests(front) - asked) / args.duration, nginx_cpu / total * 1e6, \
                gate_cpu / total * 1e6

        def line(label: str, results: list[tuple[float, str, str, float, float, float]]) -> None:
            rps, p50, p99, asked, nginx_cpu, gate_cpu = sorted(results)[len(results) // 2]
            rows[label] = rps
            cpu_of[label] = nginx_cpu + max(gate_cpu, 0)
            shown = f"{asked:10.0f}" if asked >= 0 else f"{'':>10}"
            gate_shown = f"{gate_cpu:11.0f}" if gate_cpu >= 0 else f"{'':>11}"
            print(f"{label:52} {rps:9.0f} {p50:>9} {p99:>9} {rps / per_view:8.0f} {shown} {nginx_cpu:12.0f} "
                  f"{gate_shown}")

        for mix, plain_mix, tagged in (("first visits", None, False), ("return visits", plain_tags, True)):
            alone: list = []
            behind: dict[str, list] = {f.label: [] for f in fronts}
            for _ in range(args.repeat):
                alone.append(measure(plain_port, lambda m=plain_mix: requests(member_cookies(this), m), None))
                for front in fronts:
                    tags = tags_of[front.label] if tagged else None
                    behind[front.label].append(measure(front.port, lambda f=front, t=tags: requests(member_cookies(f), t),
                                                       front))
            line(f"nginx alone, {mix}", alone)
            for front in fronts:
                line(f"{prefix[front.label]}nginx + grants + gate, {mix}", behind[front.label])
            for front in fronts:
                label = f"{prefix[front.label]}nginx + grants + gate, {mix}"
                ratios = sorted(b[0] / a[0] for a, b in zip(alone, behind[front.label], strict=True))
                print(f"  {prefix[front.label]}{mix}: (nginx + grants + gate) / nginx alone = "
                      f"{rows[label] / rows[f'nginx alone, {mix}']:.2f} "
                      f"(run by run: {', '.join(f'{r:.2f}' for r in ratios)})")
        forger = tokens.init(tmp / "forger-keys")
        garbage = {m: "diplomatie=garbage" for m in member_of}
        for front in fronts:
            forged = tokens.issue(forger, tokens.SESSION, "reader0@example.org", issuer=front.gate.base,
                                  audience=front.gate.base, ttl=3600)
            repeated = {m: f"diplomatie={forged}" for m in member_of}
            for label, cookies, fresh in (("forged: garbage session cookie", garbage, None),
                                          ("forged: one well-shaped token, repeated", repeated, None),
                                          ("forged: a new token and seal each time", repeated, (forged, front))):
                line(prefix[front.label] + label,
                     [measure(front.port, lambda c=cookies: requests(c, None), front, fresh)
                      for _ in range(args.repeat)])
        for front in fronts:  # the fair comparison for a forgery: a valid cookie nginx has not seen either
            label = f"{prefix[front.label]}valid: a new session and grant each time"
            line(label, [measure(front.port, lambda f=front: requests(member_cookies(f), None), front, ("unseen", front))
                         for _ in range(args.repeat)])
        for front in fronts:
            valid_label = f"{prefix[front.label]}nginx + grants + gate, first visits"
            unseen_label = f"{prefix[front.label]}valid: a new session and grant each time"
            for label in [r for r in rows if r.startswith(prefix[front.label] + "forged")]:
                print(f"  {label}: {rows[label] / rows[valid_label]:.2f}x the requests/s of valid first visits; "
                      f"server CPU {cpu_of[label]:.0f} µs/req against {cpu_of[valid_label]:.0f} "
                      f"({cpu_of[label] / cpu_of[valid_label]:.2f}x); against a valid cookie nginx has not "
                      f"seen {cpu_of[unseen_label]:.0f} µs/req ({cpu_of[label] / cpu_of[unseen_label]:.2f}x)")
            assert front.nginx.proc.poll() is None
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print("reproduce: .venv/bin/python bench/nginx.py " + " ".join(sys.argv[1:]))
    finally:
        for front in fronts:
            front.stop()
        if plain:
            plain.terminate()
            plain.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
