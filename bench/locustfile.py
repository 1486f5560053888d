"""The load run's traffic (``make bench-load``, bench/load_run.py): consumer systems calling the signed
exchange, paced with Locust, in a mix of good, refused and unsigned requests.

- good (70 %): a signed read of the demo record, fields the grant covers: 200, signed, with a receipt;
- refused (15 %): signed, but asking for a field the grant does not cover: 403 ``field_not_granted``;
- unsigned (15 %): no signature at all: 401.

Every answer is tallied by kind, status and error code, and the audit event named by each good answer's
receipt (``Audit-Event``) is kept; at the end both are written as JSON to ``BENCH_LOAD_REPORT`` for
load_run.py to judge (every 2xx must have its committed event, and no event may exist for a read not
served). Settings come from the environment load_run.py sets.
"""

import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from locust import HttpUser, constant_throughput, events, task

from exchange import client

KEY = client.load_private_key(Path(os.environ["BENCH_KEY_FILE"]))
KEY_ID = os.environ["BENCH_KEY_ID"]
PATH = os.environ["BENCH_RECORD_PATH"]  # /api/v1/datasets/<id>/records/<key>
GOOD, REFUSED = os.environ["BENCH_GOOD_FIELDS"], os.environ["BENCH_REFUSED_FIELDS"]
PER_USER = float(os.environ["BENCH_RATE_PER_USER"])  # requests per second per simulated system

_tally: Counter[str] = Counter()
_served_events: list[str] = []
_lock = threading.Lock()


def _count(kind: str, status: int, body: bytes, event: str = "") -> None:
    code = ""
    if status >= 400:
        try:
            code = json.loads(body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = "not-json"
    with _lock:
        _tally[f"{kind} {status} {code}".strip()] += 1
        if 200 <= status < 300:
            _served_events.append(event)


class ConsumerSystem(HttpUser):
    wait_time = constant_throughput(PER_USER)

    def _signed_get(self, kind: str, fields: str, expected: int) -> None:
        path = f"{PATH}?fields={fields}"
        headers = client.sign_request(client.Message("GET", f"{self.host}{path}", {"Accept": "application/json"}),
                                      private_key=KEY, key_id=KEY_ID).headers
        with self.client.get(path, headers=headers, name=kind, catch_response=True) as response:
            _count(kind, response.status_code, response.content or b"", response.headers.get("Audit-Event", ""))
            if response.status_code == expected:
                response.success()
            else:
                response.failure(f"{response.status_code}")

    @task(14)
    def good(self) -> None:
        self._signed_get("good", GOOD, 200)

    @task(3)
    def refused(self) -> None:
        self._signed_get("refused", REFUSED, 403)

    @task(3)
    def unsigned(self) -> None:
        with self.client.get(f"{PATH}?fields={GOOD}", name="unsigned", catch_response=True) as response:
            _count("unsigned", response.status_code, response.content or b"")
            if response.status_code == 401:
                response.success()
            else:
                response.failure(f"{response.status_code}")


@events.quitting.add_listener
def _write_tally(environment: Any, **kwargs: Any) -> None:
    with _lock:
        Path(os.environ["BENCH_LOAD_REPORT"]).write_text(json.dumps({"tally": dict(_tally),
                                                                     "served_events": _served_events}))
