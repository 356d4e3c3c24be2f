"""GPU encoder fallback: a GPU render on a node without a working NVENC encodes on the CPU and
says so (status.encoder, the progress, the log); requireGpuEncoder fails instead. The settling
is pure; the probe and the render run real ffmpeg (slow): on a machine without an NVIDIA GPU,
as here, they exercise the fallback, on one with a GPU the NVENC path."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reelkube.api.output import OutputSpec
from reelkube.engine.encoders import GpuFallback, choose_encoder, gpu_encoder, settle_gpu_encoder
from reelkube.engine.execute import probe_encoder
from reelkube.engine.render import choose_gpu_or_cpu, render_timeline
from reelkube.errors import EncoderUnavailable
from reelkube.progress_events import ProgressEvent
from support.media import video_stream
from support.timelines import timeline

NO_CUDA = "Cannot load libcuda.so.1"


@pytest.mark.parametrize(
    ("output", "encoder"),
    [
        ({"gpu": True}, "h264_nvenc"),
        ({"gpu": True, "codec": "h265"}, "hevc_nvenc"),
        ({}, None),
        ({"codec": "h265"}, None),
    ],
)
def test_gpu_encoder_is_asked_for_only_by_gpu_outputs(output: dict, encoder: str | None) -> None:
    assert gpu_encoder(OutputSpec.model_validate(output)) == encoder


@pytest.mark.parametrize(
    ("output", "nvenc_failure", "video", "label"),
    [
        ({"gpu": True}, None, "h264_nvenc", None),
        ({"gpu": True}, NO_CUDA, "libx264", f"libx264 (fallback: h264_nvenc unavailable: {NO_CUDA})"),
        (
            {"gpu": True, "codec": "h265"},
            NO_CUDA,
            "libx265",
            f"libx265 (fallback: hevc_nvenc unavailable: {NO_CUDA})",
        ),
        ({}, NO_CUDA, "libx264", None),  # a CPU output never looks at the probe
    ],
)
def test_settling_falls_back_to_the_cpu_encoder_of_the_same_codec(
    output: dict, nvenc_failure: str | None, video: str, label: str | None
) -> None:
    spec = OutputSpec.model_validate(output)
    settled, fallback = settle_gpu_encoder(spec, nvenc_failure)
    assert choose_encoder(settled).video == video
    assert (fallback.label(video) if fallback else None) == label
    assert (settled.crf, settled.preset, settled.codec) == (spec.crf, spec.preset, spec.codec)


def test_require_gpu_encoder_fails_without_retry() -> None:
    spec = OutputSpec(gpu=True, requireGpuEncoder=True)
    assert settle_gpu_encoder(spec, None) == (spec, None)
    with pytest.raises(EncoderUnavailable, match="h264_nvenc does not work on this node") as raised:
        settle_gpu_encoder(spec, NO_CUDA)
    assert raised.value.retryable is False and raised.value.reason == "EncoderUnavailable"
    assert NO_CUDA in raised.value.message and "requireGpuEncoder" in raised.value.message


def test_fallback_is_announced_in_progress_and_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("reelkube.engine.render.probe_encoder", lambda encoder: NO_CUDA)
    events: list[ProgressEvent] = []
    with caplog.at_level(logging.WARNING, logger="reelkube.engine.render"):
        settled, fallback = choose_gpu_or_cpu(OutputSpec(gpu=True), events.append)
    assert fallback == GpuFallback("h264_nvenc", NO_CUDA) and not settled.gpu
    assert [(e.encoder, e.message) for e in events] == [
        (
            f"libx264 (fallback: h264_nvenc unavailable: {NO_CUDA})",
            "h264_nvenc unavailable on this node, encoding with libx264 on the CPU",
        )
    ]
    assert "event=gpu_encoder_fallback encoder=h264_nvenc fallback=libx264" in caplog.text


def test_cpu_output_is_never_probed(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(encoder: str) -> str:
        raise AssertionError("probed a CPU output")

    monkeypatch.setattr("reelkube.engine.render.probe_encoder", refuse)
    events: list[ProgressEvent] = []
    assert choose_gpu_or_cpu(OutputSpec(), events.append) == (OutputSpec(), None)
    assert events == []


@pytest.mark.slow
def test_probe_is_a_real_one_frame_encode() -> None:
    assert probe_encoder("libx264") is None
    assert probe_encoder("no_such_encoder") is not None
    assert "cannot run" in (probe_encoder("libx264", ffmpeg="/nonexistent/ffmpeg") or "")


@pytest.mark.slow
def test_gpu_render_without_nvenc_falls_back_to_libx264(media: dict[str, Path], tmp_path: Path) -> None:
    nvenc_failure = probe_encoder("h264_nvenc")
    tl = timeline([{"type": "color", "color": "#336699"}], duration=0.5)
    events: list[ProgressEvent] = []
    result = render_timeline(
        tl, OutputSpec(gpu=True, thumbnail=False), tmp_path, base_dir=media["root"], on_progress=events.append
    )
    stream = video_stream(result.outputs["video"].path)
    if nvenc_failure is None:  # a machine with a working NVENC renders on it
        assert result.encoder == "h264_nvenc" and stream["codec_name"] == "h264"
        return
    assert result.encoder == f"libx264 (fallback: h264_nvenc unavailable: {nvenc_failure})"
    assert stream["codec_name"] == "h264"
    assert [e.encoder for e in events if e.encoder] == [result.encoder]
    with pytest.raises(EncoderUnavailable):
        render_timeline(
            tl, OutputSpec(gpu=True, requireGpuEncoder=True), tmp_path / "strict", base_dir=media["root"]
        )
    assert not list((tmp_path / "strict").glob("video.*"))
