"""Build every community's static site: ``build_sites``.

How a build goes, and why:

1. Each cable a community will publish is converted from Markdown once, whatever the number of
   communities publishing it, and cached on disk by a hash of its content (``RenderedCable``).
2. Each community is built in its own process (``jobs`` in parallel): MkDocs with mkdocs-material
   renders its small site (home, indexes, 404, search, assets) from a docs folder that holds only
   its own pages, plus one *stamp* page carrying placeholders. Every cable page has the same depth
   and the same navigation, so it is that rendered stamp page with the cable's title, content and
   table of contents (rendered by the theme's own partial) put in: the theme's page, without a
   full MkDocs render per cable. The search index (mkdocs-material's format, entries computed
   once per cable), the Atom feed and the sitemap are completed the same way.
3. The finished site is audited before it replaces the previous one (pipeline/audit.py): no id,
   title or summary of a cable the community does not publish may appear in any file, no page may
   load an asset from another host, run an inline script or style the trusted theme did not bring,
   or show a classification marking. A hit fails the build and names the file. The hashes of the
   theme's inline scripts and styles are computed from pages of the trusted theme that hold no
   content, written into every page as a ``<meta http-equiv="Content-Security-Policy">``, and kept in
   ``<site>/.diplomatie/csp.json`` for the release manifest (publication does not upload that folder).
4. A community whose inputs (its cables, configuration, theme, code, commit) hash the same as at
   its last successful build is skipped (``force`` rebuilds it).

Output is deterministic: the only times in it come from the cables and the commit.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from gate.csp import site_policy
from pipeline import buildcache, history, site, siteconfig
from pipeline.audit import (
    CSP_FILE,
    AuditError,
    ThemeCode,
    audit,
    code_fingerprint,
    forbidden_terms,
    read_code,
)
from pipeline.cables import Cable
from pipeline.plan import CommunityPlan, Plan

PROJECT_DIR = Path(__file__).resolve().parent.parent


class BuildError(Exception):
    """A build failed: the message names the community and, for an audit, the file."""


@dataclass(frozen=True)
class SiteBuild:
    community: str
    path: Path
    cables: tuple[str, ...]
    commit: str | None
    built_at: str  # the commit's time (ISO 8601, UTC), never the clock: builds are reproducible
    cached: bool
    warnings: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class _Job:
    """What a worker process needs; inherited through fork, never pickled."""

    repo_cables: dict[str, Cable]
    plans: dict[str, CommunityPlan]
    base_dir: Path
    out: Path
    cache: Path
    commit: str | None
    commit_time: dt.datetime | None
    site_url: str | None
    versions: dict[str, history.VersionInfo] = field(default_factory=dict)  # by cable id
    page_keys: dict[str, str] = field(default_factory=dict)  # by cable id, filled by _page_key


_JOB: _Job | None = None


def base_dir_for(root: Path) -> Path:
    """The content repository's own mkdocs.yml and theme/ when it has them, else the project's."""
    return root if (root / "mkdocs.yml").is_file() else PROJECT_DIR


def build_sites(repo: Any, plan: Plan, out: Path, *, communities: list[str] | None = None,
                jobs: int | None = None, force: bool = False, progress: bool = True,
                site_url: str | None = None, cache_dir: Path | None = None) -> dict[str, SiteBuild]:
    """Build ``<out>/<community>/`` for each community of ``plan`` (or those named)."""
    global _JOB
    names = sorted(plan.communities) if not communities else list(dict.fromkeys(communities))
    unknown = [n for n in names if n not in plan.communities]
    if unknown:
        raise BuildError(f"unknown community: {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(plan.communities)) or 'none'})")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    base_dir = base_dir_for(Path(repo.root))
    if base_dir != PROJECT_DIR:  # the repository's own configuration: only what is allowed
        found = siteconfig.problems((base_dir / siteconfig.PATH).read_text(encoding="utf-8", errors="replace"),
                                    base_dir)
        if found:
            raise BuildError(siteconfig.describe(siteconfig.PATH, found))
    try:
        _renderer_for(base_dir)
    except site.SiteConfigError as exc:
        raise BuildError(str(exc)) from None
    try:
        cache = buildcache.folder(Path(repo.root), cache_dir)
    except buildcache.CacheError as exc:
        raise BuildError(str(exc)) from None
    published = {c.id: c for n in names for c in plan.communities[n].publish}
    job = _Job(dict(repo.cables), plan.communities, base_dir, out, cache, repo.commit, repo.commit_time, site_url,
               _version_infos(repo, list(published.values()), cache))
    built_at = repo.commit_time.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if repo.commit_time else ""

    keys = {n: _input_keys(job, n) for n in names}
    results: dict[str, SiteBuild] = {}
    todo: list[tuple[str, bool]] = []  # (community, update in place of a full build)
    for name in names:
        cp = plan.communities[name]
        state = {} if force else _state(job, name)
        if state.get("key") == keys[name].key:
            results[name] = SiteBuild(name, out / name, tuple(c.id for c in cp.publish), repo.commit, built_at, True)
        else:
            todo.append((name, state.get("skeleton") == keys[name].skeleton))

    jobs = max(1, jobs or os.cpu_count() or 1)
    _JOB = job
    _preload()
    try:
        with _Progress(progress) as bar:
            renderer_cables = _cables_to_render(job, [n for n, _ in todo])
            bar.start("cables", len(renderer_cables))
            for count in _run(_render_chunk, _chunks(renderer_cables, 40), jobs):
                bar.advance("cables", count)
            bar.start("sites", len(todo))
            for name, warnings in _run(_build_or_update, todo, jobs):
                cp = plan.communities[name]
                _store_state(job, name, keys[name])
                results[name] = SiteBuild(name, out / name, tuple(c.id for c in cp.publish), repo.commit,
                                          built_at, False, tuple(warnings))
                bar.advance("sites", 1, name)
    finally:
        _JOB = None
    return {n: results[n] for n in names}


def _version_infos(repo: Any, published: list[Cable], cache: Path) -> dict[str, history.VersionInfo]:
    """Each published cable's version number and last change, from git as of the commit built (a
    content not committed yet is the next version, undated). The digests of the blobs already seen
    are kept in the cache, so a rebuild reads and parses only new blobs."""
    known = buildcache.blob_digests(cache)
    for cable in published:  # the blob being built is the cable just parsed: its digest is known
        data = repo.version.tree.read(cable.path)
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
        known.setdefault(blob, cable.digest)
    infos = history.version_infos(Path(repo.root), [c.path for c in published], ref=repo.commit,
                                  digests={c.path: c.digest for c in published}, known=known)
    known.save()
    return {c.id: infos[c.path] for c in published if c.path in infos}


def _page_key(job: _Job, cable: Cable) -> str:
    """What a cable page depends on besides the community's skeleton: its conversion and its version."""
    if cable.id not in job.page_keys:  # computed in the parent; workers inherit them
        info = job.versions.get(cable.id)
        stamp = f"{info.number}@{info.date.isoformat() if info.date else ''}" if info else ""
        job.page_keys[cable.id] = f"{_renderer(job).key(cable)}/{stamp}"
    return job.page_keys[cable.id]


