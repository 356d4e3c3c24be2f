"""What the scene layer needs from its caller, as protocols: the frame it lays out on and where
it may write and fetch. Templates pass their `Canvas` and `TemplateContext`, which fit these;
the scene layer sits below the templates and never imports them."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from reelkube.api.common import InputLimits, StorageSpec
from reelkube.input_policy import InputPolicy


class SceneFrame(Protocol):
    """The frame scenes are laid out on."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def fps(self) -> float: ...

    def scaled(self, fraction: float) -> int:
        """`fraction` of the short side, in whole pixels."""
        ...


class SceneContext(Protocol):
    """Where planning writes its files and how it fetches inputs."""

    @property
    def workdir(self) -> Path: ...

    @property
    def limits(self) -> InputLimits: ...

    @property
    def base_dir(self) -> Path | None: ...

    @property
    def storage(self) -> StorageSpec | None: ...

    @property
    def policy(self) -> InputPolicy:
        """What inputs may name (the cluster's policy in a pod, the local one on a laptop)."""
        ...
