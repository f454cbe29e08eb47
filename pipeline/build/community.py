"""One community's site: built in full, or the previous one updated when only cable bodies or the
commit changed; audited either way before it replaces the previous site (pipeline/audit.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jinja2

from pipeline import buildcache, site
from pipeline.audit import AuditError, audit, code_fingerprint, forbidden_terms, read_code
from pipeline.build import cachekeys
from pipeline.build.cablepages import CablePages
from pipeline.build.cachekeys import SiteKeys
from pipeline.build.driving import (
    ThemeListing,
    material_dir,
    mkdocs_build,
    take_cable_template,
    take_version_template,
    theme_for,
)
from pipeline.build.job import BuildError, BuildJob
from pipeline.build.policy import put_policy, trusted_code, write_code
from pipeline.build.searchindex import index_site, reference_bundle
from pipeline.messages import _
from pipeline.plan import CommunityPlan

#: Past this many remembered findings, the audits' memory starts again (it keeps one per page text seen).
AUDIT_MEMO_LIMIT = 100_000


@dataclass(frozen=True)
class SiteTask:
    """One community to build: its keys, and whether its previous site may be updated."""

    name: str
    keys: SiteKeys
    update: bool


class _NeedsFullBuild(Exception):
    """The previous site cannot be updated (a template it is updated from is missing)."""


def build_site(job: BuildJob, listing: ThemeListing, task: SiteTask) -> tuple[str, list[str]]:
    """Build (or, when only cable bodies or the commit changed, update), audit and install one
    community's site; returns its name and MkDocs' warnings."""
    name = task.name
    job.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=job.out, prefix=f".build-{name}-"))
    try:
        site_dir, warnings = None, []
        if task.update and cachekeys.cable_template_file(job, name).is_file():
            with contextlib.suppress(_NeedsFullBuild):
                site_dir = _update(job, task, work / "update")
        if site_dir is None:
            site_dir, warnings = _build_full(job, listing, name, work / "full")
        _install(site_dir, job.out / name)
        return name, warnings
    except (BuildError, AuditError) as exc:
        raise BuildError(f"{name}: {exc}") from None
    except jinja2.TemplateError as exc:
        where = f" ({exc.filename}:{exc.lineno})" if isinstance(exc, jinja2.TemplateSyntaxError) else ""
        raise BuildError(_("{name}: theme template error{where}: {exc}").format(name=name, where=where, exc=exc)) from None
    except site.SiteConfigError as exc:
        raise BuildError(f"{name}: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build_full(job: BuildJob, listing: ThemeListing, name: str, work: Path) -> tuple[Path, list[str]]:
    """MkDocs renders the community's small site (home, indexes, 404, assets, the cable page and
    version templates), then every cable page is written from the template; the lists of the index
    pages, the feed and the sitemap are completed, Pagefind indexes the cable pages, and the site is
    audited."""
    cp = job.plans[name]
    # Stage the community's MkDocs project and let MkDocs build it.
    source = site.stage(cp, job.base_dir, work, commit=job.commit, commit_time=job.commit_time,
                        site_url=job.site_url, jinja_cache=job.cache / "jinja")
    config, warnings = mkdocs_build(source, job.commit_time, listing)
    # The trusted theme's inline code, and the policy allowing only it, in every page.
    code = trusted_code(job, cp, source, work, listing)
    put_policy(source.site_dir, code)
    # The two templates out of the site, kept for updates; the version page filled in.
    template = take_cable_template(source.site_dir)
    buildcache.write_cache_file(cachekeys.cable_template_file(job, name), template.encode("utf-8"))
    version_template = take_version_template(source.site_dir)
    buildcache.write_cache_file(cachekeys.version_template_file(job, name), version_template.encode("utf-8"))
    _write_version(job, cp, source.site_dir, version_template)
    # Every cable page.
    pages = CablePages(job, cp, template, config["theme"])
    fragments = {}
    for cable in cp.publish:
        path = pages.write(source.site_dir, cable)
        fragments[path.relative_to(source.site_dir).as_posix()] = pages.fragments(cable)
    # The lists of cables in the home and index pages, the feed and the sitemap.
    _put_lists(source)
    (source.site_dir / "feed.xml").write_bytes(site.feed_xml(cp, job.site_url))
    _write_sitemap(job, cp, source.site_dir, source.pages)
    # The search index of the cable pages (Pagefind's, in pagefind/).
    language = config["theme"]["language"]
    index_site(source.site_dir, language, cable_months(cp))
    # The audits, then the hashes the release manifest carries.
    memo = _audit_memo(job)
    audit(source.site_dir, forbidden_terms(dict(job.repo_cables), cp, job.repo_replies), verbatim_from=config["theme"].dirs,
          trusted_from=[material_dir(), reference_bundle(job.cache, language)], own_url=job.own_url,
          theme=code, pieces=fragments,
          texts={f"{site.CABLE_TEMPLATE_URL} (the template of cable pages)": template}, memo=memo)
    memo.save()
    write_code(source.site_dir, code)
    return source.site_dir, warnings


def _update(job: BuildJob, task: SiteTask, work: Path) -> Path:
    """Only cable bodies or the commit changed since the last build: start from a hard-linked copy
    of the previous site, rewrite the changed cable pages and index them again (and, for a new
    commit, version.html and version.json: no other page holds the commit), and audit what is new:
    the rewritten pages, the search index's files that differ from the previous site's, the version
    page's commit and time (the rest was audited against the same forbidden terms). The result is the
    full build's, byte for byte."""
    name = task.name
    cp = job.plans[name]
    last = cachekeys.last_build(job, name)
    site_dir = work / "site"
    shutil.copytree(job.out / name, site_dir, copy_function=os.link)
    written: list[Path] = []
    texts: dict[str, str] = {}  # new pieces of files whose rest was audited before
    fragments: dict[str, list[str]] = {}
    try:
        code = read_code(site_dir)
    except (OSError, ValueError, KeyError):
        raise _NeedsFullBuild() from None
    if last.get("commit") != task.keys.commit:
        try:
            version_template = cachekeys.version_template_file(job, name).read_text(encoding="utf-8")
        except OSError:
            raise _NeedsFullBuild() from None
        # The version page is its audited template with the commit and time put in: audit those.
        texts.update(_write_version(job, cp, site_dir, version_template))
    previous = last.get("pages", {})
    changed = {cable.id for cable in cp.publish if previous.get(cable.id) != task.keys.pages[cable.id]}
    if changed:  # else no page, and not the search index, changes: only the version files (a commit)
        template = cachekeys.cable_template_file(job, name).read_text(encoding="utf-8")
        theme = theme_for(job, cp)
        pages = CablePages(job, cp, template, theme)
        for cable in cp.publish:
            if cable.id in changed:
                written.append(pages.write(site_dir, cable))
                fragments[written[-1].relative_to(site_dir).as_posix()] = pages.fragments(cable)
        # The files of the index that differ from the previous site's are audited; the others are the
        # previous build's, audited against the same terms.
        for rel in index_site(site_dir, theme["language"], cable_months(cp)):
            if not _same_file(site_dir / rel, job.out / name / rel):
                written.append(site_dir / rel)
    memo = _audit_memo(job)
    trusted = [reference_bundle(job.cache, theme["language"])] if changed else []
    audit(site_dir, forbidden_terms(dict(job.repo_cables), cp, job.repo_replies), only=written, texts=texts, own_url=job.own_url,
          theme=code, pieces=fragments, memo=memo, trusted_from=trusted)
    memo.save()
    return site_dir


