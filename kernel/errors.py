"""Business rejections raised by deciders and handlers, each with its HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused; ``message`` is shown to the client as listmonk would word it."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    status_code = 400


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Unprocessable(DomainError):
    status_code = 422


class Forbidden(DomainError):
    """Missing or wrong credentials, or a missing permission (listmonk answers 403)."""

    status_code = 403
