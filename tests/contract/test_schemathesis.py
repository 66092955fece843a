"""Schemathesis against the served OpenAPI document: ≥ 2,000 generated cases over every
operation, no server errors, no response that violates the documented schema.

On PostgreSQL: ``PATCHBAY_CONTRACT_DATABASE_URL=postgresql://… pytest tests/contract``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.contract.server import served

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    [
        "not_a_server_error",
        "response_schema_conformance",
        "status_code_conformance",
        "content_type_conformance",
    ]
)


def test_schemathesis_contract(tmp_path: Path) -> None:
    database_url = os.environ.get("PATCHBAY_CONTRACT_DATABASE_URL") or f"sqlite:///{tmp_path}/c.db"
    with served(database_url) as server:
        document = httpx.get(server.base_url + "/api/v1/openapi.json").json()
        operations = sum(len(methods) for methods in document["paths"].values())
        per_operation = max(25, -(-2_000 // operations) + 5)
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                server.base_url + "/api/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {server.token}",
                "--checks",
                CHECKS,
                "--max-examples",
                str(per_operation),
                "--phases",
                "examples,coverage,fuzzing",
                "--seed",
                "20261123",
                "--no-shrink",
                "--generation-database",
                "none",
                "--workers",
                "2",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    summary = result.stdout[-4000:]
    assert result.returncode == 0, summary
    generated = re.search(r"(\d+) generated", result.stdout)
    assert generated, summary
    assert int(generated.group(1)) >= 2_000, f"too few generated cases\n{summary}"
    assert "failed" not in result.stdout.split("Test cases:", 1)[-1].split("\n")[1], summary
