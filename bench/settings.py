"""The benchmark's settings: the platform's own, plus the baselines' views and DRF's token table.

Only ``make bench`` uses this module. Everything the signed read depends on (database, Redis,
middleware, keys) is the platform's settings unchanged, so the baselines run in the same stack.
"""

from govplatform.settings import *  # noqa: F403  (the platform's settings, unchanged)
from govplatform.settings import INSTALLED_APPS

ROOT_URLCONF = "bench.urls"
# The TokenAuthentication baseline needs DRF's token table (migrated into the bench database only).
INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework.authtoken"]
