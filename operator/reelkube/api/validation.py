"""Validate a manifest exactly as the API server would: the pydantic models first, then the
CRD's CEL rules, evaluated locally with cel-python so `reelkube validate` and the cluster agree.

The CEL rules live once, in the models (``x-kubernetes-validations``); this module walks the
generated CRD schema beside the data and evaluates each rule where it applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import celpy
from pydantic import BaseModel, ValidationError

from reelkube.api.cel_parser import install_cached_parser
from reelkube.api.crd import Schema, build_crd
from reelkube.api.kinds import KINDS


@dataclass(frozen=True)
class FieldError:
    """One problem, with the path of the field it concerns (e.g. ``spec.output.crf``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def pydantic_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """Field errors from a pydantic ValidationError, with dotted paths."""
    out = []
    for item in error.errors():
        path = prefix
        for part in item["loc"]:
            # Discriminated unions add the tag (e.g. "text") to the location: not a field.
            if isinstance(part, str) and item["loc"] and part in _UNION_TAGS:
                continue
            path = _join(path, part)
        out.append(FieldError(path or "(root)", item["msg"]))
    return out


_UNION_TAGS = {"video", "image", "color", "text", "subtitles", "audio"}


@cache
def _program(rule: str) -> Any:
    install_cached_parser()
    env = celpy.Environment()
    return env.program(env.compile(rule))


def cel_errors(schema: Schema, data: Any, path: str) -> list[FieldError]:
    """Evaluate every CEL rule in ``schema`` against ``data`` (creation: rules on oldSelf skipped)."""
    errors: list[FieldError] = []
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            continue
        try:
            result = _program(rule["rule"]).evaluate({"self": celpy.json_to_cel(data)})
        except celpy.CELEvalError as exc:
            result = exc
        if isinstance(result, celpy.CELEvalError):  # celpy may return errors as values
            rule = {**rule, "message": f"{rule['message']} ({result})"}
            result = celpy.celtypes.BoolType(False)
        if not bool(result):
            errors.append(FieldError(path or "(root)", rule["message"]))
    if isinstance(data, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, value in data.items():
            sub = props.get(key) or (extra if isinstance(extra, dict) else None)
            if sub is not None:
                errors.extend(cel_errors(sub, value, _join(path, key)))
    elif isinstance(data, list) and "items" in schema:
        for index, value in enumerate(data):
            errors.extend(cel_errors(schema["items"], value, _join(path, index)))
    return errors


def schema_defaulted(schema: Schema, data: Any) -> Any:
    """``data`` with the schema's defaults filled in, as the API server stores it."""
    if isinstance(data, dict):
        props = schema.get("properties", {})
        out = {
            key: schema_defaulted(props[key], value) if key in props else value for key, value in data.items()
        }
        for key, prop in props.items():
            if key not in out and "default" in prop:
                out[key] = schema_defaulted(prop, prop["default"])
        return out
    if isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [schema_defaulted(schema["items"], item) for item in data]
    return data


def validate_spec(kind: str, spec: Any) -> tuple[BaseModel | None, list[FieldError]]:
    """Validate a ``spec`` of ``kind``: the parsed spec (or None) and every error found."""
    spec_model = KINDS[kind].spec_model
    try:
        parsed = spec_model.model_validate(spec)
    except ValidationError as exc:
        return None, pydantic_errors(exc, "spec")
    schema = build_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    # The API server evaluates the rules after applying the schema's defaults: do the same, with
    # the schema's defaults (not pydantic's), so a default that breaks a rule shows up here too.
    errors = cel_errors(schema, schema_defaulted(schema, spec), "spec")
    return (parsed if not errors else None), errors


def update_errors(kind: str, old_spec: Any, new_spec: Any) -> list[FieldError]:
    """The transition rules (those on ``oldSelf``) of ``kind``'s spec, for an update from
    ``old_spec`` to ``new_spec``, both defaulted as the API server stores them: what it answers
    to a ``kubectl apply`` or ``patch`` of an existing resource's spec."""
    schema = build_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    context = {
        "self": celpy.json_to_cel(schema_defaulted(schema, new_spec)),
        "oldSelf": celpy.json_to_cel(schema_defaulted(schema, old_spec)),
    }
    errors: list[FieldError] = []
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" not in rule["rule"]:
            continue
        try:
            result = _program(rule["rule"]).evaluate(context)
        except celpy.CELEvalError as exc:
            result = exc
        if isinstance(result, celpy.CELEvalError) or not bool(result):
            errors.append(FieldError("spec", rule["message"]))
    return errors
