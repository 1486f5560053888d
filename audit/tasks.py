from govplatform.celery_app import app

from .services import log_sequence


@app.task(name="audit.log_sequence")
def log_sequence_task() -> int:
    """Thin: the sequencer is idempotent (only unsequenced events are appended) and serialised by a lock."""
    return log_sequence()
