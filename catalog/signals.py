"""What the catalogue tells the layers above it (the exchange) without importing them."""

from dataclasses import dataclass
from typing import Any

from django.dispatch import Signal

from .models import Dataset, Tier


@dataclass(frozen=True)
class VersionChange:
    """A published dataset's new version: what changed since the one before."""

    dataset: Dataset
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
        return self.tier == Tier.NOT_SHARED and self.old_tier != Tier.NOT_SHARED


#: Sent with ``change=VersionChange`` inside the publishing transaction: a receiver that raises
#: rolls the new version back. The exchange suspends the grants that lost a field.
version_published = Signal()
