"""Maps every error to listmonk's envelope: ``{"message": "..."}`` with the right status.

Framework errors get readable texts: malformed JSON and validation failures are 400s naming the
field, an unknown ``/api/`` route is listmonk's "404 unknown endpoint", an oversized body is a 413
stating the limit, and anything unexpected is a 500 whose traceback goes to the log only.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from kernel.errors import DomainError

log = structlog.get_logger(__name__)

UNKNOWN_ENDPOINT = "404 unknown endpoint"
PAGE_NOT_FOUND = "404 page not found"
INTERNAL_ERROR = "internal server error"


class APIError(Exception):
    """An error raised by a route with a status and listmonk's message text."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        content={"message": message},
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def handle_api_error(_: Request[Any, Any, Any], exc: APIError) -> Response[Any]:
    return error_response(exc.status_code, exc.message)


def handle_domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return error_response(exc.status_code, exc.message)


def validation_message(exc: ValidationException) -> str:
    """The first problem, readably: ``<what is wrong> (<field>)``."""
    extra = exc.extra
    if not isinstance(extra, list) or not extra or not isinstance(extra[0], dict):
        return str(exc.detail)
    first = extra[0]
    message = str(first.get("message") or exc.detail)
    key = first.get("key")
    source = first.get("source")
    if source == "body" and key == "data" and message in ("'data'", "data"):
        return "request body is missing or not JSON"
    if source == "query" and key:
        return f"invalid value for query parameter `{key}`: {message}"
    if source == "path" and key:
        return f"invalid value in path: `{key}`"
    return message + (f" ({key})" if key and f"({key})" not in message else "")


def _routed(request: Request[Any, Any, Any]) -> bool:
    """Whether routing found a handler (the router sets it; 404/405 from routing do not)."""
    return "route_handler" in request.scope


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    message = str(exc.detail)
    headers = dict(exc.headers) if exc.headers else None
    if isinstance(exc, ValidationException):
        message = validation_message(exc)
    elif isinstance(exc, NotFoundException) and not _routed(request):
        message = UNKNOWN_ENDPOINT if request.url.path.startswith("/api/") else PAGE_NOT_FOUND
    elif isinstance(exc, MethodNotAllowedException):
        message = "Method Not Allowed"
    elif exc.status_code == 413:
        message = _too_large(request)
    elif isinstance(exc.__cause__, SerializationException):
        message = "invalid JSON: " + message.removeprefix("JSON is malformed:").strip()
    return error_response(exc.status_code, message, headers)


def _too_large(request: Request[Any, Any, Any]) -> str:
    limit: int | None = None
    if _routed(request):
        limit = request.route_handler.resolve_request_max_body_size()
    return f"request body too large (limit {limit} bytes)" if limit else "request body too large"


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error(
        "unhandled_error",
        method=request.method,
        path=request.url.path,
        error=repr(exc),
        exc_info=exc,
    )
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL_ERROR)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    APIError: handle_api_error,
    DomainError: handle_domain_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
