"""core.workdays: working days in China (public holidays and make-up working days, 调休) and the fallback for a year
the installed calendar does not know; core.checks warns while such a year is near.

The 2026 schedule (国办发明电〔2025〕7号), as the chinesecalendar package carries it and as the first tests check:
Spring Festival Feb 15-23 off, Saturdays Feb 14 and Feb 28 worked; Mid-Autumn Festival Sep 25-27 off; National Day
Oct 1-7 off, Sunday Sep 20 and Saturday Oct 10 worked.
"""

import datetime as dt
from typing import Any

import chinese_calendar
import pytest
from django.core.checks import run_checks

from core import checks
from core.checks import working_calendar_check
from core.workdays import is_working_day, working_day_add, working_days_between, year_known

D = dt.date
NATIONAL_DAY_2026 = [D(2026, 10, day) for day in range(1, 8)]
SPRING_FESTIVAL_2026 = [D(2026, 2, day) for day in range(15, 24)]
MAKE_UP_DAYS_2026 = [D(2026, 2, 14), D(2026, 2, 28), D(2026, 9, 20), D(2026, 10, 10)]
#: A year no release of the package will know: its calendar starts in 2004 and adds one year at a time.
UNKNOWN_YEAR = 2100


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]


# --- The calendar is China's, as the package publishes it ---

def test_the_2026_holidays_and_make_up_days_are_the_state_councils() -> None:
    for day in NATIONAL_DAY_2026:
        assert chinese_calendar.get_holiday_detail(day) == (True, "National Day")
        assert not is_working_day(day)
    for day in SPRING_FESTIVAL_2026:
        assert chinese_calendar.get_holiday_detail(day) == (True, "Spring Festival")
        assert not is_working_day(day)
    for day in MAKE_UP_DAYS_2026:
        assert day.weekday() >= 5, "a make-up working day is a Saturday or a Sunday"
        assert chinese_calendar.get_holiday_detail(day)[0] is False
        assert is_working_day(day)
    assert not is_working_day(D(2026, 10, 11))  # the Sunday after the make-up Saturday is off as usual


def test_it_agrees_with_the_package_on_every_day_of_2026() -> None:
    for day in days(D(2026, 1, 1), D(2026, 12, 31)):
        assert is_working_day(day) == chinese_calendar.is_workday(day), day


# --- Deadlines ---

def test_a_request_filed_on_30_september_2026_is_due_on_20_october() -> None:
    """Filed on Wednesday 30 September with 10 working days: 1-7 October are the National Day holiday, so the days
    counted are Thu 8 (1), Fri 9 (2), the make-up Saturday 10 (3), Mon 12 to Fri 16 (4-8), Mon 19 (9) and Tue 20
    (10). Counting Monday to Friday only it would be 14 October, in the middle of the real count."""
    assert working_day_add(D(2026, 9, 30), 10) == D(2026, 10, 20)
    counted = [day for day in days(D(2026, 10, 1), D(2026, 10, 20)) if is_working_day(day)]
    assert counted == [D(2026, 10, 8), D(2026, 10, 9), D(2026, 10, 10), *days(D(2026, 10, 12), D(2026, 10, 16)),
                       D(2026, 10, 19), D(2026, 10, 20)]


def test_the_make_up_saturday_counts_as_a_working_day() -> None:
    assert working_day_add(D(2026, 10, 9), 1) == D(2026, 10, 10)  # Friday -> the make-up Saturday
    assert working_day_add(D(2026, 10, 10), 1) == D(2026, 10, 12)  # the Sunday after it is off
    assert working_day_add(D(2026, 9, 19), 1) == D(2026, 9, 20)  # the make-up Sunday before the holidays


def test_a_day_filed_on_a_holiday_counts_from_the_first_working_day_after_it() -> None:
    assert working_day_add(D(2026, 10, 3), 1) == D(2026, 10, 8)
    assert working_day_add(D(2026, 9, 26), 1) == D(2026, 9, 28)  # the Mid-Autumn Festival, Sep 25-27


def test_the_spring_festival_2026_is_skipped_and_its_two_make_up_saturdays_count() -> None:
    """Filed on Thursday 12 February: Fri 13 (1), the make-up Saturday 14 (2), then the holiday 15-23, Tue 24 to
    Fri 27 (3-6), the make-up Saturday 28 (7), Mon 2 to Wed 4 March (8-10)."""
    assert working_day_add(D(2026, 2, 12), 10) == D(2026, 3, 4)
    assert working_day_add(D(2026, 2, 13), 1) == D(2026, 2, 14)
    assert working_day_add(D(2026, 2, 14), 1) == D(2026, 2, 24)


