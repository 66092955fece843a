"""Small REST helpers for the CRM tests."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from core.runtime import Runtime
from tests.factories import Tenant, owner_session

API = "/api/v1"


async def post(
    client: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(API + path, json=body, headers=t.headers)


async def patch(
    client: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(API + path, json=body, headers=t.headers)


async def get(client: httpx.AsyncClient, t: Tenant, path: str, **params: Any) -> httpx.Response:
    return await client.get(API + path, params=params, headers=t.headers)


async def created(
    client: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    r = await post(client, t, path, body)
    assert r.status_code in (200, 201), r.text
    return r.json()["data"]


async def count(runtime: Runtime, table: str, workspace_id: str, where: str = "") -> int:
    async with owner_session(runtime) as s:
        sql = f"SELECT count(*) FROM {table} WHERE workspace_id = :w {where}"
        return (await s.execute(sa.text(sql), {"w": workspace_id})).scalar_one()


async def events(runtime: Runtime, workspace_id: str, type_: str) -> list[dict[str, Any]]:
    async with owner_session(runtime) as s:
        rows = await s.execute(
            sa.text(
                "SELECT data FROM domain_events WHERE workspace_id = :w AND type = :t ORDER BY id"
            ),
            {"w": workspace_id, "t": type_},
        )
        out = []
        for (data,) in rows:
            if isinstance(data, str):
                import json

                data = json.loads(data)
            out.append(data)
        return out
