"""docs/check-codes.md: every check code is in its table, and every bad and fixed example there does what
the table says, on a real repository: the bad line makes `check` report the code, the fixed line
makes it go away and leaves no error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from contentrepo import make_repo

from pipeline.findings import CODES

DOC = Path(__file__).resolve().parent.parent / "docs" / "check-codes.md"
CABLE = "content/2026/2026-BERLIN-0001.md"

#: Codes whose example is not a line of text; tests/test_check.py and test_signatures.py cover them.
DESCRIBED = {"E101", "E102", "E103", "E208", "E403", "W601", "W604"}

_ROW = re.compile(r"^\| ([EW]\d{3}) \| ([^|]*) \| ([^|]*) \| ([^|]*) \| ([^|]*) \|$")
_KEY = re.compile(r"^([a-z_]+):")


def rows() -> dict[str, tuple[str, str, str]]:
    """code -> (in, bad, fixed) as the table writes them."""
    found = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            code, _meaning, where, bad, fixed = (cell.strip() for cell in match.groups())
            found[code] = (where, bad, fixed)
    return found


def lines(cell: str) -> list[str] | None:
    """The lines of an example cell (`…` segments, one per <br>), or None for `—` (no line)."""
    if cell == "—" or cell.startswith("— "):
        return None
    return [re.search(r"`([^`]*)`", part).group(1) for part in cell.split("<br>")]


def path_of(where: str) -> str:
    return CABLE if where == "cable" else where.strip("`")


def apply(text: str, replaced: str, new: list[str] | None) -> str:
    """``text`` with the line ``replaced`` names (by its key, or as a whole line) replaced by ``new``
    (None: deleted); when no line matches, added: a key at the end of a cable's front matter, anything
    else at the end of the file."""
    out = text.split("\n")
    key = _KEY.match(replaced)
    for index, line in enumerate(out):
        stripped = line.strip()
        if (key and stripped.startswith(key.group(0))) or (not key and stripped == replaced):
            indent = line[:len(line) - len(line.lstrip())]
            out[index:index + 1] = [indent + item for item in new or []]
            return "\n".join(out)
    if key and out[0] == "---" and "---" in out[1:]:
        closing = out.index("---", 1)
        return "\n".join(out[:closing] + list(new or []) + out[closing:])
    return "\n".join(out).rstrip("\n") + "\n" + "".join(f"{item}\n" for item in new or [])


def test_every_code_has_a_row_and_every_row_an_example_or_a_description():
    table = rows()
    assert set(table) == set(CODES)
    examples = {code for code, (_where, bad, fixed) in table.items() if "`" in bad or "`" in fixed}
    assert set(CODES) - DESCRIBED <= examples


EXAMPLES = sorted(set(CODES) - DESCRIBED)


@pytest.mark.parametrize("code", EXAMPLES)
def test_the_bad_example_is_reported_and_the_fixed_one_is_not(tmp_path, code):
    where, bad, fixed = rows()[code]
    bad_lines, fixed_lines = lines(bad), lines(fixed)
    located = (fixed_lines or bad_lines)[0]  # the line of the clean file the example replaces
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001")
    path = repo.root / path_of(where)
    clean = path.read_text(encoding="utf-8") if path.exists() else None

    def findings(example: list[str] | None) -> list[dict]:
        if clean is None and example is None:
            path.unlink(missing_ok=True)  # a file the clean repository does not have, and the fix is none
        else:
            repo.write(path_of(where), apply(clean or "", located, example))
        return json.loads(repo.run("check", "--format", "json").stdout)["findings"]

    before, after = findings(bad_lines), findings(fixed_lines)
    count = sum(f["code"] == code for f in before)
    assert count > sum(f["code"] == code for f in after), (code, before)
    assert not [f for f in after if f["severity"] == "error"], (code, after)
