"""Publication time and uploads of ``diplomatie publish`` side by side with ``aws s3 sync``, in one run.

    .venv/bin/python bench/publish.py [--cables 130,3600] [--communities 8] [--jobs 16]

Starts a real S3 server (Ceph RADOS Gateway, tools/s3-server.sh, as the test suite does) and stops it
at the end. For each corpus size (bench/corpus.py; the defaults give sites of about 1,000 and 10,000
files in all), builds the sites once, then times in turn, against the same server:

- ``diplomatie publish --store s3://…`` and ``--store <folder>``: full, no-op, one-cable (edit one
  cable, commit, rebuild, publish);
- ``aws s3 sync <built folder> s3://…`` (the AWS CLI from PyPI): first sync, no-op sync, and the sync
  of the same folder after the one-cable rebuild.

Reports objects uploaded and wall time, and the ratio no-op publish vs no-op sync (target: at least
5x faster). The AWS CLI is not a dependency of the project: ``.venv/bin/pip install awscli``.

Edit mode, on a corpus built once and reused (issue 19: a one-cable edit uploads at most 1 MB, a
no-op publication takes at most 5 s with O(communities) store requests)::

    .venv/bin/python bench/corpus.py /tmp/c20000 --cables 20000 --communities 8 --git
    .venv/bin/diplomatie build --root /tmp/c20000 --out /tmp/site20000
    .venv/bin/python bench/publish.py --cables 20000 --corpus /tmp/c20000 --site /tmp/site20000 \
        --workdir /tmp/pub20000 [--s3] [--at 0.5] [--edit append|insert|replace]

publishes to a folder store (and to a real S3 server with ``--s3``) kept in ``--workdir``, then
times a no-op publication, edits one cable (``--at``: which one; ``--edit``: how), rebuilds, publishes, and a no-op
again, each under bench/storecount.py: wall and CPU time, store requests, bytes uploaded by kind
(pages, search, feeds, sitemaps, manifests, records).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT))

from bench import corpus  # noqa: E402
from bench.build import EDITS, cable_pages, commit_all, edit_one_cable, tree_size  # noqa: E402

BIN = Path(sys.executable).parent
S3_SCRIPT = PROJECT / "tools" / "s3-server.sh"


@dataclass(frozen=True)
class Server:
    endpoint_url: str
    env: dict[str, str]


def find_aws() -> str:
    """The AWS CLI next to this Python, else on PATH; a clear message when it is missing."""
    for candidate in (BIN / "aws", shutil.which("aws")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise SystemExit("aws (the AWS CLI) not found. It is only needed for this benchmark: "
                     ".venv/bin/pip install awscli")


def start_s3(work: Path) -> tuple[Server, dict[str, str]]:
    """Start radosgw on free loopback ports (as tests/s3server.py does); returns the server and its env."""
    from tests.s3server import _free_port, _parse_exports

    base = 30000 + (os.getpid() % 100) * 100
    env = dict(os.environ, S3_RGW_DIR=str(work / "rgw"), S3_RGW_PORT=str(_free_port()),
               S3_RGW_MON_PORT=str(_free_port()), S3_RGW_OSD_PORTS=f"{base}-{base + 99}", S3_RGW_MEM_GB="4")
    started = subprocess.run(["bash", str(S3_SCRIPT), "start"], env=env, capture_output=True, text=True,
                             timeout=300)
    if started.returncode != 0:
        subprocess.run(["bash", str(S3_SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
        raise SystemExit("the S3 server (radosgw) did not start:\n" + started.stderr[-3000:])
    exports = _parse_exports(started.stdout)
    client_env = {"AWS_ENDPOINT_URL_S3": exports["S3_ENDPOINT_URL"], "AWS_ACCESS_KEY_ID": exports["AWS_ACCESS_KEY_ID"],
                  "AWS_SECRET_ACCESS_KEY": exports["AWS_SECRET_ACCESS_KEY"], "AWS_DEFAULT_REGION": "us-east-1"}
    return Server(exports["S3_ENDPOINT_URL"], client_env), env


def stop_s3(env: dict[str, str]) -> None:
    subprocess.run(["bash", str(S3_SCRIPT), "stop"], env=env, capture_output=True, timeout=120)


def timed(args: list[str | Path], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {shlex.join(map(str, args))}\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


def publish(root: Path, out: Path, store: str, server: Server, jobs: int) -> tuple[float, int]:
    """One ``diplomatie publish``; returns (seconds, blobs uploaded over all communities)."""
    seconds, stdout = timed([BIN / "diplomatie", "publish", "--root", root, "--out", out, "--store", store,
                             "--jobs", str(jobs), "--format", "json"], server.env)
    report = json.loads(stdout)
    return seconds, sum(c["uploaded"] for c in report["communities"].values())


def sync(aws: str, folder: Path, bucket: str, server: Server, config: Path) -> tuple[float, int]:
    """One ``aws s3 sync``; returns (seconds, files uploaded)."""
    seconds, stdout = timed([aws, "s3", "sync", "--no-progress", "--endpoint-url", server.endpoint_url,
                             folder, f"s3://{bucket}/"], {**server.env, "AWS_CONFIG_FILE": str(config)})
    return seconds, sum(1 for line in stdout.splitlines() if line.startswith("upload:"))


def bench_size(n: int, k: int, jobs: int, work: Path, server: Server, aws: str, config: Path,
               bucket_client) -> list[tuple[str, float, int, float, int, float, int]]:
    root, out = work / f"corpus-{n}", work / f"site-{n}"
    corpus.write_corpus(root, n, k, git=True)
    build_s, _ = timed([BIN / "diplomatie", "build", "--root", root, "--out", out])
    files, size = tree_size(out)
    ours_bucket, aws_bucket = f"ours-{n}", f"aws-{n}"
    for bucket in (ours_bucket, aws_bucket):
        bucket_client.create_bucket(Bucket=bucket)
    s3_store, folder_store = f"s3://{ours_bucket}/sites", str(work / f"store-{n}")
    print(f"\nN = {n} cables, K = {k}: {files} files, {size / 1e6:.1f} MB, {len(cable_pages(out))} cable pages "
          f"(first build {build_s:.1f} s)", flush=True)

    rows = []

    def step(label: str) -> None:
        s3 = publish(root, out, s3_store, server, jobs)
        folder = publish(root, out, folder_store, server, jobs)
        synced = sync(aws, out, aws_bucket, server, config)
        rows.append((label, s3[0], s3[1], folder[0], folder[1], synced[0], synced[1]))
        print(f"  {label}: publish s3 {s3[0]:.2f} s ({s3[1]} up), folder {folder[0]:.2f} s ({folder[1]} up), "
              f"aws s3 sync {synced[0]:.2f} s ({synced[1]} up)", flush=True)

    step("full (first)")
    step("no-op")
    cable = edit_one_cable(root, n, k, 1, commit=False)
    rebuild_s, _ = timed([BIN / "diplomatie", "build", "--root", root, "--out", out])
    print(f"  {cable} edited, not committed; rebuild {rebuild_s:.2f} s (before both publish and sync)")
    step("one cable edited, not committed")
    commit_all(root, f"edit {cable}")
    rebuild_s, _ = timed([BIN / "diplomatie", "build", "--root", root, "--out", out])
    print(f"  the edit committed; rebuild {rebuild_s:.2f} s (before both publish and sync)")
    step("the same edit committed")
    return [(f"{files} files ({n} cables)", *row) for row in rows]


# ------------------------------------------------------------- what a one-cable edit uploads, by kind


def kind(key: str, paths: list[str], nodes: set[str]) -> str:
    """What an uploaded object is: a site file by its path, a manifest (root or node), or a record."""
    if key.startswith("releases/") or key.rsplit("/", 1)[-1] in nodes:
        return "manifests"
    if not key.startswith("blobs/"):
        return "records"  # pointers, ledger, lease, members.json, markers
    path = paths[0] if paths else ""
    if not path:
        return "unknown blobs"
    if path.startswith(("search/", "pagefind/")) or "search_index" in path:
        return "search"
    if "sitemap" in path:
        return "sitemaps"
    if path.endswith(("feed.xml", ".rss", "atom.xml", "feed.json")):
        return "feeds"
    if path.endswith(".html"):
        return "pages"
    return "other files"


KINDS = ("pages", "search", "feeds", "sitemaps", "manifests", "records", "other files", "unknown blobs")


def counted_publish(root: Path, out: Path, store: str, env: dict[str, str], jobs: int,
                    log: Path, only: tuple[str, ...] | list[str] = ()) -> dict[str, object]:
    """One ``diplomatie publish`` under bench/storecount.py (``only``: its ``--community`` options):
    wall and CPU time, store requests, and the bytes uploaded by kind."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, _ = timed([sys.executable, BENCH / "storecount.py", log, "--", "publish", "--root", root,
                        "--out", out, "--store", store, "--jobs", str(jobs), "--format", "json", *only],
                       {**env, "PYTHONPATH": str(PROJECT)})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    data = json.loads(log.read_text())
    nodes = set(data.get("nodes", ()))
    by_kind: dict[str, list[int]] = {k: [0, 0] for k in KINDS}
    for key, size in data["uploads"]:
        which = kind(key, data["manifests"].get(key.rsplit("/", 1)[-1], []), nodes)
        by_kind[which][0] += 1
        by_kind[which][1] += size
    return {"seconds": seconds, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "requests": sum(data["requests"].values()), "by_method": data["requests"],
            "bytes": sum(size for _, size in data["uploads"]), "by_kind": by_kind}


