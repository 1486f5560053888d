import os
import sys

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovPlatformConfig(AppConfig):
    """The composition root. Its models moved to the registry; it keeps the migrations that say so."""

    name = "govplatform"
    verbose_name = _("Platform")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .middleware import session_stamp

        user_logged_in.connect(session_stamp, dispatch_uid="govplatform.session_stamp", weak=False)

        # The embedded default's periodic work (no broker, no beat process): in runserver's serving process only.
        from .embedded_beat import start_if_serving

        start_if_serving(sys.argv, os.environ)
