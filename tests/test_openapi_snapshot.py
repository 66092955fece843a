"""The OpenAPI document is snapshotted in tests/snapshots/openapi.json and reviewed in diffs.

Regenerate on purpose with ``PATCHBAY_UPDATE_SNAPSHOTS=1 pytest -k snapshot`` (``make
snapshots``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from patchbay.domains import platform
from rest.openapi import build_openapi

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"


def test_openapi_snapshot() -> None:
    current = json.dumps(build_openapi(platform().registry), indent=2, sort_keys=True) + "\n"
    if os.environ.get("PATCHBAY_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), "no OpenAPI snapshot: run `make snapshots` and review the diff"
    assert SNAPSHOT.read_text() == current, (
        "The OpenAPI document changed. If intended, run `make snapshots` and commit the diff."
    )