def edit_bench(root: Path, out: Path, n: int, k: int, at: float, jobs: int, work: Path,
               server: Server | None, community: str = "", edit: str = "append") -> None:
    """On a built corpus (reused: ``--corpus`` and ``--site``): a first publication to each store when
    it has none, a no-op publication, one cable edited (committed) and rebuilt, its publication,
    and a no-op again; store requests counted, uploads split by kind. ``community``: only its site is
    built and published, and the cable edited is the first it publishes from ``at`` on (what one
    community's publication costs, when building every site would take too long)."""
    only = ["--community", community] if community else []
    if community:
        at = _first_selected(n, k, community, at)
    stores = {"folder": str(work / "store-folder")}
    env: dict[str, str] = {}
    if server is not None:
        stores["s3"] = f"s3://edit-{n}/sites"
        env = server.env
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, str], dict] = {}
    for name, store in stores.items():
        first = counted_publish(root, out, store, env, jobs, logs / f"{name}-first.json", only)
        print(f"  {name}: publish to bring the store up to date {first['seconds']:.1f} s, "
              f"{first['requests']} requests, {first['bytes'] / 1e6:.1f} MB", flush=True)
        results[(name, "no-op")] = counted_publish(root, out, store, env, jobs, logs / f"{name}-noop.json", only)
    cable = edit_one_cable(root, n, k, 1, commit=True, at=at, kind=edit)
    build_s, _ = timed([BIN / "diplomatie", "build", "--root", root, "--out", out, *only])
    print(f"  {cable} edited and committed; rebuild {build_s:.1f} s", flush=True)
    for name, store in stores.items():
        results[(name, "edit")] = counted_publish(root, out, store, env, jobs, logs / f"{name}-edit.json", only)
        results[(name, "no-op after")] = counted_publish(root, out, store, env, jobs, logs / f"{name}-noop2.json", only)
    sites = f"the site of {community} only" if community else f"{k} communities"
    print(f"\n### Publish at {n} cables, {sites}: one cable ({cable}) edited ({EDITS[edit]}) and committed\n")
    print("| store | step | wall (s) | CPU (s) | store requests | uploaded | " + " | ".join(KINDS) + " |")
    print("|---|---|---:|---:|---:|---:|" + "---:|" * len(KINDS))
    for (name, step), r in results.items():
        cells = " | ".join(f"{r['by_kind'][k][1] / 1e3:.1f} KB ({r['by_kind'][k][0]})" if r["by_kind"][k][0] else "—"
                           for k in KINDS)
        print(f"| {name} | {step} | {r['seconds']:.2f} | {r['cpu']:.2f} | {r['requests']} | "
              f"{r['bytes'] / 1e6:.3f} MB | {cells} |")
    print("\nRequests by method:", {f"{n_}/{s_}": r["by_method"] for (n_, s_), r in results.items()})
    edit = results[("folder", "edit")]
    print(f"- one-cable edit uploads {edit['bytes'] / 1e6:.3f} MB (target <= 1 MB): "
          f"{'met' if edit['bytes'] <= 1e6 else 'MISSED'}")
    for (name, step), r in results.items():
        if step.startswith("no-op"):
            print(f"- {name} {step}: {r['seconds']:.2f} s wall, {r['cpu']:.2f} s CPU, {r['requests']} requests "
                  f"(target <= 5 s, O(communities) requests)")


