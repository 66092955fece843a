"""Settings from the environment (prefix ``PATCHBAY_``) and an optional ``.env`` file."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_database_url() -> str:
    """SQLite file in the user's data directory, shared by every launch on this machine."""
    folder = Path(user_data_dir("patchbay", appauthor=False))
    return f"sqlite:///{folder / 'patchbay.db'}"


class Settings(BaseSettings):
    """Patchbay's configuration. Unknown or invalid values fail fast at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="PATCHBAY_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(default_factory=default_database_url)
    database_role: str = "patchbay_app"
    """PostgreSQL: the role every connection of the application runs as (``SET ROLE``),
    created by migration 0008 and subject to row-level security; the login role of
    ``database_url`` must be a member. Empty: run as the login role itself (only for a
    database whose tables that role does not own; the owner bypasses the policies)."""
    redis_url: str | None = None
    token: str | None = Field(default=None, description="Token used by `patchbay mcp` (stdio).")
    allow_private_network: bool = False
    rate_limit_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    idempotency_lock_seconds: int = Field(default=60, ge=1)
    public_base_url: str | None = None
    """The URL clients reach this server at (``https://…`` behind TLS): named in the
    OpenAPI document's ``servers`` and the MCP/OAuth metadata."""
    force_https: bool = False
    """Redirect (308) every plain-http request to https; the scheme of a request from a
    trusted proxy is its ``X-Forwarded-Proto``."""
    trusted_proxies: str = "127.0.0.1,::1"
    """Comma separated addresses whose ``X-Forwarded-Proto`` is believed (``*``: any)."""
    # Mail for password reset links (issue 17). No host: the CLI prints the link instead.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None  # kept out of reprs and logs
    smtp_from: str = "patchbay@localhost"
    smtp_starttls: bool = True
    """STARTTLS after connecting (off only for a local relay or a test server)."""
    # MCP operator ceiling (comma separated); headers can only narrow these.
    mcp_toolsets: str | None = None
    mcp_readonly: bool = False
    mcp_allow_tools: str | None = None
    mcp_deny_tools: str | None = None
    # Worker tuning.
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    job_lease_seconds: float = Field(default=30.0, gt=0)
    # Webhook retry schedule in seconds (comma separated), shortened only in tests.
    webhook_retry_schedule: str = "5,300,1800,7200,18000,36000,36000"
    # Workspace lifecycle and data export (issue 18).
    workspace_retention_days: int = Field(default=30, ge=0, le=3650)
    """How long a closed workspace's records stay (export only) before the purge."""
    export_dir: str | None = None
    """Where export archives are written (a local directory; default ``exports`` under
    the user data directory). Its ``.signing-key`` signs the download links."""
    export_link_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    """How long a signed export download link stays valid."""
    log_level: str = "INFO"
    log_format: str = Field(default="text", description="text or json (one object a line).")

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value.lower() not in ("text", "json"):
            raise ValueError("PATCHBAY_LOG_FORMAT must be text or json")
        return value.lower()

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("PATCHBAY_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("PATCHBAY_PUBLIC_BASE_URL must start with https:// (or http://)")
        return value.rstrip("/") if value else value

    @cached_property
    def async_database_url(self) -> str:
        """The database URL with the async driver this project uses for its engine."""
        return to_async_url(self.database_url)

    @property
    def export_path(self) -> Path:
        """The export directory (``export_dir`` or ``exports`` under the data directory)."""
        if self.export_dir:
            return Path(self.export_dir)
        return Path(user_data_dir("patchbay", appauthor=False)) / "exports"

    @property
    def is_sqlite(self) -> bool:
        """True when the embedded SQLite engine is configured."""
        return self.database_url.startswith("sqlite")


def to_async_url(url: str) -> str:
    """Map plain ``sqlite:///`` / ``postgresql://`` URLs onto aiosqlite / asyncpg."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    for plain, async_ in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return async_ + url[len(plain) :]
    if "+" in url.split("://", 1)[0]:
        scheme, rest = url.split("://", 1)
        base = scheme.split("+", 1)[0]
        return (
            {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}[base] + "://" + rest
        )
    return url


def to_sync_url(url: str) -> str:
    """The async URL with its driver removed (for messages and tools that want a plain URL)."""
    scheme, rest = url.split("://", 1)
    return scheme.split("+", 1)[0] + "://" + rest
