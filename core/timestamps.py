"""``UtcDatetime``: the type of every date-time an operation accepts.

An instant must say which one it is: a value without a UTC offset is refused, and so is
one whose UTC value falls outside years 1-9999 (``9999-12-31T23:59:59-14:00``), which no
database column or ``datetime`` can hold. Accepted values are normalised to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date-time in UTC falls outside years 1-9999") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An ISO-8601 date-time with a UTC offset (``Z`` or ``±hh:mm``), normalised to UTC."""
