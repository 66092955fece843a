"""Indexed free-text search over a maintained ``search_text`` column.

Searchable tables keep ``search_text``: the lower-cased concatenation of their searchable
fields, written by the service on every insert or update (``build_search_text``).

- PostgreSQL: a pg_trgm GIN index on ``search_text``; every query token becomes
  ``search_text ILIKE '%token%'`` (ANDed), which the trigram index serves. Under
  row-level security the planner would not use the index for it (ILIKE is not a
  leakproof operator), so a searched page is read from the ``<table>_search`` view
  instead (``core.migrations.tenancy.create_search_view``: every column, the current
  workspace's rows, read with the owner's rights), with the list's conditions, order and
  size: the planner picks the trigram index for rare terms or a walk down the primary
  key that stops after a page for common ones, in one query, as before row-level
  security.
- SQLite: an FTS5 external-content table ``<table>_fts(search_text)`` keyed by the base
  table's rowid and kept in sync by triggers (see migration ``0002_crm``); every token
  becomes a prefix query ``"token"*`` (ANDed) through ``MATCH``.

Both are hidden behind ``text_search``; ``core.pagination.paginate(search=…)`` applies it.
Operators who VACUUM a SQLite database should afterwards run
``INSERT INTO <table>_fts(<table>_fts) VALUES('rebuild')`` (VACUUM may renumber rowids).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import visitors

SEARCHABLE_TABLES: tuple[str, ...] = (
    "contacts",
    "companies",
    "leads",
    "activities",
    "support_tickets",
)
"""Tables with a ``search_text`` column and a search index (one FTS5 table each on SQLite)."""

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
MAX_TOKENS = 8


def build_search_text(*parts: Any) -> str:
    """The ``search_text`` value for these field values (None and blanks skipped)."""
    return " ".join(str(p).strip().lower() for p in parts if p is not None and str(p).strip())


def query_tokens(query: str | None) -> list[str]:
    """The lower-cased word tokens of a free-text query (at most ``MAX_TOKENS``)."""
    if not query:
        return []
    return _TOKEN_RE.findall(query.lower())[:MAX_TOKENS]


def _like_escape(token: str) -> str:
    return token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def dialect_name(session: AsyncSession) -> str:
    """``sqlite`` or ``postgresql`` for this session's engine."""
    bind = session.bind
    assert bind is not None, "session without a bind"
    return bind.dialect.name


def text_search(
    session: AsyncSession, stmt: sa.Select[Any], model: Any, query: str | None
) -> tuple[sa.Select[Any], Any]:
    """``stmt`` (a select of ``model``'s columns, with the list's conditions) narrowed to
    rows whose search text contains every token of ``query``, using the engine's index,
    and the id column to order it by. Unchanged when the query has no tokens.

    SQLite: the FTS5 table's matching rowids. PostgreSQL: the same select, read from the
    ``<table>_search`` view instead of the table (see the module docstring), every column
    and condition moved over to the view's namesakes."""
    tokens = query_tokens(query)
    if not tokens:
        return stmt, model.id
    table = model.__tablename__
    if table not in SEARCHABLE_TABLES:
        raise ValueError(f"{table} has no search index")
    if dialect_name(session) == "sqlite":
        match = " ".join('"' + t.replace('"', "") + '"*' for t in tokens)
        rowids = (
            sa.select(sa.literal_column("rowid"))
            .select_from(sa.table(f"{table}_fts"))
            .where(sa.literal_column(f"{table}_fts").op("MATCH")(sa.literal(match)))
        )
        return stmt.where(sa.literal_column(f"{table}.rowid").in_(rowids)), model.id
    base = model.__table__
    view = search_view(base)
    columns = [_on_view(c, base, view) for c in stmt.selected_columns]
    searched = sa.select(*columns).select_from(view)
    if stmt.whereclause is not None:
        searched = searched.where(_on_view(stmt.whereclause, base, view))
    searched = searched.where(
        *(view.c.search_text.ilike(f"%{_like_escape(t)}%", escape="\\") for t in tokens)
    )
    return searched, view.c.id


def search_view(table: sa.Table) -> sa.TableClause:
    """The ``<table>_search`` view of a searchable table (PostgreSQL): every column of
    the table, the current workspace's rows."""
    return sa.table(f"{table.name}_search", *(sa.column(c.name, c.type) for c in table.columns))


def _on_view(clause: Any, table: sa.Table, view: Any) -> Any:
    """``clause`` with the columns of ``table`` replaced by the view's namesakes."""

    def replace(element: Any) -> Any:
        if isinstance(element, sa.Column) and element.table is table:
            return view.c[element.name]
        return None

    return visitors.replacement_traverse(clause, {}, replace)
