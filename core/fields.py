"""Field rules as types: the annotated types every domain's input models use.

A rule lives with the type, not in a list of field names somewhere else: a name-like
field (``OneLine``) refuses line breaks and control characters wherever it appears, an
``Email`` is one address, a ``RecordId`` is an opaque id, a ``UtcDatetime`` is an instant
with its offset. Free text (notes, descriptions) stays plain ``str``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from core.timestamps import UtcDatetime

__all__ = [
    "EMAIL_PATTERN",
    "ONE_LINE_MARKER",
    "Email",
    "OneLine",
    "RecordId",
    "UtcDatetime",
    "one_line",
    "record_id",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("it must be a single line (no line breaks or other control characters)")
    return value


ONE_LINE_MARKER = "x-patchbay-one-line"
"""Marks a ``OneLine`` string in JSON schemas: the OpenAPI builder turns it into the
pattern the gate enforces, the MCP adapter drops it."""


class _OneLineSchema:
    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema[ONE_LINE_MARKER] = True
        return schema


OneLine = Annotated[str, AfterValidator(_single_line), _OneLineSchema()]
"""Text that names or labels a record (a name, a title, a key): it ends up in lists,
subjects, file names and headers downstream, so control characters are refused."""

_EMAIL_CHAR = r"[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
"""Not @, a control character or white space (spelled out: regex engines disagree on \\s)."""
EMAIL_PATTERN = rf"^{_EMAIL_CHAR}+@{_EMAIL_CHAR}+\.{_EMAIL_CHAR}+$"

Email = Annotated[str, StringConstraints(max_length=320, pattern=EMAIL_PATTERN)]
"""One email address (``local@domain.tld``), at most 320 characters."""

RecordId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
"""An opaque prefixed record id (``con_…``)."""


def one_line(description: str, max_length: int = 200, *, required: bool = False) -> Any:
    """A ``Field`` for a ``OneLine`` value of at most ``max_length`` characters."""
    if required:
        return Field(min_length=1, max_length=max_length, description=description)
    return Field(default=None, max_length=max_length, description=description)


def record_id(what: str, prefix: str, *, required: bool = False) -> Any:
    """A ``Field`` for the id of a ``what`` (``prefix_…``)."""
    text = f"Id of the {what} ({prefix}_...)."
    if required:
        return Field(description=text)
    return Field(default=None, description=text)


CUSTOM_FIELD_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CUSTOM_FIELDS_SCHEMA = {
    "propertyNames": {"pattern": CUSTOM_FIELD_KEY_RE.pattern},
    "maxProperties": 50,
}
"""What ``check_custom_fields`` enforces, declared in the JSON schema."""


def check_custom_fields(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Keys 1-64 of [A-Za-z0-9_-], at most 50 of them, string values ≤ 1,000 chars."""
    if value is None:
        return None
    if len(value) > 50:
        raise ValueError("at most 50 custom fields")
    for key, item in value.items():
        if not CUSTOM_FIELD_KEY_RE.match(key):
            raise ValueError(f"custom field key {key!r} must match [A-Za-z0-9_-]{{1,64}}")
        if isinstance(item, str) and len(item) > 1000:
            raise ValueError(f"custom field {key!r} is longer than 1000 characters")
    return value
