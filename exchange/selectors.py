"""Reads for the exchange, each with its access rule."""

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from catalog.models import Dataset
from registry.models import Role, System
from registry.policy import can_read_everything, departments_where

from .models import AccessRequest, Grant


def grants_active(*, consumer: System, dataset: Dataset, at: dt.datetime) -> list[Grant]:
    """The unrevoked grants in force for this system and dataset, newest first."""
    return list(Grant.objects.filter(consumer=consumer, dataset=dataset, revoked_at__isnull=True,
                                     valid_from__lte=at, valid_until__gt=at).order_by("-created_at", "-pk"))


def access_requests_visible_to(*, user: Any) -> QuerySet[AccessRequest]:
    """Requests filed by the user's departments' systems, and requests for their departments' datasets."""
    qs = AccessRequest.objects.select_related("consumer__department", "dataset__owner", "filed_by")
    if can_read_everything(user):
        return qs
    depts = departments_where(user, Role.values)
    return qs.filter(Q(consumer__department_id__in=depts) | Q(dataset__owner_id__in=depts))


def grants_visible_to(*, user: Any) -> QuerySet[Grant]:
    qs = Grant.objects.select_related("consumer__department", "dataset__owner")
    if can_read_everything(user):
        return qs
    depts = departments_where(user, Role.values)
    return qs.filter(Q(consumer__department_id__in=depts) | Q(dataset__owner_id__in=depts))
