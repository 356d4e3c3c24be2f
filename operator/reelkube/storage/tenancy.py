"""What one tenant's resource may do with storage: where its outputs may go, under whose
credentials, and which ``s3://`` inputs it may read.

Two rules, both pure and table-tested:

- :func:`check_spec_storage` (the operator, before any Job exists): with the chart's
  ``storage.allowSpecStorage`` false, ``spec.storage`` may only choose a sub-prefix of the chart's
  storage *inside its own namespace's area*; with it true, a resource that names a bucket or an
  endpoint the chart did not configure must also name its own credentials Secret, so the
  operator's default credentials never sign a request to storage the chart did not choose.
- :class:`S3ReadScope` (the render pod, before an ``s3://`` download): an input is read only from
  a bucket/prefix the chart lists (``inputs.s3ReadPrefixes``) or from the resource's own
  namespace area (``<prefix>/<namespace>/``, the key layout of :mod:`reelkube.storage.keys`), so
  one tenant cannot publish another namespace's outputs as its own input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reelkube.api import pod_contract
from reelkube.api.common import StorageSpec
from reelkube.errors import InputForbidden, ReelkubeError
from reelkube.storage.keys import normalize_prefix, parse_s3_uri


class StorageForbidden(ReelkubeError):
    """``spec.storage`` asks for storage the chart does not let a resource choose: fixing the
    spec (or the chart's ``storage.*``) is the only cure, so it is not retried."""

    reason = "StorageForbidden"
    retryable = False


@dataclass(frozen=True)
class ChartStorage:
    """The storage the chart configured (``storage.*``), as the rules compare against it."""

    bucket: str | None
    prefix: str
    endpoint_url: str | None
    region: str
    allow_spec_storage: bool = False


def _area(prefix: str, namespace: str) -> str:
    """``<prefix>/<namespace>`` (just the namespace under an empty prefix): a namespace's keys."""
    base = normalize_prefix(prefix)
    return f"{base}/{namespace}" if base else namespace


def _same_endpoint(spec: str | None, chart: str | None) -> bool:
    return (spec or "").rstrip("/") == (chart or "").rstrip("/")


def check_spec_storage(spec: StorageSpec | None, namespace: str, chart: ChartStorage) -> None:
    """Refuse ``spec`` (StorageForbidden naming the field and the chart value) when the chart
    does not let this resource choose it; None (the chart's storage) is always accepted."""
    if spec is None:
        return
    own_endpoint = not _same_endpoint(spec.endpointUrl, chart.endpoint_url)
    own_bucket = spec.bucket != chart.bucket
    if not chart.allow_spec_storage:
        # Only a sub-prefix may be chosen: everything that says *which* storage stays the chart's.
        for field, forbidden in (
            ("bucket", own_bucket),
            ("endpointUrl", own_endpoint),
            ("region", spec.region != chart.region and "region" in spec.model_fields_set),
            ("credentialsSecret", bool(spec.credentialsSecret)),
        ):
            if forbidden:
                raise StorageForbidden(
                    f"spec.storage.{field} is not allowed: this installation's storage."
                    "allowSpecStorage is false, so spec.storage may only set a prefix under"
                    f" {_area(chart.prefix, namespace)!r}"
                )
    if own_bucket or own_endpoint:
        if not spec.credentialsSecret:
            what = "spec.storage.endpointUrl" if own_endpoint else "spec.storage.bucket"
            raise StorageForbidden(
                f"{what} names storage the chart did not configure, so spec.storage."
                "credentialsSecret must name this namespace's own Secret: the operator's default"
                " credentials never sign requests to other storage"
            )
        return
    # The chart's bucket under the chart's credentials: stay inside this namespace's area, or a
    # tenant could write where another namespace's outputs live (and that namespace read them).
    area = _area(chart.prefix, namespace)
    prefix = normalize_prefix(spec.prefix)
    if prefix != normalize_prefix(chart.prefix) and prefix != area and not prefix.startswith(area + "/"):
        raise StorageForbidden(
            f"spec.storage.prefix {spec.prefix!r} is outside this namespace's area of the"
            f" chart's bucket: use the chart's prefix or one under {area + '/'!r}"
        )


def parse_read_prefixes(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``bucket`` or ``bucket/key-prefix`` entries (an ``s3://`` in front is accepted) as
    (bucket, prefix) pairs; a prefix names whole path segments (``a/b`` covers ``a/b/c``, never
    ``a/bc``). ValueError naming a bad entry."""
    pairs: list[tuple[str, str]] = []
    for raw in values:
        entry = raw.strip().removeprefix("s3://")
        if not entry:
            continue
        bucket, _, prefix = entry.partition("/")
        try:
            parse_s3_uri(f"s3://{bucket}/x")
            pairs.append((bucket, normalize_prefix(prefix) if prefix else ""))
        except ReelkubeError as exc:
            raise ValueError(f"inputs.s3ReadPrefixes: {raw!r} is not bucket[/prefix]: {exc}") from exc
    return tuple(pairs)


@dataclass(frozen=True)
class S3ReadScope:
    """Which ``s3://`` objects a render pod may read as inputs."""

    prefixes: tuple[tuple[str, str], ...]
    """(bucket, key prefix) pairs; an empty prefix is the whole bucket."""

    @classmethod
    def for_pod(
        cls,
        listed: Iterable[str],
        namespace: str | None,
        storages: Iterable[StorageSpec | None],
    ) -> S3ReadScope:
        """The chart's ``listed`` prefixes plus ``namespace``'s area in each of ``storages``
        (the chart's default and the resource's own); no namespace, no area."""
        pairs = list(parse_read_prefixes(listed))
        if namespace:
            for storage in storages:
                if storage is not None:
                    pairs.append((storage.bucket, _area(storage.prefix, namespace)))
        return cls(prefixes=tuple(dict.fromkeys(pairs)))

    def allows(self, bucket: str, key: str) -> bool:
        """``bucket``/``key`` lies under one of the prefixes (whole segments only)."""
        for allowed_bucket, prefix in self.prefixes:
            if bucket == allowed_bucket and (not prefix or key == prefix or key.startswith(prefix + "/")):
                return True
        return False

    def check(self, uri: str, field_name: str) -> None:
        """InputForbidden naming the field and the rule when ``uri`` is out of scope."""
        bucket, key = parse_s3_uri(uri)
        # Segments such as `..` could step out of a prefix on stores that normalize keys.
        if any(segment in (".", "..") for segment in key.split("/")):
            raise InputForbidden(f"{field_name}: {uri} has a '.' or '..' key segment")
        if not self.allows(bucket, key):
            raise InputForbidden(
                f"{field_name}: {uri} is outside the readable S3 prefixes (the chart's"
                " inputs.s3ReadPrefixes and this namespace's own outputs)"
            )


def read_scope_from_env(environ: Mapping[str, str], storage: StorageSpec | None) -> S3ReadScope:
    """The render pod's scope: the pod contract's variables, the chart's default storage and
    ``storage`` (the resource's own, when it has one)."""
    return S3ReadScope.for_pod(
        environ.get(pod_contract.INPUTS_S3_READ_PREFIXES_ENV, "").split(","),
        environ.get(pod_contract.NAMESPACE_ENV, "").strip() or None,
        (pod_contract.storage_from_env(environ), storage),
    )
