"""The console's exception family."""


class ConsoleError(Exception):
    """Base of every error the console raises on purpose (runtime: exit 1)."""


class AccountError(ConsoleError):
    """Bad account input (unknown role, plant not in the config, bad name): exit 2."""


class BadRequest(ValueError):
    """A request parameter that cannot be used (HTTP 400); the text says which and why."""
