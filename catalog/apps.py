from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalogue")

    def ready(self) -> None:
        from registry.versions import bump_on_change

        from .models import Dataset, Field

        bump_on_change(Dataset, Field)  # what the signed exchange keeps in memory
