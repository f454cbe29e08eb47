"""Edits of YAML files that keep every byte the edit is not about.

Every change the project makes to a YAML file people write (``approve`` adds an approval to a
cable's front matter, ``invite`` adds or renews a member in ``communities.yaml``) and the archive's
extract of one community's entry go through this module.

ruamel.yaml, a maintained round-trip YAML library, reads the file (it knows where every key and item
starts) and writes the new entry (quoting each value as YAML requires, in block style). Its full
dump of a document keeps comments, key order and quoting but not spacing (``key:   value`` becomes
``key: value``, indentation is made uniform), so the new lines are placed into the original text
instead of dumping the whole document: the result differs from the original by exactly the added
(or, for a renewed member, the rewritten) lines, whatever the line endings, byte order mark,
comments or quoting of the rest.

One safety net guards every edit: the new text is read back with the project's strict reader
(:mod:`pipeline.yamlfile`) and its data must equal the old data plus exactly the intended change,
else :class:`YamlEditError` is raised and nothing is written; :func:`save` writes atomically.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from gate.files import write_atomic
from pipeline.messages import _
from pipeline.yamlfile import YamlError, compose, construct

BOM = "\ufeff"


class YamlEditError(Exception):
    """The edit was refused; the message says why and what to do. Nothing was written."""


class _Refused(YamlEditError):
    """The safety net refused the edited text."""


# --- reading -----------------------------------------------------------------------------------


def _round_trip() -> YAML:
    editor = YAML(typ="rt")
    editor.preserve_quotes = True
    editor.width = 1 << 30  # never fold a long value onto a second line
    return editor


def _load(text: str, what: str) -> Any:
    """The round-trip document of ``text`` (line numbers as in ``text``)."""
    try:
        return _round_trip().load(text)
    except RuamelError as exc:
        raise YamlEditError(_("{what} is not valid YAML: {exc}").format(what=what, exc=exc)) from None


def _data(text: str, what: str) -> Any:
    """The plain data of ``text`` as the project's strict reader sees it."""
    try:
        node = compose(text)
    except YamlError as exc:
        raise YamlEditError(_("{what}, line {line}: {message}").format(what=what, line=exc.line, message=exc.message)) from None
    return None if node is None else construct(node)


class _Lines:
    """A text as lines with their own endings, so untouched lines are written back byte for byte."""

    def __init__(self, text: str) -> None:
        self.bom = text.startswith(BOM)
        # Lines end at "\n" only (a CRLF line keeps its "\r\n"), as the cable reader splits them.
        self.lines = [line for line in re.split(r"(?<=\n)", text.removeprefix(BOM)) if line]
        self.trim = True  # whether a block ends before its trailing blank lines and comments
        crlf = sum(line.endswith("\r\n") for line in self.lines)
        self.newline = "\r\n" if crlf * 2 > len(self.lines) else "\n"

    @property
    def plain(self) -> str:
        """The text without BOM and with LF endings: what the parsers read (same line numbers)."""
        return "".join(_content(line) + "\n" for line in self.lines)

    def text(self) -> str:
        return (BOM if self.bom else "") + "".join(self.lines)

    def splice(self, start: int, end: int, new: list[str]) -> None:
        """Replace lines ``start:end`` by ``new`` (lines without endings)."""
        if start > 0 and not self.lines[start - 1].endswith("\n"):
            self.lines[start - 1] += self.newline  # the last line had no line break
        self.lines[start:end] = [line + self.newline for line in new]

    def end_of_block(self, first: int, column: int, stop: int | None = None, *, key: bool = False) -> int:
        """The index after the last line of the block whose first line is ``first`` and which holds
        what is indented deeper than ``column`` (for a ``key``, also a block list at its own column,
        which YAML allows). Blank lines and comments at or left of ``column`` that end the block
        introduce what follows and are left out."""
        stop = len(self.lines) if stop is None else stop
        end = first + 1
        while end < stop:
            body = _content(self.lines[end])
            stripped = body.lstrip(" ")
            depth = len(body) - len(stripped)
            if stripped and not stripped.startswith("#") and depth <= column and not (
                    key and depth == column and (stripped == "-" or stripped.startswith("- "))):
                break
            end += 1
        while self.trim and end > first + 1:
            body = _content(self.lines[end - 1])
            stripped = body.lstrip(" ")
            if stripped and not (stripped.startswith("#") and len(body) - len(stripped) <= column):
                break
            end -= 1
        return end


