"""Workspace data exports (kernel): the archive writer and the signed download links.

An export is one zip archive holding one NDJSON file per workspace-owned table (every
table of the metadata with a ``workspace_id`` column, discovered, not listed: a domain
added later is exported without a line here), plus ``workspace.ndjson`` (the workspace's
own row) and ``manifest.json`` (the record counts). Rows are streamed from the database
in batches and written to the archive as they come: a workspace of any size is never
held in memory. Columns ending in ``_hash`` (token and invitation hashes) are left out:
they open nothing and are no customer data.

Archives live in a local directory (``Settings.export_path``, one folder per workspace).
A download link is signed: ``HMAC-SHA256(key, "<workspace>/<export>/<expires>")`` with
the key in ``<export dir>/.signing-key`` (created on first use, mode 0600), so the web
process that serves the file and the worker that wrote it need share only that folder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import zipfile
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from core.config import Settings

BATCH_ROWS = 1000
DOWNLOAD_PREFIX = "/downloads/exports"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
WORKSPACE_FILE = "workspace.ndjson"
MANIFEST_FILE = "manifest.json"


def owned_tables(platform: Any = None) -> list[sa.Table]:
    """Every workspace-owned table, parents before children: the kernel's metadata and
    the tables the platform's domains declare (``Domain.tables``)."""
    tables = {t.name: t for t in SQLModel.metadata.sorted_tables if "workspace_id" in t.c}
    for domain in platform.domains if platform is not None else ():
        for model in domain.tables:
            table = getattr(model, "__table__", None)
            if table is not None and "workspace_id" in table.c:
                tables.setdefault(table.name, table)
    return list(sa.schema.sort_tables(tables.values()))


def people_tables(owned: list[sa.Table]) -> list[tuple[sa.Table, sa.Column[Any], list[Any]]]:
    """The global tables workspace rows point at (the people of ``memberships``): each
    with its key and the owned columns referencing it. The ``workspaces`` row is apart."""
    found: dict[str, tuple[sa.Table, sa.Column[Any], list[Any]]] = {}
    names = {t.name for t in owned}
    for table in owned:
        for fk in table.foreign_keys:
            target = fk.column.table
            if target.name in names or target.name == "workspaces" or "workspace_id" in target.c:
                continue
            entry = found.setdefault(target.name, (target, fk.column, []))
            entry[2].append(fk.parent)
    return list(found.values())


def archive_path(settings: Settings, workspace_id: str, export_id: str) -> Path:
    """Where the archive of export ``export_id`` is (or will be) written."""
    return settings.export_path / workspace_id / f"{export_id}.zip"


def workspace_folder(settings: Settings, workspace_id: str) -> Path:
    """The folder holding a workspace's archives (removed by the purge)."""
    return settings.export_path / workspace_id


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot export a {type(value).__name__}")


def _line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, default=_json_default, separators=(",", ":")) + "\n").encode()


def _columns(table: sa.Table) -> list[sa.Column[Any]]:
    return [c for c in table.c if not c.name.endswith("_hash")]


