"""The search index: MkDocs writes it for the generated pages; the build puts in each cable's
entries (mkdocs-material's format, computed once per cable with its conversion)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.cables import Cable

SEARCH_INDEX = "search/search_index.json"


def complete_search_index(site_dir: Path, cables: list[Cable], entries_of: Callable[[Cable], list[dict[str, Any]]],
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
        if re.match(r"\d{4}/", doc["location"]):  # a cable's entry (or the cable page template's)
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
