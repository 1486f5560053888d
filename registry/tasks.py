from celery import shared_task

from .nonces import nonces_purge


@shared_task(name="registry.nonce_purge")
def nonce_purge_task() -> int:
    return nonces_purge()
