"""Edits of YAML files (pipeline/yamledit.py): the new lines go in, every other byte stays, and an
edit that would change anything else is refused with nothing written.

The files are generated in the layouts people write: comments between keys and at line ends, the
three quoting styles, Unicode, key orders, sequence indentations, CRLF line endings and a byte order
mark; every edit must leave the old text recoverable by removing exactly the inserted lines.
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import pytest
import yaml
from contentrepo import EDITOR, make_repo
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from pipeline import yamledit
from pipeline.yamledit import YamlEditError

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

APPROVAL = {"community": "energie", "by": "redaction@diplomatie.gouv.fr",
            "date": dt.datetime(2026, 3, 14, 9, 30, tzinfo=dt.UTC), "digest": "sha256:" + "ab" * 32}

# --- generators of the layouts people write --------------------------------------------------------

WORD = st.text(alphabet="abcdeéüЖ中", min_size=1, max_size=8)
ANY_TEXT = st.text(alphabet="abc é'\":#-中\\", min_size=0, max_size=12)


@st.composite
def scalar(draw) -> tuple[str, str]:
    """(YAML text, value) of a string in one of the three quoting styles."""
    style = draw(st.sampled_from(["plain", "single", "double"]))
    if style == "plain":
        value = "v" + draw(WORD)
        return value, value
    value = draw(ANY_TEXT)
    if style == "single":
        return "'" + value.replace("'", "''") + "'", value
    return json.dumps(value, ensure_ascii=draw(st.booleans())), value


def eol_comment(draw) -> str:
    return draw(st.sampled_from(["", "  # note", "   # é 中 : -"]))


@st.composite
def block_list(draw, items: list[list[str]]) -> list[str]:
    """Items (each a list of ``key: value`` lines) as a block sequence in one indentation style."""
    dash = draw(st.sampled_from([0, 2, 4]))
    gap = draw(st.sampled_from([1, 3]))
    out: list[str] = []
    for number, item in enumerate(items):
        for index, line in enumerate(item):
            lead = " " * dash + ("-" + " " * gap if index == 0 else " " * (gap + 1))
            out.append(lead + line)
        if number == 0 and len(items) > 1 and draw(st.booleans()):
            out.append(" " * (dash + gap + 1) + "# about the first item")
    return out


@st.composite
def front_matter(draw) -> tuple[list[str], dict, str]:
    """(lines, data, how approvals is written: absent, empty, null or block)."""
    keys = draw(st.permutations(["id", "title", "post", "summary", "subjects"]))
    data: dict = {}
    parts: list[list[str]] = []
    for key in keys:
        lines = []
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["# a comment between keys", "", "#: Télégramme"])))
        if key == "summary" and draw(st.booleans()):
            style = draw(st.sampled_from(["|", ">-", "|+", "|-"]))
            words = draw(st.lists(WORD, min_size=1, max_size=3))
            lines.append(f"summary: {style}{eol_comment(draw)}")
            lines += ["  " + w for w in words] + [""] * draw(st.integers(0, 2))
            data[key] = None  # read back below
        elif key == "subjects":
            words = draw(st.lists(WORD, min_size=1, max_size=3))
            data[key] = ["s" + w for w in words]
            lines.append("subjects:" + eol_comment(draw))
            lines += draw(block_list([["s" + w] for w in words]))
        else:
            text, value = draw(scalar())
            data[key] = value
            lines.append(f"{key}:{' ' * draw(st.integers(1, 3))}{text}{eol_comment(draw)}")
        parts.append(lines)
    kind = draw(st.sampled_from(["absent", "empty", "null", "block"]))
    if kind != "absent":
        lines = []
        if kind == "empty":
            lines.append("approvals: []" + eol_comment(draw))
            data["approvals"] = []
        elif kind == "null":
            lines.append("approvals:" + eol_comment(draw))
            data["approvals"] = None
        else:
            count = draw(st.integers(1, 2))
            entries = [{"community": f"c{n}", "by": f"e{n}@example.org", "date": APPROVAL["date"],
                        "digest": "sha256:" + "cd" * 32} for n in range(count)]
            data["approvals"] = entries
            lines.append("approvals:" + eol_comment(draw))
            fields = [[f"community: {e['community']}", f"by: {e['by']}", "date: 2026-03-14T09:30:00Z",
                       f"digest: {e['digest']}"] for e in entries]
            if draw(st.booleans()):  # items as flow mappings
                fields = [["{" + ", ".join(f) + "}"] for f in fields]
            lines += draw(block_list(fields))
            if draw(st.booleans()):
                lines += ["", "# introduces the next key"]
        parts.insert(draw(st.integers(0, len(parts))), lines)
    lines = [line for part in parts for line in part]
    if data.get("summary", "") is None:
        data["summary"] = yaml.safe_load("\n".join(lines) + "\n")["summary"]
    return lines, data, kind


def dress(lines: list[str], newline: str, bom: bool) -> str:
    return ("\ufeff" if bom else "") + "".join(line + newline for line in lines)


def split_kept(text: str) -> list[str]:
    return text.removeprefix("\ufeff").splitlines(keepends=True)


def find_insertion(old: list[str], new: list[str], count: int) -> int:
    """The index of the ``count`` lines whose removal from ``new`` gives ``old`` exactly (else fail)."""
    places = [k for k in range(len(new) - count + 1) if new[:k] + new[k + count:] == old]
    assert places, "the new text is not the old one plus inserted lines"
    return places[0]


def front_data(text: str) -> dict:
    body = text.removeprefix("\ufeff").replace("\r\n", "\n")
    return yaml.safe_load(body.split("---\n")[1])


def dedented(lines: list[str]) -> object:
    return yaml.safe_load(textwrap.dedent("".join(line.rstrip("\r\n") + "\n" for line in lines)))


# --- approvals in a cable's front matter -----------------------------------------------------------


@SETTINGS
@given(front_matter(), st.sampled_from(["\n", "\r\n"]), st.booleans(), ANY_TEXT)
def test_an_approval_is_inserted_and_every_other_byte_is_kept(fm, newline, bom, body):
    lines, data, kind = fm
    old = dress(["---", *lines, "---", "Le texte é 中", body.replace("\r", ""), "---", "fin"], newline, bom)
    new = yamledit.add_approval(old, APPROVAL)

    assert new.startswith("\ufeff") == bom
    expected = dict(data, approvals=[*(data.get("approvals") or []), APPROVAL])
    assert front_data(new) == expected
    old_lines, new_lines = split_kept(old), split_kept(new)
    assert all(line.endswith(newline) for line in new_lines)
    if kind in ("block", "absent"):
        count = 4 if kind == "block" else 5
        k = find_insertion(old_lines, new_lines, count)
        added = dedented(new_lines[k:k + count])
        assert added == ([APPROVAL] if kind == "block" else {"approvals": [APPROVAL]})
        assert k < new_lines.index("---" + newline, 1) + 1  # inside the front matter
        marker = [i for i, line in enumerate(old_lines) if "introduces the next key" in line]
        assert not marker or k < marker[0]  # a comment introducing the next key stays with it
    else:  # 'approvals: []' or 'approvals:' becomes a block list; its end-of-line comment stays
        at = next(i for i, line in enumerate(old_lines) if line.startswith("approvals:"))
        assert new_lines[:at] == old_lines[:at] and new_lines[at + 5:] == old_lines[at + 1:]
        old_line = old_lines[at].rstrip("\r\n")
        comment = old_line.partition("#")[2]
        assert new_lines[at] == "approvals:" + (f"  #{comment}" if "#" in old_line else "") + newline


def test_an_approval_keeps_a_file_without_a_final_line_break_readable():
    new = yamledit.add_approval("---\nid: X\n---\nbody", APPROVAL)
    assert new.startswith("---\nid: X\napprovals:\n  - community: energie\n")
    assert new.endswith("---\nbody")


def test_an_approval_is_refused_in_a_non_empty_flow_list():
    text = "---\nid: X\napprovals: [{community: a, by: b@c.fr}]\n---\n"
    with pytest.raises(YamlEditError, match="block list"):
        yamledit.add_approval(text, APPROVAL)


def test_the_safety_net_refuses_an_insertion_that_would_change_other_data():
    # A double-quoted value may continue at column 0; the new lines would land inside it.
    text = '---\nid: X\nsummary: "Un\ntexte"\n---\nbody\n'
    with pytest.raises(YamlEditError, match="would change more than intended"):
        yamledit.add_approval(text, APPROVAL)


def test_approve_writes_nothing_when_the_edit_is_refused(tmp_path):
    repo = make_repo(tmp_path / "repo")
    path = repo.cable(summary="placeholder")
    before = path.read_text().replace("summary: placeholder", 'summary: "Une analyse\nsur deux lignes"')
    path.write_text(before)
    listing = sorted(p.name for p in path.parent.iterdir())
    result = repo.run("approve", "2026-BERLIN-0001", "--community", "energie", "--editor", EDITOR)
    assert result.code != 0
    assert "would change more than intended; nothing was written" in result.output
    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == listing  # no temporary file left behind


def test_approve_keeps_the_file_mode(tmp_path):
    repo = make_repo(tmp_path / "repo")
    path = repo.cable()
    path.chmod(0o640)
    repo.approve("2026-BERLIN-0001", "energie")
    assert path.stat().st_mode & 0o777 == 0o640
    assert EDITOR in path.read_text()


# --- members of a community in communities.yaml ----------------------------------------------------


def member_lines(member: dict) -> list[str]:
    return [f"{k}: {v}" for k, v in member.items()]


@st.composite
def communities_file(draw) -> tuple[list[str], dict, dict[str, tuple[int, int]], dict[str, str]]:
    """(lines, data, the line span of each community's entry, how its members are written)."""
    lines = ["# Communities: a header comment é", "", "communities:"]
    data: dict = {"communities": {}}
    spans: dict[str, tuple[int, int]] = {}
    kinds: dict[str, str] = {}
    for n in range(draw(st.integers(1, 3))):
        cid = f"c{n}"
        if n and draw(st.booleans()):
            lines += ["", "  # the next community"]
        start = len(lines)
        entry: dict = {}
        text, value = draw(scalar())
        entry["title"] = value
        groups = {"title": [f"title: {text}{eol_comment(draw)}"],
                  "editors": ["editors: [ed@example.org]   # flow list"]}
        entry["editors"] = ["ed@example.org"]
        kind = draw(st.sampled_from(["absent", "empty", "block"]))
        kinds[cid] = kind
        if kind == "empty":
            groups["members"] = ["members: []"]
            entry["members"] = []
        elif kind == "block":
            members = [{"email": f"m{i}@example.org", "name": f"Nom{i}"} for i in range(draw(st.integers(1, 2)))]
            entry["members"] = members
            groups["members"] = ["members:", *draw(block_list([member_lines(m) for m in members]))]
        order = draw(st.permutations(sorted(groups)))
        entry = {k: entry[k] for k in order}
        lines.append(f"  {cid}:")
        lines += ["    " + line for key in order for line in groups[key]]
        spans[cid] = (start, len(lines))
        data["communities"][cid] = entry
    lines += ["", "# owner of the repository", "owner: owner@example.org"]
    data["owner"] = "owner@example.org"
    return lines, data, spans, kinds


NEWCOMER = {"email": "nouvelle@example.org", "name": "Zoé Ndiaye: chercheuse", "organisation": "Institut",
            "expires": dt.date(2027, 6, 30)}


@SETTINGS
@given(communities_file(), st.sampled_from(["\n", "\r\n"]), st.booleans(), st.data())
def test_a_new_member_is_inserted_and_every_other_byte_is_kept(cf, newline, bom, pick):
    lines, data, spans, kinds = cf
    cid = pick.draw(st.sampled_from(sorted(spans)))
    old = dress(lines, newline, bom)
    new = yamledit.add_member(old, cid, NEWCOMER)

    expected = yaml.safe_load(old.removeprefix("\ufeff"))
    expected["communities"][cid]["members"] = [*(expected["communities"][cid].get("members") or []), NEWCOMER]
    assert yaml.safe_load(new.removeprefix("\ufeff")) == expected
    old_lines, new_lines = split_kept(old), split_kept(new)
    start, end = spans[cid]
    if kinds[cid] == "empty":
        at = next(i for i in range(start, end) if "members: []" in old_lines[i])
        assert new_lines[:at] == old_lines[:at] and new_lines[at + 5:] == old_lines[at + 1:]
        assert new_lines[at] == "    members:" + newline
    else:
        count = 4 if kinds[cid] == "block" else 5
        k = find_insertion(old_lines, new_lines, count)
        assert start < k <= end  # inside that community's entry, before what introduces the next
        added = dedented(new_lines[k:k + count])
        assert added == ([NEWCOMER] if kinds[cid] == "block" else {"members": [NEWCOMER]})


@SETTINGS
@given(communities_file(), st.sampled_from(["\n", "\r\n"]), st.data())
def test_a_known_member_is_renewed_in_place(cf, newline, pick):
    lines, data, spans, kinds = cf
    listed = [cid for cid, kind in kinds.items() if kind == "block"]
    assume(listed)
    cid = pick.draw(st.sampled_from(listed))
    old = dress(lines, newline, False)
    renewed = {"email": "M0@example.org", "name": "Nom0", "expires": dt.date(2028, 1, 1)}
    new = yamledit.add_member(old, cid, renewed)

    expected = yaml.safe_load(old)
    expected["communities"][cid]["members"][0] = renewed
    assert yaml.safe_load(new) == expected
    old_lines, new_lines = split_kept(old), split_kept(new)
    first = next(i for i, line in enumerate(old_lines) if i >= spans[cid][0] and "m0@example.org" in line)
    assert new_lines[:first] == old_lines[:first]
    assert new_lines[-(len(old_lines) - first - 2):] == old_lines[first + 2:]  # the old entry had two lines


def test_add_member_refuses_an_unknown_community():
    with pytest.raises(YamlEditError, match="no community 'x'"):
        yamledit.add_member("communities:\n  a:\n    title: A\n", "x", NEWCOMER)


def test_the_safety_net_refuses_a_member_edit_that_would_change_other_data():
    text = 'communities:\n  a:\n    title: "A\non two lines"\n  b:\n    title: B\n'
    with pytest.raises(YamlEditError, match="would change more than intended"):
        yamledit.add_member(text, "a", NEWCOMER)


# --- the archive's extract of one community ---------------------------------------------------------


@SETTINGS
@given(communities_file(), st.sampled_from(["\n", "\r\n"]))
def test_a_community_entry_is_its_own_lines(cf, newline):
    lines, data, spans, _ = cf
    text = dress(lines, newline, False)
    for cid, (start, end) in spans.items():
        entry = yamledit.community_entry(text, cid)
        assert entry == "communities:\n" + "".join(line + newline for line in lines[start:end])
        assert yaml.safe_load(entry) == {"communities": {cid: data["communities"][cid]}}
    assert yamledit.community_entry(text, "absent") is None


def test_approve_keeps_crlf_a_byte_order_mark_and_flow_style_comments(tmp_path):
    repo = make_repo(tmp_path / "repo")
    path = repo.cable()
    text = path.read_text(encoding="utf-8")
    head, body = text.split("\n---\n", 1)
    lines = ["# Télégramme « provisoire »", *head.split("\n"), "approvals: []   # aucune encore"]
    old = "\ufeff" + "\r\n".join(lines[1:2] + lines[:1] + lines[2:]) + "\r\n---\r\n" + body.replace("\n", "\r\n")
    path.write_bytes(old.encode("utf-8"))
    repo.approve("2026-BERLIN-0001", "energie")
    new = path.read_bytes().decode("utf-8")
    old_lines, new_lines = split_kept(old), split_kept(new)
    at = old_lines.index("approvals: []   # aucune encore\r\n")
    assert new.startswith("\ufeff")
    assert new_lines[:at] == old_lines[:at] and new_lines[at + 5:] == old_lines[at + 1:]
    assert new_lines[at] == "approvals:  # aucune encore\r\n"
    assert new_lines[at + 1] == "  - community: energie\r\n"
    assert new_lines[at + 2] == f"    by: {EDITOR}\r\n"


@SETTINGS
@given(st.text(max_size=24) | st.sampled_from(["no", "Yes", "ON", "off", "1:20", "~", "null", "0o17", "2027-01-01",
                                                "- x", "a: b", "#", "'", '"', "{x}", "&a", "*a", "!x", "%", "@"]))
def test_any_text_in_a_member_entry_reads_back_as_written(value):
    """ruamel.yaml writes YAML 1.2 and the strict reader reads YAML 1.1: a value such as 'no' or
    '1:20' must still read back as that text, never a boolean or a number."""
    old = "communities:\n  a:\n    title: A\n"
    member = {"email": "x@example.org", "name": value, "organisation": value}
    new = yamledit.add_member(old, "a", member)
    assert yaml.safe_load(new)["communities"]["a"]["members"] == [member]
    assert new.startswith(old)


def test_a_keep_block_scalar_keeps_its_trailing_blank_lines():
    # The blank lines after a '|+' scalar are part of it: the approval goes after them.
    text = "---\nid: X\nsummary: |+\n  Une ligne.\n\n\n---\nLe texte.\n"
    new = yamledit.add_approval(text, APPROVAL)
    assert new.startswith("---\nid: X\nsummary: |+\n  Une ligne.\n\n\napprovals:\n  - community: energie\n")
    assert front_data(new)["summary"] == "Une ligne.\n\n\n"


def _key_of(fragment: str) -> str:
    """The key a fragment writes (duplicate keys are refused by the readers: draw each key once)."""
    return fragment.split(":")[0] if ":" in fragment else fragment


#: Fragments of front matter, hostile and ordinary: values continued on following lines at every
#: indentation, block scalars, comments at every column, flow collections over several lines.
FRAGMENTS = [
    "id: X", "title: 'Un titre'", 'summary: "Sur\ndeux lignes"', 'summary: "Sur\n  deux lignes"',
    "note: plain\n  continued", "note: plain\ncontinued: 1", "body: |\n  a\n\n  b", "body: |+\n  a\n\n",
    "body: >-\n  a\n  b", "# a comment", "  # an indented comment", "", "list:\n- a\n- b", "list:\n  - a\n  # c\n  - b",
    "flow: [a,\n  b]", "map: {a: 1,\n  b: 2}", "approvals: []", "approvals:", "approvals: ~",
    "approvals:\n- community: c\n  by: b@example.org\n  note: \"x\ny\"",
    "approvals:\n  - community: c\n    by: b@example.org\n  # after\n",
    "approvals:\n- {community: c,\n   by: b@example.org}", "key: value # comment", "'quoted key': 1", "? complex\n: 1",
]


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6, unique_by=_key_of),
       st.sampled_from(["\n", "\r\n"]))
