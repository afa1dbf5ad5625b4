"""Domain errors; the HTTP layer maps each to a status code with a message that says what was wrong."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class NotFound(DomainError):
    """Also used for records the caller may not see, so their existence is not revealed."""

    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    """The caller's role may never do this (independent of any record)."""

    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
