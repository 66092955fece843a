"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

- ``PATCHBAY_TEST_DATABASE_URL``: a PostgreSQL URL (its database is only used to create a
  fresh database per test session, dropped at the end).
- ``PATCHBAY_TEST_REDIS_URL``: a Redis URL for the shared rate-limit tests.
- ``PATCHBAY_TEST_REQUIRE_SERVICES=1``: a missing service fails the tests instead of
  skipping them (CI sets it).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import SQLModel

from core.config import Settings
from core.db import Database
from core.migrate import upgrade
from core.ratelimit import RateLimiter
from core.runtime import Runtime
from tests.domains import SUITE_TABLES, create_suite_tables, suite_platform
from tests.factories import Tenant, make_tenant

PG_URL = os.environ.get("PATCHBAY_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("PATCHBAY_TEST_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def need_service(url: str | None, name: str) -> str:
    """Return ``url`` or skip (fail under PATCHBAY_TEST_REQUIRE_SERVICES=1) without it."""
    if url:
        return url
    message = f"{name} not configured (set PATCHBAY_TEST_{name.upper()}_URL)"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


def _admin_execute(url: str, *statements: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    create_suite_tables(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    admin_url = need_service(PG_URL, "database")
    name = f"pbtest_{secrets.token_hex(4)}"
    base = admin_url.rsplit("/", 1)[0]
    _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    try:
        upgrade(url)
        create_suite_tables(url)
        yield url
    finally:
        _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database for one test, on each engine."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    tables = [t.name for t in (*SQLModel.metadata.sorted_tables, *SUITE_TABLES.sorted_tables)]
    _admin_execute(url, f"TRUNCATE {', '.join(tables)} CASCADE")
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for a test: its own database, in-memory rate limits, loopback allowed."""
    return Settings(
        database_url=database_url,
        redis_url=None,
        allow_private_network=True,
        webhook_retry_schedule="1,1,1,1,1,1,1",
        job_lease_seconds=5,
        worker_poll_seconds=0.05,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """A runtime over the test database with the default registry."""
    rt = Runtime(
        settings=settings,
        db=Database(settings.database_url),
        limiter=RateLimiter(None),
        platform=suite_platform(),
    )
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
async def app(runtime: Runtime) -> Any:
    from rest.app import build_app

    return build_app(runtime)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client driving the REST app in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def tenant(runtime: Runtime) -> Tenant:
    """A pro workspace with an all-scopes, both-abilities token."""
    return await make_tenant(runtime, name="Acme")


@pytest.fixture
async def other_tenant(runtime: Runtime) -> Tenant:
    """A second pro workspace, for isolation tests."""
    return await make_tenant(runtime, name="Globex")


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new, empty database (not the shared migrated one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin_url = need_service(PG_URL, "database")
    name = f"pbmig_{secrets.token_hex(4)}"
    _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
