"""Removing an approval from a cable's front matter (``approve --revoke``): exactly that entry's lines
go, every other byte stays, in every layout people write (the generators of test_yamledit.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_yamledit import APPROVAL, dress, front_data, front_matter, split_kept

from pipeline import yamledit
from pipeline.yamledit import YamlEditError

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


@SETTINGS
@given(front_matter(), st.sampled_from(["\n", "\r\n"]), st.booleans(), st.data())
def test_an_approval_is_removed_and_every_other_byte_is_kept(fm, newline, bom, data):
    lines, expected, kind = fm
    old = dress(["---", *lines, "---", "Le texte é 中", "---", "fin"], newline, bom)
    if kind != "block":
        with pytest.raises(YamlEditError):
            yamledit.remove_approval(old, 0)
        return
    count = len(expected["approvals"])
    index = data.draw(st.integers(0, count - 1))
    new = yamledit.remove_approval(old, index)
    assert new.startswith("\ufeff") == bom
    kept = [a for n, a in enumerate(expected["approvals"]) if n != index]
    assert front_data(new) == dict(expected, approvals=kept)
    old_lines, new_lines = split_kept(old), split_kept(new)
    if count > 1:  # the entry's lines are taken out, nothing else changes
        removed = len(old_lines) - len(new_lines)
        assert removed >= 1
        assert any(old_lines[:k] + old_lines[k + removed:] == new_lines for k in range(len(new_lines) + 1))
    else:  # the one entry goes and the list is written empty, its end-of-line comment kept
        at = next(i for i, line in enumerate(old_lines) if line.startswith("approvals:"))
        comment = old_lines[at].rstrip("\r\n").partition("#")[2]
        assert new_lines[at] == "approvals: []" + (f"  #{comment}" if comment else "") + newline
        assert new_lines[:at] == old_lines[:at]


@SETTINGS
@given(front_matter(), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_revoking_the_approval_just_added_to_a_list_gives_back_the_file(fm, newline, bom):
    lines, expected, kind = fm
    if kind != "block":
        return
    old = dress(["---", *lines, "---", "Le texte.", ""], newline, bom)
    added = yamledit.add_approval(old, APPROVAL)
    assert yamledit.remove_approval(added, len(expected["approvals"])) == old


def test_remove_approvals_takes_out_only_the_matching_entries():
    text = ("---\nid: X\napprovals:\n  - community: a\n    by: x@example.org\n    date: 2026-01-01T00:00:00Z\n"
            "    digest: sha256:1\n  - community: a\n    by: y@example.org\n    date: 2026-01-02T00:00:00Z\n"
            "    digest: sha256:2\n  - community: b\n    by: x@example.org\n    date: 2026-01-03T00:00:00Z\n"
            "    digest: sha256:3\n---\nbody\n")
    new, count = yamledit.remove_approvals(text, lambda e: e["community"] == "a" and e["by"] == "x@example.org")
    assert count == 1
    assert front_data(new)["approvals"] == [a for a in front_data(text)["approvals"] if a["by"] != "x@example.org"
                                            or a["community"] != "a"]
    assert yamledit.remove_approvals(text, lambda e: False) == (text, 0)


def test_a_flow_style_list_is_refused_with_nothing_changed():
    text = "---\nid: X\napprovals: [{community: a, by: x@example.org, date: 2026-01-01, digest: d}]\n---\nb\n"
    with pytest.raises(YamlEditError, match="flow style"):
        yamledit.remove_approval(text, 0)
