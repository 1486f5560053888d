"""A grant's terms applied to a record: masking per field, per-grant pseudonyms, the row filter.

Pure functions over the grant and the dataset's fields as loaded; no queries, no writes. Every read
of the systems' API (one record, a page, a lookup, an export) serves values only through here.

**Masking.** Each field has a default rule (``catalog.models.MaskRule``) and each grant its own rule
per field, recorded at approval (the defaults then, possibly tightened by the approver). The rule that
applies is the stricter of the two: a provider who tightens a default after a leak tightens every
grant at once; loosening a default never loosens an existing grant.

**Pseudonyms.** ``pseudonym`` is HMAC-SHA-256 of the value under a key derived from the platform's
``PSEUDONYM_KEY`` and the grant's own random salt (a renewal keeps its grant's salt). The same citizen
gets the same pseudonym every time for one consumer's grant, and a different one under every other
grant, so data that leaks names the grant (and the consumer) it was served under, and two consumers'
data cannot be joined on it. Neither the key nor the salt ever leaves the platform.

**Row filter.** ``{"district": ["东城区"]}``: only records whose ``district`` is one of the values are
served. Values compare as text (a number 3 matches "3"); ``row_visible`` (one record) and
``row_filter_q`` (a query) agree exactly.
"""

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db.models import Q

from catalog.models import MASK_STRICTNESS, Field, FieldType, MaskRule

from .models import Grant

PSEUDONYM_PREFIX = "ps_"


def stricter(first: str, second: str) -> str:
    return first if MASK_STRICTNESS[MaskRule(first)] >= MASK_STRICTNESS[MaskRule(second)] else second


def masks_for(grant: Grant, schema: Mapping[str, Field]) -> dict[str, str]:
    """The rule that applies to each of the grant's fields: the stricter of its own and the current default."""
    return {name: stricter(grant.masking.get(name, MaskRule.NONE), schema[name].masking if name in schema
                           else MaskRule.REDACT)
            for name in grant.allowed_fields}


def _pseudonym_key(grant: Grant) -> bytes:
    return hmac.new(settings.PSEUDONYM_KEY.encode(), b"grant-pseudonym:" + grant.pseudonym_salt.encode(),
                    hashlib.sha256).digest()


def pseudonym(grant: Grant, value: str) -> str:
    """The grant's pseudonym of a subject identifier: 128 bits of HMAC-SHA-256, hex, prefixed ``ps_``."""
    return PSEUDONYM_PREFIX + hmac.new(_pseudonym_key(grant), value.encode(), hashlib.sha256).hexdigest()[:32]


def _partial(text: str, keep: int) -> str:
    if len(text) <= 2 * keep:
        return "*" * len(text)
    return text[:keep] + "*" * (len(text) - 2 * keep) + text[-keep:] if keep else "*" * len(text)


def _band(number: int | float, width: int) -> str:
    """30-39 for 37 in bands of 10 (whole numbers); 30-40 for 37.5 (a band from 30 up to, not including, 40)."""
    low = math.floor(number / width) * width
    return f"{low}-{low + width - 1}" if isinstance(number, int) else f"{low}-{low + width}"


def value_mask(rule: str, value: Any, field: Field, grant: Grant) -> Any:
    """One value as the rule serves it. None stays None under every rule."""
    if value is None or rule == MaskRule.NONE:
        return value
    if rule == MaskRule.REDACT:
        return None
    if rule == MaskRule.PSEUDONYM:
        return pseudonym(grant, str(value))
    if rule == MaskRule.PARTIAL:
        return _partial(str(value), field.mask_keep)
    if rule == MaskRule.GENERALISE:
        if field.type == FieldType.DATE:
            try:
                return str(dt.date.fromisoformat(str(value)).year)
            except ValueError:
                return None  # not a date as stored: nothing of it is served
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return _band(value, max(1, field.mask_band))
    raise ValueError(f"unknown masking rule {rule!r}")


def record_present(grant: Grant, schema: Mapping[str, Field], data: Mapping[str, Any], names: Sequence[str],
                   masks: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The record's ``names`` (all among the grant's fields) as the grant serves them."""
    masks = masks if masks is not None else masks_for(grant, schema)
    return {name: value_mask(masks[name], data.get(name), schema[name], grant) for name in names}


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def row_visible(grant: Grant, data: Mapping[str, Any]) -> bool:
    """Whether the record is inside the grant's row filter."""
    return all(_as_text(data.get(name)) in {str(v) for v in values} for name, values in grant.row_filter.items())


def row_filter_q(grant: Grant, prefix: str = "data") -> Q:
    """The row filter as a query over ``catalog.models.Record`` (matching ``row_visible``)."""
    condition = Q()
    for name, values in grant.row_filter.items():
        texts = [str(v) for v in values]
        # A string value as stored, or a number/yes-no whose JSON text is one of the values.
        alternatives = Q(**{f"{prefix}__{name}__in": texts})
        numbers = [n for n in (_number(t) for t in texts) if n is not None]
        if numbers:
            alternatives |= Q(**{f"{prefix}__{name}__in": numbers})
        booleans = [t == "true" for t in texts if t in ("true", "false")]
        if booleans:
            alternatives |= Q(**{f"{prefix}__{name}__in": booleans})
        condition &= alternatives
    return condition


def _number(text: str) -> int | float | None:
    """The number whose text (as ``_as_text`` writes it) is exactly ``text``, if any."""
    try:
        number: int | float = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
    return number if math.isfinite(number) and _as_text(number) == text else None


def terms_describe(grant: Grant, schema: Mapping[str, Field]) -> dict[str, Any]:
    """What a consumer is told of its grant's terms (never the salt)."""
    masks = masks_for(grant, schema)
    return {"masking": {name: rule for name, rule in masks.items() if rule != MaskRule.NONE},
            "row_filter": {name: [str(v) for v in values] for name, values in grant.row_filter.items()}}

