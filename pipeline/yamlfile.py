"""YAML with line numbers: every finding must name the line of the key it is about.

PyYAML's composer gives each node its position; we construct plain values from those nodes with
the safe constructor, and refuse what could hide or explode content (duplicate keys, aliases).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from pipeline.messages import N_, _


@dataclass
class YamlError(Exception):
    line: int  # 1-based, relative to the parsed text
    col: int
    message: str
    hint: str = ""  # what to do, when the mistake is one we can name in plain words


#: The parser's words for the mistakes people make by hand -> the mistake in plain words, and the fix.
_PLAIN: tuple[tuple[str, str, str], ...] = (
    ("mapping values are not allowed", N_("a colon followed by a space inside a value: YAML reads it as a "
                                          "second key on the same line"),
     N_('put the whole value in double quotes, e.g. title: "Énergie : la transition"')),
    ("tab character", N_("a tab character: YAML indents with spaces only"), N_("replace the tab with spaces")),
    ("end of stream", N_("a quote is opened and never closed"),
     N_("close the quote at the end of the value, or remove it")),
    ("did not find expected key", N_("a line is not aligned with the keys or list items around it"),
     N_("indent it with spaces exactly as the lines it belongs with")),
    ("did not find expected ',' or ']'", N_("a list in brackets is not closed on its line"),
     N_("close it on the same line, e.g. subjects: [energie, climat]")),
    ("could not find expected ':'", N_("a line is neither 'key: value' nor a list item"),
     N_("write one 'key: value' per line, with a space after the colon")),
)


def plain(problem: str, found: str) -> tuple[str, str]:
    """The message and hint for the parser's ``problem``, ``found`` being the character it stopped at:
    in plain words when the mistake is a known one, else the parser's own words and no hint."""
    if found == "\t":
        return _("a tab character: YAML indents with spaces only"), _("replace the tab with spaces")
    for words, message, hint in _PLAIN:
        if words in problem:
            return _(message), _(hint)
    if "cannot start any token" in problem and found:
        return (_("a value cannot start with {char!r}").format(char=found),
                _("put the whole value in double quotes"))
    return _("YAML syntax error: {message}").format(message=problem), ""


def compose(text: str) -> yaml.Node | None:
    """Parse ``text`` into a node tree, or raise :class:`YamlError` with the offending line, in plain
    words where the mistake is a common one (an unquoted colon, a tab, an unclosed quote…)."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if "end of stream" in f"{exc.problem}" and exc.context_mark:  # an unclosed quote: where it opens
            mark = exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        lines = text.split("\n")
        found = lines[line - 1][col - 1:col] if mark and line <= len(lines) else ""
        message, hint = plain(f"{exc.problem or exc.context}", found)
        raise YamlError(line, col, message, hint) from None
    except yaml.YAMLError as exc:  # e.g. reader errors on control characters
        raise YamlError(1, 1, str(exc).splitlines()[0]) from None
    _refuse_aliases(node)
    return node


#: libyaml's parser when available (about 15x faster; same node positions), else PyYAML's own.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _refuse_aliases(node: yaml.Node | None) -> None:
    """An alias makes the composer reuse a node: seeing one twice means an alias (refused, since it
    can copy a safeguard's value somewhere unexpected or blow a document up)."""
    seen: set[int] = set()
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if id(current) in seen:
            mark = current.start_mark
            raise YamlError(mark.line + 1, mark.column + 1, _("anchors and aliases are not allowed"))
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.extend((key, value))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)




def construct(node: yaml.Node) -> Any:
    """The plain Python value of a node (str, int, date, datetime, list, dict …); a date shaped like
    one that is not in the calendar (2026-02-30) is said to be so."""
    try:
        return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        mark = node.start_mark
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":timestamp") and isinstance(exc, ValueError) \
                and _year_in_bounds(node.value):  # else the year is the mistake: the caller says the bounds
            raise YamlError(mark.line + 1, mark.column + 1, _("{value} is not a date of the calendar").format(
                value=node.value), _("check the day and the month: {value} does not exist").format(
                value=node.value)) from None
        raise YamlError(mark.line + 1, mark.column + 1, _("cannot read value: {error}").format(error=exc)) from None


def _year_in_bounds(text: str) -> bool:
    from pipeline.dates import MAX_YEAR, MIN_YEAR

    return text[:4].isdigit() and MIN_YEAR <= int(text[:4]) <= MAX_YEAR


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def col_of(node: yaml.Node) -> int:
    return node.start_mark.column + 1


def mapping_pairs(node: yaml.MappingNode) -> list[tuple[str, yaml.Node, yaml.Node]]:
    """(key, key node, value node) in file order. Non-string keys are turned into their text."""
    pairs = []
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(construct(key_node))
        pairs.append((str(key), key_node, value_node))
    return pairs


class NodeReader:
    """Reads a YAML file node by node and reports each problem at its line (``findings``: a
    :class:`pipeline.findings.Findings`); what communities.yaml's and vocabulary.yaml's readers share."""

    def __init__(self, path: str, findings) -> None:
        self.path, self.findings = path, findings

    def add(self, node: yaml.Node, code: str, message: str, hint: str = "") -> None:
        self.findings.add(self.path, line_of(node), code, message, hint, col=col_of(node))

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """The keys of a mapping node (each once: a duplicate is E209), or None (E203) for another node."""
        if not isinstance(node, yaml.MappingNode):
            self.add(node, "E203", _("{what} must be a mapping of keys to values").format(what=what))
            return None
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, key_node, value_node in mapping_pairs(node):
            if key in out:
                self.add(key_node, "E209", _("key '{key}' appears twice in {what}").format(key=key, what=what),
                         _("keep one: the second would silently replace the first"))
                continue
            out[key] = (key_node, value_node)
        return out
