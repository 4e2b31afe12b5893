"""The simulator's exception family."""


class SimulatorError(Exception):
    """Base of every error the simulator raises on purpose; the text is one clear line."""
