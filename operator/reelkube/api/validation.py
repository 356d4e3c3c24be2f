"""Validate a manifest exactly as the API server would: the pydantic models first, then the
CRD's CEL rules, evaluated locally with cel-python so `reelkube validate` and the cluster agree.

The CEL rules live once, in the models (``x-kubernetes-validations``); this module walks the
generated CRD schema beside the data and evaluates each rule where it applies.

Generating a kind's schema from the models and parsing its rules cost every `reelkube render`
about 0.1 s before any work; both are kept on disk beside celpy's parser tables (see
:mod:`reelkube.api.cel_parser`), under a digest of the API's source files and of the libraries
that make them, so a changed model or rule is rebuilt, never read stale.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import celpy
from pydantic import BaseModel, ValidationError

from reelkube.api.cel_parser import install_cached_parser
from reelkube.api.crd import Schema, build_crd
from reelkube.api.field_docs import cache_dir, source_digest, write_whole
from reelkube.api.kinds import KINDS

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class SpecRules:
    """What validating a kind's spec needs: the CRD's schema of ``spec`` and its CEL rules, each
    parsed and pickled (rule text -> celpy's parse tree, unpickled when the rule is first
    evaluated: all of them at once took 40 ms, 12 of them about 4)."""

    schema: Schema
    parsed: dict[str, bytes]


CACHE_FORMAT = 2
"""Bumped when what the cache file holds changes shape."""


def api_digest() -> str:
    """A digest of everything a kind's schema and parsed rules depend on: the API's sources, and
    the versions of Python, pydantic (which writes the schema) and celpy and Lark (which parse)."""
    return source_digest(f"format={CACHE_FORMAT}", f"cel-python={version('cel-python')}",
                         f"lark={version('lark')}")  # fmt: skip


@cache
def spec_rules(kind: str) -> SpecRules:
    """``kind``'s spec schema and parsed rules: from the cache when it holds this API's, else
    built (and stored for the next process, when the cache folder can be written)."""
    try:
        path: Path | None = cache_dir() / f"validation-{kind}-{api_digest()}.pickle"
    except (OSError, RuntimeError):  # no home folder, unreadable sources
        path = None
    if path is not None:
        try:
            with path.open("rb") as handle:
                cached = pickle.load(handle)
            if isinstance(cached, SpecRules):
                _PARSED.update(cached.parsed)
                return cached
        except FileNotFoundError:
            pass
        except Exception as exc:  # a damaged or foreign file: rebuilt below  # noqa: BLE001
            log.debug("event=validation_cache_unreadable path=%s cause=%r", path, exc)
    schema = build_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    parsed = {rule: pickle.dumps(_parse(rule), protocol=pickle.HIGHEST_PROTOCOL) for rule in _rules(schema)}
    built = SpecRules(schema=schema, parsed=parsed)
    _PARSED.update(built.parsed)
    if path is not None:
        _store(path, built)
    return built


def _rules(schema: Any) -> list[str]:
    """Every CEL rule in ``schema``, at any depth."""
    found: list[str] = []
    if isinstance(schema, dict):
        found += [rule["rule"] for rule in schema.get("x-kubernetes-validations", [])]
        for value in schema.values():
            found += _rules(value)
    elif isinstance(schema, list):
        for value in schema:
            found += _rules(value)
    return found


def _store(path: Path, rules: SpecRules) -> None:
    try:
        write_whole(path, rules)
    except (OSError, pickle.PicklingError, RecursionError) as exc:
        log.debug("event=validation_cache_not_written path=%s cause=%r", path, exc)


def _parse(rule: str) -> Any:
    install_cached_parser()
    return celpy.Environment().compile(rule)


_PARSED: dict[str, bytes] = {}
"""Rules parsed by `spec_rules` (from the cache or anew), so that `_program` parses none twice."""


@cache
def _program(rule: str) -> Any:
    install_cached_parser()
    env = celpy.Environment()
    parsed = _PARSED.get(rule)
    return env.program(pickle.loads(parsed) if parsed is not None else env.compile(rule))


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
    schema = spec_rules(kind).schema
    # The API server evaluates the rules after applying the schema's defaults: do the same, with
    # the schema's defaults (not pydantic's), so a default that breaks a rule shows up here too.
    errors = cel_errors(schema, schema_defaulted(schema, spec), "spec")
    return (parsed if not errors else None), errors


def update_errors(kind: str, old_spec: Any, new_spec: Any) -> list[FieldError]:
    """The transition rules (those on ``oldSelf``) of ``kind``'s spec, for an update from
    ``old_spec`` to ``new_spec``, both defaulted as the API server stores them: what it answers
    to a ``kubectl apply`` or ``patch`` of an existing resource's spec."""
    schema = spec_rules(kind).schema
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
