"""Driving the dashboard's forms with httpx (CSRF tokens read from the pages)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from core.db import WorkspaceId
from core.members import service
from core.runtime import Runtime

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def add_member(runtime: Runtime, ws: WorkspaceId, email: str, role: str) -> str:
    async with runtime.db.session(ws) as session:
        joined = await service.add_member(session, ws, email=email, role=role, password=PASSWORD)
        return joined.member.id


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    page = await client.get("/signin")
    return await client.post(
        "/signin",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": password},
    )


async def post_form(
    client: httpx.AsyncClient, page_path: str, action: str, data: dict[str, Any]
) -> httpx.Response:
    """Open ``page_path`` (for its CSRF token), then post ``data`` to ``action``."""
    page = await client.get(page_path)
    assert page.status_code == 200, page.text[:500]
    return await client.post(action, data={"csrf_token": csrf_of(page.text), **data})
