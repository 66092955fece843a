"""conversations and knowledge: agents, conversations, messages, notes; knowledge
collections, articles and chunks with their full-text index; leads.agent_id

PostgreSQL: ``knowledge_chunks.search_vector``, a stored generated tsvector (english)
with a GIN index, and the ``knowledge_chunks_search`` view the search reads
(``core.knowledge.search``). SQLite: the FTS5 table ``knowledge_chunks_fts`` (porter
stemmer) kept in sync by triggers. Neither is in the models.

Revision ID: 0012_conversations
Revises: 0011_workspace_lifecycle
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db
from core.db import APP_ROLE, TENANT_SETTING
from core.migrations.tenancy import disable_tenant_isolation, enable_tenant_isolation

revision: str = "0012_conversations"
down_revision: str | Sequence[str] | None = "0011_workspace_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNED = (
    "knowledge_collections",
    "knowledge_articles",
    "knowledge_chunks",
    "agents",
    "conversations",
    "conversation_messages",
    "conversation_notes",
)
LEADS_FK = (
    "CONSTRAINT fk_leads_agent_id_agents FOREIGN KEY(workspace_id, agent_id) "
    "REFERENCES agents (workspace_id, id)"
)


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, core.db.UTCDateTime(), nullable=nullable)


def _owned(*columns: sa.Column) -> list:
    return [
        sa.Column("id", _str(40), nullable=False),
        sa.Column("workspace_id", _str(40), nullable=False),
        *columns,
    ]


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id", column],
        [f"{target}.workspace_id", f"{target}.id"],
        name=f"fk_{table}_{column}_{target}",
        ondelete=ondelete,
    )


def _keys(table: str) -> list:
    return [
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=f"{table}_pkey"),
    ]


def _tables() -> None:
    op.create_table(
        "knowledge_collections",
        *_owned(
            sa.Column("name", _str(200), nullable=False),
            sa.Column("description", _str(2000), nullable=True),
            sa.Column("chunk_size", sa.Integer(), nullable=False),
            sa.Column("chunk_overlap", sa.Integer(), nullable=False),
            _ts("created_at"),
            _ts("updated_at"),
        ),
        *_keys("knowledge_collections"),
    )
    op.create_table(
        "knowledge_articles",
        *_owned(
            sa.Column("collection_id", _str(40), nullable=False),
            sa.Column("title", _str(300), nullable=False),
            sa.Column("body", _str(200_000), nullable=True),
            sa.Column("source_url", _str(2000), nullable=True),
            sa.Column("chunk_count", sa.Integer(), nullable=False),
            _ts("created_at"),
            _ts("updated_at"),
        ),
        *_keys("knowledge_articles"),
        _fk("knowledge_articles", "collection_id", "knowledge_collections"),
    )
    op.create_index(
        "ix_knowledge_articles_workspace_id_collection_id_id",
        "knowledge_articles",
        ["workspace_id", "collection_id", "id"],
    )
    op.create_table(
        "knowledge_chunks",
        *_owned(
            sa.Column("article_id", _str(40), nullable=False),
            sa.Column("collection_id", _str(40), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("source", _str(10), nullable=False),
            sa.Column("heading", _str(300), nullable=True),
            sa.Column("content", _str(20_000), nullable=False),
            _ts("created_at"),
            _ts("updated_at"),
        ),
        *_keys("knowledge_chunks"),
        _fk("knowledge_chunks", "article_id", "knowledge_articles", "CASCADE"),
        _fk("knowledge_chunks", "collection_id", "knowledge_collections"),
    )
    op.create_index(
        "ix_knowledge_chunks_workspace_id_article_id_position",
        "knowledge_chunks",
        ["workspace_id", "article_id", "position"],
    )
    op.create_index(
        "ix_knowledge_chunks_workspace_id_collection_id_id",
        "knowledge_chunks",
        ["workspace_id", "collection_id", "id"],
    )
    op.create_table(
        "agents",
        *_owned(
            sa.Column("name", _str(200), nullable=False),
            sa.Column("status", _str(20), nullable=False),
            sa.Column("site_url", _str(2000), nullable=True),
            sa.Column("collection_id", _str(40), nullable=True),
            sa.Column("description", _str(2000), nullable=True),
            _ts("created_at"),
            _ts("updated_at"),
        ),
        *_keys("agents"),
        _fk("agents", "collection_id", "knowledge_collections"),
    )
    op.create_index("ix_agents_workspace_id_status_id", "agents", ["workspace_id", "status", "id"])
    op.create_table(
        "conversations",
        *_owned(
            sa.Column("agent_id", _str(40), nullable=True),
            sa.Column("contact_id", _str(40), nullable=True),
            sa.Column("channel", _str(20), nullable=False),
            sa.Column("status", _str(20), nullable=False),
            sa.Column("subject", _str(300), nullable=True),
            sa.Column("assigned_member_id", _str(40), nullable=True),
            sa.Column("assigned_agent_id", _str(40), nullable=True),
            sa.Column("message_count", sa.Integer(), nullable=False),
            _ts("last_message_at", True),
            _ts("closed_at", True),
            _ts("created_at"),
            _ts("updated_at"),
        ),
        *_keys("conversations"),
        _fk("conversations", "agent_id", "agents"),
        _fk("conversations", "contact_id", "contacts"),
        _fk("conversations", "assigned_agent_id", "agents"),
    )
    for column in ("status", "agent_id", "contact_id"):
        op.create_index(
            f"ix_conversations_workspace_id_{column}_id",
            "conversations",
            ["workspace_id", column, "id"],
        )
    op.create_table(
        "conversation_messages",
        *_owned(
            sa.Column("conversation_id", _str(40), nullable=False),
            sa.Column("author_type", _str(20), nullable=False),
            sa.Column("author_id", _str(40), nullable=True),
            sa.Column("body", _str(20_000), nullable=False),
            _ts("created_at"),
        ),
        *_keys("conversation_messages"),
        _fk("conversation_messages", "conversation_id", "conversations", "CASCADE"),
    )
    op.create_index(
        "ix_conversation_messages_workspace_id_conversation_id_id",
        "conversation_messages",
        ["workspace_id", "conversation_id", "id"],
    )
    op.create_table(
        "conversation_notes",
        *_owned(
            sa.Column("conversation_id", _str(40), nullable=False),
            sa.Column("author", _str(200), nullable=True),
            sa.Column("body", _str(20_000), nullable=False),
            _ts("created_at"),
        ),
        *_keys("conversation_notes"),
        _fk("conversation_notes", "conversation_id", "conversations", "CASCADE"),
    )
    op.create_index(
        "ix_conversation_notes_workspace_id_conversation_id_id",
        "conversation_notes",
        ["workspace_id", "conversation_id", "id"],
    )


def _drop_tables() -> None:
    for table in reversed(OWNED):
        op.drop_table(table)


# ---------------------------------------------------------------- full-text index

PG_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(heading, '')), 'A') || "
    "to_tsvector('english'::regconfig, content)"
)


def _search_index(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute(
            "ALTER TABLE knowledge_chunks ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({PG_VECTOR}) STORED"
        )
        op.execute(
            "CREATE INDEX ix_knowledge_chunks_search_tsv ON knowledge_chunks "
            "USING gin (search_vector)"
        )
        op.execute(
            "CREATE OR REPLACE VIEW knowledge_chunks_search AS SELECT workspace_id, id, "
            "article_id, collection_id, heading, content, search_vector FROM knowledge_chunks "
            f"WHERE workspace_id = current_setting('{TENANT_SETTING}', true)"
        )
        op.execute(f"GRANT SELECT ON knowledge_chunks_search TO {APP_ROLE}")
        return
    t = "knowledge_chunks"
    op.execute(
        f"CREATE VIRTUAL TABLE {t}_fts USING fts5(heading, content, content='{t}', "
        "content_rowid='rowid', tokenize='porter unicode61')"
    )
    op.execute(
        f"CREATE TRIGGER {t}_fts_ai AFTER INSERT ON {t} BEGIN "
        f"INSERT INTO {t}_fts(rowid, heading, content) "
        "VALUES (new.rowid, new.heading, new.content); END"
    )
    op.execute(
        f"CREATE TRIGGER {t}_fts_ad AFTER DELETE ON {t} BEGIN "
        f"INSERT INTO {t}_fts({t}_fts, rowid, heading, content) "
        "VALUES ('delete', old.rowid, old.heading, old.content); END"
    )
    op.execute(
        f"CREATE TRIGGER {t}_fts_au AFTER UPDATE OF heading, content ON {t} BEGIN "
        f"INSERT INTO {t}_fts({t}_fts, rowid, heading, content) "
        "VALUES ('delete', old.rowid, old.heading, old.content); "
        f"INSERT INTO {t}_fts(rowid, heading, content) "
        "VALUES (new.rowid, new.heading, new.content); END"
    )


def _drop_search_index(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute("DROP VIEW IF EXISTS knowledge_chunks_search")
        return
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS knowledge_chunks_fts_{suffix}")
    op.execute("DROP TABLE IF EXISTS knowledge_chunks_fts")


# ---------------------------------------------------------------- leads.agent_id


def _sqlite_rebuild_leads(edit: object) -> None:
    """Re-create ``leads`` from its DDL passed through ``edit`` (SQLite cannot add or drop
    a table constraint), keeping every row (and rowid, which its FTS index uses), index
    and trigger."""
    bind = op.get_bind()
    ddl = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'leads'")
    ).scalar_one()
    saved = (
        bind.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'leads' "
                "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
            )
        )
        .scalars()
        .all()
    )
    columns = ", ".join(c["name"] for c in sa.inspect(bind).get_columns("leads"))
    new_ddl = edit(ddl)  # type: ignore[operator]
    head = new_ddl.index("(")
    op.execute("CREATE TABLE leads__new " + new_ddl[head:])
    op.execute(f"INSERT INTO leads__new (rowid, {columns}) SELECT rowid, {columns} FROM leads")
    op.execute("DROP TABLE leads")
    op.execute("ALTER TABLE leads__new RENAME TO leads")
    for sql in saved:
        op.execute(sql)


def _add_lead_agent(dialect: str) -> None:
    if dialect == "postgresql":
        op.add_column("leads", sa.Column("agent_id", _str(40), nullable=True))
        op.create_foreign_key(
            "fk_leads_agent_id_agents",
            "leads",
            "agents",
            ["workspace_id", "agent_id"],
            ["workspace_id", "id"],
        )
    else:
        op.execute("ALTER TABLE leads ADD COLUMN agent_id VARCHAR(40)")

        def add_fk(ddl: str) -> str:
            end = ddl.rstrip().rindex(")")
            return ddl[:end].rstrip() + ",\n\t" + LEADS_FK + "\n)"

        _sqlite_rebuild_leads(add_fk)
    op.create_index(
        "ix_leads_workspace_id_agent_id_id", "leads", ["workspace_id", "agent_id", "id"]
    )


def _drop_lead_agent(dialect: str) -> None:
    op.drop_index("ix_leads_workspace_id_agent_id_id", table_name="leads")
    if dialect == "postgresql":
        op.drop_constraint("fk_leads_agent_id_agents", "leads", type_="foreignkey")
        op.drop_column("leads", "agent_id")
        return
    _sqlite_rebuild_leads(lambda ddl: ddl.replace(",\n\t" + LEADS_FK, ""))
    op.execute("ALTER TABLE leads DROP COLUMN agent_id")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _tables()
    _search_index(dialect)
    _add_lead_agent(dialect)
    for table in OWNED:
        enable_tenant_isolation(op.execute, table, dialect=dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in OWNED:
        disable_tenant_isolation(op.execute, table, dialect=dialect)
    _drop_lead_agent(dialect)
    _drop_search_index(dialect)
    _drop_tables()
