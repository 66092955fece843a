"""The app under test for ``bench/rest_overhead.py``: the real app plus a bare route.

``/bench/bare-contacts`` reads the same 25 contacts with one SQL query and returns the
same JSON shape, without the gate (no auth, scopes, rate limit, audit, idempotency).
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from core.config import Settings
from core.db import create_engine
from core.runtime import Runtime
from patchbay.domains import platform
from rest.app import build_app


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    return value


def create_app() -> Any:
    """uvicorn factory: ``uvicorn bench._overhead_app:create_app --factory``."""
    app = build_app(Runtime.create(Settings(), platform()))
    runtime = app.state.runtime
    workspace_id = os.environ["BENCH_WORKSPACE_ID"]
    op = runtime.registry.get("search_contacts")
    fields = list(op.output_model.model_fields) if op else ["id", "name", "email"]

    # the baseline reads as the tables' owner (no row-level security), as before issue 13
    owner = create_engine(runtime.settings.database_url, role=None)

    async def bare(request: Request) -> Response:
        async with owner.connect() as conn:
            result = await conn.execute(
                sa.text("SELECT * FROM contacts WHERE workspace_id = :w ORDER BY id DESC LIMIT 25"),
                {"w": workspace_id},
            )
            rows = [
                {k: _jsonable(v) for k, v in row._mapping.items() if k in fields and v is not None}
                for row in result
            ]
        body = {"data": rows, "next_cursor": None, "request_id": "req_" + secrets.token_hex(12)}
        return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")

    app.add_route("/bench/bare-contacts", bare, methods=["GET"])
    return app
