"""What the catalogue tells the layers above it (the exchange) without importing them."""

from dataclasses import dataclass
from typing import Any

from django.dispatch import Signal


@dataclass(frozen=True)
class VersionChange:
    """A published dataset's new version: what changed since the one before."""

    dataset: Any  # catalog.models.Dataset
    old_version: int
    version: int
    old_tier: str
    tier: str
    added: list[str]
    removed: list[str]
    retyped: list[str]
    note: str
    actor: Any

    @property
    def stops_sharing(self) -> bool:
        return self.tier == "not_shared" and self.old_tier != "not_shared"


#: Sent with ``change=VersionChange`` inside the publishing transaction: a receiver that raises
#: rolls the new version back. The exchange suspends the grants that lost a field.
version_published = Signal()
