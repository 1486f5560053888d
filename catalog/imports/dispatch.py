"""Where an import's long steps (the check, the apply) run: one decision, in one place."""

import logging
import threading

from django.conf import settings
from django.db import connections, transaction
from django.utils.translation import gettext as _

from core.errors import ErrorCode, PlatformError

from ..models import ImportJob, ImportState
from .services import import_apply, import_check

logger = logging.getLogger(__name__)

#: A job's long steps, in order.
STEPS = ("check", "apply")


def step_run(step: str, job_id: int) -> str:
    """Run a step of a job now; its failure is recorded on the job (and in the audit log), so it is only
    logged here. Returns the job's state."""
    job = ImportJob.objects.select_related("dataset").get(pk=job_id)
    try:
        job = import_check(job=job) if step == "check" else import_apply(job=job)
    except Exception:
        logger.warning("import %s: the %s step failed; the job records why", job_id, step)
        job.refresh_from_db()
    return str(job.state)


def _in_thread(step: str, job_id: int) -> None:
    try:
        step_run(step, job_id)
    finally:
        connections.close_all()  # this thread's connections only


def step_dispatch(step: str, job: ImportJob) -> None:
    """Run ``step`` of the job where it belongs:

    - a small file: now, in this request;
    - with a broker (REDIS_URL): on a Celery worker;
    - in the embedded default Celery is eager and would run it inside this request, so: a thread of this
      process, and the admin shows its progress meanwhile.

    The last two start once the current transaction commits (the job must be there to be found).
    """
    if step not in STEPS:
        raise ValueError(step)
    # Files up to this size are checked and applied within the clerk's request (a second or so).
    if job.file_size <= settings.IMPORT_INLINE_MAX_BYTES:
        step_run(step, job.pk)
    elif settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(lambda: threading.Thread(target=_in_thread, args=(step, job.pk), daemon=True,
                                                       name=f"import-{job.pk}-{step}").start())
    else:
        transaction.on_commit(lambda: _enqueue(step, job.pk))


def _enqueue(step: str, job_id: int) -> None:
    """Hand the step to a worker; if the broker cannot be reached, undo an apply's claim (the clerk can
    apply again) and say so. A check waits: its page offers to start it again."""
    from ..tasks import import_step_task

    try:
        import_step_task.delay(step, job_id)
    except Exception as exc:  # kombu and redis raise many kinds when the broker is down
        logger.error("import %s: the %s step could not be queued (%s)", job_id, step, type(exc).__name__)
        if step == "apply":
            ImportJob.objects.filter(pk=job_id, state=ImportState.APPLYING, generation__isnull=True).update(
                state=ImportState.CHECKED)
        raise PlatformError(ErrorCode.UNAVAILABLE, _(
            "The task queue cannot be reached, so the work was not started; try again in a moment.")) from exc
