from celery import shared_task

from .imports.dispatch import step_run


@shared_task(name="catalog.import_step")
def import_step_task(step: str, job_id: int) -> str:
    """Thin: a step runs once per job (a second delivery finds the job claimed); failures are recorded on it."""
    return step_run(step, job_id)