# --------------------------------------------------------------------------------------------
# Parallelism


def _preload() -> None:
    """Import MkDocs and mkdocs-material once, before forking, instead of once per worker; and let
    every build in this process list the theme's templates once (MkDocs walks the ~10,000 files of
    mkdocs-material's icon set on every build; the theme does not change during a build)."""
    import jinja2
    import material.plugins.search.plugin  # noqa: F401
    import mkdocs.commands.build  # noqa: F401
    import mkdocs.config  # noqa: F401
    import mkdocs.structure.toc  # noqa: F401

    if not getattr(jinja2.FileSystemLoader.list_templates, "diplomatie_cached", False):
        original = jinja2.FileSystemLoader.list_templates
        listed: dict[tuple[str, ...], list[str]] = {}

        def list_templates(self: jinja2.FileSystemLoader) -> list[str]:
            key = tuple(map(str, self.searchpath))
            if key not in listed:
                listed[key] = original(self)
            return list(listed[key])

        list_templates.diplomatie_cached = True  # type: ignore[attr-defined]
        jinja2.FileSystemLoader.list_templates = list_templates  # type: ignore[method-assign]


def _run(fn: Any, items: list[Any], jobs: int) -> Iterable[Any]:
    """``fn`` over ``items``, in forked worker processes when more than one job is allowed.
    The first failure cancels the rest and is raised as a BuildError."""
    if not items:
        return
    if jobs == 1 or len(items) == 1:
        for item in items:
            yield fn(item)
        return
    context = multiprocessing.get_context("fork")
    with cf.ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=context) as pool:
        futures = [pool.submit(fn, item) for item in items]
        try:
            for future in cf.as_completed(futures):
                yield future.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


