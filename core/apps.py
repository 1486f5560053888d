from django.apps import AppConfig


class CoreConfig(AppConfig):
    """No models: errors, the platform key, crypto helpers, rendering, logging, and the keygen command."""

    name = "core"
    verbose_name = "Core"
