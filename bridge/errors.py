"""Errors that end a request, each with its HTTP status, a stable code and an outcome label.

Every failure a caller can see is one of these; the inbound codec renders it in the caller's
dialect. The message says what was wrong and where, never a stack trace or a secret.
"""

from __future__ import annotations

from typing import Any


class BridgeError(Exception):
    status = 500
    code = "internal_error"
    outcome = "rejected"
    #: the target's own reply, decoded, when the target answered and declined (DESIGN §6)
    upstream: Any = None
    #: the target's HTTP status, when it answered
    upstream_status: int | None = None

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 detail: Any = None, upstream: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.detail = detail
        if upstream is not None:
            self.upstream = upstream

    def as_tree(self) -> dict[str, Any]:
        """The `error` namespace of placeholders: `{error.message}`, `{error.status}`,
        `{error.code}`, and `{error.upstream...}`: the target's own reply when it declined (TOP's
        `error_response.sub_code`, the HIS's `head.msg`), absent otherwise."""
        tree: dict[str, Any] = {"message": self.message, "status": self.status, "code": self.code}
        if self.upstream is not None:
            tree["upstream"] = self.upstream
        return tree


class BadRequest(BridgeError):
    status, code, outcome = 400, "bad_request", "bad_request"


class Unauthorized(BridgeError):
    status, code, outcome = 401, "unauthorized", "unauthorized"


class Forbidden(BridgeError):
    status, code, outcome = 403, "forbidden", "unauthorized"


class NoRoute(BridgeError):
    status, code, outcome = 404, "no_route", "no_route"


class RequestTimeout(BridgeError):
    """The caller sent its headers and then stalled (or trickled) past server.read_timeout."""

    status, code, outcome = 408, "read_timeout", "bad_request"


class TooLarge(BridgeError):
    status, code, outcome = 413, "too_large", "bad_request"


class UnsupportedMediaType(BridgeError):
    status, code, outcome = 415, "unsupported_media_type", "bad_request"


class ValidationFailed(BridgeError):
    """A step found the message invalid (missing field, too long, bad date, ...)."""

    status, code, outcome = 422, "validation_failed", "bad_request"


class StepFailed(BridgeError):
    """A step could not run on this message for a reason that is the route's, not the caller's."""

    status, code, outcome = 500, "step_failed", "rejected"


class UpstreamError(BridgeError):
    status, code, outcome = 502, "upstream_error", "upstream_error"


class Unavailable(BridgeError):
    status, code, outcome = 503, "unavailable", "rejected"


class UpstreamTimeout(BridgeError):
    status, code, outcome = 504, "upstream_timeout", "timeout"


class ConfigError(Exception):
    """routes.yaml is invalid; `errors` holds every `file:line:col: path: message` line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
