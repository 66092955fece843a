"""Every scoped operation × its scope missing → 403 scope_missing over REST; with it, no.

Generated over the registry: operations added later are covered automatically
(``tests/op_samples.py`` supplies arguments; without a sample the body is empty).
"""

from __future__ import annotations

import httpx
import pytest

from core.operations import PSEUDO_SCOPES
from core.runtime import Runtime
from core.scopes import ALL_SCOPES
from tests.domains import suite_platform as platform
from tests.factories import Tenant, token_for
from tests.op_samples import call

SCOPED = [op for op in platform().registry if op.scope not in PSEUDO_SCOPES]


@pytest.mark.parametrize("op_name", [op.name for op in SCOPED])
async def test_missing_scope_is_403(
    op_name: str, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    op = runtime.registry.get(op_name)
    assert op is not None
    assert op.scope in ALL_SCOPES, f"{op.name} requires unknown scope {op.scope}"
    without = await token_for(runtime, tenant, [s for s in ALL_SCOPES if s != op.scope])
    response = await call(client, op, {"Authorization": f"Bearer {without}"})
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "scope_missing"
    assert op.scope in error["message"]

    only = await token_for(runtime, tenant, [op.scope])
    response = await call(client, op, {"Authorization": f"Bearer {only}"})
    assert not (
        response.status_code == 403 and response.json()["error"]["code"] == "scope_missing"
    ), response.text
