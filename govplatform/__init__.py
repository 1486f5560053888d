"""The composition root (the design card's ``platform/``): settings, urls, the Celery app, wsgi/asgi and
the platform-level views (health, the platform key). It names the apps; no app imports it."""

from .celery_app import app as celery_app

__all__ = ["celery_app"]
