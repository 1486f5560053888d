"""Evidence bundles: events of the log with everything needed to check them offline, anywhere.

A bundle holds each chosen event as the exact bytes the log hashed, its leaf index and its RFC 9162
inclusion proof, the checkpoint the proofs lead to (a C2SP signed note, signed now if the newest events
are not yet under one) and the platform's public key. ``python -m audit.verify_bundle`` checks it with
nothing but ``cryptography`` installed.
"""

import base64
import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core.errors import ErrorCode, PlatformError
from core.keys import platform_key

from .events import EventType
from .merkle import Node, inclusion_ranges, perfect_nodes, ranges_hashes
from .models import AuditEvent, Checkpoint
from .proofs import nodes_fetch
from .sequencer import log_sequence
from .services import Actor, event_record
from .verify_bundle import BUNDLE_FORMAT

MAX_EVENTS = 10_000
FETCH_CHUNK = 400


def bundle_make(*, actor: Actor, events: QuerySet[AuditEvent], selection: dict[str, str]) -> dict[str, Any]:
    """The bundle of ``events`` (as an auditor chose them: ``selection`` says how). Recorded in the log first.
    (The caller checks that ``actor`` may read the log.)"""
    count = events.count()
    if count > MAX_EVENTS:
        raise PlatformError(ErrorCode.INVALID_INPUT, _(
            "%(count)d events are chosen; a bundle holds at most %(max)d. Narrow the filters.") % {
            "count": count, "max": MAX_EVENTS})
    with transaction.atomic():
        event_record(actor=actor, action=EventType.AUDIT_BUNDLE_EXPORTED, detail={"filters": selection, "rows": count})
    log_sequence(checkpoint_now=True)  # every chosen event sequenced, and under a signed checkpoint
    checkpoint = Checkpoint.objects.order_by("-tree_size").first()
    if checkpoint is None:
        raise PlatformError(ErrorCode.NO_CHECKPOINT)
    size = checkpoint.tree_size
    rows = list(events.filter(leaf__index__lt=size).select_related("leaf").order_by("leaf__index"))
    ranges = {event.leaf.index: inclusion_ranges(event.leaf.index, size) for event in rows}
    wanted = sorted({node for rs in ranges.values() for start, end in rs for node in perfect_nodes(start, end)})
    cache: dict[Node, bytes] = {}
    for start in range(0, len(wanted), FETCH_CHUNK):  # every node once, a few hundred per query
        cache.update(nodes_fetch(set(wanted[start:start + FETCH_CHUNK])))
    key = platform_key()
    raw = key.public_key.public_bytes_raw()
    return {
        "format": BUNDLE_FORMAT,
        "made_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "selection": selection,
        "public_key_pem": key.public_pem(),
        "checkpoint": checkpoint.signed_note(raw),
        "events": [{"index": event.leaf.index, "leaf_hash": event.leaf_hash,
                    "leaf": base64.b64encode(event.canonical_leaf()).decode(),
                    "proof": [h.hex() for h in ranges_hashes(ranges[event.leaf.index], lambda _nodes: cache)]}
                   for event in rows],
    }
