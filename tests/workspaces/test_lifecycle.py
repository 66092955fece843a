"""Issue 18: the workspace lifecycle (owner only), the refusals of an archived or closed
workspace on both channels, the purge after retention, the export round trip and its
signed download link, and the billing view."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from jsonschema import Draft7Validator, Draft202012Validator

from core import exports
from core.config import Settings
from core.db import utcnow
from core.jobs.queue import claim
from core.runtime import Runtime
from core.scopes import ALL_SCOPES
from core.workspaces import lifecycle
from core.workspaces.jobs import EXPORT_QUEUE
from core.workspaces.models import Workspace
from mcp_server.adapter import tool_for
from patchbay.serving import compose_app
from tests.factories import Tenant, token_for
from tests.mcp_server.helpers import error_code, memory_client
from tests.op_samples import create_record, record_types

API = "/api/v1"
ADMIN_SCOPES = [s for s in ALL_SCOPES if s != "workspace:owner"]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The suite's settings with the export archives under the test's own folder."""
    return Settings(
        database_url=database_url,
        redis_url=None,
        allow_private_network=True,
        job_lease_seconds=5,
        worker_poll_seconds=0.05,
        export_dir=str(tmp_path / "exports"),
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The served app (``compose_app``: the API and the export downloads)."""
    transport = httpx.ASGITransport(app=compose_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


async def post(client: httpx.AsyncClient, tenant: Tenant, path: str) -> httpx.Response:
    return await client.post(API + path, headers=tenant.headers, json={})


async def get(client: httpx.AsyncClient, tenant: Tenant, path: str) -> httpx.Response:
    return await client.get(API + path, headers=tenant.headers)


async def status_of(client: httpx.AsyncClient, tenant: Tenant) -> str:
    response = await get(client, tenant, "/workspace")
    assert response.status_code == 200, response.text
    return response.json()["data"]["status"]


async def owned_counts(runtime: Runtime, workspace_id: str) -> dict[str, int]:
    """Rows per workspace-owned table, counted as the tables' owner (no tenant binding)."""
    from tests.factories import owner_session

    counts: dict[str, int] = {}
    async with owner_session(runtime) as session:
        for table in exports.owned_tables(runtime.platform):
            counts[table.name] = int(
                await session.scalar(
                    sa.select(sa.func.count()).select_from(table)
                    .where(table.c.workspace_id == workspace_id)
                ) or 0
            )  # fmt: skip
    return counts


async def run_exports(runtime: Runtime) -> int:
    """Run every due export job as the worker would; answers how many ran."""
    ran = 0
    while jobs := await claim(runtime.db, EXPORT_QUEUE, worker_id="test", lease_seconds=30):
        for job in jobs:
            await lifecycle.run_export(runtime, job)
            ran += 1
    return ran


# ---------------------------------------------------------------- status machine, REST


async def test_status_machine_and_refusals_over_rest(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    assert await status_of(client, tenant) == "active"
    for refused in ("/workspace/restore", "/workspace/close"):  # only from archived
        response = await post(client, tenant, refused)
        assert response.status_code == 409 and code(response) == "workspace_status_invalid"
        assert response.json()["error"]["details"]["status"] == "active"

    archived = await post(client, tenant, "/workspace/archive")
    assert archived.status_code == 200, archived.text
    assert archived.json()["data"]["status"] == "archived"
    assert archived.json()["data"]["archived_at"]
    again = await post(client, tenant, "/workspace/archive")
    assert again.status_code == 409 and code(again) == "workspace_status_invalid"

    # archived: every operation refused but the workspace, billing and export reads
    for method, path in (("GET", "/contacts"), ("POST", "/tasks"), ("GET", "/me"),
                         ("GET", "/tokens"), ("PATCH", "/workspace")):  # fmt: skip
        response = await client.request(method, API + path, headers=tenant.headers, json={})
        assert response.status_code == 403 and code(response) == "workspace_inactive", path
    assert await status_of(client, tenant) == "archived"
    assert (await get(client, tenant, "/billing/subscription")).status_code == 200
    export = await post(client, tenant, "/workspace/exports")
    assert export.status_code == 202, export.text
    export_id = export.json()["data"]["id"]
    assert (await get(client, tenant, f"/workspace/exports/{export_id}")).status_code == 200

    restored = await post(client, tenant, "/workspace/restore")
    assert restored.status_code == 200 and restored.json()["data"]["status"] == "active"
    assert "archived_at" not in restored.json()["data"]
    assert (await get(client, tenant, "/contacts")).status_code == 200

    assert (await post(client, tenant, "/workspace/archive")).status_code == 200
    closed = await post(client, tenant, "/workspace/close")
    assert closed.status_code == 200 and closed.json()["data"]["status"] == "closed"
    purge_after = datetime.fromisoformat(closed.json()["data"]["purge_after"])
    closed_at = datetime.fromisoformat(closed.json()["data"]["closed_at"])
    assert purge_after - closed_at == timedelta(days=30)

    # closed: only the export (and the lifecycle moves, which answer 409)
    for path in ("/workspace", "/billing/subscription", "/contacts"):
        response = await get(client, tenant, path)
        assert response.status_code == 403 and code(response) == "workspace_inactive", path
    assert (await post(client, tenant, "/workspace/exports")).status_code == 202
    assert (await get(client, tenant, f"/workspace/exports/{export_id}")).status_code == 200
    restore = await post(client, tenant, "/workspace/restore")
    assert restore.status_code == 409 and code(restore) == "workspace_status_invalid"
    assert restore.json()["error"]["details"] == {
        "status": "closed",
        "required_status": "archived",
    }


async def test_concurrent_moves_cannot_both_win(runtime: Runtime, tenant: Tenant) -> None:
    import anyio

    outcomes: list[str] = []

    async def attempt(action: str) -> None:
        from core.errors import DomainError

        try:
            async with runtime.db.session(tenant.workspace_id) as session:
                await lifecycle.move(session, tenant.workspace_id, action, utcnow())
            outcomes.append("ok")
        except DomainError as error:
            outcomes.append(error.code)

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(attempt, "archive")
    assert sorted(outcomes) == ["ok"] + ["workspace_status_invalid"] * 3


# ---------------------------------------------------------------- MCP


async def test_status_machine_and_refusals_over_mcp(runtime: Runtime, tenant: Tenant) -> None:
    async with memory_client(runtime, tenant.token) as client:
        refused = await client.call_tool("close_workspace", {})
        assert error_code(refused) == "workspace_status_invalid"
        archived = await client.call_tool("archive_workspace", {})
        assert not archived.is_error
        assert archived.structured_content["data"]["status"] == "archived"  # type: ignore[index]
        for tool, args in (("get_me", {}), ("create_task", {"title": "x"})):
            assert error_code(await client.call_tool(tool, args)) == "workspace_inactive"
        billing = await client.call_tool("get_billing_subscription", {})
        assert not billing.is_error
        assert not (await client.call_tool("create_workspace_export", {})).is_error
        assert not (await client.call_tool("restore_workspace", {})).is_error
        assert not (await client.call_tool("get_me", {})).is_error
        assert not (await client.call_tool("archive_workspace", {})).is_error
        closed = await client.call_tool("close_workspace", {})
        assert not closed.is_error
        schema = tool_for(runtime.registry.get("close_workspace"), runtime.registry).output_schema
        Draft202012Validator(schema).validate(closed.structured_content)
        Draft7Validator(schema).validate(closed.structured_content)
        assert error_code(await client.call_tool("get_billing_subscription", {})) == (
            "workspace_inactive"
        )
        assert not (await client.call_tool("create_workspace_export", {})).is_error
        restore = await client.call_tool("restore_workspace", {})
        assert error_code(restore) == "workspace_status_invalid"


# ---------------------------------------------------------------- owner vs admin


async def test_only_owners_run_the_lifecycle(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    from core.members.roles import scopes_for

    admin = Tenant(tenant.workspace_id, await token_for(runtime, tenant, ADMIN_SCOPES), "")
    assert set(ADMIN_SCOPES) == scopes_for("admin")
    for path in ("/workspace/archive", "/workspace/close", "/workspace/restore",
                 "/workspace/exports"):  # fmt: skip
        response = await post(client, admin, path)
        assert response.status_code == 403 and code(response) == "scope_missing", path
        assert "workspace:owner" in response.json()["error"]["message"]
    assert (await get(client, admin, "/billing/subscription")).status_code == 200  # admins read
    # an admin cannot mint a token carrying the owner's scope; an owner can
    body = {"name": "lifecycle", "scopes": ["workspace:owner"]}
    minted = await client.post(API + "/tokens", headers=admin.headers, json=body)
    assert minted.status_code == 403 and code(minted) == "scope_escalation", minted.text
    minted = await client.post(API + "/tokens", headers=tenant.headers, json=body)
    assert minted.status_code == 201, minted.text
    assert minted.json()["data"]["scopes"] == ["workspace:owner"]
    owner_only = Tenant(tenant.workspace_id, minted.json()["data"]["token"], "")
    assert (await post(client, owner_only, "/workspace/archive")).status_code == 200
    # an admin cannot invite an owner (the role's scopes are beyond the admin's)
    await post(client, owner_only, "/workspace/restore")
    invite = await client.post(
        API + "/members", headers=admin.headers,
        json={"email": "boss@example.com", "role": "owner"},
    )  # fmt: skip
    assert invite.status_code == 403 and code(invite) == "scope_escalation", invite.text


# ---------------------------------------------------------------- export round trip


async def test_export_of_every_record_kind_round_trips(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    created = {
        type_: await create_record(client, tenant.headers, type_) for type_ in record_types()
    }
    foreign = await create_record(client, other_tenant.headers, "contact")  # must not leak in
    queued = await post(client, tenant, "/workspace/exports")
    assert queued.status_code == 202 and queued.json()["data"]["status"] == "queued"
    export_id = queued.json()["data"]["id"]
    again = await post(client, tenant, "/workspace/exports")  # the one in flight
    assert again.json()["data"]["id"] == export_id

    expected = await owned_counts(runtime, tenant.workspace_id)
    assert await run_exports(runtime) == 1
    shown = (await get(client, tenant, f"/workspace/exports/{export_id}")).json()["data"]
    assert shown["status"] == "succeeded", shown
    url = shown["download_url"]
    assert url.startswith(f"http://127.0.0.1:8000/downloads/exports/{tenant.workspace_id}/")

    downloaded = await client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(downloaded.content))
    files = {
        name: [line for line in archive.read(name).splitlines() if line]
        for name in archive.namelist() if name.endswith(".ndjson")
    }  # fmt: skip
    import json

    parsed = {name: [json.loads(line) for line in lines] for name, lines in files.items()}
    for table, count in expected.items():
        assert len(parsed[f"{table}.ndjson"]) == count, table
        assert all(r["workspace_id"] == tenant.workspace_id for r in parsed[f"{table}.ndjson"])
    assert shown["record_counts"] == {name: len(rows) for name, rows in parsed.items()}
    assert parsed["workspace.ndjson"][0]["id"] == tenant.workspace_id
    # every record kind is in (the audit log too), nothing of another workspace, no hashes
    exported_ids = {r.get("id") for rows in parsed.values() for r in rows}
    assert set(created.values()) <= exported_ids, set(created.values()) - exported_ids
    assert foreign not in exported_ids
    non_empty = {name for name, rows in parsed.items() if rows}
    assert {"contacts.ndjson", "audit_log.ndjson", "api_tokens.ndjson"} <= non_empty
    assert all("token_hash" not in r for r in parsed["api_tokens.ndjson"])
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["files"] == shown["record_counts"]
    # the same archive, parsed back by the kernel's reader
    path = exports.archive_path(runtime.settings, tenant.workspace_id, export_id)
    assert {k: len(v) for k, v in exports.read_archive(path).items()} == shown["record_counts"]


async def test_download_link_is_signed_and_expires(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    export_id = (await post(client, tenant, "/workspace/exports")).json()["data"]["id"]
    pending = (await get(client, tenant, f"/workspace/exports/{export_id}")).json()["data"]
    assert "download_url" not in pending  # not before it succeeded
    await run_exports(runtime)
    url = (
        (await get(client, tenant, f"/workspace/exports/{export_id}"))
        .json()["data"]["download_url"]
        .removeprefix("http://127.0.0.1:8000")
    )
    assert (await client.get(url)).status_code == 200
    tampered = [
        url.replace("signature=", "signature=0"),
        url.split("&signature=")[0],
        url.replace(tenant.workspace_id, other_tenant.workspace_id),
        url.replace("expires=", "expires=9"),
    ]
    for bad in tampered:
        response = await client.get(bad)
        assert response.status_code == 403 and code(response) == "download_link_invalid", bad
    past = int((utcnow() - timedelta(seconds=1)).timestamp())
    sig = exports.signature(runtime.settings, tenant.workspace_id, export_id, past)
    expired = url.split("?")[0] + f"?expires={past}&signature={sig}"
    response = await client.get(expired)
    assert response.status_code == 403 and code(response) == "download_link_invalid"
    # a signed link to an export that has no archive
    now = utcnow()
    ghost, _ = exports.download_link(runtime.settings, tenant.workspace_id, "exp_ghost", now)
    response = await client.get(ghost.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 404 and code(response) == "workspace_export_not_found"


# ---------------------------------------------------------------- purge after retention


async def test_closed_workspace_is_purged_after_retention(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    from tests.factories import owner_session

    for type_ in record_types():
        await create_record(client, tenant.headers, type_)
    await create_record(client, other_tenant.headers, "contact")
    export_id = (await post(client, tenant, "/workspace/exports")).json()["data"]["id"]
    await run_exports(runtime)
    folder = exports.workspace_folder(runtime.settings, tenant.workspace_id)
    assert (folder / f"{export_id}.zip").is_file()
    others_before = await owned_counts(runtime, other_tenant.workspace_id)

    assert (await post(client, tenant, "/workspace/archive")).status_code == 200
    closed = await post(client, tenant, "/workspace/close")
    closed_at = datetime.fromisoformat(closed.json()["data"]["closed_at"])

    # the retention period has not passed: nothing goes (the clock is the caller's)
    assert await lifecycle.purge_due(runtime, now=closed_at + timedelta(days=29)) == 0
    assert sum((await owned_counts(runtime, tenant.workspace_id)).values()) > 0
    assert (await post(client, tenant, "/workspace/exports")).status_code == 202

    removed = await lifecycle.purge_due(runtime, now=closed_at + timedelta(days=30, seconds=1))
    assert removed > 0
    left = await owned_counts(runtime, tenant.workspace_id)
    assert left == dict.fromkeys(left, 0), {k: v for k, v in left.items() if v}
    assert not folder.exists()
    async with owner_session(runtime) as session:
        tombstone = await session.get(Workspace, tenant.workspace_id)
        assert tombstone is not None and tombstone.status == "purged"
        assert tombstone.purged_at is not None and tombstone.closed_at is not None
    assert await owned_counts(runtime, other_tenant.workspace_id) == others_before
    response = await get(client, tenant, "/workspace")
    assert response.status_code == 401  # its tokens went with it
    assert await lifecycle.purge_due(runtime, now=closed_at + timedelta(days=60)) == 0


async def test_the_purge_is_a_worker_chore(runtime: Runtime) -> None:
    from core.workspaces.jobs import purge_closed_workspaces

    assert purge_closed_workspaces in runtime.platform.chores
    assert EXPORT_QUEUE in runtime.platform.queues
    assert await purge_closed_workspaces(runtime) == 0


async def test_retention_is_a_setting(runtime: Runtime, tenant: Tenant) -> None:
    from core.workspaces.models import WorkspaceStatus

    async with runtime.db.session(tenant.workspace_id) as session:
        workspace = await session.get(Workspace, tenant.workspace_id)
        assert workspace is not None
        assert lifecycle.purge_due_at(runtime.settings, workspace) is None  # active
        workspace.status = WorkspaceStatus.closed
        workspace.closed_at = datetime(2026, 1, 1, tzinfo=UTC)
        short = runtime.settings.model_copy(update={"workspace_retention_days": 7})
        assert lifecycle.purge_due_at(short, workspace) == datetime(2026, 1, 8, tzinfo=UTC)
        await session.rollback()


async def test_an_export_purged_while_running_leaves_no_file(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    from core.workspaces.export_models import WorkspaceExport
    from tests.factories import owner_session

    export_id = (await post(client, tenant, "/workspace/exports")).json()["data"]["id"]
    (job,) = await claim(runtime.db, EXPORT_QUEUE, worker_id="test", lease_seconds=30)
    real_write = exports.write_archive

    async def write_then_purge(*args: object, **kw: object) -> object:
        written = await real_write(*args, **kw)  # type: ignore[arg-type]
        async with owner_session(runtime) as session:
            await session.execute(sa.delete(WorkspaceExport).where(WorkspaceExport.id == export_id))
        return written

    exports.write_archive = write_then_purge  # type: ignore[assignment]
    try:
        await lifecycle.run_export(runtime, job)
    finally:
        exports.write_archive = real_write  # type: ignore[assignment]
    assert not exports.archive_path(runtime.settings, tenant.workspace_id, export_id).exists()
