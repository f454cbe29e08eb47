"""Each cable a build publishes is converted from Markdown once, whatever the number of communities
publishing it, and kept in the cache (``<cache>/cables/``) under a hash of what the conversion
depends on (``site.CableRenderer.key``)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from pipeline import buildcache, site
from pipeline.cables import Cable


@functools.lru_cache(maxsize=4)
def renderer_for(base_dir: Path) -> site.CableRenderer:
    """The converter of cable bodies, with the Markdown extensions of ``base_dir``'s mkdocs.yml."""
    base = site.load_base_config(base_dir / "mkdocs.yml")
    names, configs = [], {}
    # MkDocs always adds these (mkdocs.config.config_options.MarkdownExtensions builtins).
    for item in ["toc", "tables", "fenced_code", *(base.get("markdown_extensions") or [])]:
        name, options = (item, None) if isinstance(item, str) else next(iter(item.items()))
        if name not in names:
            names.append(name)
        if options:
            configs[name] = options
    return site.CableRenderer(names, configs)


def converted_path(cache: Path, key: str) -> Path:
    return cache / "cables" / key[:2] / f"{key}.json"


def not_converted(base_dir: Path, cache: Path, cables: Iterable[Cable]) -> list[Cable]:
    """The cables whose conversion is not in the cache, by id."""
    renderer = renderer_for(base_dir)
    wanted = {c.id: c for c in cables}
    return [wanted[i] for i in sorted(wanted) if not converted_path(cache, renderer.key(wanted[i])).is_file()]


def convert(base_dir: Path, cache: Path, cables: list[Cable]) -> int:
    """Convert the cables and keep each conversion in the cache; returns how many."""
    renderer = renderer_for(base_dir)
    for cable in cables:
        buildcache.write_cache_file(converted_path(cache, renderer.key(cable)), renderer.render(cable).to_json())
    return len(cables)


def read_converted(base_dir: Path, cache: Path, cable: Cable) -> site.RenderedCable:
    return site.RenderedCable.from_json(converted_path(cache, renderer_for(base_dir).key(cable)).read_bytes())
