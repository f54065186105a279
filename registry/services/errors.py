"""Domain errors raised by services; the web layer turns them into messages or status codes."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""


class NotFound(DomainError):
    """The object does not exist, or the actor may not know that it exists."""


class Forbidden(DomainError):
    """The actor's role does not allow the action (the object itself is visible)."""


class ValidationError(DomainError):
    """Input that breaks a rule. ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, str] | str) -> None:
        if isinstance(errors, str):
            errors = {"": errors}
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in errors.items()))


class Conflict(DomainError):
    """The change collides with existing data (a duplicate, a stale edit)."""
