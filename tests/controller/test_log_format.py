"""The operator's JSON log lines: namespace and name as fields, from the message's key=value
pairs, kopf's object reference or ``extra=``; the text form unchanged."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from reelkube.controller.log_format import TEXT_FORMAT, JsonLogFormatter, configure_logging, message_fields
from reelkube.controller.settings import settings_from_env


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("reelkube.controller.reconcile", logging.INFO, __file__, 1, msg, args, None)
    rec.created = 1767225600.25  # 2026-01-01T00:00:00.250Z
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def line(rec: logging.LogRecord) -> dict:
    return json.loads(JsonLogFormatter().format(rec))


def test_key_value_pairs_become_fields() -> None:
    out = line(record("event=job_created namespace=%s name=%s job=%s", "team-a", "promo", "rj-promo-1a2b"))
    assert out == {
        "time": "2026-01-01T00:00:00.250+00:00",
        "level": "INFO",
        "logger": "reelkube.controller.reconcile",
        "message": "event=job_created namespace=team-a name=promo job=rj-promo-1a2b",
        "event": "job_created",
        "namespace": "team-a",
        "name": "promo",
        "job": "rj-promo-1a2b",
    }


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        ("event=x resource=media/reel-1 kind=RenderJob",
         {"event": "x", "resource": "media/reel-1", "namespace": "media", "name": "reel-1",
          "kind": "RenderJob"}),
        ("event=fallback cause='Cannot load libcuda.so.1' n=2",
         {"event": "fallback", "cause": "Cannot load libcuda.so.1", "n": "2"}),
        ('reason="it\\"s" level=evil message=x', {"reason": 'it"s'}),
        ("no pairs here", {}),
    ],
)  # fmt: skip
def test_message_fields(message: str, fields: dict[str, str]) -> None:
    assert message_fields(message) == fields


def test_kopf_object_reference_gives_namespace_and_name() -> None:
    ref = {"apiVersion": "reelkube.io/v1alpha1", "kind": "RenderJob", "name": "promo", "namespace": "team-a"}
    out = line(record("Handler 'reconcile' succeeded.", k8s_ref=ref, k8s_skip=False, settings=object()))
    assert (out["namespace"], out["name"], out["kind"]) == ("team-a", "promo", "RenderJob")
    assert "settings" not in out and "k8s_ref" not in out and "k8s_skip" not in out


def test_extra_fields_and_exceptions() -> None:
    rec = record("event=webhook_failed", resource="team-b/ad", attempts=3)
    try:
        raise RuntimeError("receiver down")
    except RuntimeError:
        rec.exc_info = sys.exc_info()
    out = line(rec)
    assert (out["namespace"], out["name"], out["attempts"]) == ("team-b", "ad", 3)
    assert "RuntimeError: receiver down" in out["exception"]


def test_reserved_keys_in_a_message_cannot_overwrite_the_line() -> None:
    out = line(record("level=ERROR logger=x time=0 message=forged event=ok"))
    assert (out["level"], out["logger"], out["event"]) == ("INFO", "reelkube.controller.reconcile", "ok")
    assert out["message"] == "level=ERROR logger=x time=0 message=forged event=ok"


@pytest.mark.parametrize(("log_format", "is_json"), [("json", True), ("text", False)])
def test_configure_logging_installs_one_handler(log_format: str, is_json: bool) -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        configure_logging(logging.INFO, log_format)
        (handler,) = root.handlers
        assert isinstance(handler.formatter, JsonLogFormatter) is is_json
        stream = io.StringIO()
        handler.setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("reelkube.test").info("event=x namespace=%s name=%s", "n1", "r1")
        text = stream.getvalue()
        if is_json:
            assert json.loads(text)["namespace"] == "n1"
        else:
            assert handler.formatter is not None and handler.formatter._fmt == TEXT_FORMAT
            assert "level=INFO logger=reelkube.test event=x namespace=n1 name=r1" in text
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)


def test_log_format_setting() -> None:
    assert settings_from_env({}).log_format == "text"
    assert settings_from_env({"REELKUBE_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ValueError, match="REELKUBE_LOG_FORMAT must be one of text, json"):
        settings_from_env({"REELKUBE_LOG_FORMAT": "yaml"})
