"""The rules package's exception family."""


class RulesError(Exception):
    """Base of every error the rules raise on purpose (bad regulation data, bad permit)."""
