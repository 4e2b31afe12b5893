"""The collector's exception family."""


class CollectorError(Exception):
    """Base of every error the collector raises on purpose."""


class PayloadError(CollectorError):
    """A message that does not follow the wire format; the text is the dead-letter reason."""


class StoreError(CollectorError):
    """The time-series store could not be reached or refused a write."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
