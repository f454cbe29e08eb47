"""Every date and date-time is bounded (years 1900–2200): outside, a clear E204 with a hint (or a usage
error on the command line), never a traceback — in check, plan, build and publish alike.

The class: any year Python or YAML can write (0 to 9999), any offset YAML accepts (up to ±99 hours),
dates at and just past the bounds, in every place a date is read: a cable's date, embargo and
approvals' dates, a community's from/until and members' expires, and the --at/--now options.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from contentrepo import COMMUNITIES, cable_text, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import cables, communities, dates
from pipeline.cli import main
from pipeline.findings import Findings

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

years = st.one_of(st.integers(0, 9999), st.sampled_from([0, 1, 1899, 1900, 2200, 2201, 9999]))
offsets = st.one_of(st.just("Z"), st.just(""), st.builds(
    lambda sign, hours, minutes: f"{sign}{hours:02d}:{minutes:02d}",
    st.sampled_from("+-"), st.one_of(st.integers(0, 23), st.sampled_from([14, 23, 24, 99])),
    st.sampled_from([0, 30, 59])))


@st.composite
def yaml_dates(draw) -> tuple[str, int]:
    year = draw(years)
    return f"{year:04d}-{draw(st.integers(1, 12)):02d}-{draw(st.integers(1, 28)):02d}", year


@st.composite
def yaml_datetimes(draw) -> tuple[str, int, str]:
    day, year = draw(yaml_dates())
    offset = draw(offsets)
    return f"{day}T{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:59{offset}", year, offset


def in_bounds(year: int) -> bool:
    return dates.MIN_YEAR <= year <= dates.MAX_YEAR


def readable_offset(offset: str) -> bool:
    return offset in ("Z", "") or int(offset[1:3]) < 24


def codes(found: Findings) -> list[str]:
    return [f.code for f in found]


def parse_cable(text: str) -> tuple[cables.Cable | None, Findings]:
    found = Findings()
    return cables.parse("content/2026/2026-BERLIN-0001.md", text.encode(), found), found


def with_line(key: str, line: str) -> str:
    text = cable_text("2026-BERLIN-0001")
    front, body = text.removeprefix("---\n").split("\n---\n", 1)
    kept = [x for x in front.split("\n") if not x.startswith(f"{key}:")]
    return "---\n" + "\n".join([*kept, line]) + "\n---\n" + body


def key_line(text: str, key: str) -> int:
    return text.split("\n").index(next(x for x in text.split("\n") if x.startswith(f"{key}:"))) + 1


@SETTINGS
@given(yaml_dates())
def test_a_cable_date_outside_the_bounds_is_e204_inside_it_is_read(value):
    text, year = value
    source = with_line("date", f"date: {text}")
    cable, found = parse_cable(source)
    if year and in_bounds(year):
        assert codes(found) == [] and cable.date.isoformat() == text
    else:
        [finding] = [f for f in found if f.code == "E204"]
        assert finding.line == key_line(source, "date") and ("1900" in finding.hint or "1900" in finding.message)
        assert not cable.valid


@SETTINGS
@given(yaml_datetimes())
def test_an_embargo_outside_the_bounds_is_e204_and_holds_the_cable_for_ever(value):
    text, year, offset = value
    cable, found = parse_cable(with_line("embargo", f"embargo: {text}"))
    if year and in_bounds(year) and offset and readable_offset(offset):
        assert codes(found) == []
        assert cable.embargo.tzinfo is dt.UTC
    else:
        assert "E204" in codes(found), (text, [str(f) for f in found])
        assert not cable.valid and (cable.embargo is None or cable.embargo >= cables.FOREVER)


@SETTINGS
@given(yaml_datetimes())
def test_an_approval_date_outside_the_bounds_is_e204(value):
    text, year, offset = value
    approval = ("approvals:\n  - community: energie\n    by: redaction@diplomatie.gouv.fr\n"
                f"    date: {text}\n    digest: sha256:" + "0" * 64)
    source = with_line("approvals", approval)
    cable, found = parse_cable(source)
    if year and in_bounds(year) and readable_offset(offset):
        assert codes(found) == [] and len(cable.approvals) == 1
    else:
        [finding] = [f for f in found if f.code == "E204"]
        assert finding.line == key_line(source, "approvals") + 3 and cable.approvals == ()


@SETTINGS
@given(st.sampled_from(["from", "until", "expires"]), yaml_dates())
def test_community_dates_outside_the_bounds_are_e204(key, value):
    import yaml

    text, year = value
    source = yaml.safe_dump(COMMUNITIES, allow_unicode=True, sort_keys=False)
    if key == "expires":
        source = source.replace("expires: 2099-06-30", f"expires: {text}")
    else:
        source = source.replace("subjects:\n      - energie\n", f"subjects:\n      - energie\n      {key}: {text}\n")
    assert text in source
    found = Findings()
    parsed = communities.parse(source.encode(), found)
    assert "energie" in parsed
    if year and in_bounds(year):
        assert codes(found) == [f for f in codes(found) if f == "W605"]
    else:
        assert "E204" in codes(found)
        if key == "expires":  # fail closed: an unreadable expiry is no membership at all
            assert parsed["energie"].members == ()


@SETTINGS
@given(st.one_of(yaml_datetimes().map(lambda v: v[0]), yaml_dates().map(lambda v: v[0]),
                 st.text(max_size=30)))
def test_the_now_and_at_options_refuse_out_of_range_values_with_a_usage_error(value):
    try:
        moment = dates.parse_moment(value)
    except dates.DateError as exc:
        assert str(exc)
        return
    assert moment.tzinfo is dt.UTC and dates.MIN_YEAR <= moment.year <= dates.MAX_YEAR + 1


# --- through the commands -------------------------------------------------------------------------

EXTREMES = {
    "embargo": "embargo: 9999-12-31T23:59:59-14:00",
    "embargo, early": "embargo: 0001-01-01T00:00:00+14:00",
    "date": "date: 0001-01-01",
    "date, zero": "date: 0000-01-01",
    "approval": ("approvals:\n  - community: energie\n    by: redaction@diplomatie.gouv.fr\n"
                 "    date: 9999-12-31T23:59:59-14:00\n    digest: sha256:" + "0" * 64),
}


@pytest.mark.parametrize("kind", sorted(EXTREMES))
def test_check_plan_and_build_report_an_extreme_date_and_go_on(tmp_path, kind):
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0002", "Un autre télégramme.\n")
    repo.approve("2026-BERLIN-0002", "energie")
    key = EXTREMES[kind].split(":", 1)[0]
    repo.write("content/2026/2026-BERLIN-0001.md", with_line(key, EXTREMES[kind]))
    repo.commit("an extreme date")
    check = repo.run("check", "--format", "json")
    assert check.code == 1
    assert "E204" in {f["code"] for f in json.loads(check.stdout)["findings"]}
    plan = repo.run("plan", "--format", "json")
    assert plan.code == 0
    energie = json.loads(plan.stdout)["communities"]["energie"]
    assert energie["publish"] == ["2026-BERLIN-0002"]
    assert {"id": "2026-BERLIN-0001", "reason": "invalid (see diplomatie check)"} in energie["held"]
    build = repo.run("build", "--out", str(tmp_path / "site"), "--community", "energie")
    assert build.code == 0 and "Traceback" not in build.output


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31",
                                   "0001-01-01", "2201-01-01", "1899-12-31T23:59:59Z", "demain"])
@pytest.mark.parametrize("command", [["plan", "--now"], ["build", "--at"], ["publish", "--at"]])
def test_out_of_range_options_are_usage_errors(tmp_path, command, value):
    repo = make_repo(tmp_path / "repo")
    repo.commit("empty")
    result = CliRunner().invoke(main, [*command, value, "--root", str(repo.root)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert command[1] in result.output and "Traceback" not in result.output
    if value != "demain":
        assert "outside the years 1900–2200" in result.output


@pytest.fixture(scope="module")
def small_repo(tmp_path_factory):
    repo = make_repo(tmp_path_factory.mktemp("dates") / "repo")
    repo.cable("2026-BERLIN-0001")
    repo.commit("one cable")
    return repo


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(yaml_datetimes())
def test_plan_now_takes_any_date_time_in_the_bounds_and_refuses_the_others(small_repo, value):
    text, year, offset = value
    result = CliRunner().invoke(main, ["plan", "--now", text, "--root", str(small_repo.root)],
                                catch_exceptions=False)
    readable = year and readable_offset(offset)
    if readable and in_bounds(year):
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2 and "--now" in result.output, result.output