def test_zero_working_days_is_the_day_itself_and_a_negative_count_is_refused() -> None:
    assert working_day_add(D(2026, 10, 3), 0) == D(2026, 10, 3)
    with pytest.raises(ValueError, match="negative"):
        working_day_add(D(2026, 10, 3), -1)


# --- Counting working days between two dates ---

def test_working_days_between_counts_forwards_and_backwards() -> None:
    assert working_days_between(D(2026, 9, 30), D(2026, 10, 20)) == 10
    assert working_days_between(D(2026, 10, 20), D(2026, 9, 30)) == -10
    assert working_days_between(D(2026, 10, 9), D(2026, 10, 12)) == 2  # Sat 10 (make-up) and Mon 12
    assert working_days_between(D(2026, 9, 29), D(2026, 10, 8)) == 2  # Wed 30 and Thu 8
    assert working_days_between(D(2026, 10, 8), D(2026, 9, 29)) == -2


def test_there_are_no_working_days_within_a_holiday_and_none_between_a_day_and_itself() -> None:
    assert working_days_between(D(2026, 10, 1), D(2026, 10, 7)) == 0
    assert working_days_between(D(2026, 10, 7), D(2026, 10, 1)) == 0
    assert working_days_between(D(2026, 10, 8), D(2026, 10, 8)) == 0


def test_counting_undoes_adding_from_every_day_of_autumn_2026() -> None:
    for start in days(D(2026, 9, 1), D(2026, 10, 31)):
        for count in (1, 2, 10):
            end = working_day_add(start, count)
            assert is_working_day(end)
            assert working_days_between(start, end) == count
            assert working_days_between(end, start) == -count


# --- A year the installed package does not know: Monday to Friday ---

def test_a_year_the_package_does_not_know_counts_monday_to_friday() -> None:
    assert not year_known(UNKNOWN_YEAR)
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(UNKNOWN_YEAR, 1, 1))
    week = days(D(UNKNOWN_YEAR, 9, 27), D(UNKNOWN_YEAR, 10, 3))  # Monday 27 September to Sunday 3 October
    assert [is_working_day(day) for day in week] == [True] * 5 + [False] * 2
    # Thursday 30 September: Fri 1 October (no National Day off) to Thu 14 October, ten weekdays.
    assert working_day_add(D(UNKNOWN_YEAR, 9, 30), 10) == D(UNKNOWN_YEAR, 10, 14)
    assert working_days_between(D(UNKNOWN_YEAR, 9, 30), D(UNKNOWN_YEAR, 10, 4)) == 2  # Fri 1 and Mon 4


def test_the_years_the_package_knows_include_this_one_and_its_first() -> None:
    assert year_known(2004) and year_known(2026)
    assert not year_known(2003)


# --- The system check ---

def last_known_year() -> int:
    year = 2026
    while year_known(year + 1):
        year += 1
    return year


def test_the_check_warns_for_the_next_year_when_the_calendar_ends_this_year(monkeypatch: Any) -> None:
    last = last_known_year()
    monkeypatch.setattr(checks, "today", lambda: D(last, 6, 1))
    [warning] = working_calendar_check()
    assert warning.id == "core.W001"
    assert str(last + 1) in warning.msg and str(last) + "," not in warning.msg
    assert "Monday to Friday" in warning.msg
    assert "Upgrade chinesecalendar" in str(warning.hint)


def test_the_check_names_both_years_when_neither_is_known(monkeypatch: Any) -> None:
    monkeypatch.setattr(checks, "today", lambda: D(UNKNOWN_YEAR - 1, 6, 1))
    [warning] = working_calendar_check()
    assert f"{UNKNOWN_YEAR - 1}, {UNKNOWN_YEAR}" in warning.msg


def test_the_check_is_quiet_while_this_year_and_the_next_are_known(monkeypatch: Any) -> None:
    monkeypatch.setattr(checks, "today", lambda: D(2025, 6, 1))
    assert working_calendar_check() == []


def test_the_check_is_registered_with_django(monkeypatch: Any) -> None:
    monkeypatch.setattr(checks, "today", lambda: D(UNKNOWN_YEAR, 1, 1))
    assert "core.W001" in [message.id for message in run_checks()]
    monkeypatch.setattr(checks, "today", lambda: D(2025, 6, 1))
    assert "core.W001" not in [message.id for message in run_checks()]
