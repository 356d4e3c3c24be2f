"""One small adapter per kind: what RenderJob and TTSJob differ in, and nothing else.

The reconcile path (``reconcile.py``) and the builders are generic; they ask the adapter for the
plural, the model, default pod resources, the steps a pod goes through (to turn per-step percent
into one overall figure) and whether the resource wants a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reelkube.api.common import GROUP, VERSION
from reelkube.api.renderjob import RenderJob
from reelkube.api.status import Step
from reelkube.api.ttsjob import TTSJob
from reelkube.controller.settings import OperatorSettings, Resources

Resource = RenderJob | TTSJob


@dataclass(frozen=True)
class KindAdapter:
    """What the generic reconciler needs to know about one kind."""

    kind: str
    plural: str
    prefix: str
    """Short prefix of the names of the objects built for a resource (Job, ConfigMap, ...)."""
    model: type[RenderJob] | type[TTSJob]
    default_resources: Resources
    steps: tuple[tuple[Step, int], ...]
    """Steps in order with their share of the overall progress (shares sum to 100)."""
    wants_gpu: Callable[[Any], bool]

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

    def resources(self, settings: OperatorSettings, resource: Resource) -> Resources:
        """Pod resources: the spec's, else the chart's default for this kind, else built-in."""
        chart = settings.default_resources.get(self.kind)
        spec = resource.spec.resources
        return Resources(
            cpu=(spec and spec.cpu) or (chart and chart.cpu) or self.default_resources.cpu,
            memory=(spec and spec.memory) or (chart and chart.memory) or self.default_resources.memory,
            ephemeral_storage=(spec and spec.ephemeralStorage)
            or (chart and chart.ephemeral_storage)
            or self.default_resources.ephemeral_storage,
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


RENDER_JOB = KindAdapter(
    kind="RenderJob",
    plural="renderjobs",
    prefix="rj",
    model=RenderJob,
    default_resources=Resources(cpu="2", memory="2Gi", ephemeral_storage="10Gi"),
    steps=(
        (Step.DOWNLOADING, 10),
        (Step.NARRATING, 15),
        (Step.RENDERING, 70),
        (Step.UPLOADING, 5),
    ),
    wants_gpu=lambda resource: bool(resource.spec.output.gpu),
)

TTS_JOB = KindAdapter(
    kind="TTSJob",
    plural="ttsjobs",
    prefix="tts",
    model=TTSJob,
    default_resources=Resources(cpu="1", memory="1Gi", ephemeral_storage="2Gi"),
    steps=(
        (Step.DOWNLOADING, 5),
        (Step.NARRATING, 70),
        (Step.RENDERING, 15),
        (Step.UPLOADING, 10),
    ),
    wants_gpu=lambda _resource: False,
)

ADAPTERS: dict[str, KindAdapter] = {a.kind: a for a in (RENDER_JOB, TTS_JOB)}
BY_PLURAL: dict[str, KindAdapter] = {a.plural: a for a in ADAPTERS.values()}


def adapter_for(kind: str) -> KindAdapter:
    """The adapter of ``kind`` (``RenderJob`` or ``TTSJob``); KeyError names the kind otherwise."""
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise KeyError(f"unknown kind {kind!r}; known: {', '.join(ADAPTERS)}") from None
