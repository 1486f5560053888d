"""Reads from the catalogue, each with its access rule."""

from typing import Any

from django.db.models import QuerySet

from registry.models import Role
from registry.policy import can_read_everything, departments_where

from .models import Dataset, DatasetStatus, Record, Tier


def datasets_visible_to(*, user: Any) -> QuerySet[Dataset]:
    """Admin listing: auditors and superusers see all; members see their departments' datasets."""
    qs = Dataset.objects.select_related("owner")
    if can_read_everything(user):
        return qs
    return qs.filter(owner_id__in=departments_where(user, Role.values))


def datasets_requestable() -> QuerySet[Dataset]:
    """Published datasets another department may ask for through an access request."""
    return Dataset.objects.filter(status=DatasetStatus.PUBLISHED, tier__in=[Tier.CONDITIONAL, Tier.UNCONDITIONAL])


def dataset_get_published(*, identifier: str) -> Dataset | None:
    return (Dataset.objects.select_related("owner").prefetch_related("fields")
            .filter(identifier=identifier, status=DatasetStatus.PUBLISHED).first())


def record_get(*, dataset: Dataset, key: str) -> Record | None:
    return Record.objects.filter(dataset=dataset, key=key, deleted_at__isnull=True).first()
