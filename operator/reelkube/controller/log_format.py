"""The operator's log lines: text (the default) or one JSON object per line.

The code logs ``key=value`` pairs (``event=reconcile namespace=team-a name=promo``); kopf's
per-object logger attaches the object (``k8s_ref``) instead. The JSON form turns both into
fields, so a log pipeline can filter on ``namespace`` and ``name`` without parsing messages:
``{"time": ..., "level": "INFO", "logger": ..., "message": ..., "event": "reconcile",
"namespace": "team-a", "name": "promo"}``. Chosen by the chart's ``operator.logFormat``
(``REELKUBE_LOG_FORMAT``).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"

# key=value, where value is a quoted string (as %r writes it) or runs to the next space.
_PAIR = re.compile(r"""(?:^|\s)([A-Za-z_][A-Za-z0-9_.-]*)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S*)""")
_RESERVED = frozenset({"time", "level", "logger", "message", "exception"})
# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_SKIPPED_EXTRAS = frozenset({"k8s_ref", "k8s_skip", "settings"})  # kopf's own, handled or internal


def message_fields(message: str) -> dict[str, str]:
    """The ``key=value`` pairs in a log message, quotes removed (``resource=ns/name`` also gives
    ``namespace`` and ``name``). Reserved keys (time, level, logger, message) are left out."""
    fields: dict[str, str] = {}
    for key, raw in _PAIR.findall(message):
        if key in _RESERVED:
            continue
        value = raw
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            value = raw[1:-1].replace("\\" + raw[0], raw[0])
        fields.setdefault(key, value)
    _split_resource(fields)
    return fields


def _split_resource(fields: dict[str, Any]) -> None:
    """``resource=namespace/name`` (the pod's and the status writer's form) as two fields."""
    resource = fields.get("resource")
    if isinstance(resource, str) and resource.count("/") == 1:
        namespace, name = resource.split("/")
        fields.setdefault("namespace", namespace)
        fields.setdefault("name", name)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the fields the message or
    ``extra=`` carry; ``namespace`` and ``name`` also from kopf's object reference or a
    ``resource`` of the form ``namespace/name``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict):
            for key in ("namespace", "name", "kind"):
                if ref.get(key):
                    line[key] = ref[key]
        for key, value in vars(record).items():
            if key in _RECORD_ATTRS or key in _SKIPPED_EXTRAS or key in _RESERVED:
                continue
            if isinstance(value, str | int | float | bool) or value is None:
                line.setdefault(key, value)
        for key, value in message_fields(message).items():
            line.setdefault(key, value)
        _split_resource(line)  # from extra={"resource": "ns/name"} (a record's own `name` is the logger's)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: int, log_format: str) -> None:
    """Root logging for the operator process in ``log_format`` (text or json) at ``level``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
