"""YAML with line numbers: every finding must name the line of the key it is about.

PyYAML's composer gives each node its position; we construct plain values from those nodes with
the safe constructor, and refuse what could hide or explode content (duplicate keys, aliases).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from pipeline.messages import _


@dataclass
class YamlError(Exception):
    line: int  # 1-based, relative to the parsed text
    col: int
    message: str


def compose(text: str) -> yaml.Node | None:
    """Parse ``text`` into a node tree, or raise :class:`YamlError` with the offending line."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlError(line, col, f"{exc.problem or exc.context}") from None
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
    """The plain Python value of a node (str, int, date, datetime, list, dict …)."""
    try:
        return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        mark = node.start_mark
        raise YamlError(mark.line + 1, mark.column + 1, _("cannot read value: {error}").format(error=exc)) from None


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
