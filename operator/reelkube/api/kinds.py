"""The registry of kinds: everything that differs between RenderJob and TTSJob, declared once.

CRD generation (:mod:`reelkube.api.crd`), manifest loading (:mod:`reelkube.manifest`), the
operator (:mod:`reelkube.controller`) and the in-pod runner (:mod:`reelkube.pipeline`) all read
this table; none keeps a list of kinds, plurals or short names of its own. The API layer does
not know the operator's settings, so the built-in pod resources are plain quantity strings that
the operator overlays with the chart's and the spec's values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reelkube.api.common import GROUP, VERSION
from reelkube.api.renderjob import RenderJob, RenderJobSpec
from reelkube.api.status import Step
from reelkube.api.ttsjob import TTSJob, TTSJobSpec

Resource = RenderJob | TTSJob
"""A parsed resource of any kind."""


@dataclass(frozen=True)
class PodResources:
    """CPU, memory and scratch space of a render pod (Kubernetes quantities)."""

    cpu: str
    memory: str
    ephemeral_storage: str


@dataclass(frozen=True)
class ResourceKind:
    """One kind of resource the operator reconciles, and everything that tells it apart."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    """``kubectl get`` short names."""
    model: type[RenderJob] | type[TTSJob]
    spec_model: type[RenderJobSpec] | type[TTSJobSpec]
    prefix: str
    """Short prefix of the names of the objects built for a resource (Job, ConfigMap, ...)."""
    primary_output: str
    """The ``status.outputs`` entry shown in ``kubectl get``'s Output column."""
    steps: tuple[tuple[Step, int], ...]
    """Steps in order with their share of the overall progress (shares sum to 100)."""
    wants_gpu: Callable[[Any], bool]
    """Whether a parsed resource asks for a GPU node."""
    default_resources: PodResources
    """Built-in pod resources, used when neither the spec nor the chart names them."""
    chunkable: bool = False
    """Whether a resource may be split into windows rendered by parallel pods
    (``spec.output.chunks``)."""

    @property
    def group(self) -> str:
        return GROUP

    @property
    def version(self) -> str:
        return VERSION

    def parse(self, body: Mapping[str, Any]) -> Resource:
        """Validate a resource body (as kopf or the API server gives it) into its model."""
        return self.model.model_validate(
            {k: body[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in body}
        )

    def overall_percent(self, step: Step, step_percent: float) -> float:
        """Overall progress (0-100) from the percent done within ``step``."""
        if step == Step.DONE:
            return 100.0
        done = 0
        for candidate, share in self.steps:
            if candidate == step:
                return done + share * max(0.0, min(100.0, step_percent)) / 100.0
            done += share
        return float(done)


RENDER_JOB = ResourceKind(
    kind="RenderJob",
    plural="renderjobs",
    singular="renderjob",
    short_names=("rj",),
    model=RenderJob,
    spec_model=RenderJobSpec,
    prefix="rj",
    primary_output="video",
    steps=(
        (Step.DOWNLOADING, 10),
        (Step.NARRATING, 15),
        (Step.RENDERING, 70),
        (Step.UPLOADING, 5),
    ),
    wants_gpu=lambda resource: bool(resource.spec.output.gpu),
    default_resources=PodResources(cpu="2", memory="2Gi", ephemeral_storage="10Gi"),
    chunkable=True,
)

TTS_JOB = ResourceKind(
    kind="TTSJob",
    plural="ttsjobs",
    singular="ttsjob",
    short_names=("ttsj",),
    model=TTSJob,
    spec_model=TTSJobSpec,
    prefix="tts",
    primary_output="audio",
    steps=(
        (Step.DOWNLOADING, 5),
        (Step.NARRATING, 70),
        (Step.RENDERING, 15),
        (Step.UPLOADING, 10),
    ),
    wants_gpu=lambda _resource: False,
    default_resources=PodResources(cpu="1", memory="1Gi", ephemeral_storage="2Gi"),
)

KINDS: dict[str, ResourceKind] = {k.kind: k for k in (RENDER_JOB, TTS_JOB)}
"""Every kind by its name, in the order the CRDs and messages list them."""
BY_PLURAL: dict[str, ResourceKind] = {k.plural: k for k in KINDS.values()}


def kind_named(kind: str) -> ResourceKind:
    """The registry entry of ``kind`` (``RenderJob`` or ``TTSJob``); KeyError names the kind."""
    try:
        return KINDS[kind]
    except KeyError:
        raise KeyError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}") from None


def kind_of(resource: Resource) -> ResourceKind:
    """The registry entry of a parsed resource."""
    return kind_named(resource.kind)