def _first_selected(n: int, k: int, community: str, at: float) -> float:
    """The fraction to give :func:`bench.build.edit_one_cable` for the first cable from ``at`` on that
    ``community`` publishes (the corpus of seed 1, as bench/corpus.py makes it)."""
    cables = corpus.make_cables(n, 1)
    subjects = set(corpus.make_communities(k, 1)[community]["select"]["subjects"])
    start = int(n * at)
    index = next(i for i in [*range(start, n), *range(start)] if subjects & set(cables[i].front["subjects"]))
    return (index + 0.5) / n


# --------------------------------------- the store's side at 20,000 cables, on sites shaped as built


@dataclass(frozen=True)
class ShapedSite:
    community: str
    path: Path
    cables: tuple[str, ...]
    commit: str | None
    built_at: str


def _page(seed: str, size: int) -> bytes:
    """Text of about ``size`` bytes, different per seed, compressible as a page is."""
    import random

    rng = random.Random(seed)
    words = corpus.WORDS["fr"]
    text = " ".join(rng.choice(words) for _ in range(size // 6))
    return f"<!doctype html><title>{seed}</title><p>{text}</p>\n".encode()


def _noise(seed: str, size: int) -> bytes:
    """Incompressible bytes (a Pagefind fragment or index chunk is gzip already)."""
    import hashlib

    out, block = bytearray(), hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def shape_site(folder: Path, community: str, cables: list[corpus.CorpusCable], csp: Path, version: str) -> None:
    """A site with the files a build makes, by number and kind (docs/performance.md, section 2): a page
    per cable, a Pagefind fragment per cable and index chunks, listing pages, feed, sitemaps, version
    pages, the theme's assets (the same bytes in every community). Page bytes are short: what is
    measured here is the store's side (manifests, records, requests), not the pages' weight."""
    import hashlib

    files: dict[str, bytes] = {}
    for c in cables:
        files[f"{c.id[:4]}/{c.id}.html"] = _page(c.id, 700)
        files[f"pagefind/fragment/fr_{hashlib.sha256(c.id.encode()).hexdigest()[:7]}.pf_fragment"] = _noise(c.id, 300)
    for i in range(max(3, len(cables) // 10)):
        files[f"pagefind/index/fr_{hashlib.sha256(f'{community}{i}'.encode()).hexdigest()[:7]}.pf_index"] = \
            _noise(f"{community}-chunk-{i}", 300)
    for i in range(4):
        files[f"pagefind/filter/fr_{i:07x}.pf_filter"] = _noise(f"{community}-filter-{i}", 300)
    files["pagefind/pagefind-entry.json"] = b'{"version":"1","languages":{}}'
    files["pagefind/pagefind.fr_0000000000.pf_meta"] = _noise(f"{community}-meta", 300)
    files["pagefind/pagefind.js"] = _page("pagefind.js", 3000)
    files["pagefind/wasm.fr.pagefind"] = _noise("wasm", 3000)
    years = sorted({c.id[:4] for c in cables})
    months = sorted({str(c.front["date"])[:7] for c in cables})
    for name in [*(f"dates/{y}.html" for y in years), *(f"dates/{m}.html" for m in months),
                 *(f"posts/{p.lower()}.html" for p in corpus.POSTS), *(f"subjects/{s_}.html" for s_ in corpus.SUBJECTS),
                 "dates/index.html", "posts/index.html", "subjects/index.html", "index.html", "404.html"]:
        files[name] = _page(f"{community}/{name}", 2000)
    files["feed.xml"] = _page(f"{community}/feed", 4000)
    files["sitemap.xml"] = _page(f"{community}/sitemap", 4000)
    files["sitemap.xml.gz"] = _noise(f"{community}/sitemap.gz", 600)
    files["version.html"] = _page(f"{community}/version/{version}", 2000)
    files["version.json"] = f'{{"commit": "{version}"}}'.encode()
    for i in range(46):
        files[f"assets/theme/file{i}.css"] = _page(f"asset-{i}", 1500)
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    (folder / ".diplomatie").mkdir(exist_ok=True)
    shutil.copy(csp, folder / ".diplomatie" / csp.name)


def edit_shaped(folder: Path, cable: corpus.CorpusCable, holds: bool, version: str) -> None:
    """What a one-cable edit, committed, changes in a site, as measured on real builds (100 and 1,000
    cables): every site's version pages; in a site holding the cable, its page, its Pagefind fragment
    and three index chunks (new names, the old ones gone), Pagefind's entry and metadata files."""
    import hashlib

    (folder / "version.html").write_bytes(_page(f"{folder.name}/version/{version}", 2000))
    (folder / "version.json").write_bytes(f'{{"commit": "{version}"}}'.encode())
    if not holds:
        return
    page = folder / cable.id[:4] / f"{cable.id}.html"
    page.write_bytes(page.read_bytes() + b"<p>Paragraphe ajout\xc3\xa9 lors d'une relecture.</p>\n")
    old = folder / f"pagefind/fragment/fr_{hashlib.sha256(cable.id.encode()).hexdigest()[:7]}.pf_fragment"
    old.unlink()
    (old.parent / f"fr_{hashlib.sha256((cable.id + version).encode()).hexdigest()[:7]}.pf_fragment").write_bytes(
        _noise(cable.id + version, 300))
    for chunk in sorted((folder / "pagefind/index").iterdir())[:3]:
        chunk.unlink()
        (chunk.parent / f"fr_{hashlib.sha256((chunk.name + version).encode()).hexdigest()[:7]}.pf_index").write_bytes(
            _noise(chunk.name + version, 300))
    (folder / "pagefind/pagefind-entry.json").write_bytes(f'{{"version":"{version}","languages":{{}}}}'.encode())
    (folder / "pagefind/pagefind.fr_0000000000.pf_meta").write_bytes(_noise(f"meta-{version}", 300))


def _corpus_cables(n: int, written: Path | None) -> list[dict]:
    """Id, date, subjects and a text digest of each cable of the corpus: read from a corpus already
    written by bench/corpus.py (its front matter's lines, much faster than making the cables again),
    else made."""
    import hashlib

    if written is None:
        return [{"id": c.id, "front": {"date": str(c.front["date"]), "subjects": c.front["subjects"]},
                 "text": "sha256:" + hashlib.sha256(c.body.encode()).hexdigest()} for c in corpus.make_cables(n)]
    out = []
    for path in sorted((written / "content").glob("*/*.md")):
        data = path.read_bytes()
        lines = data.decode("utf-8").split("\n---\n", 1)[0].splitlines()
        front: dict = {"subjects": []}
        for i, line in enumerate(lines):
            if line.startswith(("id: ", "date: ")):
                front[line.split(":")[0]] = line.split(": ", 1)[1]
            elif line == "subjects:":
                front["subjects"] = [x[2:] for x in lines[i + 1:i + 3]]
        out.append({"id": front["id"], "front": {"date": front["date"], "subjects": front["subjects"]},
                    "text": "sha256:" + hashlib.sha256(data).hexdigest()})
    if len(out) != n:
        raise SystemExit(f"{written}: {len(out)} cables, not {n}")
    return out


def shaped_bench(n: int, k: int, at: float, jobs: int, work: Path, server: Server | None, csp: Path,
                 written: Path | None = None) -> None:
    """Sites shaped as a build of ``n`` cables would be, published in process by ``publish_site`` (the
    store's side of ``diplomatie publish``, without loading and building the repository): a first
    publication, a no-op, one cable edited, a no-op again, counted by bench/storecount.py. Beside it,
    what format 1 (one manifest per release listing every file, a ledger record with every cable and
    text digest, a lease with every blob) writes for the same edit."""
    import resource

    from bench import storecount
    from gate import store as storage
    from pipeline.publish import publish_site

    for cls in (storage.FolderStore, storage.S3Store):
        for name in ("get", "put", "create", "head", "exists", "delete"):
            storecount._plain(cls, name)
        for name in ("scan", "list"):
            storecount._listing(cls, name)
    sites = work / f"shaped-{n}"
    if not (sites / "corpus.json").exists():  # the corpus's ids and selections, kept: making 20,000 cables is slow
        communities = corpus.make_communities(k)
        sites.mkdir(parents=True, exist_ok=True)
        (sites / "corpus.json").write_text(json.dumps({
            "cables": _corpus_cables(n, written),
            "communities": {cid: spec["select"]["subjects"] for cid, spec in communities.items()}}))
    saved = json.loads((sites / "corpus.json").read_text())
    cables = [corpus.CorpusCable(c["id"], c["front"], "") for c in saved["cables"]]
    held = {cid: [c for c in cables if set(subjects) & set(c.front["subjects"])]
            for cid, subjects in saved["communities"].items()}
    texts = {c["id"]: c["text"] for c in saved["cables"]}
    edited = cables[int(n * at)]
    if not (sites / "done").exists():
        for cid, chosen in held.items():
            shape_site(sites / cid, cid, chosen, csp, "v1")
        (sites / "done").write_text("")
    stores = {"folder": storage.FolderStore(work / f"shaped-store-{n}")}
    if server is not None:
        import boto3

        client = boto3.session.Session().client(
            "s3", endpoint_url=server.endpoint_url, aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1",
            config=storage.s3_config())
        client.create_bucket(Bucket=f"shaped-{n}")
        stores["s3"] = storage.S3Store(f"shaped-{n}", "sites", client=client)
    digests: dict[str, dict[str, dict]] = {name: {} for name in stores}

    def publish_all(name: str, label: str) -> dict:
        store = stores[name]
        storecount.requests.clear()
        storecount.uploads.clear()
        storecount.nodes.clear()
        storecount.manifests.clear()
        reader = storage.BlobReader(store, cache_dir=work / f"nodes-{name}-{n}")
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        results = {}
        for cid, chosen in held.items():
            site = ShapedSite(cid, sites / cid, tuple(c.id for c in chosen), "f" * 40, "2026-12-01T00:00:00Z")
            results[cid] = publish_site(store, site, jobs=jobs, file_digests=digests[name].setdefault(cid, {}),
                                        text_digests=texts, reader=reader)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        nodes = set(storecount.nodes)
        by_kind: dict[str, list[int]] = {kind_: [0, 0] for kind_ in KINDS}
        for key, size in storecount.uploads:
            which = kind(key, storecount.manifests.get(key.rsplit("/", 1)[-1], []), nodes)
            by_kind[which][0] += 1
            by_kind[which][1] += size
        out = {"seconds": seconds, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
               "requests": sum(storecount.requests.values()), "by_method": dict(storecount.requests),
               "bytes": sum(size for _, size in storecount.uploads), "by_kind": by_kind, "results": results}
        print(f"  {name} {label}: {seconds:.2f} s, {out['cpu']:.2f} s CPU, {out['requests']} requests, "
              f"{out['bytes'] / 1e6:.3f} MB", flush=True)
        return out

    rows = {}
    for name in stores:
        if name == "folder":  # the first publication only fills the store: no fsync (it is not measured)
            stores[name] = storage.FolderStore(work / f"shaped-store-{n}", fsync=False)
            publish_all(name, "first publication (not measured)")
            stores[name] = storage.FolderStore(work / f"shaped-store-{n}")
        else:
            publish_all(name, "first publication (not measured)")
        rows[(name, "no-op")] = publish_all(name, "no-op")
    for cid in held:
        edit_shaped(sites / cid, edited, edited in held[cid], "v2")
    texts[edited.id] = "sha256:" + "e" * 64  # its text changed
    for name in stores:
        rows[(name, "one cable edited")] = publish_all(name, "one cable edited")
        rows[(name, "no-op after")] = publish_all(name, "no-op after")
    for cid in held:  # put the sites back as they were, so the next run starts from the same state
        shutil.rmtree(sites / cid)
        shape_site(sites / cid, cid, held[cid], csp, "v1")

    store = stores["folder"]
    v1_manifests = v1_ledger = v1_lease = 0
    for cid in held:
        m = storage.read_manifest(store, cid, storage.read_pointer(store, cid).release)
        v1_manifests += len(m.to_json())
        v1_ledger += len(json.dumps({"cables": list(m.cables), "texts": {c: texts[c] for c in m.cables}}, indent=1))
        v1_lease += 68 * len(m.blobs() - m.nodes)
    sizes = {cid: len(chosen) for cid, chosen in held.items()}
    print(f"\n### The store's side of a publication, sites shaped as {n} cables, {k} communities "
          f"({min(sizes.values())}–{max(sizes.values())} cables each), one cable ({edited.id}, in "
          f"{sum(edited in h for h in held.values())} communities) edited\n")
    print("| store | step | wall (s) | CPU (s) | store requests | uploaded | manifests | records | site files |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (name, step), r in rows.items():
        site_files = sum(r["by_kind"][k_][1] for k_ in KINDS if k_ not in ("manifests", "records"))
        print(f"| {name} | {step} | {r['seconds']:.2f} | {r['cpu']:.2f} | {r['requests']} | "
              f"{r['bytes'] / 1e6:.3f} MB | {r['by_kind']['manifests'][1] / 1e3:.1f} KB "
              f"({r['by_kind']['manifests'][0]}) | {r['by_kind']['records'][1] / 1e3:.1f} KB "
              f"({r['by_kind']['records'][0]}) | {site_files / 1e3:.1f} KB |")
    print("\nRequests by method:", {f"{a}/{b}": r["by_method"] for (a, b), r in rows.items()})
    print(f"\nFormat 1 for the same edit (every community publishes, the version pages changed): manifests "
          f"{v1_manifests / 1e6:.2f} MB, ledger records' cables and texts {v1_ledger / 1e6:.2f} MB, leases "
          f"{v1_lease / 1e6:.2f} MB")


def model_bench(n: int, k: int, at: float, work: Path) -> None:
    """What the manifests and records of a one-cable edit weigh at ``n`` cables, computed with the
    publisher's own encoding (``Manifest.encode``) on the files a build makes (the sites shaped by
    ``--shaped``, listed, not hashed: their entries get made-up hashes of the real shape, with gzip
    and brotli copies for pages), and the changes a one-cable edit makes (``edit_shaped``). No store
    is involved: this is the byte count of what publish_site writes for the manifest, ledger, lease
    and pointer, beside what format 1 wrote."""
    import hashlib

    from gate import store as storage

    sites = work / f"shaped-{n}"
    saved = json.loads((sites / "corpus.json").read_text())
    cables = [c["id"] for c in saved["cables"]]
    edited = cables[int(n * at)]
    texts = {c["id"]: c["text"] for c in saved["cables"]}

    def fake(seed: str) -> str:
        return hashlib.sha256(seed.encode()).hexdigest()

    def entry(path: str, version: str) -> storage.FileEntry:
        seed = path + version
        if path.endswith((".html", ".xml", ".json", ".js", ".css")):
            return storage.FileEntry(fake(seed), 20000, "text/html; charset=utf-8",
                                     (("br", storage.Encoded(fake(seed + "br"), 4000)),
                                      ("gzip", storage.Encoded(fake(seed + "gz"), 5000))))
        return storage.FileEntry(fake(seed), 2000, "application/octet-stream")

    rows = []
    for cid, subjects in saved["communities"].items():
        folder = sites / cid
        paths = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                       if p.is_file() and ".diplomatie" not in p.parts)
        held = [c["id"] for c in saved["cables"] if set(subjects) & set(c["front"]["subjects"])]
        holds = edited in held
        files = {p: entry(p, "v1") for p in paths}
        before = storage.Manifest(cid, "r1", "f" * 40, None, "2026-12-01T00:00:00Z", tuple(held), files,
                                  texts={c: texts[c] for c in held})
        changed = dict(files)
        for p in ("version.html", "version.json"):
            changed[p] = entry(p, "v2")
        if holds:
            page = f"{edited[:4]}/{edited}.html"
            changed[page] = entry(page, "v2")
            gone = [p for p in paths if p.startswith("pagefind/index/")][:3] + \
                [f"pagefind/fragment/fr_{fake(edited)[:7]}.pf_fragment"]
            for p in gone:
                changed.pop(p, None)
                changed[p.replace(".pf_", "-v2.pf_")] = entry(p, "v2")
            for p in ("pagefind/pagefind-entry.json", "pagefind/pagefind.fr_0000000000.pf_meta"):
                changed[p] = entry(p, "v2")
        after = storage.Manifest(cid, "r2", "f" * 40, None, "2026-12-01T00:00:00Z", tuple(held), changed,
                                 texts={**{c: texts[c] for c in held}, **({edited: "sha256:" + "e" * 64} if holds else {})})
        b_enc, _, b_nodes = before.encode()
        a_enc, root, a_nodes = after.encode()
        new_nodes = {sha: data for sha, data in a_nodes.items() if sha not in b_nodes}
        new_blobs = (a_enc.blobs() - b_enc.blobs())
        lease = len(json.dumps({"format": 1, "community": cid, "release": "r2", "started_at": "x", "by": "u@h",
                                "base": "r1", "blobs": sorted(new_blobs)}, indent=1))
        v1_lease = len(json.dumps({"blobs": sorted(a_enc.blobs() - a_enc.nodes)}, indent=1))
        v1_ledger = len(json.dumps({"cables": list(held), "texts": {c: texts[c] for c in held}}, indent=1))
        rows.append((cid, len(held), len(paths), json.loads(root)["table"]["depth"], holds, len(root),
                     len(new_nodes), sum(map(len, new_nodes.values())), lease, len(after.to_json()), v1_lease,
                     v1_ledger))
    print(f"\n### Manifests and records of a one-cable edit at {n} cables ({edited}), computed\n")
    print("| community | cables | files | depth | holds the cable | root | nodes uploaded | lease "
          "| format 1: manifest | lease | ledger's cables and texts |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for cid, nc, nf, depth, holds, root_b, nn, nb, lease, v1m, v1l, v1g in rows:
        print(f"| {cid} | {nc} | {nf} | {depth} | {'yes' if holds else 'no'} | {root_b} B | {nn} ({nb / 1e3:.1f} KB) "
              f"| {lease / 1e3:.1f} KB | {v1m / 1e6:.2f} MB | {v1l / 1e6:.2f} MB | {v1g / 1e6:.2f} MB |")
    total = sum(r[5] + r[7] + r[8] for r in rows)
    v1_total = sum(r[9] + r[10] + r[11] for r in rows)
    print(f"\nFormat 2, all communities: roots, nodes and leases {total / 1e3:.1f} KB; format 1: manifests, "
          f"leases and ledger lists {v1_total / 1e6:.2f} MB (pointers, ledger records' other fields and "
          f"members.json, about 2 KB per community, in both)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cables", default="130,3600",
                        help="corpus sizes, comma-separated (defaults: about 1,000 and 10,000 files with K=8)")
    parser.add_argument("--communities", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=16, help="diplomatie publish --jobs (concurrent uploads)")
    parser.add_argument("--workdir", type=Path, default=None, help="work here (default: a temp dir, removed)")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="edit mode: a corpus (bench/corpus.py --git) already built into --site; publishes "
                             "it, then a no-op, then a one-cable edit, counting requests and uploads by kind")
    parser.add_argument("--site", type=Path, default=None, help="edit mode: where --corpus is built")
    parser.add_argument("--at", type=float, default=0.5, help="edit mode: which cable to edit (fraction of the corpus)")
    parser.add_argument("--edit", choices=sorted(EDITS), default="append",
                        help="edit mode: how the cable is edited (" + "; ".join(f"{k}: {v}" for k, v in EDITS.items()) + ")")
    parser.add_argument("--community", default="",
                        help="edit mode: build and publish this community's site only (and edit a cable it publishes)")
    parser.add_argument("--s3", action="store_true", help="edit and shaped modes: a real S3 server (radosgw) too")
    parser.add_argument("--shaped", type=Path, default=None, metavar="CSP_JSON",
                        help="shaped mode: sites shaped as a build of --cables would be, published in process "
                             "(the store's side only); CSP_JSON: a built site's .diplomatie/csp.json")
    parser.add_argument("--written", type=Path, default=None,
                        help="shaped mode: a corpus bench/corpus.py wrote with the same --cables (read, not made)")
    parser.add_argument("--model", action="store_true",
                        help="with --shaped, after a first run made the sites: only compute what the manifests "
                             "and records of an edit weigh (no store)")
    args = parser.parse_args()
    if args.shaped is not None and args.model:
        model_bench(int(args.cables.split(",")[0]), args.communities, args.at, args.workdir)
        return
    if args.shaped is not None:
        work = args.workdir or Path(tempfile.mkdtemp(prefix="diplomatie-bench-shaped-"))
        work.mkdir(parents=True, exist_ok=True)
        server = s3_env = None
        if args.s3:
            print("starting the S3 server (radosgw)…", flush=True)
            server, s3_env = start_s3(work)
        try:
            shaped_bench(int(args.cables.split(",")[0]), args.communities, args.at, args.jobs, work, server,
                         args.shaped, args.written)
        finally:
            if s3_env is not None:
                stop_s3(s3_env)
        print(f"\nReproduce: .venv/bin/python bench/publish.py {shlex.join(sys.argv[1:])}".rstrip())
        return
    if args.corpus is not None:
        work = args.workdir or Path(tempfile.mkdtemp(prefix="diplomatie-bench-edit-"))
        work.mkdir(parents=True, exist_ok=True)
        n = int(args.cables.split(",")[0])
        server = s3_env = None
        if args.s3:
            print("starting the S3 server (radosgw)…", flush=True)
            server, s3_env = start_s3(work)
        try:
            if server is not None:
                import boto3

                boto3.session.Session().client(
                    "s3", endpoint_url=server.endpoint_url, aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
                    region_name="us-east-1").create_bucket(Bucket=f"edit-{n}")
            edit_bench(args.corpus, args.site or args.corpus / "site", n, args.communities, args.at, args.jobs,
                       work, server, args.community, args.edit)
        finally:
            if s3_env is not None:
                stop_s3(s3_env)
        print(f"\nReproduce: .venv/bin/python bench/publish.py {shlex.join(sys.argv[1:])}".rstrip())
        return
    aws = find_aws()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="diplomatie-bench-publish-"))
    work.mkdir(parents=True, exist_ok=True)
    config = work / "aws-config"
    config.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n", encoding="utf-8")
    print("starting the S3 server (radosgw)…", flush=True)
    server, s3_env = start_s3(work)
    rows = []
    try:
        import boto3

        client = boto3.session.Session().client(
            "s3", endpoint_url=server.endpoint_url, aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
        for n in (int(x) for x in args.cables.split(",")):
            rows += bench_size(n, args.communities, args.jobs, work, server, aws, config, client)
    finally:
        stop_s3(s3_env)
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\n### Publish: diplomatie publish (RGW and folder store) vs aws s3 sync (RGW), same run\n")
    print("| site | step | publish → RGW (s) | objects | publish → folder (s) | objects | aws s3 sync → RGW (s) "
          "| objects | sync time / publish time (RGW) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for site, label, s3_s, s3_n, f_s, f_n, a_s, a_n in rows:
        print(f"| {site} | {label} | {s3_s:.2f} | {s3_n} | {f_s:.2f} | {f_n} | {a_s:.2f} | {a_n} | {a_s / s3_s:.1f}x |")
    print("\nObjects: blobs uploaded (publish also writes each changed community's manifest and pointer, "
          "the ledger and members.json); files uploaded (sync).")
    for site, label, s3_s, s3_n, _f_s, _f_n, a_s, a_n in rows:
        if label == "no-op":
            verdict = "met" if a_s / s3_s >= 5 and s3_n == 0 else "MISSED"
            print(f"- {site}: no-op publish {s3_s:.2f} s / {s3_n} uploads vs no-op sync {a_s:.2f} s / {a_n}: "
                  f"{a_s / s3_s:.1f}x faster (target >= 5x, 0 uploads: {verdict})")
    print(f"\nReproduce: .venv/bin/python bench/publish.py {shlex.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
