"""The alerts package's exception family."""


class AlertsError(Exception):
    """Base of every error the alerts package raises on purpose (unknown id, bad ack, bad book)."""


class ChannelError(AlertsError):
    """A channel could not deliver one notification; the outbox records it and retries."""
