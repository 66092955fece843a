"""PostgreSQL row-level security (migration 0008): the database itself keeps tenants apart.

The application runs as ``patchbay_app`` (``Database``'s default role), which these tests
use on purpose with queries that forget the workspace: they must see and touch nothing
of another workspace. Only the narrow ``SECURITY DEFINER`` functions look across
workspaces (authentication, the job claim), and the claim hands out one workspace's rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

import patchbay.domains  # noqa: F401  (every domain's tables)
from core.crm import service as crm
from core.crm.schemas import CreateContactIn
from core.db import APP_ROLE
from core.jobs.queue import claim
from core.runtime import Runtime
from core.workflows.jobs import QUEUE
from tests.factories import Tenant, owner_session
from tests.workflows.helpers import create_workflow, trigger

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)

OWNED = sorted(t.name for t in SQLModel.metadata.sorted_tables if "workspace_id" in t.c)

RECIPE = {"steps": [{"type": "log", "message": "hi"}]}


@pytest.fixture
async def two_tenants(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> AsyncIterator[tuple[Tenant, Tenant]]:
    """Each workspace has a contact and two queued workflow runs."""
    for t, name in ((tenant, "Ann"), (other_tenant, "Bob")):
        async with runtime.db.session(t.workspace_id) as session:
            await crm.create_contact(session, t.workspace_id, CreateContactIn(name=name))
        workflow = await create_workflow(runtime, t.workspace_id, RECIPE)
        await trigger(runtime, t.workspace_id, workflow, count=2)
    yield tenant, other_tenant


async def test_every_owned_table_has_the_tenant_policy(runtime: Runtime) -> None:
    async with owner_session(runtime) as session:
        rows = (
            await session.execute(
                sa.text(
                    "SELECT c.relname, c.relrowsecurity, p.qual, p.with_check "
                    "FROM pg_class c LEFT JOIN pg_policies p "
                    "ON p.tablename = c.relname AND p.policyname = 'tenant_isolation' "
                    "WHERE c.relname = ANY(:tables)"
                ),
                {"tables": OWNED},
            )
        ).all()
    assert sorted(r[0] for r in rows) == OWNED
    for table, enabled, using, check in rows:
        assert enabled, f"{table}: row-level security is off"
        expected = "((workspace_id)::text = current_setting('patchbay.workspace_id'::text, true))"
        assert using == expected and check == expected, f"{table}: {using} / {check}"


async def test_the_application_role_cannot_bypass_the_policies(runtime: Runtime) -> None:
    async with runtime.db.session() as session:
        who = (await session.execute(sa.text("SELECT current_user"))).scalar_one()
        role = (
            await session.execute(
                sa.text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"),
                {"r": APP_ROLE},
            )
        ).one()
        owned = (
            await session.execute(
                sa.text("SELECT count(*) FROM pg_tables WHERE tableowner = :r"), {"r": APP_ROLE}
            )
        ).scalar_one()
    assert who == APP_ROLE
    assert tuple(role) == (False, False)
    assert owned == 0  # so the policies bind it without FORCE ROW LEVEL SECURITY


async def test_an_unscoped_query_sees_no_foreign_rows(
    runtime: Runtime, two_tenants: tuple[Tenant, Tenant]
) -> None:
    mine, theirs = two_tenants
    everything = sa.text("SELECT workspace_id FROM contacts")  # raw SQL: no ORM filter
    async with runtime.db.session() as session:  # bound to no workspace
        assert (await session.execute(everything)).all() == []
        for table in OWNED:
            count = sa.text(f"SELECT count(*) FROM {table}")
            assert (await session.execute(count)).scalar_one() == 0, table
    async with runtime.db.session(mine.workspace_id) as session:
        seen = {r[0] for r in (await session.execute(everything)).all()}
    assert seen == {mine.workspace_id}
    async with owner_session(runtime) as session:  # the rows are there all right
        seen = {r[0] for r in (await session.execute(everything)).all()}
    assert seen == {mine.workspace_id, theirs.workspace_id}


async def test_writes_into_another_workspace_are_refused(
    runtime: Runtime, two_tenants: tuple[Tenant, Tenant]
) -> None:
    mine, theirs = two_tenants
    async with runtime.db.session(mine.workspace_id) as session:
        changed = await session.execute(
            sa.text("UPDATE contacts SET name = 'pwned' WHERE workspace_id = :w"),
            {"w": theirs.workspace_id},
        )
        assert changed.rowcount == 0  # type: ignore[attr-defined]
        deleted = await session.execute(sa.text("DELETE FROM contacts"))
        assert deleted.rowcount == 1  # type: ignore[attr-defined]  (only its own)
        await session.rollback()
    with pytest.raises(DBAPIError, match="row-level security"):
        async with runtime.db.session(mine.workspace_id) as session:
            await session.execute(
                sa.text(
                    "INSERT INTO tasks (workspace_id, id, title, status, priority, created_at, "
                    "updated_at) VALUES (:w, 'tsk_x', 'x', 'open', 'normal', now(), now())"
                ),
                {"w": theirs.workspace_id},
            )


async def test_a_claim_hands_out_one_workspace_and_its_job_sees_only_that(
    runtime: Runtime, two_tenants: tuple[Tenant, Tenant]
) -> None:
    mine, theirs = two_tenants
    first = await claim(runtime.db, QUEUE, worker_id="w1", lease_seconds=30, limit=10)
    assert len(first) == 2 and len({job.workspace_id for job in first}) == 1
    second = await claim(runtime.db, QUEUE, worker_id="w2", lease_seconds=30, limit=10)
    assert len(second) == 2 and {j.workspace_id for j in second} != {j.workspace_id for j in first}
    job = first[0]
    other = theirs if job.workspace_id == mine.workspace_id else mine
    async with runtime.db.session(job.workspace_id) as session:  # how a job runs
        stolen = await session.execute(
            sa.text("UPDATE workflow_runs SET status = 'failed' WHERE workspace_id = :w"),
            {"w": other.workspace_id},
        )
        assert stolen.rowcount == 0  # type: ignore[attr-defined]
        runs = await session.execute(sa.text("SELECT DISTINCT workspace_id FROM workflow_runs"))
        assert {r[0] for r in runs} == {job.workspace_id}


async def test_only_the_narrow_functions_are_executable_by_the_app(runtime: Runtime) -> None:
    """The SECURITY DEFINER functions the application may call are exactly these; the
    look-up by id refuses a table without a workspace."""
    async with owner_session(runtime) as session:
        rows = await session.execute(
            sa.text(
                "SELECT p.proname FROM pg_proc p WHERE p.prosecdef "
                "AND has_function_privilege(:role, p.oid, 'EXECUTE') ORDER BY 1"
            ),
            {"role": APP_ROLE},
        )
        names = [r[0] for r in rows]
    assert names == [
        "patchbay_authenticate",
        "patchbay_claim_support_sla_checks",
        "patchbay_claim_webhook_deliveries",
        "patchbay_claim_workflow_runs",
        "patchbay_claim_workspace_exports",
        "patchbay_member_workspaces",
        "patchbay_purge_idempotency",
        "patchbay_workspace_of",
    ]
    with pytest.raises(DBAPIError, match="has no workspace_id"):
        async with runtime.db.session() as session:
            await session.execute(
                sa.text("SELECT patchbay_workspace_of('alembic_version'::regclass, 'x')")
            )


async def test_every_search_view_has_every_column_of_its_table(runtime: Runtime) -> None:
    """A searched page is read from ``<table>_search`` (``core.search``), with the list's
    own filters: a column added to a searchable table must reach its view too."""
    from core.search import SEARCHABLE_TABLES

    columns = sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
        "ORDER BY ordinal_position"
    )
    async with owner_session(runtime) as session:
        for table in SEARCHABLE_TABLES:
            of_table = (await session.execute(columns, {"t": table})).scalars().all()
            of_view = (await session.execute(columns, {"t": f"{table}_search"})).scalars().all()
            assert of_table and of_view == of_table, table


async def test_the_tenant_rides_in_the_begin_and_never_outlives_its_transaction(
    runtime: Runtime, two_tenants: tuple[Tenant, Tenant]
) -> None:
    """The setting is sent with ``BEGIN`` (``core.pg_connection``), not as a statement of
    its own; a transaction that never reached the server leaves nothing for the next."""
    mine, _ = two_tenants
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = runtime.db.engine.sync_engine
    setting = sa.text("SELECT current_setting('patchbay.workspace_id', true)")
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        async with runtime.db.session(mine.workspace_id) as session:
            assert (await session.execute(setting)).scalar_one() == mine.workspace_id
            names = (await session.execute(sa.text("SELECT name FROM contacts"))).scalars()
            assert list(names) == ["Ann"]
        assert not any("set_config" in s for s in statements), statements
        # bound, begun, nothing sent: the expectation must not reach the next transaction
        runtime.db.engine.pool.dispose()  # one fresh connection for both sessions below
        async with runtime.db.session(mine.workspace_id) as session:
            await session.connection()
        async with runtime.db.session() as session:
            assert (await session.execute(setting)).scalar_one() in ("", None)
            assert (await session.execute(sa.text("SELECT count(*) FROM contacts"))).scalar() == 0
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
