"""``runserver`` with the raw request-target passed on (``govplatform.rawuri``), serving static files as
django.contrib.staticfiles' own does (this app is listed before it, so this command wins)."""

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserver

from govplatform.rawuri import RawURIWSGIServer


class Command(StaticfilesRunserver):
    server_cls = RawURIWSGIServer
