"""The platform package (the design card's ``platform/``): settings, urls, Celery, the registry of
departments, people, systems and keys, and shared plumbing (errors, RFC 9421, JSON rendering)."""

from .celery_app import app as celery_app

__all__ = ["celery_app"]
