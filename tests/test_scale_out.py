"""Scale-out proof (PostgreSQL + Redis): two ``patchbay serve`` processes and two
``patchbay worker`` processes on loopback ports share one database and one Redis."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import anyio
import httpx
import pytest

from tests.conftest import PG_URL, REDIS_URL, _admin_execute, need_service
from tests.contract.server import cli, free_port, patchbay_exe, wait_healthy

pytestmark = pytest.mark.slow


@dataclass
class Cluster:
    servers: list[str]
    env: dict[str, str]
    workspace_id: str


@contextmanager
def _process(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [patchbay_exe(), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    admin = need_service(PG_URL, "database")
    redis_url = need_service(REDIS_URL, "redis")
    name = f"pbscale_{secrets.token_hex(4)}"
    _admin_execute(admin, f'CREATE DATABASE "{name}"')
    database_url = admin.rsplit("/", 1)[0] + "/" + name
    env = {
        **os.environ,
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_REDIS_URL": redis_url,
        "PATCHBAY_LOG_LEVEL": "WARNING",
        "PATCHBAY_ALLOW_PRIVATE_NETWORK": "true",
        "PATCHBAY_WEBHOOK_RETRY_SCHEDULE": "1,1,1,1,1,1,1",
        "PATCHBAY_WORKER_POLL_SECONDS": "0.05",
    }
    try:
        cli(env, "db", "upgrade")
        workspace = cli(env, "workspace", "create", "Scale", "--plan", "custom")
        with ExitStack() as stack:
            servers = []
            for _ in range(2):
                port = free_port()
                proc = stack.enter_context(_process(["serve", "--port", str(port)], env))
                base = f"http://127.0.0.1:{port}"
                wait_healthy(base, proc)
                servers.append(base)
            for _ in range(2):
                stack.enter_context(_process(["worker", "--concurrency", "4"], env))
            yield Cluster(servers, env, workspace["id"])
    finally:
        _admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _token(cluster: Cluster, scopes: str = "*", rate_limit: int | None = None) -> str:
    args = ["token", "create", "--workspace", cluster.workspace_id, "--name", "scale"]
    args += ["--scopes", scopes]
    if rate_limit:
        args += ["--rate-limit", str(rate_limit)]
    return cli(cluster.env, *args)["token"]


async def test_rate_limit_is_shared_across_servers(cluster: Cluster) -> None:
    limit = 40
    token = _token(cluster, rate_limit=limit)
    headers = {"Authorization": f"Bearer {token}"}
    statuses: list[int] = []
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:

        async def hit(i: int) -> None:
            r = await client.get(cluster.servers[i % 2] + "/api/v1/me")
            statuses.append(r.status_code)

        async with anyio.create_task_group() as tg:
            for i in range(limit * 2):
                tg.start_soon(hit, i)
    assert statuses.count(200) == limit
    assert statuses.count(429) == limit
