"""Figure 2's other server: the platform's WSGI application with the signed read's audit append skipped.

Benchmark-only. The production server for every other row is ``govplatform.wsgi`` under the bench
settings; this module differs from it in nothing but ``bench.noaudit.install()``.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
application = get_wsgi_application()

from bench.noaudit import install  # noqa: E402  (needs the apps loaded)

install()
