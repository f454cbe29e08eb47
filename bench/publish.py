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
from bench.build import cable_pages, commit_all, edit_one_cable, tree_size  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cables", default="130,3600",
                        help="corpus sizes, comma-separated (defaults: about 1,000 and 10,000 files with K=8)")
    parser.add_argument("--communities", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=16, help="diplomatie publish --jobs (concurrent uploads)")
    parser.add_argument("--workdir", type=Path, default=None, help="work here (default: a temp dir, removed)")
    args = parser.parse_args()
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
