"""What the signed exchange checks on every call, kept in each process's memory, exactly as fresh as
the database: every cached value belongs to one value of the access version, a counter that every
change to departments, systems, keys, datasets, fields and grants bumps in its own transaction.

A request reads the counter once (one cheap query) before it looks anything up; a memo that holds
another version is dropped. Since the counter is read before the data, a change committed meanwhile
can only make the cached copy newer than its version, never older: a revoked key or grant is
refused on the next request in every process.
"""

import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from django.db.models import F, Model
from django.db.models.signals import post_delete, post_save

from .models import AccessVersion

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MEMOS: list["VersionedMemo[Any, Any]"] = []


def access_version() -> int:
    """The current access version (0 before the first change)."""
    value = AccessVersion.objects.filter(pk=1).values_list("value", flat=True).first()
    return value or 0


def access_version_bump(**_: Any) -> None:
    """Bump the version in the caller's transaction (connected to the saves and deletes that matter)."""
    if not AccessVersion.objects.filter(pk=1).update(value=F("value") + 1):
        AccessVersion.objects.get_or_create(pk=1, defaults={"value": 1})


class VersionedMemo(Generic[K, V]):
    """Values by key, all of one access version; never holds more than ``max_entries``."""

    def __init__(self, name: str, max_entries: int = 10_000) -> None:
        self.name = name
        self.max_entries = max_entries
        self._version = -1
        self._entries: dict[K, V] = {}
        self._lock = threading.Lock()
        _MEMOS.append(self)

    def get(self, version: int, key: K, load: Callable[[], V | None]) -> V | None:
        """The value for ``key`` as of ``version``; ``load`` fetches it from the database when needed.
        Nothing missing is remembered (an unknown key id costs a query every time, not memory)."""
        with self._lock:
            if version > self._version:
                self._version, self._entries = version, {}
            if version == self._version and key in self._entries:
                return self._entries[key]
        value = load()
        with self._lock:
            if value is not None and version == self._version:  # a newer version meanwhile: do not keep it
                if len(self._entries) >= self.max_entries:
                    self._entries = {}
                self._entries[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._version, self._entries = -1, {}


def memos_clear() -> None:
    """Forget everything remembered (tests, whose rolled-back transactions reuse version numbers)."""
    for memo in _MEMOS:
        memo.clear()


def bump_on_change(*models: type[Model]) -> None:
    """Bump the access version whenever one of ``models`` is saved or deleted, in the same transaction.

    Cache invalidation is infrastructure, so it is wired with signals (in each app's ``ready``); no
    business logic runs here. Bulk operations that send no signals (``QuerySet.update``,
    ``bulk_create``) must call ``access_version_bump`` themselves.
    """
    for model in models:
        label = model._meta.label_lower
        post_save.connect(access_version_bump, sender=model, dispatch_uid=f"access_version.save.{label}")
        post_delete.connect(access_version_bump, sender=model, dispatch_uid=f"access_version.delete.{label}")
