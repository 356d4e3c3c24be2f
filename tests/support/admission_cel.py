"""Evaluates the chart's ValidatingAdmissionPolicies locally with cel-python, as the API server
would for one object: match conditions, variables, validations and message expressions.

cel-python lacks the Kubernetes CEL libraries; the one the policies use, ``quantity()`` with
``isGreaterThan``, is shimmed here with Kubernetes' suffixes (decimal SI, binary, ``m``,
exponents). What the shim does not prove: the API server's type checking against the CRD
schemas and its cost limits; those need a cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import celpy
from celpy import celtypes

_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


@dataclass(frozen=True)
class Quantity:
    """A parsed Kubernetes quantity: its value in base units."""

    value: Decimal


def parse_quantity(text: str) -> Quantity:
    """``quantity(text)`` as Kubernetes parses it; ValueError when it is not a quantity."""
    match = _QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a quantity")
    number, suffix = Decimal(match.group(1)), match.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return Quantity(number * Decimal(10) ** int(suffix[1:]))
    return Quantity(number * _SUFFIXES[suffix])


def _quantity(text: Any) -> Quantity:
    return parse_quantity(str(text))


def _is_greater_than(left: Quantity, right: Quantity) -> celtypes.BoolType:
    return celtypes.BoolType(left.value > right.value)


_FUNCTIONS = {"quantity": _quantity, "isGreaterThan": _is_greater_than}


def _evaluate(expression: str, activation: dict[str, Any]) -> Any:
    env = celpy.Environment()
    program = env.program(env.compile(expression), functions=_FUNCTIONS)
    return program.evaluate(activation)


def refusals(
    policy: dict[str, Any],
    obj: dict[str, Any],
    namespace: dict[str, Any],
    *,
    operation: str = "CREATE",
    params: dict[str, Any] | None = None,
) -> list[str]:
    """The messages ``policy`` refuses ``obj`` with (empty: admitted), in the Namespace object
    ``namespace`` (the policies read its labels), with ``params`` its binding's parameters."""
    spec = policy["spec"]
    request_namespace = obj["metadata"].get("namespace", namespace["metadata"]["name"])
    activation: dict[str, Any] = {
        "object": celpy.json_to_cel(obj),
        "namespaceObject": celpy.json_to_cel(namespace),
        "request": celpy.json_to_cel({"operation": operation, "namespace": request_namespace}),
        "params": celpy.json_to_cel(params),
    }
    for condition in spec.get("matchConditions", []):
        if not _evaluate(condition["expression"], activation):
            return []
    variables: dict[Any, Any] = {}
    for variable in spec.get("variables", []):
        activation["variables"] = celtypes.MapType(variables)
        variables[celtypes.StringType(variable["name"])] = _evaluate(variable["expression"], activation)
    activation["variables"] = celtypes.MapType(variables)
    messages = []
    for validation in spec["validations"]:
        if not _evaluate(validation["expression"], activation):
            messages.append(str(_evaluate(validation["messageExpression"], activation)))
    return messages
