from django.apps import AppConfig


class GovPlatformConfig(AppConfig):
    name = "govplatform"
    verbose_name = "Registry: departments, people, systems"
