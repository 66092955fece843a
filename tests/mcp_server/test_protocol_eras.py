"""Both protocol eras over both transports, and short errors for what is not MCP.

- Streamable HTTP: ``initialize`` in every handshake version (2024-11-05 … 2025-11-25)
  is answered in that version; a stateless 2026-07-28 request needs no ``initialize``;
  an unsupported version (header or ``_meta``) gets ``-32022`` naming every supported
  version; a batch or a malformed envelope gets one sentence, never a validation dump.
- stdio (``patchbay mcp``): the same answers, line by line, and the process exits
  promptly once stdin closes, with or without the in-process worker.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Settings
from mcp_server.protocol import SUPPORTED_VERSIONS
from tests.factories import Tenant
from tests.mcp_server.helpers import http_server, patchbay_executable, stdio_params

pytestmark = pytest.mark.slow

HANDSHAKE = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
SHORT = 200
"""An error message is a sentence or two, never a dump."""


def initialize(version: str, id_: int = 1) -> dict[str, Any]:
    params = {"protocolVersion": version, "capabilities": {},
              "clientInfo": {"name": "test", "version": "1"}}  # fmt: skip
    return {"jsonrpc": "2.0", "id": id_, "method": "initialize", "params": params}


def modern(method: str, version: str = MODERN, id_: int = 2) -> dict[str, Any]:
    meta = {**META, "io.modelcontextprotocol/protocolVersion": version}
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": {"_meta": meta}}


BAD_ENVELOPES: dict[str, Any] = {
    "batch": [{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}],
    "not_an_object": 42,
    "no_jsonrpc": {"id": 1, "method": "tools/list"},
    "no_method": {"jsonrpc": "2.0", "id": 1},
    "method_not_a_string": {"jsonrpc": "2.0", "id": 1, "method": 7},
    "params_a_list": {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": [1]},
    "id_a_float": {"jsonrpc": "2.0", "id": 1.5, "method": "tools/list"},
}


def assert_short_error(body: dict[str, Any], code: int) -> dict[str, Any]:
    error = body["error"]
    assert error["code"] == code, body
    assert len(error["message"]) <= SHORT and "validation error" not in error["message"].lower()
    assert "pydantic" not in json.dumps(body)
    return error


async def test_http_serves_every_era_and_refuses_the_rest_briefly(
    settings: Settings, tenant: Tenant
) -> None:
    auth = {"Authorization": f"Bearer {tenant.token}", "Accept": ACCEPT}
    async with http_server(settings) as base, httpx.AsyncClient(base_url=base) as http:
        for version in HANDSHAKE:
            r = await http.post("/mcp", json=initialize(version), headers=auth)
            assert r.status_code == 200, r.text
            assert r.json()["result"]["protocolVersion"] == version
            headers = {**auth, "MCP-Protocol-Version": version}
            listed = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
            r = await http.post("/mcp", json=listed, headers=headers)
            assert r.json()["result"]["tools"], r.text

        headers = {**auth, "MCP-Protocol-Version": MODERN}
        r = await http.post(
            "/mcp", json=modern("tools/list"), headers={**headers, "Mcp-Method": "tools/list"}
        )
        assert r.status_code == 200 and r.json()["result"]["tools"], r.text
        r = await http.post(
            "/mcp",
            json=modern("server/discover"),
            headers={**headers, "Mcp-Method": "server/discover"},
        )
        assert r.status_code == 200, r.text
        assert MODERN in json.dumps(r.json()["result"])

        for bad in ("2027-01-01", "2024-10-07"):
            r = await http.post(
                "/mcp", json=modern("tools/list", bad),
                headers={**auth, "MCP-Protocol-Version": bad, "Mcp-Method": "tools/list"},
            )  # fmt: skip
            assert r.status_code == 400
            error = assert_short_error(r.json(), -32022)
            assert error["data"]["supported"] == list(SUPPORTED_VERSIONS)
            assert all(v in error["message"] for v in (*HANDSHAKE, MODERN))
            assert r.json()["id"] == 2
        legacy = {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}
        r = await http.post(
            "/mcp", json=legacy, headers={**auth, "MCP-Protocol-Version": "2024-10-07"}
        )
        assert r.status_code == 400
        assert_short_error(r.json(), -32022)

        for case, body in BAD_ENVELOPES.items():
            r = await http.post("/mcp", json=body, headers=auth)
            assert r.status_code == 400, (case, r.text)
            error = assert_short_error(r.json(), -32600)
            if case == "batch":
                assert "batch" in error["message"]
        r = await http.post("/mcp", content=b'{"jsonrpc": "2.0", "id": 1,', headers=auth)
        assert r.status_code == 400
        assert_short_error(r.json(), -32700)


def _stdio(settings: Settings, token: str, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    params = stdio_params(settings.database_url, token, *args, tmp_path=tmp_path)
    return subprocess.Popen(
        [patchbay_executable(), *params.args],
        env=params.env,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _exchange(proc: subprocess.Popen[str], lines: list[str]) -> list[dict[str, Any]]:
    """Write ``lines``, close stdin, read every answer; the process must exit."""
    out, err = proc.communicate("\n".join(lines) + "\n", timeout=60)
    assert proc.returncode == 0, err[-2000:]
    return [json.loads(line) for line in out.splitlines() if line.strip()]


async def test_stdio_answers_bad_lines_and_both_eras(
    settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    lines = [json.dumps(body) for body in BAD_ENVELOPES.values()]
    lines += ['{"jsonrpc": "2.0", "id": 9,', json.dumps(modern("tools/list", "2027-01-01", 10))]
    lines += [json.dumps(modern("tools/list", MODERN, 11))]
    answers = _exchange(_stdio(settings, tenant.token, tmp_path, "--no-worker"), lines)
    by_id = {a.get("id"): a for a in answers}
    errors = [a for a in answers if "error" in a]
    # every bad line got an answer (none dropped); ids are kept where they were valid
    assert len(errors) == len(BAD_ENVELOPES) + 2, answers
    for answer in errors:
        assert_short_error(answer, answer["error"]["code"])
    assert any("batch" in a["error"]["message"] for a in errors)
    assert any(a["error"]["code"] == -32700 for a in errors)
    assert by_id[10]["error"]["code"] == -32022
    assert MODERN in by_id[10]["error"]["message"]
    assert by_id[11]["result"]["tools"]  # stateless 2026-07-28: no initialize needed

    answers = _exchange(
        _stdio(settings, tenant.token, tmp_path, "--no-worker"),
        [json.dumps(initialize("2025-03-26"))],
    )
    assert answers[0]["result"]["protocolVersion"] == "2025-03-26"


@pytest.mark.parametrize("flags", [(), ("--no-worker",)], ids=["worker", "no-worker"])
async def test_stdio_exits_when_stdin_closes(
    settings: Settings, tenant: Tenant, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    """EOF ends the process (SPEC: the client closes stdin to stop the server); a generous
    deadline, not a timing assertion: bench/mcp_startup.py measures the time."""
    for _ in range(3):
        proc = _stdio(settings, tenant.token, tmp_path, *flags)
        first = [
            json.dumps(initialize("2025-06-18")),
            json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        ]
        started = time.monotonic()
        answers = _exchange(proc, first)  # the request in flight at EOF still gets its answer
        assert [a["id"] for a in answers] == [1, 2] and answers[1]["result"]["tools"], answers
        assert time.monotonic() - started < 30