def cable_months(cp: CommunityPlan) -> dict[str, str]:
    """Each published cable's page and month: what the search index is sliced by."""
    return {site.cable_url(cable.id): cable.date.isoformat()[:7] for cable in cp.publish}


def _same_file(path: Path, previous: Path) -> bool:
    try:
        return previous.stat().st_size == path.stat().st_size and previous.read_bytes() == path.read_bytes()
    except OSError:
        return False


def _put_lists(source: site.SiteSource) -> None:
    """The lists of cables MkDocs did not parse: the rendered index pages hold markers for them."""
    for url, lists in source.fragments.items():
        path = source.site_dir / url
        text = path.read_text(encoding="utf-8")
        for marker, fragment in lists.items():
            text = text.replace(marker, fragment)
        path.write_text(text, encoding="utf-8")


def _write_version(job: BuildJob, cp: CommunityPlan, site_dir: Path, template: str) -> dict[str, str]:
    """version.html and version.json: the only files of a site that hold the commit and its time.
    Returns what is new in them (the page's body, the JSON), by file."""
    language = cp.community.language if cp.community.language in site.SITE_LANGUAGES else "en"
    fragment = site.version_fragment(job.commit, job.commit_time, language)
    data = site.version_json(job.commit, job.commit_time)
    files = {site.VERSION_URL: template.replace(site.VERSION_MARKER, fragment).encode("utf-8"),
             site.VERSION_JSON: data}
    for rel, content in files.items():
        path = site_dir / rel
        path.unlink(missing_ok=True)  # never write through a hard link to the previous site
        path.write_bytes(content)
    return {f"{site.VERSION_URL} (commit and time)": fragment, site.VERSION_JSON: data.decode("utf-8")}


def _write_sitemap(job: BuildJob, cp: CommunityPlan, site_dir: Path, pages: Iterable[str]) -> None:
    """The sitemap, dated from the cables only (its gzip header's time is fixed): a new commit
    does not change it."""
    sitemap = site.sitemap_xml(cp, pages, job.site_url)
    for name, data in (("sitemap.xml", sitemap), ("sitemap.xml.gz", site.gzip_bytes(sitemap, 0))):
        (site_dir / name).unlink(missing_ok=True)
        (site_dir / name).write_bytes(data)


def _audit_memo(job: BuildJob) -> buildcache.JsonFileDict:
    memo = buildcache.audited_assets(job.cache, code_fingerprint())
    if len(memo) > AUDIT_MEMO_LIMIT:
        memo.clear()
    return memo


def _install(built: Path, target: Path) -> None:
    """Replace ``target`` by ``built`` with renames, so a failed build leaves the previous site."""
    trash = None
    if target.exists():
        trash = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, trash)
    os.replace(built, target)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
