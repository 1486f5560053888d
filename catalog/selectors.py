"""Reads from the catalogue, each with its access rule."""

from typing import Any

from django.db.models import F, QuerySet

from registry.policy import Perm, scope
from registry.versions import VersionedMemo

from .models import Dataset, DatasetStatus, Record, Tier


def datasets_visible_to(*, user: Any) -> QuerySet[Dataset]:
    """The datasets whose metadata and schema the user may see (the policy's dataset.view)."""
    return scope(user, Perm.DATASET_VIEW, Dataset.objects.select_related("owner"))


def records_visible_to(*, user: Any) -> QuerySet[Record]:
    """Records whose contents the user may see: their owning department's clerks only (record.view)."""
    return scope(user, Perm.RECORD_VIEW, Record.objects.select_related("dataset__owner")
                 .filter(generation=F("dataset__records_generation")))


def datasets_requestable() -> QuerySet[Dataset]:
    """Published datasets another department may ask for through an access request."""
    return Dataset.objects.filter(status=DatasetStatus.PUBLISHED, tier__in=[Tier.CONDITIONAL, Tier.UNCONDITIONAL])


_PUBLISHED: VersionedMemo[str, Dataset] = VersionedMemo("published datasets")


def dataset_get_published(*, identifier: str, version: int | None = None) -> Dataset | None:
    """A published dataset with its owner and fields; from memory for a request's access ``version``
    (``registry.versions``) while nothing changed. The object is shared: read it, never change it."""

    def load() -> Dataset | None:
        return (Dataset.objects.select_related("owner").prefetch_related("fields")
                .filter(identifier=identifier, status=DatasetStatus.PUBLISHED).first())

    return load() if version is None else _PUBLISHED.get(version, identifier, load)


def record_get(*, dataset: Dataset, key: str) -> Record | None:
    """The served record of this key: of the dataset's current records generation, not deleted."""
    return Record.objects.filter(dataset=dataset, generation=dataset.records_generation, key=key,
                                 deleted_at__isnull=True).first()
