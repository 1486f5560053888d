"""Reads for the exchange, each with its access rule."""

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from catalog.models import Dataset
from registry.models import System
from registry.policy import Perm, scope
from registry.versions import VersionedMemo

from .models import AccessRequest, Grant

_UNREVOKED: VersionedMemo[tuple[int, int], list[Grant]] = VersionedMemo("unrevoked grants")


def grants_active(*, consumer: System, dataset: Dataset, at: dt.datetime, version: int | None = None) -> list[Grant]:
    """The unrevoked grants in force at ``at`` for this system and dataset, newest first; suspended ones
    included (``suspended_at`` set): the caller refuses them with their reason.

    For a request's access ``version`` (``registry.versions``) the unrevoked grants come from memory
    while nothing changed (revoking a grant bumps the version); their validity window is checked here,
    on every call. The grant objects are shared: read them, never change them.
    """

    def load() -> list[Grant]:
        return list(Grant.objects.filter(consumer=consumer, dataset=dataset, revoked_at__isnull=True)
                    .order_by("-created_at", "-pk"))

    unrevoked = load() if version is None else _UNREVOKED.get(version, (consumer.pk, dataset.pk), load) or []
    return [grant for grant in unrevoked if grant.valid_from <= at < grant.valid_until]


def access_requests_visible_to(*, user: Any) -> QuerySet[AccessRequest]:
    """Requests filed by the user's departments' systems, and requests for their departments' datasets."""
    return scope(user, Perm.REQUEST_VIEW,
                 AccessRequest.objects.select_related("consumer__department", "dataset__owner", "filed_by"))


def grants_visible_to(*, user: Any) -> QuerySet[Grant]:
    return scope(user, Perm.GRANT_VIEW, Grant.objects.select_related("consumer__department", "dataset__owner"))


def grant_revoked_latest(*, consumer: System, dataset: Dataset, at: dt.datetime) -> Grant | None:
    """The newest grant of this system for this dataset that was revoked while it would still be in force at
    ``at``: why a read is refused (asked only on that refusal's path)."""
    return (Grant.objects.filter(consumer=consumer, dataset=dataset, revoked_at__isnull=False, valid_from__lte=at,
                                 valid_until__gt=at).order_by("-revoked_at", "-pk").first())
