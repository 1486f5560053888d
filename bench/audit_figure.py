"""Figure 4: ``audit.verify.log_verify`` over the bench database's log, against hashlib over the same leaves.

``python -m bench.audit_figure --events N`` under the bench settings, after the load phases. Tops the
log up to N events with synthetic ``record.read`` events (recorded and sequenced by the platform's
own services, so they are like the load run's), then times:

- the subject: ``log_verify`` with the platform's public key, everything it does (reading every leaf
  and its event, recomputing each leaf from its content, rebuilding the tree, checking each signed
  checkpoint's root and signature);
- the baseline: ``hashlib.sha256`` over the same leaf bytes (``0x00 || canonical_leaf()``) and the
  RFC 6962 node hashing of ``audit/merkle.py`` up to the root, the bytes read beforehand (untimed).

Both must reach the root of the newest checkpoint. Each is the best of ``--repeat`` runs. Prints JSON,
including a breakdown of the verifier's time (reading the rows as the verifier does, rebuilding the
canonical JSON, hashing, checking the checkpoints' signatures).
"""

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any


def _best(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    import base64

    from django.db import transaction

    import audit.services
    from audit import verify
    from audit.events import EventType
    from audit.merkle import CompactRange
    from audit.models import AuditEvent, Checkpoint, canonical_leaf
    from audit.sequencer import log_sequence
    from audit.services import Actor, event_record, subject_hash
    from core.keys import platform_key

    # Setup, not measured: each event_record wakes the sequencer after commit, and eagerly (no broker
    # here) that is one sequencer run per event; one run after all of them appends the same leaves.
    audit.services._wake_sequencer = lambda: None  # type: ignore[attr-defined]
    made = 0
    missing = max(0, args.events - AuditEvent.objects.count())
    actor = Actor("system", "police-rms", "police")
    while made < missing:
        with transaction.atomic():
            for _ in range(min(1000, missing - made)):
                event_record(actor=actor, action=EventType.RECORD_READ, object_id="vaccination-records",
                             grant_id=1, purpose="public-health.outbreak-tracing",
                             request_digest=hashlib.sha256(str(made).encode()).hexdigest(),
                             subjects=[subject_hash(f"1101011990{made:08d}")],
                             detail={"keyid": "police-rms-bench", "fields": ["vaccine", "dose_date"],
                                     "record_version": 1})
                made += 1
    log_sequence(checkpoint_now=True)

    public_key = platform_key().public_key
    verify_seconds, report = _best(args.repeat, lambda: verify.log_verify(public_key=public_key))
    if not report.ok or report.unsequenced:
        print(json.dumps({"error": "log_verify failed", "problems": report.problems[:5],
                          "unsequenced": report.unsequenced}))
        return 1

    # The verifier's own parts, timed apart: reading the rows, rebuilding each leaf's bytes.
    read_seconds, rows = _best(1, lambda: list(verify._leaf_rows()))
    canonical_seconds, leaves = _best(1, lambda: [canonical_leaf(*columns) for _, _, columns in rows])
    sha256 = hashlib.sha256

    def hash_tree() -> bytes:
        tree = CompactRange()
        tree.extend([sha256(b"\x00" + leaf).digest() for leaf in leaves])
        return tree.root()

    hashlib_seconds, root = _best(args.repeat, hash_tree)
    newest = Checkpoint.objects.order_by("-tree_size").first()
    assert newest is not None and newest.tree_size == len(leaves)
    if newest.root_hash != root.hex():
        print(json.dumps({"error": "the hashlib baseline did not reach the newest checkpoint's root"}))
        return 1
    checkpoints = list(Checkpoint.objects.all())

    def signatures() -> None:
        for checkpoint in checkpoints:
            public_key.verify(base64.b64decode(checkpoint.signature), checkpoint.body().encode())

    signature_seconds, _ = _best(1, signatures)
    json.dump({
        "events": len(leaves), "synthetic_events": made, "checkpoints": report.checkpoints_checked,
        "verify_seconds": verify_seconds, "hashlib_seconds": hashlib_seconds,
        "ratio": hashlib_seconds / verify_seconds,
        "leaf_bytes_mean": sum(map(len, leaves)) / len(leaves),
        "breakdown_seconds": {"read_rows": read_seconds, "canonical_json": canonical_seconds,
                              "hashing": hashlib_seconds, "checkpoint_signatures": signature_seconds},
    }, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
