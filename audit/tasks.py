from celery import shared_task

from .sequencer import log_sequence


@shared_task(name="audit.log_sequence")
def log_sequence_task() -> int:
    """Thin: the sequencer is idempotent (only unsequenced events are appended) and serialised by a lock."""
    return log_sequence()


@shared_task(name="audit.refusals_flush")
def refusals_flush_task() -> int:
    """One event per closed window of counted refusals (idempotent)."""
    from .services import refusal_tallies_flush

    return refusal_tallies_flush()
