from .celery_app import app
from .nonces import nonces_purge


@app.task(name="govplatform.nonce_purge")
def nonce_purge_task() -> int:
    return nonces_purge()
