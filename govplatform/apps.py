from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovPlatformConfig(AppConfig):
    """The composition root. Its models moved to the registry; it keeps the migrations that say so."""

    name = "govplatform"
    verbose_name = _("Platform")
