"""Maps every error to listmonk's envelope: ``{"message": "..."}`` with the right status."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from services.command_api.domain import DomainError

log = structlog.get_logger(__name__)


class APIError(Exception):
    """An error raised by a route with a status and listmonk's message text."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def _json(status: int, message: str) -> Response[Any]:
    return Response(content={"message": message}, status_code=status, media_type="application/json")


def handle_api_error(_: Request[Any, Any, Any], exc: APIError) -> Response[Any]:
    return _json(exc.status_code, exc.message)


def handle_domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return _json(exc.status_code, exc.message)


def handle_http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    message = exc.detail
    if isinstance(exc, ValidationException):
        extra = exc.extra
        if isinstance(extra, list) and extra:
            first = extra[0]
            if isinstance(first, dict) and first.get("message"):
                key = first.get("key")
                message = f"{first['message']}" + (f" ({key})" if key else "")
    return _json(exc.status_code, str(message))


def handle_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled_error", error=str(exc))
    return _json(HTTP_500_INTERNAL_SERVER_ERROR, "internal server error")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    APIError: handle_api_error,
    DomainError: handle_domain_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
