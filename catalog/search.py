"""Catalogue search: what a dataset is found by (its search text), and the ranked query."""

from .models import Dataset


def search_document(dataset: Dataset) -> str:
    """The text search matches for ``dataset``: metadata, department and every field's name and description,
    lowercased, one part per line (stored as ``Dataset.search_text`` by the catalogue's services)."""
    parts = [dataset.title, dataset.identifier, dataset.description, " ".join(dataset.keywords),
             dataset.owner.name, dataset.resource_code, dataset.spatial]
    parts += [f"{f.name} {f.description}" for f in dataset.fields.all()]
    return "\n".join(part for part in parts if part).lower()
