"""Loading RenderJob and TTSJob manifests from YAML, with every problem named by its field path.

Checks run as the API server would (pydantic models, then the CRD's CEL rules, via
`reelkube.api.validation`), plus a RenderJob's template props against the template's model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from reelkube.api.kinds import KINDS, RENDER_JOB, Resource
from reelkube.api.validation import FieldError, pydantic_errors, validate_spec
from reelkube.errors import SpecError


def read_document(path: Path) -> dict[str, Any]:
    """The manifest's single YAML document as a mapping (SpecError when it is not one)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from exc
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise SpecError(f"{path}: expected one YAML mapping (a RenderJob or TTSJob manifest)")
    return documents[0]


def manifest_errors(document: dict[str, Any]) -> list[FieldError]:
    """Every problem in a manifest document, each with its field path."""
    kind = document.get("kind")
    if kind not in KINDS:
        return [FieldError("kind", f"expected {' or '.join(KINDS)}, got {kind!r}")]
    errors: list[FieldError] = []
    try:
        KINDS[kind].model.model_validate({**document, "spec": {}} if "spec" in document else document)
    except ValidationError as exc:
        errors += [e for e in pydantic_errors(exc) if not e.path.startswith("spec")]
    if "spec" not in document:
        return [*errors, FieldError("spec", "Field required")]
    _, spec_errors = validate_spec(kind, document["spec"])
    errors += spec_errors
    spec = document["spec"]
    if (
        kind == RENDER_JOB.kind
        and isinstance(spec, dict)
        and spec.get("template")
        and not any(e.path.startswith("spec.template") for e in spec_errors)
    ):
        errors += template_props_errors(str(spec["template"]), spec.get("props") or {})
    return errors


def template_props_errors(name: str, props: Any) -> list[FieldError]:
    """Problems in a template's props, under `spec.props` (none when the template is unknown
    here: the API models already name the allowed templates)."""
    try:
        from reelkube.templates import TEMPLATES
    except ImportError:
        return []
    template = TEMPLATES.get(name)
    if template is None:
        return [FieldError("spec.template", f"template {name!r} is not available in this build")]
    try:
        template.props_model.model_validate(props)
    except ValidationError as exc:
        return pydantic_errors(exc, "spec.props")
    return []


def validation_messages(error: ValidationError, prefix: str = "") -> list[str]:
    """`path: message` lines for a pydantic ValidationError."""
    return [str(e) for e in pydantic_errors(error, prefix)]


def load_manifest(path: Path) -> Resource:
    """Load and validate a manifest; SpecError lists every problem, one `path: message` a line."""
    document = read_document(path)
    errors = manifest_errors(document)
    if errors:
        raise SpecError("\n".join(str(e) for e in errors))
    return KINDS[document["kind"]].model.model_validate(document)
