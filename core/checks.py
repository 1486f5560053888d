"""System checks of the model-free helpers."""

from typing import Any

from django.core.checks import Warning as CheckWarning

from .workdays import today, year_known


def working_calendar_check(app_configs: Any = None, **kwargs: Any) -> list[CheckWarning]:
    """Warn while this year or the next has no official holiday schedule in the installed calendar."""
    this_year = today().year
    missing = [year for year in (this_year, this_year + 1) if not year_known(year)]
    if not missing:
        return []
    return [CheckWarning(
        f"The installed chinesecalendar has no holiday schedule for {', '.join(map(str, missing))}: deadlines "
        "in those years count Monday to Friday as working days, without public holidays or make-up working days.",
        hint="Upgrade chinesecalendar (requirements.lock) once the State Council has published the schedule.",
        id="core.W001",
    )]
