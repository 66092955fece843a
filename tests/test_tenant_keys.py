"""Every workspace-owned table is keyed by its workspace (issue 13).

Over the metadata of every domain (and the test-only ones, which copy the template): the
primary key starts with ``workspace_id``, every unique constraint or unique index starts
with it, and every foreign key to a workspace-owned table carries it. The database then
refuses a cross-workspace reference, on both engines.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

import patchbay.domains  # noqa: F401  (defines every domain's tables)
from core.crm import service as crm
from core.crm.schemas import CreateCompanyIn, CreateContactIn
from core.runtime import Runtime
from tests.domains import SUITE_TABLES
from tests.factories import Tenant

GLOBAL_TABLES = {
    "workspaces",
    # People, not tenants: a person may belong to several workspaces (memberships, which
    # is workspace-owned, says where); their sessions and password resets are theirs.
    "members",
    "member_sessions",
    "password_resets",
}
"""Tables shared by every workspace (a new one is a deliberate addition here)."""

TABLES = [*SQLModel.metadata.sorted_tables, *SUITE_TABLES.sorted_tables]
OWNED = {t.name for t in TABLES if t.name not in GLOBAL_TABLES}


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_primary_key_starts_with_the_workspace(table: sa.Table) -> None:
    if table.name in GLOBAL_TABLES:
        assert "workspace_id" not in table.c
        return
    assert "workspace_id" in table.c, f"{table.name} has no workspace_id"
    key = [c.name for c in table.primary_key.columns]
    assert key[0] == "workspace_id" and len(key) >= 2, f"{table.name}: primary key {key}"


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_unique_constraints_start_with_the_workspace(table: sa.Table) -> None:
    if table.name in GLOBAL_TABLES:
        return
    uniques = [
        list(u.columns.keys()) for u in table.constraints if isinstance(u, sa.UniqueConstraint)
    ]
    uniques += [list(i.columns.keys()) for i in table.indexes if i.unique]
    uniques += [[c.name] for c in table.columns if c.unique]
    for columns in uniques:
        assert columns[0] == "workspace_id", f"{table.name}: unique {columns}"


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_foreign_keys_to_owned_tables_carry_the_workspace(table: sa.Table) -> None:
    for fk in table.foreign_key_constraints:
        target = fk.elements[0].target_fullname.split(".")[0]
        if target not in OWNED:
            continue
        pairs = [(e.parent.name, e.target_fullname.split(".")[1]) for e in fk.elements]
        assert pairs[0] == ("workspace_id", "workspace_id"), f"{table.name}: {pairs}"
        assert pairs[1:] and pairs[-1][1] == "id", f"{table.name}: {pairs}"
        assert fk.ondelete in (None, "CASCADE"), f"{table.name}: SET NULL would null workspace_id"


async def test_the_database_refuses_a_cross_workspace_reference(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with runtime.db.session(other_tenant.workspace_id) as session:
        foreign = await crm.create_company(
            session, other_tenant.workspace_id, CreateCompanyIn(name="Globex")
        )
    async with runtime.db.session(tenant.workspace_id) as session:
        contact = await crm.create_contact(
            session, tenant.workspace_id, CreateContactIn(name="Ann")
        )
    with pytest.raises(sa.exc.IntegrityError):
        async with runtime.db.session(tenant.workspace_id) as session:
            await session.execute(
                sa.text("UPDATE contacts SET company_id = :c WHERE workspace_id = :w AND id = :id"),
                {"c": foreign.id, "w": tenant.workspace_id, "id": contact.id},
            )