# --------------------------------------------------------------------------------------------
# Cache: converted cables, and the input key of each community's last successful build


@functools.lru_cache(maxsize=4)
def _code_fingerprint(base_dir: Path) -> str:
    """Hash of what shapes every page besides the cables: this code, the base config, the theme."""
    import material
    import mkdocs

    h = hashlib.sha256(f"{mkdocs.__version__}/{material.__version__}".encode())
    # The audits' code too: a site skipped as unchanged must have passed the audits as they are now.
    from pipeline import audit as audit_module
    from pipeline import classification, html_safety

    for path in (Path(site.__file__), Path(__file__), base_dir / "mkdocs.yml", Path(audit_module.__file__),
                 Path(html_safety.__file__), Path(classification.__file__)):
        h.update(path.read_bytes())
    theme = base_dir / "theme"
    if theme.is_dir():
        for path in sorted(p for p in theme.rglob("*") if p.is_file()):
            h.update(path.relative_to(theme).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class _Keys:
    """What a community's site depends on. ``skeleton``: everything but the cables' bodies (its
    configuration, theme, commit, the metadata of its cables, what the audit looks for); ``pages``:
    each cable's conversion key. When only pages or the commit change, the previous site is updated
    in place of a full build."""

    skeleton: str
    pages: dict[str, str]
    commit: list[str]  # the commit and its time: only version.html and version.json show them

    @property
    def key(self) -> str:
        return hashlib.sha256((self.skeleton + json.dumps([self.pages, self.commit], sort_keys=True))
                              .encode()).hexdigest()


def _input_keys(job: _Job, name: str) -> _Keys:
    cp = job.plans[name]
    c = cp.community
    h = hashlib.sha256(_code_fingerprint(job.base_dir).encode())
    h.update(repr((c.id, c.title, c.description, c.language, c.owner)).encode())
    h.update(repr(job.site_url).encode())
    for cable in cp.publish:
        h.update(repr((cable.id, cable.title, cable.date, cable.post, cable.ministry, cable.subjects,
                       cable.language, cable.summary, cable.supersedes)).encode())
    # What the audit searches for depends on every other cable too.
    for cable_id in sorted(job.repo_cables):
        other = job.repo_cables[cable_id]
        h.update(f"{cable_id}\0{other.title}\0{other.summary}\0".encode())
    stamp = site.build_stamp(job.commit, job.commit_time)
    return _Keys(h.hexdigest(), {cable.id: _page_key(job, cable) for cable in cp.publish},
                 [stamp["build_commit"], stamp["build_time"]])


def _state_file(job: _Job, name: str) -> Path:
    return job.cache / "sites" / f"{name}.json"


def _state(job: _Job, name: str) -> dict[str, Any]:
    """The keys of the community's last successful build, if its output is still there."""
    try:
        state = json.loads(_state_file(job, name).read_text())
    except (OSError, ValueError):
        return {}
    return state if (job.out / name / "index.html").is_file() else {}


def _store_state(job: _Job, name: str, keys: _Keys) -> None:
    buildcache.write_atomic(_state_file(job, name), json.dumps(
        {"key": keys.key, "skeleton": keys.skeleton, "pages": keys.pages, "commit": keys.commit},
        sort_keys=True).encode())


def _version_file(job: _Job, name: str) -> Path:
    return job.cache / "sites" / f"{name}.version.html"


def _stamp_file(job: _Job, name: str) -> Path:
    return job.cache / "sites" / f"{name}.stamp.html"


def _renderer(job: _Job) -> site.CableRenderer:
    return _renderer_for(job.base_dir)


@functools.lru_cache(maxsize=4)
def _renderer_for(base_dir: Path) -> site.CableRenderer:
    base = site.load_base_config(base_dir / "mkdocs.yml")
    names, configs = [], {}
    # MkDocs always adds these (mkdocs.config.config_options.MarkdownExtensions builtins).
    for item in ["toc", "tables", "fenced_code", *(base.get("markdown_extensions") or [])]:
        name, options = (item, None) if isinstance(item, str) else next(iter(item.items()))
        if name not in names:
            names.append(name)
        if options:
            configs[name] = options
    return site.CableRenderer(names, configs, {})


def _cable_cache_path(job: _Job, key: str) -> Path:
    return job.cache / "cables" / key[:2] / f"{key}.json"


def _cables_to_render(job: _Job, names: list[str]) -> list[str]:
    renderer = _renderer(job)
    wanted = {c.id: c for n in names for c in job.plans[n].publish}
    return sorted(i for i, c in wanted.items() if not _cable_cache_path(job, renderer.key(c)).is_file())


def _render_chunk(ids: list[str]) -> int:
    job = _JOB
    assert job is not None
    renderer = _renderer(job)
    for cable_id in ids:
        cable = job.repo_cables[cable_id]
        buildcache.write_atomic(_cable_cache_path(job, renderer.key(cable)), renderer.render(cable).to_json())
    return len(ids)


# --------------------------------------------------------------------------------------------
# One community


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _build_or_update(item: tuple[str, bool]) -> tuple[str, list[str]]:
    """Build (or, when only cable bodies changed, update), audit and install one community's site;
    returns its name and MkDocs' warnings."""
    name, update = item
    job = _JOB
    assert job is not None
    job.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=job.out, prefix=f".build-{name}-"))
    try:
        site_dir, warnings = None, []
        if update and _stamp_file(job, name).is_file():
            with contextlib.suppress(_NeedsFullBuild):
                site_dir = _update_one(job, name, work / "update")
        if site_dir is None:
            site_dir, warnings = _build_one(job, name, work / "full")
        _install(site_dir, job.out / name)
        return name, warnings
    except (BuildError, AuditError) as exc:
        raise BuildError(f"{name}: {exc}") from None
    except jinja2.TemplateError as exc:
        where = f" ({exc.filename}:{exc.lineno})" if isinstance(exc, jinja2.TemplateSyntaxError) else ""
        raise BuildError(f"{name}: theme template error{where}: {exc}") from None
    except site.SiteConfigError as exc:
        raise BuildError(f"{name}: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build_one(job: _Job, name: str, work: Path) -> tuple[Path, list[str]]:
    """The full build: MkDocs renders the community's small site, then every cable page is stamped."""
    cp = job.plans[name]
    source = site.stage(cp, job.base_dir, work, commit=job.commit, commit_time=job.commit_time,
                        site_url=job.site_url, jinja_cache=job.cache / "jinja")
    config, warnings = _mkdocs_build(source, job.commit_time)
    code = _trusted_code(job, cp, source, work)
    _put_policy(source.site_dir, code)
    template = _take_stamp(source.site_dir)
    buildcache.write_atomic(_stamp_file(job, name), template.encode("utf-8"))
    version_template = _take_version_template(source.site_dir)
    buildcache.write_atomic(_version_file(job, name), version_template.encode("utf-8"))
    _write_version(job, cp, source.site_dir, version_template)
    pages = _CablePages(job, cp, template, config["theme"])
    pieces = {}
    for cable in cp.publish:
        path = pages.write(source.site_dir, cable)
        pieces[path.relative_to(source.site_dir).as_posix()] = pages.fragments(cable)
    _complete_search_index(source.site_dir, list(cp.publish), pages.search_entries)
    for url, fragments in source.fragments.items():
        path = source.site_dir / url
        text = path.read_text(encoding="utf-8")
        for marker, fragment in fragments.items():
            text = text.replace(marker, fragment)
        path.write_text(text, encoding="utf-8")
    (source.site_dir / "feed.xml").write_bytes(site.feed_xml(cp, job.site_url))
    _write_sitemap(job, cp, source.site_dir, source.pages)
    memo = _audit_memo(job)
    audit(source.site_dir, forbidden_terms(job.repo_cables, cp), verbatim_from=config["theme"].dirs,
          trusted_from=[_material_dir()], own_url=_own_url(job), theme=code, pieces=pieces,
          texts={f"{site.STAMP_URL} (the template of cable pages)": template}, memo=memo)
    memo.save()
    _write_code(source.site_dir, code)
    return source.site_dir, warnings


#: Past this many remembered findings, the audits' memory starts again (it keeps one per page text seen).
AUDIT_MEMO_LIMIT = 100_000


def _audit_memo(job: _Job) -> buildcache.Memory:
    memo = buildcache.audited_assets(job.cache, code_fingerprint())
    if len(memo) > AUDIT_MEMO_LIMIT:
        memo.clear()
    return memo


def _material_dir() -> Path:
    """The installed mkdocs-material's templates: the pinned dependency's own files."""
    import material

    return Path(material.__file__).resolve().parent / "templates"


def _trusted_code(job: _Job, cp: CommunityPlan, source: site.SiteSource, work: Path) -> ThemeCode:
    """The inline scripts and styles the trusted theme (mkdocs-material and the project's theme/)
    puts in pages that hold no content: the stamp page (one folder deep), the version page (at the
    root) and the 404 page. With the project's configuration, they are this build's; a content
    repository's own configuration is built once more with the project's theme in place of its
    theme/, so that its overrides never add to the list."""
    site_dir = source.site_dir
    if job.base_dir != PROJECT_DIR:
        empty = CommunityPlan(cp.community, (), ())
        reference = site.stage(empty, job.base_dir, work / "trusted", commit=None, commit_time=None,
                               site_url=job.site_url, jinja_cache=job.cache / "jinja", theme_dir=PROJECT_DIR / "theme")
        _mkdocs_build(reference, job.commit_time)
        site_dir = reference.site_dir
    texts = []
    for rel in (site.STAMP_URL, site.VERSION_URL, "404.html"):
        path = site_dir / rel
        if path.is_file():
            texts.append(path.read_text(encoding="utf-8"))
    return ThemeCode.of_pages(texts)


_HEAD = re.compile(r"<head\b[^>]*>", re.I)


def _put_policy(site_dir: Path, code: ThemeCode) -> None:
    """The release's Content-Security-Policy in every page MkDocs wrote (the stamp and version
    templates among them): a site opened from disk or an archive is held to it too."""
    meta = (f'<meta http-equiv="Content-Security-Policy" content="'
            f'{site.esc(site_policy(sorted(code.scripts), sorted(code.styles), http=False))}">')
    for path in site_dir.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        head = _HEAD.search(text)
        if head is None:
            raise BuildError(f"{path.relative_to(site_dir).as_posix()} has no <head> to hold the "
                             "Content-Security-Policy (the theme's templates must keep mkdocs-material's)")
        path.write_text(text[:head.end()] + meta + text[head.end():], encoding="utf-8")


def _write_code(site_dir: Path, code: ThemeCode) -> None:
    path = site_dir / CSP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # never write through a hard link to the previous site
    path.write_bytes(code.to_json())



class _NeedsFullBuild(Exception):
    """The previous site cannot be updated (its cached version page template is missing)."""


def _update_one(job: _Job, name: str, work: Path) -> Path:
    """Only cable bodies or the commit changed since the last build: start from a hard-linked copy
    of the previous site, rewrite the changed cable pages and the search index (and, for a new
    commit, version.html and version.json: no other page holds the commit), and audit what is new:
    the rewritten pages, the search index's new entries, the version page's commit and time (the
    rest was audited against the same forbidden terms). The result is the full build's, byte for byte."""
    cp = job.plans[name]
    state = json.loads(_state_file(job, name).read_text())
    site_dir = work / "site"
    shutil.copytree(job.out / name, site_dir, copy_function=os.link)
    written: list[Path] = []
    texts: dict[str, str] = {}  # new pieces of files whose rest was audited before
    pieces: dict[str, list[str]] = {}
    try:
        code = read_code(site_dir)
    except (OSError, ValueError, KeyError):
        raise _NeedsFullBuild() from None
    stamp = site.build_stamp(job.commit, job.commit_time)
    if state.get("commit") != [stamp["build_commit"], stamp["build_time"]]:
        try:
            version_template = _version_file(job, name).read_text(encoding="utf-8")
        except OSError:
            raise _NeedsFullBuild() from None
        # The version page is its audited template with the commit and time put in: audit those.
        texts.update(_write_version(job, cp, site_dir, version_template))
    previous = state["pages"]
    changed = {cable.id for cable in cp.publish if previous.get(cable.id) != _page_key(job, cable)}
    if changed:  # else no page, and not the search index, changes: only the version files (a commit)
        template = _stamp_file(job, name).read_text(encoding="utf-8")
        pages = _CablePages(job, cp, template, _theme(job, cp))
        for cable in cp.publish:
            if cable.id in changed:
                written.append(pages.write(site_dir, cable))
                pieces[written[-1].relative_to(site_dir).as_posix()] = pages.fragments(cable)
        fresh = _complete_search_index(site_dir, list(cp.publish), pages.search_entries, changed)
        # The rest of the search index is the previous build's, audited against the same terms.
        if fresh:
            texts[f"{SEARCH_INDEX} (entries of the changed cables)"] = fresh
    memo = _audit_memo(job)
    audit(site_dir, forbidden_terms(job.repo_cables, cp), only=written, texts=texts, own_url=_own_url(job),
          theme=code, pieces=pieces, memo=memo)
    memo.save()
    return site_dir


def _take_version_template(site_dir: Path) -> str:
    """The rendered version page, with the marker its body replaces."""
    template = (site_dir / site.VERSION_URL).read_text(encoding="utf-8")
    if template.count(site.VERSION_MARKER) != 1:
        raise BuildError(f"the theme's page template lost the marker {site.VERSION_MARKER} of "
                         f"{site.VERSION_URL} (theme/main.html must render the page's content)")
    return template


def _write_version(job: _Job, cp: CommunityPlan, site_dir: Path, template: str) -> dict[str, str]:
    """version.html and version.json: the only files of a site that hold the commit and its time.
    Returns what is new in them (the page's body, the JSON), by file."""
    language = cp.community.language if cp.community.language in site.LABELS else "en"
    fragment = site.version_fragment(job.commit, job.commit_time, language)
    data = site.version_json(job.commit, job.commit_time)
    files = {site.VERSION_URL: template.replace(site.VERSION_MARKER, fragment).encode("utf-8"),
             site.VERSION_JSON: data}
    for rel, content in files.items():
        path = site_dir / rel
        path.unlink(missing_ok=True)  # never write through a hard link to the previous site
        path.write_bytes(content)
    return {f"{site.VERSION_URL} (commit and time)": fragment, site.VERSION_JSON: data.decode("utf-8")}


def _write_sitemap(job: _Job, cp: CommunityPlan, site_dir: Path, pages: Iterable[str]) -> None:
    """The sitemap, dated from the cables only (its gzip header's time is fixed): a new commit
    does not change it."""
    sitemap = site.sitemap_xml(cp, pages, job.site_url)
    for name, data in (("sitemap.xml", sitemap), ("sitemap.xml.gz", site.gzip_bytes(sitemap, 0))):
        (site_dir / name).unlink(missing_ok=True)
        (site_dir / name).write_bytes(data)


def _own_url(job: _Job) -> str | None:
    return job.site_url.rstrip("/") + "/" if job.site_url else None


def _theme(job: _Job, cp: CommunityPlan) -> Any:
    """The community's theme, as MkDocs would load it from its configuration."""
    from mkdocs.theme import Theme

    config = site.site_config(site.load_base_config(job.base_dir / "mkdocs.yml"), job.base_dir, cp,
                              Path("docs"), Path("site"), commit=None, commit_time=None)
    options = dict(config["theme"])
    return Theme(**options)


def _take_stamp(site_dir: Path) -> str:
    """The rendered stamp page, removed from the site."""
    template = (site_dir / site.STAMP_URL).read_text(encoding="utf-8")
    shutil.rmtree(site_dir / site.STAMP_URL.split("/")[0])
    for marker in (_CONTENT, _TOC, site.STAMP_TITLE):
        if marker not in template:
            raise BuildError(f"the theme's page template lost the marker {marker} (theme/main.html, "
                             "theme/partials/toc.html must keep them)")
    return template


def _mkdocs_build(source: site.SiteSource, commit_time: dt.datetime | None) -> tuple[Any, list[str]]:
    """MkDocs' own build of the staged project, in this process; warnings are collected."""
    os.environ["NO_MKDOCS_2_WARNING"] = "1"
    os.environ["SOURCE_DATE_EPOCH"] = str(int(commit_time.timestamp()) if commit_time else 0)
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    logger = logging.getLogger("mkdocs")
    handler = _Collect()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        config = load_config(str(source.config_file))
        config.plugins.on_startup(command="build", dirty=False)
        try:
            build(config)
        finally:
            config.plugins.on_shutdown()
    except MkDocsException as exc:
        raise BuildError(f"mkdocs: {exc}") from None
    finally:
        logger.removeHandler(handler)
    return config, handler.messages


_CONTENT, _TOC = "<!--DIPLOMATIE:CONTENT-->", "<!--DIPLOMATIE:TOC-->"
_MARKERS = re.compile("(" + "|".join(re.escape(m) for m in (
    _CONTENT, _TOC, site.STAMP_TITLE, site.STAMP_DESCRIPTION, site.STAMP_URL)) + ")")


class _CablePages:
    """Writes cable pages from the rendered stamp page, and gathers their search entries."""

    def __init__(self, job: _Job, cp: CommunityPlan, template: str, theme: Any) -> None:
        self.job, self.cp = job, cp
        self.pieces = _MARKERS.split(template)  # text, marker, text, marker, …
        self.language = theme["language"]
        self.published = {c.id: c for c in cp.publish}
        self.renderer = _renderer(job)
        env = theme.get_env()
        (job.cache / "jinja").mkdir(parents=True, exist_ok=True)
        env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(job.cache / "jinja"))  # ~0.5 s a site
        # The theme's table of contents partial, with the language macros base.html imports; its
        # only other input is the toc extension's configuration.
        context = {"theme": theme, "mdx_configs": self.renderer.configs}
        self.lang = env.get_template("partials/language.html").make_module({"config": context})
        self.context = context
        self.toc_template = env.get_template("partials/toc.html")
        self._rendered: dict[str, site.RenderedCable] = {}
        self._pieces: dict[str, list[str]] = {}

    def rendered(self, cable: Cable) -> site.RenderedCable:
        if cable.id not in self._rendered:
            path = _cable_cache_path(self.job, self.renderer.key(cable))
            self._rendered[cable.id] = site.RenderedCable.from_json(path.read_bytes())
        return self._rendered[cable.id]

    def fragments(self, cable: Cable) -> list[str]:
        """What :meth:`write` put into the template for ``cable`` (what the audits read of its page)."""
        return self._pieces.pop(cable.id)

    def write(self, site_dir: Path, cable: Cable) -> Path:
        from mkdocs.structure.toc import get_toc

        rendered = self.rendered(cable)
        content = (site.cable_header(cable, self.published, self.language, version=self.job.versions.get(cable.id))
                   + site.resolve_links(rendered.html, self.published, self.language))
        toc = self.toc_template.render(page=_TocPage(get_toc(rendered.toc)), config=self.context, lang=self.lang)
        values = {_CONTENT: content, _TOC: toc, site.STAMP_TITLE: site.esc(cable.title),
                  site.STAMP_DESCRIPTION: site.esc(cable.summary or cable.title),
                  site.STAMP_URL: site.cable_url(cable.id)}
        self._pieces[cable.id] = list(values.values())
        # One pass over the template's pieces: a cable's text is never searched for markers.
        page = "".join(values.get(part, part) if i % 2 else part for i, part in enumerate(self.pieces))
        path = site_dir / site.cable_url(cable.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # never write through a hard link to the previous site
        path.write_text(page, encoding="utf-8")
        return path

    def search_entries(self, cable: Cable) -> list[dict[str, Any]]:
        return [dict(entry, text=site.resolve_search_text(entry["text"], self.published, self.language),
                     title=site.resolve_search_text(entry["title"], self.published, self.language))
                for entry in self.rendered(cable).search]


@dataclass
class _TocPage:
    toc: Any
    meta: dict = field(default_factory=dict)


SEARCH_INDEX = "search/search_index.json"


def _complete_search_index(site_dir: Path, cables: list[Cable], entries_of: Any,
                           changed: set[str] | None = None) -> str | None:
    """Put the cables' entries (``entries_of(cable)``) in the search index MkDocs wrote for the
    generated pages. With ``changed``, the index is the previous build's: only the entries of
    those cables are replaced, the others are kept as they are (same cables, same order); returns
    the new entries as written (what an update's audit must search), None without a search index."""
    path = site_dir / SEARCH_INDEX
    if not path.is_file():  # the configuration has no search plugin
        return None
    index = json.loads(path.read_text(encoding="utf-8"))
    docs: list[dict[str, Any]] = []
    previous: dict[str, list[dict[str, Any]]] = {}
    for doc in index["docs"]:
        if re.match(r"\d{4}/", doc["location"]):  # a cable's entry (or the stamp page's)
            previous.setdefault(re.split(r"[/#]", doc["location"])[1].removesuffix(".html"), []).append(doc)
        else:
            docs.append(doc)
    fresh: list[dict[str, Any]] = []
    for cable in cables:
        if changed is not None and cable.id not in changed:
            docs += previous.get(cable.id, [])
        else:
            entries = entries_of(cable)
            docs += entries
            fresh += entries
    index["docs"] = docs
    path.unlink()  # never write through a hard link to the previous site
    path.write_text(json.dumps(index, separators=(",", ":"), default=str), encoding="utf-8")
    return json.dumps(fresh, separators=(",", ":"), default=str)


def _install(built: Path, target: Path) -> None:
    """Replace ``target`` by ``built`` with renames, so a failed build leaves the previous site."""
    trash = None
    if target.exists():
        trash = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, trash)
    os.replace(built, target)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Progress


class _Progress:
    """A rich progress display on a terminal; silent otherwise (the command prints the results)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.tasks: dict[str, Any] = {}
        self.progress: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=Console(stderr=True), transient=False)
            self.progress.__enter__()
        return self

    def start(self, name: str, total: int) -> None:
        if self.progress is not None and total:
            label = {"cables": "Converting cables", "sites": "Building sites"}[name]
            self.tasks[name] = self.progress.add_task(label, total=total)

    def advance(self, name: str, count: int, detail: str = "") -> None:
        if self.progress is not None and name in self.tasks:
            self.progress.advance(self.tasks[name], count)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)
