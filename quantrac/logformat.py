"""Log set-up for the service: plain lines or one JSON object per line (`[service] log_json`)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# Context the collector attaches with `extra=`; copied into JSON lines when present.
CONTEXT_FIELDS = ("plant", "station", "topic", "alert", "channel")


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", plant?, station?, topic?, ...}` per line."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                doc[name] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(level: str, as_json: bool) -> None:
    """Replace the root handlers: stderr, plain or JSON."""
    handler = logging.StreamHandler()
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # APScheduler narrates every job run at INFO; keep its warnings (missed/skipped runs).
    if level.upper() != "DEBUG":
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
