from django.apps import AppConfig


class GovPlatformConfig(AppConfig):
    """The composition root. Its models moved to the registry; it keeps the migrations that say so."""

    name = "govplatform"
    verbose_name = "Platform"
