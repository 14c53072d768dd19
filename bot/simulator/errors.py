"""The Cloudflare v4 envelope, success and failure, and the error the handlers raise.

Every 4XX/5XX the simulator sends is built here, so the failure shape
(`api-response-common-failure`: success false, at least one error with a code >= 1000,
`messages` empty, `result` null) cannot drift between handlers.
"""

from __future__ import annotations

from typing import Any

# Error codes. Cloudflare documents few of these for Email Security; the values below are the
# ones its v4 API is seen to use (7003 routing, 10000 auth) or stable picks for the rest.
AUTH_ERROR = 10000
EOL_PARAMETER = 10001
UNAVAILABLE = 10002
RATE_LIMITED = 10429
ROUTING = 7003
MALFORMED = 1001
NOT_FOUND = 1002
INVALID = 1003
METHOD_NOT_ALLOWED = 10405


class ApiError(Exception):
    """An answer other than success; the middleware turns it into the failure envelope."""

    def __init__(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def invalid(message: str) -> ApiError:
    """A well-formed request whose values the API refuses (HTTP 422)."""
    return ApiError(422, INVALID, message)


def malformed(message: str) -> ApiError:
    """A request the API cannot read at all (HTTP 400)."""
    return ApiError(400, MALFORMED, message)


def not_found(what: str = "Message") -> ApiError:
    return ApiError(404, NOT_FOUND, f"{what} not found")


def end_of_life(name: str, instead: str, sunset: str = "2026-11-01") -> ApiError:
    """A parameter or field whose sunset date has passed: refuse it, naming the replacement."""
    return ApiError(
        400, EOL_PARAMETER, f"'{name}' is past its end of life ({sunset}): use {instead} instead"
    )


def failure_body(code: int, message: str) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": None,
    }


def success_body(result: Any, result_info: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return body
