"""Annotated field types shared by the envelope and every payload.

Kept in one place so that every topic spells an id, an amount or a timestamp the same way, and
so that the generated JSON Schemas describe them identically for producers in other languages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field


def _to_utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC (naive ones are already rejected by AwareDatetime)."""
    return value if value.tzinfo is UTC else value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""Timezone-aware timestamp, stored in UTC; serialised as ISO 8601 with a trailing 'Z'."""

Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]
"""Money. Accepted as a JSON number or a numeric string; always *emitted as a string*
(e.g. "1250.50") so that no producer or consumer rounds it through a binary float."""

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
Sentiment = Annotated[float, Field(ge=-1.0, le=1.0)]
Probability = Annotated[int, Field(ge=0, le=100)]
NonNegFloat = Annotated[float, Field(ge=0)]
NonNegInt = Annotated[int, Field(ge=0)]
ShortStr = Annotated[str, Field(min_length=1, max_length=200)]
"""Identifiers and labels that are not CRM entities (forms, e-mails, assets, stages...)."""
Url = Annotated[str, Field(min_length=1, max_length=2048)]