async def write_archive(
    session: AsyncSession,
    workspace_id: str,
    path: Path,
    workspace_row: dict[str, Any],
    platform: Any = None,
) -> tuple[int, dict[str, int]]:
    """Write the workspace's records to the zip at ``path`` (through a ``.part`` file,
    renamed when complete); answers ``(size in bytes, {file name: records})``.

    ``session`` must be bound to the workspace (row-level security shows it nothing else)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the owner's data
    partial = path.with_suffix(".part")
    counts: dict[str, int] = {}
    archive = zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED)
    try:
        await anyio.to_thread.run_sync(archive.writestr, WORKSPACE_FILE, _line(workspace_row))
        counts[WORKSPACE_FILE] = 1
        owned = owned_tables(platform)
        queries: list[tuple[sa.Table, Any]] = [
            (table, sa.select(*_columns(table)).where(table.c.workspace_id == workspace_id))
            for table in owned
        ]
        for table, key, referrers in people_tables(owned):
            referenced = sa.union(
                *(sa.select(c).where(c.table.c.workspace_id == workspace_id) for c in referrers)
            ).subquery()
            in_workspace = key.in_(sa.select(referenced.c[0]))
            queries.append((table, sa.select(*_columns(table)).where(in_workspace)))
        for table, query in queries:
            name = f"{table.name}.ndjson"
            stmt = query.order_by(*table.primary_key.columns).execution_options(
                yield_per=BATCH_ROWS
            )
            member = archive.open(name, "w", force_zip64=True)
            written = 0
            try:
                result = await session.stream(stmt)
                async for batch in result.mappings().partitions(BATCH_ROWS):
                    chunk = b"".join(_line(dict(row)) for row in batch)
                    await anyio.to_thread.run_sync(member.write, chunk)
                    written += len(batch)
            finally:
                await anyio.to_thread.run_sync(member.close)
            counts[name] = written
        manifest = {"workspace_id": workspace_id, "format": "ndjson", "files": counts}
        archive.writestr(MANIFEST_FILE, json.dumps(manifest, indent=2))
    except BaseException:
        archive.close()
        partial.unlink(missing_ok=True)
        raise
    archive.close()
    os.replace(partial, path)
    return path.stat().st_size, counts


def read_archive(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Parse an export archive back: ``{file name: records}`` (tests, tools)."""
    with zipfile.ZipFile(path) as archive:
        return {
            name: [json.loads(line) for line in archive.read(name).splitlines() if line]
            for name in archive.namelist()
            if name.endswith(".ndjson")
        }


# ---------------------------------------------------------------- signed links


def signing_key(settings: Settings) -> bytes:
    """The key that signs download links (created on first use, readable by its owner
    only)."""
    folder = settings.export_path
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_file = folder / ".signing-key"
    try:
        return bytes.fromhex(key_file.read_text().strip())
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return bytes.fromhex(key_file.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex())
    return key


def signature(settings: Settings, workspace_id: str, export_id: str, expires: int) -> str:
    message = f"{workspace_id}/{export_id}/{expires}".encode()
    return hmac.new(signing_key(settings), message, hashlib.sha256).hexdigest()


def download_link(
    settings: Settings, workspace_id: str, export_id: str, now: datetime
) -> tuple[str, datetime]:
    """A signed link to the archive, valid ``export_link_seconds`` from ``now``, and when
    it expires."""
    expires_at = now + timedelta(seconds=settings.export_link_seconds)
    expires = int(expires_at.timestamp())
    base = settings.public_base_url or DEFAULT_BASE_URL
    sig = signature(settings, workspace_id, export_id, expires)
    query = f"expires={expires}&signature={sig}"
    url = f"{base}{DOWNLOAD_PREFIX}/{workspace_id}/{export_id}.zip?{query}"
    return url, expires_at.replace(microsecond=0)


def link_is_valid(
    settings: Settings,
    workspace_id: str,
    export_id: str,
    expires: str | None,
    given: str | None,
    now: datetime,
) -> bool:
    """Whether ``given`` signs this export's link and ``expires`` has not passed."""
    if not expires or not given or not expires.isdigit() or len(expires) > 12:
        return False
    expected = signature(settings, workspace_id, export_id, int(expires))
    return hmac.compare_digest(expected, given) and int(expires) > now.timestamp()


def remove_files(paths: Iterable[Path]) -> int:
    """Delete files and empty their folders; answers how many files went."""
    removed = 0
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*"), reverse=True):
                if child.is_dir():
                    child.rmdir()
                else:
                    child.unlink()
                    removed += 1
            path.rmdir()
        elif path.exists():
            path.unlink()
            removed += 1
    return removed


async def ready_archive(
    db: Any, settings: Settings, workspace_id: str, export_id: str
) -> Path | None:
    """The archive of a succeeded export still on record (not purged), or None."""
    table = SQLModel.metadata.tables["workspace_exports"]
    async with db.session(workspace_id, read_only=True) as session:
        status = await session.scalar(
            sa.select(table.c.status).where(
                table.c.workspace_id == workspace_id, table.c.id == export_id
            )
        )
    path = archive_path(settings, workspace_id, export_id)
    return path if status == "succeeded" and path.is_file() else None
