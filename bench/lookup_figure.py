"""Figure 3: a signed bulk lookup of 1,000 keys against the one SQL query that fetches the same records.

``python -m bench.lookup_figure`` under the bench settings, on the database ``make bench`` prepared
(the demo, after ``bench.prepare``). The demo's vaccination dataset holds a few dozen records, so this
first adds synthetic ones to its served generation (``bench-lookup-NNNNNN``, in the bench database
only) until it holds ``--keys``. Then, in one process:

- the subject: ``--calls`` signed ``POST /api/v1/datasets/{id}/lookup`` of the same ``--keys`` keys,
  each freshly signed (content-digest covered; the signing is the client's work and is not timed),
  sent straight to the platform's WSGI application (every middleware, no HTTP server): the front door,
  the grant, the fetch, masking, the quota, the one audit event listing every subject, the JSON and
  the response's signature;
- the baseline: the SQL the lookup's fetch is, run ``--calls`` times on a cursor
  (``SELECT ... WHERE dataset_id = %s AND generation = ... AND key IN (...)``), rows fetched.

Each is the median of its calls. The ratio is baseline / subject (1.0 would mean the platform's work
around the query costs nothing). Prints JSON.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.profile_read import HOST


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import orjson

    from bench.prepare import prepare_data
    from bench.profile_read import wsgi_environ

    info = prepare_data()  # sets Django up
    from django.db import connection
    from django.db.models import F

    from catalog.models import Dataset, Record
    from exchange import client
    from govplatform.wsgi import application

    dataset = Dataset.objects.get(identifier=info["dataset"])
    served = Record.objects.filter(dataset=dataset, generation=dataset.records_generation, deleted_at__isnull=True)
    have = served.count()
    if have < args.keys:
        template = served.get(key=info["record_key"]).data
        Record.objects.bulk_create([Record(dataset=dataset, generation=dataset.records_generation,
                                           key=f"bench-lookup-{n:06d}", data={**template,
                                                                               "citizen_id": f"bench-lookup-{n:06d}"})
                                    for n in range(args.keys - have)], batch_size=1000)
    keys = list(served.order_by("pk").values_list("key", flat=True)[:args.keys])
    body = orjson.dumps({"keys": keys, "fields": info["fields"]})
    path = f"/api/v1/datasets/{info['dataset']}/lookup"
    private_key = client.load_private_key(Path(info["key_file"]))

    def environ() -> dict[str, Any]:
        message = client.sign_request(client.Message("POST", f"http://{HOST}{path}",
                                                     {"Content-Type": "application/json"}),
                                      private_key=private_key, key_id=info["key_id"], body=body)
        return wsgi_environ("POST", path, "", message.headers, body)

    def call(env: dict[str, Any]) -> int:
        status: list[str] = []
        response = application(env, lambda s, h, exc_info=None: status.append(s))
        try:
            answer = b"".join(response)
        finally:
            response.close()
        if not status or not status[0].startswith("200"):
            raise RuntimeError(f"the bulk lookup failed: {status} {answer[:300]!r}")
        return len(orjson.loads(answer)["records"])

    for _ in range(3):  # warm: connections, caches, the platform key
        call(environ())
    found = call(environ())
    environs = [environ() for _ in range(args.calls)]
    subject = []
    for env in environs:
        start = time.perf_counter()
        call(env)
        subject.append(time.perf_counter() - start)

    sql, params = (Record.objects.filter(dataset=dataset, generation=F("dataset__records_generation"), key__in=keys,
                                         deleted_at__isnull=True).values_list("key", "data").query.sql_with_params())
    baseline = []
    with connection.cursor() as cursor:
        for _ in range(args.calls + 3):
            start = time.perf_counter()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            baseline.append(time.perf_counter() - start)
    baseline = baseline[3:]
    subject_s, baseline_s = statistics.median(subject), statistics.median(baseline)
    json.dump({"keys": len(keys), "found": found, "rows": len(rows), "calls": args.calls,
               "subject_ms": subject_s * 1000, "baseline_ms": baseline_s * 1000, "ratio": baseline_s / subject_s,
               "subject_ms_all": [s * 1000 for s in subject],
               "baseline_ms_all": [s * 1000 for s in baseline]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
