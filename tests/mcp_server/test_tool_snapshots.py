"""Every tool's surface is snapshotted in tests/snapshots/tools/<name>.json.

A change to a tool's name, description, annotations or schemas fails here until it is
reviewed: regenerate on purpose with ``PATCHBAY_UPDATE_SNAPSHOTS=1 pytest -k snapshot``
(``make snapshots``) and commit the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mcp_server.adapter import tool_for, tool_json
from patchbay.domains import platform

SNAPSHOTS = Path(__file__).parent.parent / "snapshots" / "tools"
HOW = "run `make snapshots` (PATCHBAY_UPDATE_SNAPSHOTS=1 pytest -k snapshot) and review the diff"


def _surface(name: str) -> dict[str, Any]:
    op = platform().registry.get(name)
    assert op is not None
    wire = tool_json(tool_for(op, platform().registry))
    keys = ("name", "title", "description", "annotations", "inputSchema", "outputSchema")
    return {key: wire[key] for key in keys if key in wire}


def _render(surface: dict[str, Any]) -> str:
    return json.dumps(surface, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_tool_snapshots() -> None:
    names = [op.name for op in platform().registry if op.mcp_tool]
    update = os.environ.get("PATCHBAY_UPDATE_SNAPSHOTS") == "1"
    if update:
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        for stale in SNAPSHOTS.glob("*.json"):
            if stale.stem not in names:
                stale.unlink()
    missing, changed = [], []
    for name in names:
        path = SNAPSHOTS / f"{name}.json"
        current = _render(_surface(name))
        if update:
            path.write_text(current)
        if not path.exists():
            missing.append(name)
        elif path.read_text() != current:
            changed.append(name)
    stale = sorted(p.stem for p in SNAPSHOTS.glob("*.json") if p.stem not in names)
    assert not missing, f"no snapshot for tools {missing}: {HOW}"
    assert not changed, f"tool surface changed for {changed}: if intended, {HOW}"
    assert not stale, f"snapshots of tools that no longer exist {stale}: {HOW}"
