"""Keyset pagination with opaque cursors.

Lists order by id, newest first (ids are time-ordered), and a cursor carries the last
id of the previous page: page 1,000 costs what page 1 costs.

A cursor is bound to the list that issued it: a digest of the operation, the workspace
(``CURSOR_SCOPE`` in the session's info, set by the gateway) and the sort travels with
the id and is checked on decode, so a cursor of another list, workspace or sort is
``invalid_cursor`` instead of a silently wrong page.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError, InvalidCursor
from core.ids import looks_like_id
from core.search import text_search

T = TypeVar("T")

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_OFFSET = 10_000
"""The deepest a page-numbered list goes (``page`` × ``per_page``); the cursor goes on."""
CURSOR_SCOPE = "cursor_scope"
"""``session.info`` key: the operation and workspace a list runs for (set by the gateway)."""
PAGE_OFFSET = "page_offset"
"""``session.info`` key: rows to skip for a page-numbered request (set by the gateway)."""
REST_ONLY = "x-patchbay-rest-only"
"""Marks an argument offered for REST clients written from other documents (``after``,
``page``): the MCP tool schemas leave it out, the tools page with ``cursor``."""


class PageTooDeep(DomainError):
    code = "page_too_deep"
    status = 400
    default_message = (
        f"page × per_page may not exceed {MAX_OFFSET}; page on with the cursor "
        "(next_cursor) instead."
    )


class ListParams(BaseModel):
    """Mixin for list inputs: ``limit`` and ``cursor`` (also accepted as ``after``)."""

    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size, 1-100 (default 25)."
    )
    cursor: str | None = Field(
        default=None,
        max_length=200,
        description="Opaque cursor from a previous response's next_cursor; omit for page 1.",
    )
    after: str | None = Field(
        default=None,
        max_length=200,
        description="The same as cursor (the name some clients use).",
        json_schema_extra={REST_ONLY: True},
    )

    @model_validator(mode="after")
    def _after_is_cursor(self) -> ListParams:
        if self.after is not None:
            if self.cursor is not None and self.cursor != self.after:
                raise ValueError("cursor and after name the same thing; send one of them")
            self.cursor = self.after
        return self

    @property
    def offset(self) -> int:
        """Rows to skip before the page (page-numbered lists only)."""
        return 0


class PagedListParams(ListParams):
    """A list that also takes ``page`` and ``per_page`` (page-numbered clients): a
    bounded offset, page × per_page ≤ ``MAX_OFFSET``; the cursor pages on beyond."""

    page: int | None = Field(
        default=None,
        ge=1,
        description="Page number, from 1 (with per_page; instead of cursor).",
        json_schema_extra={REST_ONLY: True},
    )
    per_page: int | None = Field(
        default=None,
        ge=1,
        le=MAX_LIMIT,
        description="Page size for page (1-100, as limit).",
        json_schema_extra={REST_ONLY: True},
    )

    @model_validator(mode="after")
    def _page_numbers(self) -> PagedListParams:
        if self.per_page is not None:
            if "limit" in self.model_fields_set and self.limit != self.per_page:
                raise ValueError("limit and per_page name the same thing; send one of them")
            self.limit = self.per_page
        if self.page is not None:
            if self.cursor is not None:
                raise ValueError("send either page or cursor, not both")
            if self.page * self.limit > MAX_OFFSET:
                raise PageTooDeep()
        return self

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit if self.page else 0


@dataclass
class Page(Generic[T]):
    """One page of results and the cursor of the next page (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def _binding(scope: str) -> str:
    """A short digest of what a cursor is bound to (list, workspace, sort)."""
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


def encode_cursor(last_id: str, scope: str = "") -> str:
    """The opaque cursor that continues after ``last_id`` in the list ``scope`` names."""
    payload = {"after": last_id, "for": _binding(scope)}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str = "") -> str:
    """The id a cursor of the list ``scope`` continues after; raises ``InvalidCursor`` for
    anything else (including a cursor another list, workspace or sort issued)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        last_id, bound = data["after"], data["for"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise InvalidCursor() from None
    if not isinstance(last_id, str) or not looks_like_id(last_id) or not isinstance(bound, str):
        raise InvalidCursor()
    if not hmac.compare_digest(bound, _binding(scope)):
        raise InvalidCursor("The cursor was issued by another list, workspace or sort order.")
    return last_id


def list_scope(operation: str, workspace_id: str) -> str:
    """The list a gateway call pages through: its operation in its workspace."""
    return f"{operation}|{workspace_id}"


def cursor_scope(list_scope: str, id_column: Any) -> str:
    """What a cursor is bound to: the list and the sort (``id_column``, descending)."""
    return f"{list_scope}|{id_column.class_.__tablename__}.{id_column.key} desc"


@functools.cache
def _columns(entity: Any) -> tuple[Any, ...]:
    """The mapped column attributes of an ORM entity, in mapper order."""
    return tuple(getattr(entity, attr.key) for attr in sa.inspect(entity).column_attrs)


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    id_column: Any,
    *,
    limit: int,
    cursor: str | None,
    search: str | None = None,
) -> Page[Any]:
    """Run ``stmt`` (a select of one ORM entity) as a keyset page ordered by ``id_column`` desc.

    The page holds rows of the entity's columns (read like the entity: ``row.id``), not
    ORM instances: a list is only rendered, and skipping instance construction and the
    identity map halves the cost of a page. The tenant filter still applies (it is an
    ORM statement over the entity's attributes). ``search``: free text every row must
    contain (``core.search``), for searchable entities.
    """
    entity = stmt.column_descriptions[0]["entity"]
    stmt = stmt.with_only_columns(*_columns(entity))
    scope = cursor_scope(session.info.get(CURSOR_SCOPE, ""), id_column)
    if cursor:
        stmt = stmt.where(id_column < decode_cursor(cursor, scope))
    offset = session.info.pop(PAGE_OFFSET, 0)
    if search:
        stmt, id_column = text_search(session, stmt, entity, search)
    if offset:
        stmt = stmt.offset(offset)
    rows = list((await session.execute(stmt.order_by(id_column.desc()).limit(limit + 1))).all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id, scope) if has_more and rows else None)
