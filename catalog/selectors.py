"""Reads from the catalogue, each with its access rule."""

from typing import Any

from django.db.models import QuerySet

from registry.policy import Perm, scope

from .models import Dataset, DatasetStatus, Record, Tier


def datasets_visible_to(*, user: Any) -> QuerySet[Dataset]:
    """The datasets whose metadata and schema the user may see (the policy's dataset.view)."""
    return scope(user, Perm.DATASET_VIEW, Dataset.objects.select_related("owner"))


def records_visible_to(*, user: Any) -> QuerySet[Record]:
    """Records whose contents the user may see: their owning department's clerks only (record.view)."""
    return scope(user, Perm.RECORD_VIEW, Record.objects.select_related("dataset__owner"))


def datasets_requestable() -> QuerySet[Dataset]:
    """Published datasets another department may ask for through an access request."""
    return Dataset.objects.filter(status=DatasetStatus.PUBLISHED, tier__in=[Tier.CONDITIONAL, Tier.UNCONDITIONAL])


def dataset_get_published(*, identifier: str) -> Dataset | None:
    return (Dataset.objects.select_related("owner").prefetch_related("fields")
            .filter(identifier=identifier, status=DatasetStatus.PUBLISHED).first())


def record_get(*, dataset: Dataset, key: str) -> Record | None:
    return Record.objects.filter(dataset=dataset, key=key, deleted_at__isnull=True).first()
