"""Run once per bench, after ``demo_setup``: print (JSON) what the load generator needs.

``python -m bench.prepare`` under the bench settings: the demo consumer's key id and key file, the
platform's public key, a DRF token for the TokenAuthentication baseline, and the record's expected
values (every sampled response is checked against them).
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

import django


def prepare_data() -> dict[str, Any]:
    """What the load generator needs; sets Django up (bench settings) if it is not yet."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from catalog.models import Record
    from core.keys import public_path
    from exchange.management.commands.demo_setup import DATASET_ID, DEMO_DIR_NAME, DEMO_RECORD_KEY
    from exchange.models import Grant
    from registry.models import SystemKey

    key = SystemKey.objects.filter(system__code="police-rms", revoked_at__isnull=True).order_by("-pk").first()
    if key is None:
        raise RuntimeError("demo_setup registered no key for police-rms")
    user, _ = get_user_model().objects.get_or_create(username="bench-token-user")
    token, _ = Token.objects.get_or_create(user=user)
    record = Record.objects.get(dataset__identifier=DATASET_ID, key=DEMO_RECORD_KEY)
    # The load reads one record far more often than the demo grant's daily quota allows: a quota no run can
    # reach keeps every read served while its counting (one UPDATE per read) is measured as it really costs.
    Grant.objects.filter(consumer__code="police-rms", dataset__identifier=DATASET_ID).update(daily_quota=10**9)
    fields = ["vaccine", "dose_date"]  # the demo's approved grant covers exactly these
    return {
        "key_id": key.key_id,
        "key_file": str(Path(settings.DATA_DIR) / DEMO_DIR_NAME / "police-rms.pem"),
        "platform_public_key": str(public_path(Path(settings.PLATFORM_SIGNING_KEY_FILE))),
        "token": token.key,
        "dataset": DATASET_ID,
        "record_key": DEMO_RECORD_KEY,
        "fields": fields,
        "expected": {name: record.data.get(name) for name in fields},
    }


def main() -> int:
    json.dump(prepare_data(), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
