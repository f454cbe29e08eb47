"""What an agent and an editor wait for at scale: each command's wall clock and CPU time, at several
corpus sizes side by side in one run (and, with ``--baseline REF``, another version of the code beside
this checkout's, on the same corpora).

    .venv/bin/python bench/commands.py [--cables 200 2000] [--communities 8] [--baseline main] [--skip-build]
    .venv/bin/python bench/commands.py --cables 20000 --skip-build --corpora /tmp/commands-bench --words 60
    .venv/bin/python bench/commands.py --cables 20000 --skip-build --corpora DIR --words 60 --baseline main --rounds 5

For each size, a corpus is generated (bench/corpus.py; with ``--corpora DIR`` it is kept there and
reused, with the parse cache its first run filled), copied once per version (so each keeps its own
caches), and each version's ``diplomatie`` (its source first on PYTHONPATH; a baseline from a
temporary ``git worktree``) runs the same steps:

- ``check`` of everything (the first: cold cache, unless the kept corpus holds one), then again;
- ``plan`` with nothing changed;
- after editing one cable (uncommitted): ``check PATH`` of that cable (a version without PATH:
  ``check`` of everything), ``plan``, ``approve`` of it for one community (no ``--yes``: the
  changes since the last approval are shown, as to an editor); with ``--rounds N``, N such edits
  (each adding its own paragraph to the committed file), the versions taking turns so that both see
  the same load, and each step's median shown with its range of CPU time;
- unless ``--skip-build``: ``build`` (cold), ``build`` with nothing changed, ``publish`` to a folder
  store (first, then nothing changed), then one cable edited, re-approved and committed, rebuilt and
  published. Every store request is counted (bench/storecount.py: one per call, one per 1,000 keys
  listed) and the one-cable publication's uploads are split by kind.

Times are wall clock of the whole command, process start included, and CPU (user + system) of the
command and its children: the machine is shared, and CPU time is what load does not inflate.
Commands run with compiled bytecode, as an installed copy does: each version's own code is compiled
(``compileall``) before its first command, and the standard library and installed libraries use the
bytecode installed with them. (Until 2026-12-02 the bytecode was kept under the work folder with
``PYTHONPYCACHEPREFIX``, which made Python compile every module, standard library included, the
first time a command imported it: the parser's libraries in ``check PATH``, GitPython in ``approve``.)

``--words N`` makes every cable's body about N words (default: 600–1,500, as bench/corpus.py): the
first parse of 20,000 full cables takes about 8 minutes of CPU, and nothing the measured commands do
through a warm cache reads a body, so short bodies change the cold step only.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT))

from bench import corpus  # noqa: E402
from bench.build import commit_all, edit_one_cable  # noqa: E402

PYTHON = sys.executable
#: Seconds to let a copied corpus settle before its first command (pipeline/buildcache.py RACY_NS, and a margin).
SETTLE = 3.5


def run(code: Path, args: list[str | Path], log: Path | None = None, ok: tuple[int, ...] = (0, 1),
        cwd: Path | None = None) -> tuple[float, float]:
    """One ``diplomatie`` command of the version at ``code``: (wall seconds, CPU seconds)."""
    argv = [PYTHON, "-m", "pipeline", *map(str, args)] if log is None else \
        [PYTHON, str(BENCH / "storecount.py"), str(log), "--", *map(str, args)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env["PYTHONPATH"] = str(code)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # cwd: a folder without a pipeline package (``python -m`` puts the current folder before PYTHONPATH)
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        raise SystemExit(f"failed ({done.returncode}): {shlex.join(map(str, args))}\n"
                         f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def kind(path: str) -> str:
    """What a site file is, for the upload split of a one-cable publication."""
    if path.startswith(("search/", "pagefind/")) or "search_index" in path:
        return "search data"
    if "sitemap" in path:
        return "sitemaps"
    if path.endswith(("feed.xml", ".rss", "atom.xml")):
        return "feeds"
    if re.match(r"^\d{4}/[^/]+(\.html|/index\.html)$", path):
        return "cable pages"
    if path.endswith(".html"):
        return "listing and index pages"
    return "other files (version, assets)"


def uploads_by_kind(log: Path) -> dict[str, int]:
    data = json.loads(log.read_text())
    out: collections.Counter[str] = collections.Counter()
    for key, size in data["uploads"]:
        if key.startswith("blobs/"):
            paths = data["manifests"].get(key.rsplit("/", 1)[-1], [])
            out[kind(paths[0]) if paths else "blobs of no manifest"] += size
        else:
            out["records (manifests, pointers, ledger, members)"] += size
    return dict(out)


def requests_of(log: Path) -> int:
    return sum(json.loads(log.read_text())["requests"].values())


def cable_to_edit(n: int, k: int, seed: int, at: float, words: int | None = None) -> tuple[str, str, str]:
    """(id, path, a community that selects it) of the cable at fraction ``at`` of the corpus."""
    cables = corpus.make_cables(n, seed, words)
    communities = corpus.make_communities(k, seed)
    cable = cables[int(n * at)]
    community = next(c for c, spec in communities.items()
                     if set(spec["select"]["subjects"]) & set(cable.front["subjects"]))
    return cable.id, f"content/{cable.id[:4]}/{cable.id}.md", community


class Version:
    """One version of the code on its own copy of one corpus, and what its steps measured."""

    def __init__(self, code: Path, root: Path, work: Path, n: int, k: int, seed: int, words: int | None) -> None:
        self.code, self.root, self.work, self.n = code, root, work, n
        self.k, self.seed, self.words = k, seed, words
        self.rows: dict[str, tuple] = {}  # label -> (wall, cpu[, extra])
        self.samples: dict[str, list[tuple[float, float]]] = {}  # label -> every round's (wall, cpu)
        self.cable_id, self.path, self.community = cable_to_edit(n, k, seed, 0.3, words)

    def step(self, label: str, args: list, log: Path | None = None, ok: tuple[int, ...] = (0, 1)) -> tuple[float, float]:
        timed = run(self.code, [*args, "--root", self.root], log, ok, cwd=self.root)
        self.rows[label] = timed
        print(f"  {self.code.name}, {self.n} cables: {label}: {timed[0]:.2f} s wall, {timed[1]:.2f} s CPU", flush=True)
        return timed

    def first_steps(self) -> None:
        """``check`` (the first, then warm) and ``plan`` with nothing changed."""
        compile_code(self.code)
        env = {**os.environ, "PYTHONPATH": str(self.code)}
        self.supports_paths = "PATHS" in subprocess.run([PYTHON, "-m", "pipeline", "check", "--help"], capture_output=True,
                                                        text=True, cwd=self.root, env=env).stdout
        assert Path(subprocess.run([PYTHON, "-c", "import pipeline; print(pipeline.__file__)"], capture_output=True,
                                   text=True, cwd=self.root, env=env).stdout.strip()).is_relative_to(self.code)
        self.step("check, everything (first run)", ["check"])
        self.step("check, everything (warm cache)", ["check"])
        self.step("plan, nothing changed", ["plan"])

    def edit_round(self, number: int) -> None:
        """One cable edited (not committed; round ``number`` adds its own paragraph to the committed
        file, so each round's text is new to the parse cache), then ``check PATH``, ``plan`` and
        ``approve`` of it (the changes since the last approval shown, as to an editor)."""
        subprocess.run(["git", "-C", str(self.root), "checkout", "-q", "--", self.path], check=True)
        file = self.root / self.path
        file.write_text(file.read_text(encoding="utf-8") + f"\nParagraphe ajouté avant approbation ({number + 1}).\n",
                        encoding="utf-8")
        timed = [("check PATH of the edited cable", ["check", self.path] if self.supports_paths else ["check"], (0, 1)),
                 ("plan after a one-cable edit", ["plan"], (0, 1)),
                 ("approve of one cable", ["approve", self.cable_id, "--community", self.community,
                                           "--editor", corpus.EDITOR], (0,))]
        for label, args, ok in timed:
            self.samples.setdefault(label, []).append(self.step(label, args, ok=ok))

    def summarise_rounds(self) -> None:
        """Each edit step's row: the median of its rounds (wall and CPU each), their CPU range in the notes."""
        for label, samples in self.samples.items():
            extra = ()
            if len(samples) > 1:
                cpus = sorted(c for _, c in samples)
                extra = (f"median of {len(samples)} rounds, CPU {cpus[0]:.2f}–{cpus[-1]:.2f}",)
            if label.startswith("check PATH") and not self.supports_paths:
                extra += ("no PATH: check of everything",)
            self.rows[label] = (statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples), *extra)

    def build_steps(self) -> None:
        """The edit committed with its approval; then build and publish (see the module's docstring)."""
        commit_all(self.root, f"approve {self.cable_id}")
        out, store, work, step = self.work / "site", self.work / "store", self.work, self.step
        rows = self.rows
        step("build (cold)", ["build", "--out", out], ok=(0,))
        step("build, nothing changed", ["build", "--out", out], ok=(0,))
        first = work / "publish-first.json"
        step("publish (first)", ["publish", "--out", out, "--store", store, "--jobs", "8"], first, ok=(0,))
        rows["publish (first)"] += (f"{requests_of(first)} store requests",)
        noop = work / "publish-noop.json"
        step("publish, nothing changed", ["publish", "--out", out, "--store", store, "--jobs", "8"], noop, ok=(0,))
        rows["publish, nothing changed"] += (f"{requests_of(noop)} store requests",)
        edited = edit_one_cable(self.root, self.n, self.k, self.seed, commit=True, at=0.6, words=self.words)
        step(f"build after one cable edited, re-approved, committed ({edited})", ["build", "--out", out], ok=(0,))
        one = work / "publish-one.json"
        step("publish of that edit", ["publish", "--out", out, "--store", store, "--jobs", "8"], one, ok=(0,))
        split = uploads_by_kind(one)
        total = sum(split.values())
        rows["publish of that edit"] += (f"{requests_of(one)} store requests, {total / 1e6:.2f} MB uploaded: " +
                                         ", ".join(f"{k} {v / 1e3:.0f} KB" for k, v in sorted(split.items())),)


