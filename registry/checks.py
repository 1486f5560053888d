"""System checks of the registry's security settings."""

from typing import Any

from django.conf import settings
from django.core.checks import Warning as CheckWarning


def second_factor_check(app_configs: Any = None, **kwargs: Any) -> list[CheckWarning]:
    """Say so, at every start, when the second factor is switched off (a demo; never production)."""
    if settings.TWO_FACTOR_REQUIRED:
        return []
    return [CheckWarning(
        "TWO_FACTOR_REQUIRED is off: approvers, auditors, department admins and the platform roles sign in with a "
        "password alone. Acceptable for a demo on one's own machine, never for real data.",
        hint="Unset TWO_FACTOR_REQUIRED (it is on by default) or set it to on.",
        id="registry.W001",
    )]