def test_an_edit_of_any_front_matter_is_exact_or_refused(fragments, newline):
    """Whatever the layout, add_approval either refuses or returns the old text plus the approval's
    lines (the 'approvals' line itself may be rewritten), reading back as the old data plus it."""
    front = "\n".join(fragments)
    try:
        data = yaml.safe_load(front + "\n")
    except yaml.YAMLError:
        data = None
    assume(isinstance(data, dict))
    old = "---" + newline + (front + "\n").replace("\n", newline) + "---" + newline + "corps" + newline
    try:
        new = yamledit.add_approval(old, APPROVAL)
    except YamlEditError:
        event("refused")
        return
    event("edited")
    assert front_data(new) == dict(data, approvals=[*(data.get("approvals") or []), APPROVAL])
    old_lines, new_lines = split_kept(old), split_kept(new)
    extra = len(new_lines) - len(old_lines)
    kept = [k for k in range(len(new_lines) - extra + 1) if new_lines[:k] + new_lines[k + extra:] == old_lines]
    rewritten = [k for k in range(len(old_lines)) if old_lines[k].startswith("approvals:")
                 and new_lines[:k] == old_lines[:k] and new_lines[k + extra + 1:] == old_lines[k + 1:]]
    assert kept or rewritten


#: Fragments of one community's entry (at column 4), hostile and ordinary.
ENTRY_FRAGMENTS = [
    "title: A", "title: 'A: B'", 'title: "Sur\n deux lignes"', 'title: "Sur\ndeux lignes"', "# a comment",
    "  # deeper", "", "editors: [e@example.org]", "editors:\n- e@example.org", "description: |+\n  a\n\n",
    "description: >-\n  a\n  b", "members: []", "members:", "members:\n- email: m@example.org\n  name: M",
    "members:\n  - email: m@example.org\n    # note\n  - email: nouvelle@example.org\n    name: Old",
    "members: [{email: m@example.org}]", "members:\n- email: m@example.org\n  note: \"x\ny\"",
]


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ENTRY_FRAGMENTS), min_size=1, max_size=5, unique_by=_key_of), st.booleans(),
       st.sampled_from(["\n", "\r\n"]))
