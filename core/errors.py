"""Domain errors: values with a stable code, an HTTP-ish status and a message.

REST renders them as the SPEC §3 envelope, MCP as a tool error result with the
same code and message. Nothing here knows about either transport.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error a caller can see. Subclasses fix ``code`` and ``status``."""

    code: ClassVar[str] = "bad_request"
    status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self, request_id: str) -> dict[str, Any]:
        """The error envelope of SPEC §3."""
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        }
        if self.details:
            error["details"] = self.details
        return {"error": error}


class ValidationFailed(DomainError):
    code = "validation_error"
    status = 400
    default_message = "The request payload failed schema validation."


class MalformedJSON(ValidationFailed):
    code = "malformed_json"
    default_message = "The request body is not valid JSON."


class InvalidCursor(ValidationFailed):
    code = "invalid_cursor"
    default_message = "The cursor is not valid for this list."


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413
    default_message = "The request body is larger than allowed."


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    status = 415
    default_message = "Send the request body as JSON (Content-Type: application/json)."


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401
    default_message = "A valid bearer token is required."


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    default_message = "The token may not perform this operation."


class RestApiDisabled(DomainError):
    code = "rest_api_disabled"
    status = 404
    default_message = (
        "The REST API is disabled for this workspace; an administrator can enable it again "
        "(update_workspace_settings over MCP, or `patchbay workspace rest-api ID --enable`)."
    )


class ScopeMissing(Forbidden):
    code = "scope_missing"

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"The token does not include the scope '{scope}' required for this operation.",
            details={"required_scope": scope},
        )


class AbilityMissing(Forbidden):
    code = "token_missing_ability"

    def __init__(self, ability: str) -> None:
        code = "token_missing_" + ability.replace(":", "_") + "_ability"
        channel = {"api:rest": "the REST API", "api:mcp": "MCP"}.get(ability, "this channel")
        super().__init__(
            f"The token lacks the '{ability}' ability, so it cannot be used over {channel}. "
            f"Use a token created with it (`patchbay token create ... --abilities {ability}`).",
            code=code,
        )


class TierNotEntitled(Forbidden):
    code = "tier_not_entitled"
    default_message = "The workspace's plan does not include this feature."


class ModuleNotEnabled(Forbidden):
    code = "module_not_enabled"
    default_message = "This module is not enabled for the workspace."


class WorkspaceInactive(Forbidden):
    code = "workspace_inactive"
    default_message = "The workspace is not active."


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message = "The requested resource does not exist in this workspace."

    def __init__(self, resource: str, resource_id: str | None = None) -> None:
        text = f"{resource.replace('_', ' ').capitalize()} {resource_id or ''}".strip()
        super().__init__(f"{text} was not found in this workspace.", code=f"{resource}_not_found")


class Conflict(DomainError):
    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state."


class TokenLimitReached(Conflict):
    code = "token_limit_reached"
    default_message = "The workspace already has the maximum number of active tokens for its plan."


class IdempotencyKeyInFlight(Conflict):
    code = "idempotency_key_in_flight"
    default_message = "A request with this Idempotency-Key is still being processed."


class Unprocessable(DomainError):
    code = "unprocessable"
    status = 422
    default_message = "The request is well-formed but cannot be processed."


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"
    default_message = "The idempotency key was reused with a different request body."


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    default_message = "The token exceeded its rate limit."

    def __init__(
        self, retry_after_seconds: int, message: str | None = None, *, code: str | None = None
    ) -> None:
        self.retry_after_seconds = max(1, int(retry_after_seconds))
        super().__init__(
            message,
            code=code,
            details={"retry_after_seconds": self.retry_after_seconds},
            headers={"Retry-After": str(self.retry_after_seconds)},
        )


class RateLimiterUnavailable(DomainError):
    code = "rate_limiter_unavailable"
    status = 503
    default_message = (
        "The rate limiter's store (Redis) is unreachable; no request is served without it."
    )

    def __init__(self, message: str | None = None, *, retry_after_seconds: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)})


class InternalError(DomainError):
    code = "internal_error"
    status = 500
    default_message = "Something went wrong on our side. Quote the request id when reporting it."