def compile_code(code: Path) -> None:
    """The version's bytecode, compiled beforehand as an installed copy's is (the standard library and
    the installed libraries have theirs): no timed command compiles a module it imports first."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(code / "pipeline"), str(code / "gate")],
                   check=True, env=env, capture_output=True)


def baseline_worktree(ref: str, where: Path) -> Path:
    subprocess.run(["git", "-C", str(PROJECT), "worktree", "add", "-q", "--detach", str(where), ref], check=True)
    return where


def corpus_for(args: argparse.Namespace, n: int, work: Path) -> Path:
    """The corpus of ``n`` cables: kept under ``--corpora`` (made once), else made in ``work``."""
    name = f"c{n}-k{args.communities}-s{args.seed}" + (f"-w{args.words}" if args.words else "")
    base = (args.corpora or work) / name
    if not (base / "communities.yaml").exists():
        print(f"generating {n} cables in {base}…", flush=True)
        corpus.write_corpus(base, n, args.communities, args.seed, git=True, words=args.words)
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cables", type=int, nargs="+", default=[200, 1000], help="corpus sizes, side by side")
    parser.add_argument("--communities", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--words", type=int, default=None, help="words per cable body (default: 600-1,500)")
    parser.add_argument("--baseline", default=None, help="also time this git ref (e.g. main), side by side")
    parser.add_argument("--corpora", type=Path, default=None,
                        help="keep the generated corpora here and reuse them (with their parse cache)")
    parser.add_argument("--skip-build", action="store_true", help="time only check, plan and approve")
    parser.add_argument("--rounds", type=int, default=1,
                        help="edit rounds (check PATH, plan, approve), the versions taking turns; the median is shown")
    parser.add_argument("--workdir", type=Path, default=None, help="work here and keep it (default: a temp dir, removed)")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-commands-"))
    work.mkdir(parents=True, exist_ok=True)
    versions = [(f"ours ({_short(PROJECT)})", PROJECT)]
    if args.baseline:
        baseline = baseline_worktree(args.baseline, work / "baseline-code")
        versions.insert(0, (f"{args.baseline} ({_short(baseline)})", baseline))
    results: dict[tuple[str, int], dict[str, tuple]] = {}
    try:
        for n in args.cables:
            base = corpus_for(args, n, work)
            runs = []
            for name, code in versions:
                root = work / f"corpus-{n}-{code.name}"
                shutil.rmtree(root, ignore_errors=True)
                shutil.copytree(base, root, symlinks=True)  # its parse cache too, when the kept corpus has one
                run_dir = work / f"run-{n}-{code.name}"  # not inside the baseline's worktree, removed at the end
                run_dir.mkdir(exist_ok=True)
                runs.append((name, Version(code, root, run_dir, n, args.communities, args.seed, args.words)))
            # The copies are new files: a parse cache trusts a file's signature only once the file is
            # older, by RACY_NS (3 s), than the load that hashed it. Without this wait, the files
            # copied last were hashed again by the "warm" check, by as many as the version took less
            # time to start: the faster version measured more work.
            time.sleep(SETTLE)
            for _, version in runs:
                version.first_steps()
            for number in range(args.rounds):  # the versions take turns, so both see the same load
                for _, version in runs:
                    version.edit_round(number)
            for name, version in runs:
                version.summarise_rounds()
                if not args.skip_build:
                    version.build_steps()
                results[(name, n)] = version.rows
                shutil.rmtree(version.root, ignore_errors=True)
    finally:
        if args.baseline:
            subprocess.run(["git", "-C", str(PROJECT), "worktree", "remove", "--force", str(work / "baseline-code")],
                           check=False)
    columns = list(results)
    words = f", bodies of about {args.words} words" if args.words else ""
    print(f"\n### Commands, {args.communities} communities{words}: wall clock / CPU (s)\n")
    print("| step | " + " | ".join(f"{name}, {n:,} cables" for name, n in columns) + " | notes |")
    print("|---|" + "---:|" * len(columns) + "---|")
    for label in results[columns[-1]]:
        cells, notes = [], []
        for column in columns:
            row = results[column].get(label)
            cells.append(f"{row[0]:.2f} / {row[1]:.2f}" if row else "")
            notes += [f"{column[0]}, {column[1]:,}: {extra}" for extra in (row or ())[2:]]
        print(f"| {label} | " + " | ".join(cells) + f" | {'; '.join(notes)} |")
    print(f"\nReproduce: .venv/bin/python bench/commands.py {shlex.join(sys.argv[1:])}".rstrip())
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


def _short(code: Path) -> str:
    return subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


if __name__ == "__main__":
    main()