def test_an_edit_of_any_communities_file_is_exact_or_refused(fragments, another, newline):
    """Whatever the layout, add_member either refuses or returns a file that reads as the old data
    with exactly that member added or renewed, every line outside the community's entry kept."""
    entry = "\n".join("    " + line if line and not line.startswith(" ") else line
                      for fragment in fragments for line in fragment.split("\n"))
    tail = "\n  # the next community\n  b:\n    title: B\n" if another else ""
    body = "# header\ncommunities:\n  a:\n" + entry + "\n" + tail + "owner: o@example.org\n"
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError:
        data = None
    assume(isinstance(data, dict) and isinstance(data.get("communities"), dict)
           and isinstance(data["communities"].get("a"), dict))
    old = body.replace("\n", newline)
    try:
        new = yamledit.add_member(old, "a", NEWCOMER)
    except YamlEditError:
        event("refused")
        return
    event("edited")
    members = list(data["communities"]["a"].get("members") or [])
    known = [i for i, m in enumerate(members) if m.get("email") == NEWCOMER["email"]]
    if known:
        members[known[0]] = NEWCOMER
    else:
        members.append(NEWCOMER)
    data["communities"]["a"]["members"] = members
    assert yaml.safe_load(new) == data
    old_lines, new_lines = split_kept(old), split_kept(new)
    head = old_lines.index("  a:" + newline) + 1
    assert new_lines[:head] == old_lines[:head]
    rest = old_lines[old_lines.index("owner: o@example.org" + newline) - (4 if another else 0):]
    assert new_lines[-len(rest):] == rest


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ENTRY_FRAGMENTS), min_size=1, max_size=5, unique_by=_key_of), st.booleans(),
       st.sampled_from(["\n", "\r\n"]))
