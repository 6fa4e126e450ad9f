"""Working days (工作日) as China's State Council sets them each year: weekends off, the official
holidays off, and the make-up days (调休) worked, from the ``chinese-calendar`` package.

The package knows the years whose schedule has been announced (each December for the next year).
For a later year the count falls back to Monday to Friday and says so, so that staff check the date.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar


def is_working_day(day: dt.date) -> bool | None:
    """Whether ``day`` is a working day; None when its year's schedule is not known yet."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


def add_working_days(start: dt.date, n: int) -> tuple[dt.date, bool]:
    """The ``n``-th working day after ``start`` (not counting ``start`` itself), and whether every
    day counted came from the official schedule (False: some were counted as Monday to Friday)."""
    day, left, known = start, n, True
    while left > 0:
        day += dt.timedelta(days=1)
        working = is_working_day(day)
        if working is None:
            known, working = False, day.weekday() < 5
        left -= working
    return day, known
