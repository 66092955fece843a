"""Schemathesis hooks for the contract test (loaded through ``SCHEMATHESIS_HOOKS``).

One finding is dropped, and only this one: a *generated* ``cursor`` answered with 400
``invalid_cursor``. A cursor is opaque and valid only where the server issued it
(SPEC §3: bound to its list, workspace and sort), which no schema can express; the
stateful phase follows real cursors and ids through the document's links instead.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """False (drop) for a generated cursor refused as ``invalid_cursor``; True otherwise."""
    if response is None or response.status_code != 400 or "cursor" not in (case.query or {}):
        return True
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return True
    return code != "invalid_cursor"


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Never revoke the run's own token (``PATCHBAY_CONTRACT_TOKEN_ID``): schemathesis reuses
    ids it saw in responses, and a token may revoke itself, after which every request of
    the run would answer 401."""
    own = os.environ.get("PATCHBAY_CONTRACT_TOKEN_ID")
    return not (own and (case.path_parameters or {}).get("token_id") == own)
