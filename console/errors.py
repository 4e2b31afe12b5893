"""The console's exception family, and the one check of a request's query parameters."""

from __future__ import annotations

from collections.abc import Collection, Iterable


class ConsoleError(Exception):
    """Base of every error the console raises on purpose (runtime: exit 1)."""


class AccountError(ConsoleError):
    """Bad account input (unknown role, plant not in the config, bad name): exit 2."""


class Refusal(Exception):
    """A request the console answers with an error status. The text (English) goes to API
    clients and logs; `key` and `values` name the UI text that pages show instead."""

    status = 400

    def __init__(self, message: str, key: str, **values: object) -> None:
        super().__init__(message)
        self.key = key
        self.values = values


class BadRequest(Refusal):
    """A request parameter that cannot be used (HTTP 400); the text says which and why."""

    status = 400


class Forbidden(Refusal):
    """Exists, but outside the user's scope or role (HTTP 403)."""

    status = 403


class NotFound(Refusal):
    """No such plant or alert (HTTP 404)."""

    status = 404


def check_parameters(given: Iterable[str], allowed: Collection[str]) -> None:
    """BadRequest naming the query parameters (`given`) this resource does not take."""
    unknown = set(given) - set(allowed)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise BadRequest(f"unknown parameter(s): {names}", "unknown_parameters", names=names)
