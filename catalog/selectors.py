"""Reads from the catalogue, each with its access rule."""

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet

from registry.policy import Perm, scope
from registry.versions import VersionedMemo

from .models import Dataset, DatasetStatus, Record


def datasets_visible_to(*, user: Any) -> QuerySet[Dataset]:
    """The datasets whose metadata and schema the user may see in the admin: every published one for whoever
    holds a role (catalogue.view), and the drafts the policy's dataset.view grants (their own departments')."""
    own = scope(user, Perm.DATASET_VIEW, Dataset.objects.all()).values("pk")
    published = scope(user, Perm.CATALOGUE_VIEW, Dataset.objects.filter(status=DatasetStatus.PUBLISHED)).values("pk")
    return Dataset.objects.select_related("owner").filter(Q(pk__in=published) | Q(pk__in=own))


def records_visible_to(*, user: Any) -> QuerySet[Record]:
    """Records whose contents the user may see: their owning department's clerks only (record.view)."""
    return scope(user, Perm.RECORD_VIEW, Record.objects.select_related("dataset__owner")
                 .filter(generation=F("dataset__records_generation")))


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
    # The generation as the database has it now, in the same statement: the dataset object may be a
    # remembered one from before an import switched generations.
    return Record.objects.filter(dataset=dataset, generation=F("dataset__records_generation"), key=key,
                                 deleted_at__isnull=True).first()


@dataclass(frozen=True)
class SimilarDataset:
    dataset: Dataset
    fields: list[tuple[str, str]]  # (this dataset's field, the similar dataset's field)
    share: float  # of this dataset's fields, the part the other one also holds


def _field_words(name: str, description: str) -> set[str]:
    return {word for word in (name.lower(), description.strip().lower()) if word}


def datasets_similar(*, dataset: Dataset, threshold: float = 0.6, minimum: int = 2) -> list[SimilarDataset]:
    """Published datasets of other departments that hold most of ``dataset``'s fields (same name or same
    description): a sign the data is collected twice. Best match first."""
    mine = [(f.name, _field_words(f.name, f.description)) for f in dataset.fields.all()]
    if len(mine) < minimum:
        return []
    found = []
    others = (Dataset.objects.filter(status=DatasetStatus.PUBLISHED).exclude(owner_id=dataset.owner_id)
              .select_related("owner").prefetch_related("fields"))
    for other in others:
        theirs = [(f.name, _field_words(f.name, f.description)) for f in other.fields.all()]
        pairs = []
        for name, words in mine:
            match = next((their_name for their_name, their_words in theirs if words & their_words), None)
            if match is not None:
                pairs.append((name, match))
        share = len(pairs) / len(mine)
        if len(pairs) >= minimum and share >= threshold:
            found.append(SimilarDataset(other, pairs, share))
    return sorted(found, key=lambda s: (-s.share, s.dataset.identifier))