def _is_comment_or_blank(line: str) -> bool:
    stripped = _content(line).strip()
    return not stripped or stripped.startswith("#")


def _content(line: str) -> str:
    """A line without its ending (LF or CRLF)."""
    line = line.removeprefix(BOM)
    line = line.removesuffix("\n")
    return line.removesuffix("\r")


# --- writing new entries -----------------------------------------------------------------------


def _emit_item(entry: dict[str, Any], dash: int, indent: int) -> list[str]:
    """``entry`` as one block-sequence item whose dash is at column ``dash`` and content at
    ``dash + indent``, written by ruamel.yaml (which quotes what must be quoted)."""
    editor = _round_trip()
    editor.indent(mapping=2, sequence=max(indent, 2), offset=0)
    item = CommentedMap()
    for key, value in entry.items():
        item[key] = _for_the_reader(value)
    out = io.StringIO()
    editor.dump(CommentedSeq([item]), out)
    return [" " * dash + line for line in out.getvalue().splitlines()]


def _for_the_reader(value: Any) -> Any:
    """``value`` as ruamel.yaml must write it for the project's reader to read it back the same.

    ruamel.yaml writes YAML 1.2, where ``no``, ``On`` or ``1:20`` are plain strings; PyYAML, the
    strict reader, reads YAML 1.1, where they are a boolean and a number. A string that YAML 1.1
    would resolve to anything but a string is therefore double-quoted.
    """
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if isinstance(value, str) and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) != _STR:
        return DoubleQuotedScalarString(value)
    if isinstance(value, list):
        return [_for_the_reader(v) for v in value]
    if isinstance(value, dict):
        return {k: _for_the_reader(v) for k, v in value.items()}
    return value


_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"


