"""The Reelkube API (group ``reelkube.io``, version ``v1alpha1``): the single source of truth.

The CRD schemas in ``crds/`` are generated from these pydantic models (``reelkube crds``).
"""

from reelkube.api.common import API_VERSION, GROUP, VERSION
from reelkube.api.output import OutputSpec
from reelkube.api.renderjob import RenderJob, RenderJobSpec
from reelkube.api.status import (
    Condition,
    OutputArtifact,
    Phase,
    ResourceStatus,
    Step,
    WebhookDelivery,
)
from reelkube.api.timeline import Timeline
from reelkube.api.ttsjob import TTSJob, TTSJobSpec

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "Condition",
    "ResourceStatus",
    "OutputArtifact",
    "OutputSpec",
    "Phase",
    "RenderJob",
    "RenderJobSpec",
    "Step",
    "TTSJob",
    "TTSJobSpec",
    "Timeline",
    "WebhookDelivery",
]