def test_removing_the_members_of_any_layout_is_exact_or_refused(fragments, another, newline):
    """Whatever the layout, remove_members either refuses or returns a file that reads as the old data
    without that community's members, every line before them and after the community kept."""
    entry = "\n".join("    " + line if line and not line.startswith(" ") else line
                      for fragment in fragments for line in fragment.split("\n"))
    tail = "\n  # the next community\n  b:\n    title: B\n" if another else ""
    body = "# header\ncommunities:\n  a:\n    title: A\n" + entry + "\n" + tail + "owner: o@example.org\n"
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError:
        data = None
    assume(isinstance(data, dict) and isinstance(data.get("communities"), dict)
           and isinstance(data["communities"].get("a"), dict))
    old = body.replace("\n", newline)
    try:
        new = yamledit.remove_members(old, "a")
    except YamlEditError:
        event("refused")
        return
    event("edited" if "members" in data["communities"]["a"] else "nothing to remove")
    data["communities"]["a"].pop("members", None)
    assert yaml.safe_load(new) == data
    old_lines, new_lines = split_kept(old), split_kept(new)
    assert [line for line in old_lines if line in new_lines] == new_lines  # only lines taken out
    head = old_lines.index("  a:" + newline) + 1
    assert new_lines[:head] == old_lines[:head]
    rest = old_lines[old_lines.index("owner: o@example.org" + newline) - (4 if another else 0):]
    assert new_lines[-len(rest):] == rest
