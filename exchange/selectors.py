"""Reads for the exchange, each with its access rule."""

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from catalog.models import Dataset
from registry.models import System
from registry.policy import Perm, scope

from .models import AccessRequest, Grant


def grants_active(*, consumer: System, dataset: Dataset, at: dt.datetime) -> list[Grant]:
    """The unrevoked grants in force for this system and dataset, newest first."""
    return list(Grant.objects.filter(consumer=consumer, dataset=dataset, revoked_at__isnull=True,
                                     valid_from__lte=at, valid_until__gt=at).order_by("-created_at", "-pk"))


def access_requests_visible_to(*, user: Any) -> QuerySet[AccessRequest]:
    """Requests filed by the user's departments' systems, and requests for their departments' datasets."""
    return scope(user, Perm.REQUEST_VIEW,
                 AccessRequest.objects.select_related("consumer__department", "dataset__owner", "filed_by"))


def grants_visible_to(*, user: Any) -> QuerySet[Grant]:
    return scope(user, Perm.GRANT_VIEW, Grant.objects.select_related("consumer__department", "dataset__owner"))
