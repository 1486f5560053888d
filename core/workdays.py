"""Working days (工作日) in China: the State Council's public holidays and make-up working days (调休).

The calendar comes from the ``chinesecalendar`` package, which carries each year's official schedule
(国务院办公厅关于节假日安排的通知) once it is published. A year the installed package does not know yet
counts Monday to Friday as working days, and the system check ``core.W001`` says so until the package
is upgraded: a deadline is never refused for want of a calendar, and nobody is told it is exact when
it is not.
"""

import datetime as dt
import functools

import chinese_calendar
from django.utils import timezone


@functools.cache
def year_known(year: int) -> bool:
    """Whether the installed calendar holds the official holiday schedule of ``year``."""
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def is_working_day(day: dt.date) -> bool:
    """A working day: a weekday that is not a public holiday, or a weekend day made a working day (调休)."""
    if year_known(day.year):
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def working_day_add(start: dt.date, days: int) -> dt.date:
    """The ``days``-th working day after ``start`` (``start`` itself not counted): a deadline of 10 working
    days for a request filed on ``start``. ``days`` = 0 is ``start``."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    while days:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            days -= 1
    return day


def working_day_latest(day: dt.date) -> dt.date:
    """The latest working day on or before ``day``: ``day`` itself on a working day, else the one before."""
    while not is_working_day(day):
        day -= dt.timedelta(days=1)
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """How many working days lie after ``start`` up to and including ``end``; negative (the working days
    after ``end`` up to ``start``) when ``end`` is before ``start``. 0 means the same day, or none between."""
    if end < start:
        return -working_days_between(end, start)
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        count += is_working_day(day)
    return count


def today() -> dt.date:
    """Today in the platform's time zone (TIME_ZONE, Asia/Shanghai by default): deadlines are local dates."""
    return timezone.localdate()
