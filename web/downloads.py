"""``GET /downloads/exports/{workspace_id}/{export_id}.zip``: a workspace export's archive,
for whoever holds the signed link ``get_workspace_export`` answered (no token: the link
is the credential, and it expires).

The signature (``core.exports``) binds the workspace, the export and the expiry; an
unsigned, tampered or expired link answers 403 ``download_link_invalid``, an export that
is not (or no longer) on record 404 ``workspace_export_not_found``, both in the SPEC §3
envelope. The file is streamed in chunks (``FileResponse``), never read whole.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from core import exports
from core.db import utcnow
from core.gateway import new_request_id
from core.runtime import Runtime

_ID = re.compile(r"^[A-Za-z0-9_]{1,40}$")


def _error(status: int, code: str, message: str) -> JSONResponse:
    request_id = new_request_id()
    body = {"error": {"code": code, "message": message, "request_id": request_id}}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def routes(runtime: Runtime) -> list[Route]:
    """The download route, bound to ``runtime`` (mounted by the composition root)."""

    async def download(request: Request) -> Response:
        workspace_id = request.path_params["workspace_id"]
        export_id = request.path_params["export_id"]
        expires = request.query_params.get("expires")
        given = request.query_params.get("signature")
        if not (_ID.match(workspace_id) and _ID.match(export_id)) or not exports.link_is_valid(
            runtime.settings, workspace_id, export_id, expires, given, utcnow()
        ):
            return _error(
                403,
                "download_link_invalid",
                "The download link is unsigned, altered or expired; ask get_workspace_export "
                "for a fresh one.",
            )
        path = await exports.ready_archive(runtime.db, runtime.settings, workspace_id, export_id)
        if path is None:
            return _error(
                404, "workspace_export_not_found", f"Export {export_id} has no archive (any more)."
            )
        return FileResponse(
            path,
            media_type="application/zip",
            filename=f"patchbay-export-{export_id}.zip",
            headers={"Cache-Control": "private, no-store"},
        )

    return [
        Route(
            exports.DOWNLOAD_PREFIX + "/{workspace_id}/{export_id}.zip",
            download,
            methods=["GET"],
            name="export_download",
        )
    ]
