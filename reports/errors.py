"""The reports package's exception family."""


class ReportsError(Exception):
    """Base of every error the reports raise on purpose (bad format, bad layout, unsafe name)."""
