"""Short, clear JSON-RPC errors for messages the SDK would answer with a validation dump.

Both transports check each incoming message here before the SDK sees it:

- a JSON-RPC **batch** (MCP removed batching in 2025-06-18), a message that is not an
  object, a wrong ``jsonrpc`` member, a ``method``/``id``/``params`` of the wrong type, or
  an object that is neither a request, a notification nor a response: ``-32600 Invalid
  Request`` with one sentence saying what is wrong;
- an unsupported protocol version, named by the ``MCP-Protocol-Version`` header or by a
  2026-07-28 request's ``_meta``: ``-32022`` naming every version this server speaks
  (the SDK's own answer lists only the stateless ones).

``initialize`` with an unknown version is left to the SDK: the handshake answers with
the server's own version, as the specification says, and the client decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp_types.jsonrpc import INVALID_REQUEST, PARSE_ERROR, UNSUPPORTED_PROTOCOL_VERSION
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

SUPPORTED_VERSIONS: tuple[str, ...] = (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)
"""Every protocol version Patchbay serves, over Streamable HTTP and stdio."""

VERSION_HEADER = "mcp-protocol-version"
VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion"


@dataclass(frozen=True)
class Rejection:
    """A JSON-RPC error to answer instead of handing the message to the SDK."""

    code: int
    message: str
    id: str | int | None = None
    data: dict[str, Any] | None = None
    http_status: int = 400

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return {"jsonrpc": "2.0", "id": self.id, "error": error}


def versions_text() -> str:
    handshake = ", ".join(HANDSHAKE_PROTOCOL_VERSIONS)
    modern = ", ".join(MODERN_PROTOCOL_VERSIONS)
    return f"{handshake} (with initialize) and {modern} (stateless)"


def unsupported_version(requested: object, id_: str | int | None = None) -> Rejection:
    """The answer to a request in a protocol version this server does not speak."""
    return Rejection(
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported MCP protocol version {requested!r}; this server speaks {versions_text()}.",
        id_,
        {"supported": list(SUPPORTED_VERSIONS), "requested": requested},
    )


def parse_error() -> Rejection:
    return Rejection(PARSE_ERROR, "Parse error: the message is not valid UTF-8 JSON.")


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def request_id_of(message: Any) -> str | int | None:
    """The message's id if it has a well-formed one (to correlate the error), else None."""
    if isinstance(message, Mapping) and _valid_id(message.get("id")):
        return message["id"]
    return None


def invalid(reason: str, message: Any = None) -> Rejection:
    return Rejection(INVALID_REQUEST, f"Invalid JSON-RPC message: {reason}", request_id_of(message))


def check_message(message: Any, headers: Mapping[str, str] | None = None) -> Rejection | None:
    """What is wrong with one decoded JSON-RPC message (and its HTTP headers), or None."""
    if isinstance(message, list):
        return Rejection(
            INVALID_REQUEST,
            "JSON-RPC batches are not supported (MCP 2025-06-18 removed them); send one "
            "message per request.",
        )
    if not isinstance(message, Mapping):
        return invalid("it must be a JSON object.")
    if message.get("jsonrpc") != "2.0":
        return invalid('"jsonrpc" must be "2.0".', message)
    if "id" in message and not _valid_id(message["id"]):
        return invalid('"id" must be a string or an integer.', message)
    if "method" in message:
        if not isinstance(message["method"], str) or not message["method"]:
            return invalid('"method" must be a non-empty string.', message)
        if "params" in message and not isinstance(message["params"], Mapping):
            return invalid('"params" must be an object.', message)
        meta = (message.get("params") or {}).get("_meta")
        if meta is not None and not isinstance(meta, Mapping):
            return invalid('"params._meta" must be an object.', message)
        if isinstance(meta, Mapping) and VERSION_META_KEY in meta:
            requested = meta[VERSION_META_KEY]
            if requested not in MODERN_PROTOCOL_VERSIONS:
                return unsupported_version(requested, request_id_of(message))
    elif "result" not in message and "error" not in message:
        return invalid("it has no method and is neither a result nor an error.", message)
    header = (headers or {}).get(VERSION_HEADER)
    if header is not None and header not in SUPPORTED_VERSIONS:
        return unsupported_version(header, request_id_of(message))
    return None
