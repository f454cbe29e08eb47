"""What each community's site depends on, and what the cache keeps of its last successful build.

A community whose inputs hash the same as at its last successful build is skipped; one whose
structure is unchanged (only cable bodies or the commit changed) is updated in place of a full
build. Under ``<cache>/sites/``, each community keeps the keys of its last build (``<name>.json``)
and the two rendered templates an update writes from (``<name>.cable-page.html``,
``<name>.version.html``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.store import utc_text
from pipeline import buildcache, site
from pipeline.build.conversions import renderer_for
from pipeline.build.job import BuildJob
from pipeline.cables import Cable


@functools.lru_cache(maxsize=4)
def code_fingerprint(base_dir: Path) -> str:
    """Hash of what shapes every page besides the cables: this code, the base config, the theme."""
    import material
    import mkdocs

    h = hashlib.sha256(f"{mkdocs.__version__}/{material.__version__}".encode())
    # The audits' code too: a site skipped as unchanged must have passed the audits as they are now.
    from gate import i18n, identity
    from pipeline import accessibility, audit, classification, html_safety

    package = sorted(Path(__file__).parent.glob("*.py"))
    # Every site's legal notice and accessibility statement (site.DEFAULTS: their texts, the recorded
    # audit), and the state's identity: the gate's stylesheet and texts (its catalogues).
    shared = sorted(p for p in site.DEFAULTS.rglob("*") if p.is_file())
    from pipeline import messages

    # The sites' own texts are in the pipeline's catalogues (pipeline/messages.py ``translations_for``).
    catalogues = sorted([*i18n.LOCALES.rglob("*.po"), *messages.LOCALES.rglob("*.po")])
    for path in (Path(site.__file__), *package, base_dir / "mkdocs.yml", Path(audit.__file__),
                 Path(html_safety.__file__), Path(classification.__file__), Path(accessibility.__file__),
                 Path(identity.__file__), identity.IDENTITY_STYLESHEET_FILE, *shared, *catalogues):
        h.update(path.read_bytes())
    theme = base_dir / "theme"
    if theme.is_dir():
        for path in sorted(p for p in theme.rglob("*") if p.is_file()):
            h.update(path.relative_to(theme).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class SiteKeys:
    """What a community's site depends on. ``structure``: everything but the cables' bodies and the
    commit (its configuration, theme, code, the metadata of its cables, what the audit looks for);
    ``pages``: each cable page's key (:func:`page_key`); ``commit``: the commit and its time, which
    only version.html and version.json show. When only pages or the commit change, the previous
    site is updated in place of a full build."""

    structure: str
    pages: dict[str, str]
    commit: list[str]

    @property
    def key(self) -> str:
        return hashlib.sha256((self.structure + json.dumps([self.pages, self.commit], sort_keys=True))
                              .encode()).hexdigest()


def page_key(job: BuildJob, cable: Cable, shown: str = "") -> str:
    """What a cable page depends on besides its site's structure: its conversion, its version and the
    replies shown under it (``shown``: :func:`replies_key`)."""
    info = job.versions.get(cable.id)
    version = f"{info.number}@{utc_text(info.date) if info.date else ''}" if info else ""
    return f"{renderer_for(job.base_dir).key(cable)}/{version}" + (f"/{shown}" if shown else "")


def replies_key(job: BuildJob, name: str) -> dict[str, str]:
    """Per cable of the community showing replies: a hash of those replies (each one's approved digest
    and the name its author is shown under), and of the code that renders them."""
    cp = job.plans[name]
    by_cable: dict[str, list[tuple[str, str, str]]] = {}
    for reply in cp.replies:
        by_cable.setdefault(reply.cable, []).append((reply.id, reply.digest, site.reply_author(cp.community, reply.author)))
    return {cable_id: hashlib.sha256(json.dumps([renderer_for(job.base_dir).key_prefix, shown]).encode()).hexdigest()
            for cable_id, shown in by_cable.items()}


def repository_terms(job: BuildJob) -> bytes:
    """What the audit of any site searches for, which depends on every cable and reply of the
    repository: the same for every community, so made once per build (the bytes each site's key hashes)."""
    parts = [f"{cable_id}\0{job.repo_cables[cable_id].title}\0{job.repo_cables[cable_id].summary}\0"
             for cable_id in sorted(job.repo_cables)]
    parts.append("\0".join(sorted(job.repo_replies)))  # the replies the audit looks for
    return "".join(parts).encode()


def site_keys(job: BuildJob, name: str, repository: bytes | None = None) -> SiteKeys:
    """The community's keys; ``repository``: :func:`repository_terms` of the job, when already made."""
    cp = job.plans[name]
    c = cp.community
    h = hashlib.sha256(code_fingerprint(job.base_dir).encode())
    h.update(repr((c.id, c.title, c.description, c.language, c.owner, c.owner_name, c.owner_title)).encode())
    h.update(repr(job.site_url).encode())
    h.update(repr(cp.vocabulary).encode())  # the labels its pages print
    h.update(repr(cp.texts).encode())  # the repository's texts of its legal notice and accessibility statement
    for cable in cp.publish:
        h.update(repr((cable.id, cable.title, cable.date, cable.post, cable.ministry, cable.subjects,
                       cable.language, cable.summary, cable.supersedes)).encode())
    # What the audit searches for depends on every other cable too.
    h.update(repository if repository is not None else repository_terms(job))
    replies = replies_key(job, name)
    shown = site.commit_shown(job.commit, job.commit_time)
    return SiteKeys(structure=h.hexdigest(),
                    pages={cable.id: page_key(job, cable, replies.get(cable.id, "")) for cable in cp.publish},
                    commit=[shown["build_commit"], shown["build_time"]])


def _keys_file(job: BuildJob, name: str) -> Path:
    return job.cache / "sites" / f"{name}.json"


def last_build(job: BuildJob, name: str) -> dict[str, Any]:
    """The keys of the community's last successful build, if its output is still there."""
    try:
        keys = json.loads(_keys_file(job, name).read_text())
    except (OSError, ValueError):
        return {}
    return keys if (job.out / name / "index.html").is_file() else {}


def record_build(job: BuildJob, name: str, keys: SiteKeys) -> None:
    buildcache.write_cache_file(_keys_file(job, name), json.dumps(
        {"key": keys.key, "structure": keys.structure, "pages": keys.pages, "commit": keys.commit},
        sort_keys=True).encode())


def cable_template_file(job: BuildJob, name: str) -> Path:
    """The community's rendered cable page template, kept for updates."""
    return job.cache / "sites" / f"{name}.cable-page.html"


def version_template_file(job: BuildJob, name: str) -> Path:
    """The community's rendered version page, its body a marker, kept for updates."""
    return job.cache / "sites" / f"{name}.version.html"
