from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core.runtime import Runtime


@pytest.fixture
async def web_app(runtime: Runtime) -> Any:
    from rest.app import build_app
    from web.app import mount

    return mount(build_app(runtime), runtime)


@pytest.fixture
async def browser(web_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client with a cookie jar, as a browser would be."""
    transport = httpx.ASGITransport(app=web_app, client=("10.9.8.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
