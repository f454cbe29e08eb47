"""``build_sites``: every community's site, from the plan, in one narrated flow."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.store import utc_text
from pipeline import buildcache, site, siteconfig
from pipeline.build import cachekeys, conversions
from pipeline.build.community import SiteTask, build_site
from pipeline.build.driving import ThemeListing, preload
from pipeline.build.job import PROJECT_DIR, BuildError, BuildJob, SiteBuild, UnknownCommunity, base_dir_for
from pipeline.messages import _
from pipeline.parallel import parallel_map
from pipeline.plan import Plan

if TYPE_CHECKING:
    from pipeline.history import VersionInfo

#: Cables converted per task of a worker process.
CONVERSION_CHUNK = 40


def build_sites(repo: Any, plan: Plan, out: Path, *, versions: Mapping[str, VersionInfo],
                communities: list[str] | None = None, jobs: int | None = None, force: bool = False,
                progress: bool = True, site_url: str | None = None,
                cache_dir: Path | None = None, preview_mark: str | None = None) -> dict[str, SiteBuild]:
    """Build ``<out>/<community>/`` for each community of ``plan`` (or those named). ``versions``:
    each published cable's version, by id (``history.published_versions``, read before the build).
    ``preview_mark``: put at the top and in the title of every cable page (``diplomatie preview``)."""
    names = _communities(plan, communities)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # The configuration and theme: the content repository's own (only what is allowed), or the project's.
    base_dir = _checked_base_dir(Path(repo.root))
    # What every step reads, made once and handed to each.
    job = BuildJob(repo_cables=dict(repo.cables), plans=plan.communities, base_dir=base_dir, out=out,
                   cache=_cache_folder(repo, cache_dir), commit=repo.commit, commit_time=repo.commit_time,
                   site_url=site_url, versions=dict(versions),
                   preview_mark=preview_mark, repo_replies=dict(getattr(repo, "replies", {})))
    # Which sites are unchanged since their last successful build, which can be updated in place.
    repository = cachekeys.repository_terms(job)
    keys = {name: cachekeys.site_keys(job, name, repository) for name in names}
    unchanged, tasks = _sort_out(job, keys, force)
    jobs = max(1, jobs or os.cpu_count() or 1)
    preload()  # once, before the worker processes are forked
    # Convert the cables those sites publish that the cache does not hold yet.
    _convert_missing(job, tasks, jobs, progress)
    # Build (or update), audit and install each site; remember its keys once it is installed.
    warnings = _build_each(job, tasks, jobs, progress)
    built_at = utc_text(repo.commit_time) if repo.commit_time else ""
    return {name: SiteBuild(community=name, path=out / name, cables=tuple(c.id for c in plan.communities[name].publish),
                            commit=repo.commit, built_at=built_at, cached=name in unchanged, key=keys[name].key,
                            warnings=tuple(warnings.get(name, ())),
                            replies={r.id: r.digest for r in plan.communities[name].replies})
            for name in names}


def _sort_out(job: BuildJob, site_keys: dict[str, cachekeys.SiteKeys], force: bool) -> tuple[set[str], list[SiteTask]]:
    """The communities whose inputs are those of their last build, and a task for each other."""
    unchanged, tasks = set(), []
    for name, keys in site_keys.items():
        last = {} if force else cachekeys.last_build(job, name)
        if last.get("key") == keys.key:
            unchanged.add(name)
        else:
            tasks.append(SiteTask(name=name, keys=keys, update=last.get("structure") == keys.structure))
    return unchanged, tasks


def _convert_missing(job: BuildJob, tasks: list[SiteTask], jobs: int, progress: bool) -> None:
    todo = conversions.not_converted(job.base_dir, job.cache, (c for t in tasks for c in job.plans[t.name].publish))
    chunks = [[c.id for c in todo[i:i + CONVERSION_CHUNK]] for i in range(0, len(todo), CONVERSION_CHUNK)]
    for _converted in parallel_map(functools.partial(_convert, job), chunks, jobs=jobs, processes=True, weight=len,
                                   progress=_("Converting cables") if progress else None, keep_bar=True):
        pass


def _convert(job: BuildJob, ids: list[str]) -> int:
    return conversions.convert(job.base_dir, job.cache, [job.repo_cables[i] for i in ids])


def _build_each(job: BuildJob, tasks: list[SiteTask], jobs: int, progress: bool) -> dict[str, list[str]]:
    """Each site built in a worker process; returns MkDocs' warnings, by community. A site's keys are
    recorded as soon as it is installed, so a failure of another leaves this one known as built."""
    keys = {t.name: t.keys for t in tasks}
    warnings = {}
    for name, logged in parallel_map(functools.partial(build_site, job, ThemeListing()), tasks, jobs=jobs,
                                     processes=True, progress=_("Building sites") if progress else None,
                                     keep_bar=True):
        cachekeys.record_build(job, name, keys[name])
        warnings[name] = logged
    return warnings


def _communities(plan: Plan, communities: list[str] | None) -> list[str]:
    names = sorted(plan.communities) if not communities else list(dict.fromkeys(communities))
    unknown = [n for n in names if n not in plan.communities]
    if unknown:
        raise UnknownCommunity(_("unknown community: {names} (known: {known})").format(
            names=", ".join(unknown), known=", ".join(sorted(plan.communities)) or _("none")))
    return names


def _checked_base_dir(root: Path) -> Path:
    base_dir = base_dir_for(root)
    if base_dir != PROJECT_DIR:  # the repository's own configuration: only what is allowed
        found = siteconfig.problems((base_dir / siteconfig.PATH).read_text(encoding="utf-8", errors="replace"),
                                    base_dir)
        if found:
            raise BuildError(siteconfig.describe(siteconfig.PATH, found))
    try:
        conversions.renderer_for(base_dir)
    except site.SiteConfigError as exc:
        raise BuildError(str(exc)) from None
    return base_dir


def _cache_folder(repo: Any, cache_dir: Path | None) -> Path:
    try:
        return buildcache.folder(Path(repo.root), cache_dir)
    except buildcache.CacheError as exc:
        raise BuildError(str(exc)) from None

