"""Thin tasks of the exchange: each calls a service and says what it did."""

import logging

from celery import shared_task

from .services import requests_clock_run

logger = logging.getLogger(__name__)


@shared_task(name="exchange.requests_clock")
def requests_clock_task() -> dict[str, int]:
    """The request clock, run by beat (``requests-clock``, every REQUESTS_CLOCK_INTERVAL seconds). Idempotent:
    each reminder, escalation and expiry notice fires once, so a run repeated, late or missed loses nothing."""
    run = requests_clock_run()
    counts = {"reminded": run.reminded, "escalated": run.escalated, "expiring": run.expiring}
    logger.log(logging.INFO if any(counts.values()) else logging.DEBUG,
               "request clock: %(reminded)d reminded, %(escalated)d escalated, %(expiring)d grants expiring", counts)
    return counts


@shared_task(name="exchange.export_run")
def export_run_task(job_id: int) -> str:
    """Thin: the export runs once (a job already claimed is left alone), so a redelivered task is harmless."""
    from .exports import export_run

    return str(export_run(job_id=job_id).state)


@shared_task(name="exchange.exports_expire")
def exports_expire_task() -> int:
    from .exports import exports_expire

    return exports_expire()
