"""The site's Content-Security-Policy: the inline scripts and styles the trusted theme brings, found
in pages that hold no content, written into every page and kept for the release manifest."""

from __future__ import annotations

import re
from pathlib import Path

from gate.csp import site_policy
from pipeline import site
from pipeline.audit import CSP_FILE, ThemeCode
from pipeline.build.driving import ThemeListing, mkdocs_build
from pipeline.build.job import PROJECT_DIR, BuildError, BuildJob
from pipeline.messages import _
from pipeline.plan import CommunityPlan


def trusted_code(job: BuildJob, cp: CommunityPlan, source: site.SiteSource, work: Path,
                 listing: ThemeListing | None = None) -> ThemeCode:
    """The inline scripts and styles the trusted theme (mkdocs-material and the project's theme/)
    puts in pages that hold no content: the cable page template (one folder deep), the version page
    (at the root) and the 404 page. With the project's configuration, they are this build's; a
    content repository's own configuration is built once more with the project's theme in place of
    its theme/, so that its overrides never add to the list."""
    site_dir = source.site_dir
    if job.base_dir != PROJECT_DIR:
        empty = CommunityPlan(cp.community, (), (), cp.vocabulary)
        reference = site.stage(empty, job.base_dir, work / "trusted", commit=None, commit_time=None,
                               site_url=job.site_url, jinja_cache=job.cache / "jinja", theme_dir=PROJECT_DIR / "theme")
        mkdocs_build(reference, job.commit_time, listing)
        site_dir = reference.site_dir
    texts = []
    for rel in (site.CABLE_TEMPLATE_URL, site.VERSION_URL, "404.html"):
        path = site_dir / rel
        if path.is_file():
            texts.append(path.read_text(encoding="utf-8"))
    return ThemeCode.of_pages(texts)


_HEAD = re.compile(r"<head\b[^>]*>", re.I)


def put_policy(site_dir: Path, code: ThemeCode) -> None:
    """The release's Content-Security-Policy in every page MkDocs wrote (the cable page and version
    templates among them): a site opened from disk or an archive is held to it too."""
    meta = (f'<meta http-equiv="Content-Security-Policy" content="'
            f'{site.esc(site_policy(sorted(code.scripts), sorted(code.styles), http=False))}">')
    for path in site_dir.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        head = _HEAD.search(text)
        if head is None:
            raise BuildError(_("{path} has no <head> to hold the Content-Security-Policy (the theme's templates must keep mkdocs-material's)").format(path=path.relative_to(site_dir).as_posix()))
        path.write_text(text[:head.end()] + meta + text[head.end():], encoding="utf-8")


def write_code(site_dir: Path, code: ThemeCode) -> None:
    """The hashes, for the release manifest (``<site>/.diplomatie/csp.json``, never published)."""
    path = site_dir / CSP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # never write through a hard link to the previous site
    path.write_bytes(code.to_json())
