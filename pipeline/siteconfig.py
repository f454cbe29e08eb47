"""What a content repository's own ``mkdocs.yml`` may say.

A content repository may carry its own ``mkdocs.yml`` and ``theme/`` (see pipeline/build/job.py
``base_dir_for``). MkDocs configuration is code in disguise: a hook runs Python, a plugin or a
Markdown extension can read any file (``pymdownx.snippets``, ``markdown_include``), evaluate
templates (``macros``) or fetch from the network; a YAML tag can name a Python object
(``!!python/name:``) or read the environment (``!ENV``); ``INHERIT`` and ``theme.custom_dir`` can
point outside the repository. So the repository's file may only use the keys, Markdown extensions
and plugins listed here, each known to read nothing and run nothing but the text it converts; its
theme folder must be inside the repository. ``check``, ``build`` and ``publish`` refuse anything else
with the file's line and the allowed list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.messages import _

PATH = "mkdocs.yml"
#: Top-level keys: what a site's look and Markdown need (``nav``, ``docs_dir``, ``site_dir`` and the
#: like are ignored: the build sets them).
ALLOWED_KEYS = frozenset({
    "site_name", "site_description", "site_author", "copyright", "theme", "extra", "plugins",
    "markdown_extensions", "use_directory_urls", "validation", "strict", "nav", "docs_dir", "site_dir",
    "extra_css", "extra_javascript",
})
#: Python-Markdown's own extensions and pymdown-extensions' that only transform the text they are given.
ALLOWED_EXTENSIONS = frozenset({
    "abbr", "admonition", "attr_list", "def_list", "fenced_code", "footnotes", "md_in_html", "tables",
    "toc", "sane_lists", "smarty", "nl2br", "meta", "legacy_attrs", "legacy_em", "wikilinks",
    "pymdownx.betterem", "pymdownx.caret", "pymdownx.details", "pymdownx.mark", "pymdownx.tilde",
    "pymdownx.smartsymbols", "pymdownx.saneheaders", "pymdownx.critic", "pymdownx.keys",
})
#: ``search`` (or ``material/search``) asks for the site's search, which is always Pagefind's, built
#: by the pipeline after MkDocs (pipeline/build/searchindex.py): the name is accepted, and taken out
#: of the configuration MkDocs runs (``site._plugins_without_search``); no other plugin is.
ALLOWED_PLUGINS = frozenset({"search", "material/search"})
#: Theme keys that name files: only inside the repository.
_THEME_PATHS = ("custom_dir",)
_CORE_TAG = re.compile(r"^tag:yaml\.org,2002:(?:str|int|float|bool|null|map|seq|timestamp|binary|merge|omap|set)$")


@dataclass(frozen=True)
class Problem:
    line: int
    col: int
    message: str


def _name(item: str) -> str:
    return item.removeprefix("markdown.extensions.")


def problems(text: str, root: Path) -> list[Problem]:
    """Everything in a repository's ``mkdocs.yml`` (its ``text``) that is not allowed."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [Problem(mark.line + 1 if mark else 1, mark.column + 1 if mark else 1, _("YAML syntax error: {error}").format(error=exc))]
    if node is None:
        return []
    found: list[Problem] = []

    def at(n: yaml.Node, message: str) -> None:
        found.append(Problem(n.start_mark.line + 1, n.start_mark.column + 1, message))

    def tags(n: yaml.Node) -> None:
        if not _CORE_TAG.match(n.tag):
            at(n, _("YAML tag {tag} (it can run code or read the environment)").format(tag=n.tag))
        children = n.value if isinstance(n, yaml.SequenceNode) else \
            [x for pair in n.value for x in pair] if isinstance(n, yaml.MappingNode) else []
        for child in children:
            tags(child)

    tags(node)
    if not isinstance(node, yaml.MappingNode):
        return found
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else "?"
        if name not in ALLOWED_KEYS:
            at(key, _("key {name!r} is not allowed (allowed: {allowed})").format(name=name, allowed=", ".join(sorted(ALLOWED_KEYS))))
        elif name == "markdown_extensions":
            _listed(value, ALLOWED_EXTENSIONS, _("Markdown extension"), at, _name)
        elif name == "plugins":
            _listed(value, ALLOWED_PLUGINS, _("plugin"), at, str)
        elif name == "theme" and isinstance(value, yaml.MappingNode):
            for k, v in value.value:
                if k.value in _THEME_PATHS and isinstance(v, yaml.ScalarNode) and not _inside(root, v.value):
                    at(v, _("theme.{key} {value!r} is outside the repository").format(key=k.value, value=v.value))
        elif name in ("extra_css", "extra_javascript") and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                url = item.value if isinstance(item, yaml.ScalarNode) else \
                    next((v.value for k, v in item.value if k.value == "path"), "") \
                    if isinstance(item, yaml.MappingNode) else ""
                if re.match(r"^\s*(?:[A-Za-z][A-Za-z0-9+.-]*:|//|\\\\)", url or ""):
                    at(item, _("{name} entry {url!r} is on another host (every asset is served by the site)").format(name=name, url=url))
    return sorted(found, key=lambda p: (p.line, p.col))


def _listed(value: yaml.Node, allowed: frozenset[str], what: str, at: object, name: object) -> None:
    """Each item of a list (or mapping) of names must be allowed."""
    items: list[tuple[yaml.Node, str]] = []
    if isinstance(value, yaml.SequenceNode):
        for item in value.value:
            if isinstance(item, yaml.ScalarNode):
                items.append((item, item.value))
            elif isinstance(item, yaml.MappingNode):
                items += [(k, k.value) for k, _ in item.value]
    elif isinstance(value, yaml.MappingNode):
        items = [(k, k.value) for k, _ in value.value]
    for node, item in items:
        if name(item) not in allowed:  # type: ignore[operator]
            at(node, _("{what} {item!r} is not on the allow-list of those that read no file and run no code "
                       "(allowed: {allowed})").format(what=what, item=item, allowed=", ".join(sorted(allowed))))


def _inside(root: Path, path: str) -> bool:
    try:
        (root / path).resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def describe(path: str, found: list[Problem]) -> str:
    """One message for all the problems of a file."""
    return "; ".join(f"{path}:{p.line}:{p.col}: {p.message}" for p in found)
