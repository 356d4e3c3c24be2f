"""The software encoder's threads sized by the pod's CPU limit (pure)."""

from __future__ import annotations

import pytest

from reelkube.api.output import OutputSpec
from reelkube.engine.encoders import ENCODER_THREADS, choose_encoder, threads_for_cpu_limit


@pytest.mark.parametrize(
    ("millicores", "cores", "expected"),
    [
        (1000, 2, 1),
        (1500, 4, 2),  # a fraction rounds up: the quota is there to be used
        (250, 16, 1),
        (2000, 2, None),  # every core: the encoder's own choice
        (4000, 2, None),
        (None, 16, None),  # no limit passed (a local render)
        (0, 16, None),
    ],
)
def test_threads_for_cpu_limit(millicores: int | None, cores: int, expected: int | None) -> None:
    assert threads_for_cpu_limit(millicores, cores) == expected


@pytest.mark.parametrize(
    ("output", "encoder"),
    [({}, "libx264"), ({"codec": "h265"}, "libx265"), ({"format": "webm", "codec": "vp9"}, "libvpx-vp9")],
)
def test_software_encoders_get_the_threads(output: dict[str, str], encoder: str) -> None:
    spec = OutputSpec.model_validate(output)
    assert "-threads" not in choose_encoder(spec).video_args
    token = ENCODER_THREADS.set(1)
    try:
        choice = choose_encoder(spec)
    finally:
        ENCODER_THREADS.reset(token)
    assert choice.video == encoder
    assert choice.video_args[choice.video_args.index("-threads") + 1] == "1"


def test_gpu_encoders_do_not() -> None:
    token = ENCODER_THREADS.set(1)
    try:
        assert "-threads" not in choose_encoder(OutputSpec(gpu=True)).video_args
    finally:
        ENCODER_THREADS.reset(token)
