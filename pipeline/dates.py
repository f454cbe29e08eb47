"""Dates and date-times, bounded: every one the pipeline reads lies between 1900 and 2200.

Python's dates stop at years 1 and 9999, and converting 9999-12-31T23:59:59-14:00 to UTC overflows:
an out-of-range value typed in a cable, in ``communities.yaml`` or on the command line would crash
``check`` or ``publish`` (and a crash before ``members.json`` is written keeps a removed member in).
So every value is checked against these bounds on its own fields *before* any arithmetic, and a value
outside them is a finding (E204) or a usage error, never a traceback. No real cable, embargo, approval
or membership lies outside 1900–2200.
"""

from __future__ import annotations

import datetime as dt

from pipeline.messages import _

MIN_YEAR = 1900
MAX_YEAR = 2200


def hint() -> str:
    """What every out-of-range finding and error says to do, in the run's language."""
    return _("check the year: every date lies between {low} and {high} (e.g. 2026-03-14)").format(
        low=MIN_YEAR, high=MAX_YEAR)


class DateError(ValueError):
    """A date or date-time that cannot be read or lies outside the bounds; the message says which."""


class OutOfBounds(DateError):
    """A date whose year lies outside the bounds (a typo in the year, most likely)."""


def in_bounds(value: dt.date) -> bool:
    """Whether the value's own year (before any time-zone conversion) is within the bounds."""
    return MIN_YEAR <= value.year <= MAX_YEAR


def bounded_date(value: dt.date, what: str) -> dt.date:
    """``value`` itself, or :class:`DateError` when its year is out of bounds."""
    if not in_bounds(value):
        raise OutOfBounds(_("{what} {value} lies outside the years {low}–{high}").format(
            what=what, value=value.isoformat(), low=MIN_YEAR, high=MAX_YEAR).lstrip())
    return value


def to_utc(value: dt.datetime, what: str, *, naive_is_utc: bool = True) -> dt.datetime:
    """The aware date-time in UTC. The year is checked first, so the conversion cannot overflow
    (the bounds are centuries inside Python's range; an offset moves a value by less than a day)."""
    bounded_date(value, what)
    if value.tzinfo is None or value.utcoffset() is None:
        if not naive_is_utc:
            raise DateError(_("{what} {value} has no time zone").format(what=what, value=value.isoformat()).lstrip())
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def parse_moment(text: str, what: str = "") -> dt.datetime:
    """An ISO date (meaning the end of that day, UTC) or date-time (naive means UTC), in UTC.

    What the command-line options ``--at`` and ``--now`` take."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = bounded_date(dt.date.fromisoformat(text), what)
            return dt.datetime.combine(day, dt.time.max, dt.UTC)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except DateError:
        raise
    except (ValueError, OverflowError):
        raise DateError(_("{what} {text!r} is not an ISO date (2026-03-14) or date-time (2026-03-14T09:00:00+01:00)")
                        .format(what=what, text=text).lstrip()) from None
    return to_utc(moment, what)
