from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "exchange"
    verbose_name = _("Exchange")

    def ready(self) -> None:
        from registry.versions import bump_on_change

        from .models import Grant

        bump_on_change(Grant)  # what the signed exchange keeps in memory

        from catalog.signals import version_published

        from .services import grants_suspend_for_version

        version_published.connect(grants_suspend_for_version, dispatch_uid="exchange.grants_suspend_for_version")
