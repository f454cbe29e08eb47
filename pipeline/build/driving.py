"""Driving MkDocs: its own build of a staged community project, in this process, customised only
through MkDocs' plugin events, and the rendered templates taken out of what it wrote."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import jinja2

from pipeline import site
from pipeline.build.job import BuildError, BuildJob
from pipeline.messages import _
from pipeline.plan import CommunityPlan

#: The markers the theme's templates put in the cable page template (theme/main.html, theme/partials/toc.html).
CONTENT_MARKER, TOC_MARKER = "<!--DIPLOMATIE:CONTENT-->", "<!--DIPLOMATIE:TOC-->"


def preload() -> None:
    """Import MkDocs and mkdocs-material once, before worker processes are forked, instead of once
    per worker."""
    import mkdocs.commands.build  # noqa: F401
    import mkdocs.config  # noqa: F401
    import mkdocs.structure.toc  # noqa: F401


class ThemeListing:
    """The theme's template names, listed once per process and build. MkDocs lists every file of the
    theme's folders on each build (about 10,000 of mkdocs-material's icons, 0.1 s); the theme does not
    change during a build. Held by the build's job and handed to each MkDocs build as a plugin."""

    def __init__(self) -> None:
        self.names: dict[tuple[str, ...], list[str]] = {}

    def plugin(self) -> Any:
        from mkdocs.plugins import BasePlugin
        from mkdocs.theme import Theme

        listing = self

        class Loader(jinja2.FileSystemLoader):
            def list_templates(self) -> list[str]:
                key = tuple(map(str, self.searchpath))
                if key not in listing.names:
                    listing.names[key] = super().list_templates()
                return list(listing.names[key])

        class ListedTheme(Theme):
            """The configured theme, whose environment lists its templates through :class:`Loader`."""

            def __init__(self, theme: Theme) -> None:  # the same theme: its loaded state, not a new load
                self.__dict__.update(theme.__dict__)

            def get_env(self) -> jinja2.Environment:
                env = super().get_env()
                env.loader = Loader(self.dirs)
                return env

        class ThemeListingPlugin(BasePlugin):
            def on_config(self, config: Any) -> Any:
                config["theme"] = ListedTheme(config["theme"])
                return config

        return ThemeListingPlugin()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def mkdocs_build(source: site.SiteSource, commit_time: dt.datetime | None,
                 listing: ThemeListing | None = None) -> tuple[Any, list[str]]:
    """MkDocs' own build of the staged project, in this process; returns its configuration and
    the warnings it logged."""
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
        if listing is not None:
            config.plugins["diplomatie-theme-listing"] = listing.plugin()
        config.plugins.on_startup(command="build", dirty=False)
        try:
            build(config)
        finally:
            config.plugins.on_shutdown()
    except MkDocsException as exc:
        raise BuildError(_("mkdocs: {exc}").format(exc=exc)) from None
    finally:
        logger.removeHandler(handler)
    return config, handler.messages


def theme_for(job: BuildJob, cp: CommunityPlan) -> Any:
    """The community's theme, as MkDocs would load it from its configuration."""
    from mkdocs.theme import Theme

    config = site.site_config(site.load_base_config(job.base_dir / "mkdocs.yml"), job.base_dir, cp,
                              Path("docs"), Path("site"), commit=None, commit_time=None)
    return Theme(**dict(config["theme"]))


def material_dir() -> Path:
    """The installed mkdocs-material's templates: the pinned dependency's own files."""
    import material

    return Path(material.__file__).resolve().parent / "templates"


def take_cable_template(site_dir: Path) -> str:
    """The rendered cable page template, removed from the site."""
    template = (site_dir / site.CABLE_TEMPLATE_URL).read_text(encoding="utf-8")
    shutil.rmtree(site_dir / site.CABLE_TEMPLATE_URL.split("/")[0])
    for marker in (CONTENT_MARKER, TOC_MARKER, site.TITLE_MARKER):
        if marker not in template:
            raise BuildError(_("the theme's page template lost the marker {marker} (theme/main.html, theme/partials/toc.html must keep them)").format(marker=marker))
    return template


def take_version_template(site_dir: Path) -> str:
    """The rendered version page, with the marker its body replaces."""
    template = (site_dir / site.VERSION_URL).read_text(encoding="utf-8")
    if template.count(site.VERSION_MARKER) != 1:
        raise BuildError(_("the theme's page template lost the marker {VERSION_MARKER} of {VERSION_URL} (theme/main.html must render the page's content)").format(VERSION_MARKER=site.VERSION_MARKER, VERSION_URL=site.VERSION_URL))
    return template
