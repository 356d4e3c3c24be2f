"""Generate the CustomResourceDefinitions in ``crds/`` from the pydantic models.

Kubernetes wants a *structural* OpenAPI v3 schema: no ``$ref``, no ``anyOf`` carrying types,
every property typed. Pydantic's JSON schema is turned into that shape here:
references are inlined, ``Optional[X]`` becomes plain ``X`` (absence means unset), and the
clip union is merged into one object whose ``type`` enum names the kind, with each kind's
required fields kept as CEL rules.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import yaml
from pydantic import BaseModel

from reelkube.api.common import GROUP, VERSION
from reelkube.api.kinds import KINDS, ResourceKind, kind_named
from reelkube.api.status import UNWRITTEN_STATUS, ResourceStatus

Schema = dict[str, Any]

_DROP = {"title", "discriminator", "const"}


def _resolve(schema: Schema, defs: dict[str, Schema]) -> Schema:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    target = dict(defs[ref.rsplit("/", 1)[-1]])
    extra = {k: v for k, v in schema.items() if k != "$ref"}
    return {**target, **extra}


def _merge_union(variants: list[Schema], defs: dict[str, Schema]) -> Schema:
    """Merge object variants of a discriminated union into one structural object.

    Each kind's own rules (required fields, CEL rules, fields it does not know) become CEL rules
    guarded by ``self.type``. Defaults stay only where every kind has the same one: the API
    server applies a property's default to every object, whatever its ``type``.
    """
    resolved = [_resolve(raw, defs) for raw in variants]
    kinds = [v["properties"]["type"].get("const") or v["properties"]["type"]["default"] for v in resolved]
    rules: list[dict[str, str]] = []
    for kind, variant in zip(kinds, resolved, strict=True):
        for rule in variant.get("x-kubernetes-validations", []):
            rules.append({"rule": f"self.type != '{kind}' || ({rule['rule']})", "message": rule["message"]})
    required = {kind: set(v.get("required", [])) - {"type"} for kind, v in zip(kinds, resolved, strict=True)}
    common = set.intersection(*required.values())
    for kind in kinds:
        for field in sorted(required[kind] - common):
            rules.append(
                {
                    "rule": f"self.type != '{kind}' || has(self.{field})",
                    "message": f"{kind} clips need {field}",
                }
            )

    properties: dict[str, Schema] = {}
    names = sorted({name for v in resolved for name in v["properties"]} - {"type"})
    for name in names:
        owners = [k for k, v in zip(kinds, resolved, strict=True) if name in v["properties"]]
        raws = [v["properties"][name] for v in resolved if name in v["properties"]]
        if len({structural(raw, defs).get("type") for raw in raws}) > 1:
            raise ValueError(f"union field {name!r} has different types across {owners}: rename one")
        prop = dict(raws[0])
        if len(owners) < len(kinds) or len({repr(raw.get("default")) for raw in raws}) > 1:
            prop.pop("default", None)
        properties[name] = prop
        if len(owners) < len(kinds):
            allowed = ", ".join(f"'{k}'" for k in owners)
            rules.append(
                {
                    "rule": f"!has(self.{name}) || self.type in [{allowed}]",
                    "message": f"{name} applies only to {' / '.join(owners)} clips",
                }
            )
    type_prop = {"type": "string", "enum": kinds, "description": "Clip kind: " + ", ".join(kinds) + "."}
    merged: Schema = {
        "type": "object",
        "properties": {**properties, "type": type_prop},
        "required": ["type", *sorted(common)],
        "x-kubernetes-validations": rules,
    }
    return merged


def structural(schema: Schema, defs: dict[str, Schema]) -> Schema:
    """Return ``schema`` as a Kubernetes structural schema (recursively)."""
    schema = _resolve(schema, defs)
    any_of = schema.get("anyOf") or schema.get("oneOf")
    if any_of:
        non_null = [s for s in any_of if s.get("type") != "null"]
        extra = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf", "discriminator")}
        if len(non_null) == 1:
            return structural({**_resolve(non_null[0], defs), **extra}, defs)
        return structural({**_merge_union(non_null, defs), **extra}, defs)

    out: Schema = {}
    for key, value in schema.items():
        if key in _DROP or key.startswith("$"):
            continue
        if key == "properties":
            out[key] = {name: structural(prop, defs) for name, prop in value.items()}
        elif key == "items":
            out[key] = structural(value, defs)
        elif key == "additionalProperties":
            # `false` is implied (the API server prunes unknown fields); a schema means a map.
            if isinstance(value, dict) and value:
                out[key] = structural(value, defs)
            elif isinstance(value, dict) or value is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            # JSON Schema's numeric form -> OpenAPI v3.0's boolean form.
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "default" and value is None:
            continue
        else:
            out[key] = value
    if "const" in schema:
        out["enum"] = [schema["const"]]
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    if "x-kubernetes-preserve-unknown-fields" in out:
        out["type"] = "object"
        out.pop("additionalProperties", None)
    return out


def model_schema(model: type[BaseModel]) -> Schema:
    """Structural schema of one pydantic model (a fresh copy: callers may change it)."""
    return copy.deepcopy(_model_schema(model))


@functools.cache
def _model_schema(model: type[BaseModel]) -> Schema:
    # pydantic builds a model's JSON schema anew on every call (about 70 ms for a RenderJob);
    # the models do not change while the process runs.
    raw = model.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    defs = raw.pop("$defs", {})
    return structural(raw, defs)


def _columns(kind: ResourceKind) -> list[dict[str, Any]]:
    chunks = (
        [{"name": "Chunks", "type": "string", "jsonPath": ".status.chunkSummary"}] if kind.chunkable else []
    )
    return [
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Progress", "type": "integer", "jsonPath": ".status.progress"},
        *chunks,
        {"name": "Queue", "type": "integer", "jsonPath": ".status.queuePosition", "priority": 1},
        {"name": "Priority", "type": "integer", "jsonPath": ".spec.priority", "priority": 1},
        {"name": "Step", "type": "string", "jsonPath": ".status.step", "priority": 1},
        {"name": "Output", "type": "string", "jsonPath": f".status.outputs.{kind.primary_output}.uri"},
        {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def build_crd(kind_name: str) -> dict[str, Any]:
    """The full CustomResourceDefinition of the kind named ``kind_name``."""
    kind = kind_named(kind_name)
    spec_model = kind.spec_model
    spec_schema = model_schema(spec_model)
    status_schema = model_schema(ResourceStatus)
    status_schema["x-kubernetes-preserve-unknown-fields"] = True
    # Until the operator's first write a resource has no status, which kstatus (Flux, kpt, Argo's
    # health checks) reads as Current: "ready" the moment it is applied. The API server fills
    # this default in on every read, so a watch sees "generation 1 not observed yet" instead.
    status_schema["default"] = dict(UNWRITTEN_STATUS)
    description = (spec_model.__doc__ or "").strip()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": ["reelkube"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": _columns(kind),
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": f"{kind.kind}: {description}",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {
                                    "type": "string",
                                    "description": "API version of this object.",
                                },
                                "kind": {"type": "string", "description": "Kind of this object."},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def render_crd_yaml(kind: str) -> str:
    """The CRD of ``kind`` as the YAML committed in ``crds/``."""
    header = "# Generated from the pydantic models by `reelkube crds`; do not edit.\n"
    return header + yaml.safe_dump(build_crd(kind), sort_keys=False, width=100, allow_unicode=True)


def crd_files() -> dict[str, str]:
    """File name -> YAML for every CRD."""
    return {f"{kind.plural}.{GROUP}.yaml": render_crd_yaml(name) for name, kind in KINDS.items()}
