"""The Celery application. Configured from Django settings (``CELERY_*``); eager without REDIS_URL."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govplatform.settings")

app = Celery("govplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
