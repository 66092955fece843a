"""Schemathesis hooks for the contract test (loaded through ``SCHEMATHESIS_HOOKS``).

Findings dropped, and only these, each a rule between values no schema can express:

- a *generated* ``cursor`` (or its alias ``after``) answered with 400 ``invalid_cursor``:
  a cursor is opaque and valid only where the server issued it (SPEC §3: bound to its
  list, workspace and sort); the stateful phase follows real cursors and ids through the
  document's links instead;
- 400 ``page_too_deep``: ``page`` × ``per_page`` may not exceed 10,000 (each is in range
  on its own);
- a 400 ``validation_error`` for two spellings of one thing sent with different values
  (``cursor`` and ``after``, ``limit`` and ``per_page``, ``page`` with ``cursor``), and 400
  ``idempotency_key_mismatch`` for different keys in the header and the body.

Cases left out: those that would lock the run out of its own workspace (revoking or
rotating the run's token, switching the workspace's REST API off; archiving and closing
the workspace are excluded from the run by ``test_schemathesis.py``).
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis

TWINS = ({"cursor", "after"}, {"limit", "per_page"}, {"page", "cursor"}, {"page", "after"})


def _code(response: Any) -> str | None:
    try:
        return str(json.loads(response.content)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """False (drop) for the by-design 400s above; True otherwise."""
    if response is None or response.status_code != 400:
        return True
    code = _code(response)
    query = set(case.query or {})
    if code == "invalid_cursor" and query & {"cursor", "after"}:
        return False
    if code in ("page_too_deep", "idempotency_key_mismatch"):
        return False
    return not (code == "validation_error" and any(pair <= query for pair in TWINS))


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Never revoke or rotate the run's own token (``PATCHBAY_CONTRACT_TOKEN_ID``;
    schemathesis reuses ids it saw in responses) and never switch the REST API off: every
    later request of the run would answer 401 or 404."""
    own = os.environ.get("PATCHBAY_CONTRACT_TOKEN_ID")
    if own and (case.path_parameters or {}).get("token_id") == own:
        return False
    body = case.body if isinstance(case.body, dict) else {}
    return not (case.path.endswith("/workspace") and body.get("rest_api_enabled") is False)
