"""Cable pages, written from the rendered cable page template: every cable page has the same depth
and navigation, so it is that page with the cable's title, description, content and table of
contents (rendered by the theme's own partial) and language (on the page's article) put in place of
the markers. The theme's page,
without a full MkDocs render per cable."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from pipeline import site
from pipeline.build.conversions import read_converted, renderer_for
from pipeline.build.driving import CONTENT_MARKER, TOC_MARKER
from pipeline.build.job import BuildJob
from pipeline.cables import Cable
from pipeline.plan import CommunityPlan

_MARKERS = re.compile("(" + "|".join(re.escape(m) for m in (
    CONTENT_MARKER, TOC_MARKER, site.TITLE_MARKER, site.DESCRIPTION_MARKER, site.LANG_MARKER,
    site.CABLE_TEMPLATE_URL)) + ")")


@dataclass
class _TocPage:
    """What the theme's table of contents partial reads of a page."""

    toc: Any
    meta: dict = field(default_factory=dict)


class CablePages:
    """Writes one community's cable pages from its rendered cable page template."""

    def __init__(self, job: BuildJob, cp: CommunityPlan, template: str, theme: Any) -> None:
        self.job, self.cp = job, cp
        self.pieces = _MARKERS.split(template)  # text, marker, text, marker, …
        self.language = theme["language"]
        self.published = {c.id: c for c in cp.publish}
        self.renderer = renderer_for(job.base_dir)
        env = theme.get_env()
        (job.cache / "jinja").mkdir(parents=True, exist_ok=True)
        env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(job.cache / "jinja"))  # ~0.5 s a site
        # The theme's table of contents partial, with the language macros base.html imports; its
        # only other input is the toc extension's configuration.
        context = {"theme": theme, "mdx_configs": self.renderer.configs}
        self.lang = env.get_template("partials/language.html").make_module({"config": context})
        self.context = context
        self.toc_template = env.get_template("partials/toc.html")
        self.replies: dict[str, list] = {}  # cable id -> the replies shown under it
        for reply in cp.replies:
            self.replies.setdefault(reply.cable, []).append(reply)
        self._rendered: dict[str, site.RenderedCable] = {}
        self._fragments: dict[str, list[str]] = {}

    def rendered(self, cable: Cable) -> site.RenderedCable:
        if cable.id not in self._rendered:
            self._rendered[cable.id] = read_converted(self.job.base_dir, self.job.cache, cable)
        return self._rendered[cable.id]

    def fragments(self, cable: Cable) -> list[str]:
        """What :meth:`write` put into the template for ``cable`` (what the audits read of its page)."""
        return self._fragments.pop(cable.id)

    def write(self, site_dir: Path, cable: Cable) -> Path:
        from mkdocs.structure.toc import get_toc

        rendered = self.rendered(cable)
        content = (site.cable_header(cable, self.published, self.language, version=self.job.versions.get(cable.id),
                                     vocabulary=self.cp.vocabulary)
                   + site.resolve_links(rendered.html, self.published, self.language)
                   + site.replies_section(self.replies.get(cable.id, ()), self.cp.community, self.published,
                                          self.language, self.renderer.render_reply))
        title = cable.title
        if self.job.preview_mark:  # a preview: said at the top of the page and in its title
            content = site.preview_banner(self.job.preview_mark) + content
            title = f"{self.job.preview_mark} · {title}"
        toc = self.toc_template.render(page=_TocPage(get_toc(rendered.toc)), config=self.context, lang=self.lang)
        values = {CONTENT_MARKER: content, TOC_MARKER: toc, site.TITLE_MARKER: site.esc(title),
                  site.DESCRIPTION_MARKER: site.esc(cable.summary or cable.title), site.LANG_MARKER: site.esc(cable.language),
                  site.CABLE_TEMPLATE_URL: site.cable_url(cable.id)}
        self._fragments[cable.id] = list(values.values())
        # One pass over the template's pieces: a cable's text is never searched for markers.
        page = "".join(values.get(part, part) if i % 2 else part for i, part in enumerate(self.pieces))
        path = site_dir / site.cable_url(cable.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # never write through a hard link to the previous site
        path.write_text(page, encoding="utf-8")
        return path
