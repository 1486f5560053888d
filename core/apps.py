from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """No models: errors, the platform key, crypto helpers, rendering, logging, and the keygen command."""

    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.core.checks import register

        from .checks import working_calendar_check

        register(working_calendar_check)