def _timestamp(value: dt.datetime) -> Any:
    """A UTC moment written as ``2026-01-31T09:30:00Z``, the form the project writes by hand."""
    if value.utcoffset() != dt.timedelta(0):
        raise YamlEditError(_("{value} is not in UTC").format(value=value))
    return _round_trip().load(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _append_item(lines: _Lines, mapping: CommentedMap, key: str, entry: dict[str, Any],
                 mapping_end: int, what: str) -> None:
    """Add ``entry`` at the end of the block sequence ``mapping[key]``, created if absent or empty."""
    if key in mapping and isinstance(mapping[key], CommentedSeq) and len(mapping[key]) > 0:
        seq = mapping[key]
        first, content = seq.lc.data[len(seq) - 1]
        dash = seq.lc.col
        if _content(lines.lines[first])[dash:dash + 1] != "-":
            raise YamlEditError(_("{what}: '{key}' is written in flow style ([…]); write it as a block list (one '- ' item per line) and retry").format(what=what, key=key))
        end = lines.end_of_block(first, dash)
        lines.splice(end, end, _emit_item(entry, dash, content - dash))
        return
    if key in mapping:
        if mapping[key] is not None and not (isinstance(mapping[key], CommentedSeq) and not mapping[key]):
            raise YamlEditError(_("{what}: '{key}' is not a list").format(what=what, key=key))
        line, column = mapping.lc.key(key)
        text = _content(lines.lines[line])
        colon = text.find(":", column + len(key)) if text[column:].startswith(key) else -1
        rest = text[colon + 1:].strip() if colon >= 0 else None
        value, _sep, comment = (rest or "").partition("#")
        if colon < 0 or value.strip() not in ("", "[]", "~", "null", "Null", "NULL"):
            raise YamlEditError(_("{what}: could not find the empty '{key}' on line {line}; write it as '{key}:' followed by a block list and retry").format(what=what, key=key, line=line + 1))
        head = text[:colon + 1] + (f"  #{comment}" if comment else "")
        lines.splice(line, line + 1, [head, *_emit_item(entry, column + 2, 2)])
        return
    keys = list(mapping)
    if not keys:
        raise YamlEditError(_("{what}: the mapping is empty; add '{key}:' by hand and retry").format(what=what, key=key))
    line, column = mapping.lc.key(keys[-1])
    end = lines.end_of_block(line, column, mapping_end, key=True)
    lines.splice(end, end, [" " * column + f"{key}:", *_emit_item(entry, column + 2, 2)])


# --- the safety net ----------------------------------------------------------------------------


def _checked(old: str, new: str, change: Callable[[Any], Any], what: str,
             read: Callable[[str, str], Any] = _data) -> str:
    """``new``, if its data equals ``change(old data)``; else refuse (nothing is written)."""
    expected = change(copy.deepcopy(read(old, what)))
    try:
        after = read(new, what)
    except YamlEditError as exc:
        raise _Refused(_("refused: the edit of {what} would not read back ({exc}); nothing was written").format(what=what, exc=exc)) from None
    if after != expected:
        raise _Refused(_("refused: the edit of {what} would change more than intended; nothing was written. Check its layout (block lists, one key per line) and retry").format(what=what))
    return new


def _placed(old: str, attempt: Callable[[bool], str], change: Callable[[Any], Any], what: str,
            read: Callable[[str, str], Any] = _data) -> str:
    """The text ``attempt`` makes with the new lines placed before the blank lines and comments that
    end a block (they introduce what follows), or else after them (a ``|+`` block scalar keeps its
    trailing blank lines), whichever reads back as intended first."""
    try:
        return _checked(old, attempt(True), change, what, read)
    except _Refused as refused:
        try:
            return _checked(old, attempt(False), change, what, read)
        except _Refused:
            raise refused from None


def save(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, whole or not at all."""
    write_atomic(path, text.encode("utf-8"))


# --- the edits ---------------------------------------------------------------------------------


def _front_matter(lines: _Lines, what: str) -> int:
    """The index of the line closing the front matter of a cable's ``lines``."""
    if not lines.lines or _content(lines.lines[0]).rstrip(" \t") != "---":
        raise YamlEditError(_("{what} does not start with a '---' line opening the front matter").format(what=what))
    closing = next((i for i in range(1, len(lines.lines))
                    if _content(lines.lines[i]).rstrip(" \t") in ("---", "...")), None)
    if closing is None:
        raise YamlEditError(_("{what}: the front matter is never closed by a '---' line").format(what=what))
    return closing


def _cable_data(text: str, what: str) -> dict[str, Any]:
    """What an edit of a cable's front matter may change: the data of the front matter; and what it
    may not: every byte outside it."""
    lines = _Lines(text)
    closing = _front_matter(lines, what)
    return {"front matter": _data(_Lines("".join(lines.lines[1:closing])).plain, what),
            "outside": (lines.bom, lines.lines[0], lines.lines[closing:])}


def add_approval(text: str, entry: dict[str, Any], what: str = "the cable") -> str:
    """The cable ``text`` with ``entry`` appended to its front matter's ``approvals`` (created if
    absent); the body and every other byte of the front matter are kept."""
    lines = _Lines(text)
    closing = _front_matter(lines, what)
    document = _load(_Lines("".join(lines.lines[1:closing])).plain, what)
    if not isinstance(document, CommentedMap):
        raise YamlEditError(_("{what}: the front matter is not a mapping").format(what=what))

    def attempt(trim: bool) -> str:
        front = _Lines("".join(lines.lines[1:closing]))
        front.newline, front.trim = lines.newline, trim
        _append_item(front, document, "approvals", entry, len(front.lines), what)
        new = _Lines(text)
        new.lines[1:closing] = front.lines
        return new.text()

    def change(data: dict) -> dict:
        data["front matter"]["approvals"] = [*(data["front matter"].get("approvals") or []), dict(entry)]
        return data

    return _placed(text, attempt, change, what, _cable_data)


def community_entry(text: str, community: str) -> str | None:
    """A ``communities.yaml`` holding only ``community``'s entry, with that entry's own lines
    (comments included), or None when there is no such community. A layout the lines cannot be
    cut from (flow style) gets ruamel.yaml's rendering of the entry, comments and quoting kept."""
    lines = _Lines(text)
    document = _load(lines.plain, "communities.yaml")
    table = document.get("communities") if isinstance(document, CommentedMap) else None
    if not isinstance(table, CommentedMap) or community not in table:
        return None
    expected = {"communities": {community: _data(lines.plain, "communities.yaml")["communities"][community]}}
    start, column = table.lc.key(community)
    end = lines.end_of_block(start, column, key=True)
    chunk = "communities:\n" + "".join(lines.lines[start:end])
    if not chunk.endswith(("\n", "\r")):
        chunk += "\n"
    if start > document.lc.key("communities")[0] and _quiet_data(chunk) == expected:
        return chunk
    single = CommentedMap()
    single["communities"] = CommentedMap([(community, table[community])])
    out = io.StringIO()
    _round_trip().dump(single, out)
    if _quiet_data(out.getvalue()) != expected:
        raise YamlEditError(_("could not extract the entry of '{community}' from communities.yaml").format(community=community))
    return out.getvalue()


def _community(text: str, community: str, what: str) -> tuple[CommentedMap, CommentedMap]:
    """The ``communities`` table of ``communities.yaml`` and ``community``'s entry in it, as parsed
    with their line numbers; refused when the community is not there."""
    document = _load(_Lines(text).plain, what)
    table = document.get("communities") if isinstance(document, CommentedMap) else None
    if not isinstance(table, CommentedMap) or not isinstance(table.get(community), CommentedMap):
        raise YamlEditError(_("{what} has no community '{community}'").format(what=what, community=community))
    return table, table[community]


def add_member(text: str, community: str, entry: dict[str, Any]) -> str:
    """``communities.yaml`` with ``entry`` as a member of ``community``: it replaces the member with
    the same e-mail address (case ignored) or is appended to ``members`` (created if absent).
    Renewing rewrites that member's lines (comments after them stay); nothing else changes."""
    what = "communities.yaml"
    if not isinstance(entry.get("email"), str):
        raise YamlEditError(_("a member entry needs an 'email'"))
    table, block = _community(text, community, what)
    key_line, key_column = table.lc.key(community)
    members = block.get("members")
    email = entry["email"].casefold()
    index = next((i for i, m in enumerate(members or [])
                  if isinstance(m, dict) and str(m.get("email", "")).casefold() == email), None)

    def attempt(trim: bool) -> str:
        lines = _Lines(text)
        lines.trim = trim
        if index is None:
            _append_item(lines, block, "members", entry, lines.end_of_block(key_line, key_column, key=True), what)
            return lines.text()
        first, content = members.lc.data[index]
        dash = members.lc.col
        if _content(lines.lines[first])[dash:dash + 1] != "-":
            raise YamlEditError(_("{what}: the members of '{community}' are written in flow style; write them as a block list and retry").format(what=what, community=community))
        end = lines.end_of_block(first, dash)
        while trim and end > first + 1 and _is_comment_or_blank(lines.lines[end - 1]):
            end -= 1  # comments after the member's last line stay
        lines.splice(first, end, _emit_item(entry, dash, content - dash))
        return lines.text()

    def change(data: dict) -> dict:
        target = data["communities"][community]
        listed = target.get("members") or []
        if index is None:
            listed.append(dict(entry))
        else:
            listed[index] = dict(entry)
        target["members"] = listed
        return data

    return _placed(text, attempt, change, what)


def remove_members(text: str, community: str) -> str:
    """``communities.yaml`` without ``community``'s ``members`` (its key and every member's lines, the
    comments inside them too): what an archive made ``--without-members`` holds. Every other byte is
    kept; a community without members is returned as it is."""
    what = "communities.yaml"
    table, block = _community(text, community, what)
    if "members" not in block:
        return text
    keys = list(block)
    if keys == ["members"]:
        raise YamlEditError(_("{what}: '{community}' holds nothing but its members").format(what=what, community=community))
    line, column = block.lc.key("members")
    key_line, key_column = table.lc.key(community)

    def attempt(trim: bool) -> str:
        edited = _Lines(text)
        edited.trim = trim
        end = edited.end_of_block(line, column, edited.end_of_block(key_line, key_column, key=True), key=True)
        edited.splice(line, end, [])
        return edited.text()

    def change(data: dict) -> dict:
        del data["communities"][community]["members"]
        return data

    return _placed(text, attempt, change, what)


def remove_member(text: str, community: str, email: str) -> str:
    """``communities.yaml`` without the member of ``community`` whose address is ``email`` (case
    ignored): that member's lines are taken out (the last one leaves ``members: []``), comments after
    them stay, every other byte is kept. Refused when the community does not list them."""
    what = "communities.yaml"
    _, block = _community(text, community, what)
    members = block.get("members")
    wanted = email.casefold()
    index = next((i for i, m in enumerate(members or [])
                  if isinstance(m, dict) and str(m.get("email", "")).casefold() == wanted), None)
    if index is None:
        raise YamlEditError(f"{what}: '{community}' has no member {email}")
    first, _ = members.lc.data[index]
    dash = members.lc.col

    def attempt(trim: bool) -> str:
        lines = _Lines(text)
        lines.trim = trim
        if _content(lines.lines[first])[dash:dash + 1] != "-":
            raise YamlEditError(f"{what}: the members of '{community}' are written in flow style; write them "
                                "as a block list and retry")
        end = lines.end_of_block(first, dash)
        while trim and end > first + 1 and _is_comment_or_blank(lines.lines[end - 1]):
            end -= 1  # comments after the member's last line stay
        lines.splice(first, end, [])
        if len(members) == 1:  # the list would be empty: an empty list, not a null
            line, column = block.lc.key("members")
            head = _content(lines.lines[line])
            colon = head.find(":", column + len("members"))
            value, _, comment = head[colon + 1:].partition("#")
            if colon < 0 or value.strip():
                raise YamlEditError(f"{what}: could not find 'members:' on line {line + 1}")
            lines.splice(line, line + 1, [head[:colon + 1] + " []" + (f"  #{comment}" if comment else "")])
        return lines.text()

    def change(data: dict) -> dict:
        del data["communities"][community]["members"][index]
        return data

    return _placed(text, attempt, change, what)


def _quiet_data(text: str) -> Any:
    try:
        return _data(text, "extract")
    except YamlEditError:
        return None




def remove_approval(text: str, index: int, what: str = "the cable") -> str:
    """The cable ``text`` without the ``index``-th entry (from 0) of its front matter's ``approvals``:
    that entry's lines are taken out (the last one leaves ``approvals: []``), every other byte is kept."""
    lines = _Lines(text)
    closing = _front_matter(lines, what)
    document = _load(_Lines("".join(lines.lines[1:closing])).plain, what)
    if not isinstance(document, CommentedMap) or not isinstance(document.get("approvals"), CommentedSeq):
        raise YamlEditError(_("{what}: the front matter has no 'approvals' list").format(what=what))
    seq = document["approvals"]
    if not 0 <= index < len(seq):
        raise YamlEditError(_("{what}: no approval number {index}").format(what=what, index=index + 1))
    first, _col = seq.lc.data[index]
    dash = seq.lc.col

    def attempt(trim: bool) -> str:
        front = _Lines("".join(lines.lines[1:closing]))
        front.newline, front.trim = lines.newline, trim
        if _content(front.lines[first])[dash:dash + 1] != "-":
            raise YamlEditError(_("{what}: 'approvals' is written in flow style ([…]); write it as a block list (one '- ' item per line) and retry").format(what=what))
        end = front.end_of_block(first, dash)
        front.splice(first, end, [])
        if len(seq) == 1:  # the list would be empty: an empty list, not a null
            line, column = document.lc.key("approvals")
            head = _content(front.lines[line])
            colon = head.find(":", column + len("approvals"))
            value, _sep, comment = head[colon + 1:].partition("#")
            if colon < 0 or value.strip():
                raise YamlEditError(_("{what}: could not find 'approvals:' on line {line}").format(what=what, line=line + 2))
            front.splice(line, line + 1, [head[:colon + 1] + " []" + (f"  #{comment}" if comment else "")])
        new = _Lines(text)
        new.lines[1:closing] = front.lines
        return new.text()

    def change(data: dict) -> dict:
        del data["front matter"]["approvals"][index]
        return data

    return _placed(text, attempt, change, what, _cable_data)


def remove_approvals(text: str, drop: Callable[[dict[str, Any]], bool], what: str = "the cable") -> tuple[str, int]:
    """The cable ``text`` without every entry of ``approvals`` for which ``drop`` (given the entry's
    data) is true, and how many were removed; each removal passes the safety net."""
    data = _cable_data(text, what)["front matter"]
    entries = data.get("approvals") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return text, 0
    indexes = [i for i, entry in enumerate(entries) if isinstance(entry, dict) and drop(entry)]
    for index in reversed(indexes):
        text = remove_approval(text, index, what)
    return text, len(indexes)
