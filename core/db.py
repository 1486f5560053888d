"""Database helpers with no models of their own."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def one_statement() -> Iterator[None]:
    """Around a single write that must stand or fail on its own.

    Inside a transaction: a savepoint, so a failed statement leaves the caller's transaction usable.
    In autocommit (a request on the exchange path): nothing, because one statement is already its
    own transaction, and BEGIN and COMMIT would be two more round trips to the database.
    """
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield
