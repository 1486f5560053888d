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


@shared_task(name="audit.verify_now")
def log_verify_task(actor_id: str) -> bool:
    """An auditor's "verify now": the whole log, recorded as an event with the result."""
    from .services import log_verify_recorded

    return log_verify_recorded(actor_id=actor_id)
