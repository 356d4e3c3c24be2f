"""Local validation agrees with what the API server enforces: models, then CEL rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelkube.api.validation import validate_spec
from support import yamls


def paths(kind: str, spec: dict) -> dict[str, str]:
    _, errors = validate_spec(kind, spec)
    return {e.path: e.message for e in errors}


def test_valid_template_spec_has_no_errors() -> None:
    parsed, errors = validate_spec("RenderJob", {"template": "captioned-reel", "props": {"title": "Hi"}})
    assert errors == []
    assert parsed is not None and parsed.output.crf == 23


def test_template_and_timeline_are_exclusive() -> None:
    both = {"template": "slideshow", "timeline": {"tracks": [{"clips": [{"type": "color", "duration": 1}]}]}}
    assert paths("RenderJob", both) == {"spec": "give exactly one of template or timeline"}
    assert paths("RenderJob", {}) == {"spec": "give exactly one of template or timeline"}


def test_output_rules() -> None:
    _, all_errors = validate_spec(
        "RenderJob", {"template": "slideshow", "output": {"format": "webm", "width": 101}}
    )
    assert {e.message for e in all_errors} == {"webm output needs codec vp9", "video width must be even"}
    assert paths("RenderJob", {"template": "static-ad", "output": {"format": "png", "width": 101}}) == {}


GPU_CODEC_RULE = "gpu encodes h264 or h265 in mp4 only (NVENC has no vp9, gif, png or jpeg encoder)"


@pytest.mark.parametrize(
    ("output", "messages"),
    [
        ({"gpu": True}, set()),
        ({"gpu": True, "codec": "h265", "requireGpuEncoder": True}, set()),
        ({"gpu": True, "format": "webm", "codec": "vp9"}, {GPU_CODEC_RULE}),
        (
            {"gpu": True, "format": "mp4", "codec": "vp9"},
            {GPU_CODEC_RULE, "mp4 output takes codec h264 or h265"},
        ),
        ({"gpu": True, "format": "gif"}, {GPU_CODEC_RULE}),
        ({"gpu": True, "format": "png"}, {GPU_CODEC_RULE}),
        ({"gpu": True, "format": "jpeg"}, {GPU_CODEC_RULE}),
        ({"format": "gif"}, set()),
        ({"requireGpuEncoder": True}, {"requireGpuEncoder needs gpu: true"}),
    ],
)
def test_gpu_output_rules(output: dict, messages: set[str]) -> None:
    _, errors = validate_spec("RenderJob", {"template": "slideshow", "output": output})
    assert {e.message for e in errors} == messages
    assert all(e.path == "spec.output" for e in errors)


def test_per_clip_kind_rules_name_the_clip() -> None:
    spec = {
        "timeline": {
            "tracks": [
                {
                    "clips": [
                        {"type": "subtitles", "duration": 2},
                        {"type": "image", "src": "a.png", "start": 1, "startFrame": 3},
                    ]
                }
            ]
        }
    }
    assert paths("RenderJob", spec) == {
        "spec.timeline.tracks[0].clips[0]": "give exactly one of src or cues",
        "spec.timeline.tracks[0].clips[1]": "give start or startFrame, not both",
    }


def test_schema_errors_carry_field_paths() -> None:
    errors = paths("RenderJob", {"template": "nope", "output": {"crf": 99}})
    assert set(errors) == {"spec.template", "spec.output.crf"}


def test_union_errors_skip_the_tag() -> None:
    errors = paths(
        "RenderJob", {"timeline": {"tracks": [{"clips": [{"type": "text", "text": "x", "fontSize": 0}]}]}}
    )
    assert set(errors) == {"spec.timeline.tracks[0].clips[0].fontSize"}


def test_ttsjob_rules() -> None:
    assert paths("TTSJob", {"text": "Hello."}) == {}
    assert paths("TTSJob", {"text": "a", "script": "s3://b/k"}) == {
        "spec": "give exactly one of text or script"
    }
    assert paths("TTSJob", {"text": "a", "voice": {"model": "/m.onnx", "package": "p"}}) == {
        "spec.voice": "give model or package, not both"
    }


def test_defaults_the_api_server_applies_break_no_rule() -> None:
    # Every clip kind with only its required fields: the union's defaults must not add fields
    # that another kind's rules forbid (the API server defaults before it evaluates CEL).
    clips = [
        {"type": "video", "src": "a.mp4"},
        {"type": "image", "src": "a.png"},
        {"type": "color"},
        {"type": "text", "text": "hi", "background": True},
        {"type": "subtitles", "cues": [{"start": 0, "end": 1, "text": "hi"}]},
        {"type": "audio", "src": "a.wav"},
    ]
    assert paths("RenderJob", {"timeline": {"tracks": [{"clips": clips}]}}) == {}


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml")))
def test_every_example_is_valid(path: Path) -> None:
    document = yamls.load(path.read_text())
    assert paths(document["kind"], document["spec"]) == {}


def test_webhook_events_are_the_ones_the_operator_sends() -> None:
    every = ["queued", "started", "voiceover_uploaded", "progress", "succeeded", "failed", "canceled"]
    hook = {"url": "https://example.invalid/hook", "events": every, "progressStep": 25}
    assert paths("RenderJob", {"template": "static-ad", "webhook": hook}) == {}
    errors = paths("RenderJob", {"template": "static-ad", "webhook": {**hook, "events": ["rendered"]}})
    assert set(errors) == {"spec.webhook.events[0]"}
    errors = paths("RenderJob", {"template": "static-ad", "webhook": {**hook, "progressStep": 5}})
    assert set(errors) == {"spec.webhook.progressStep"}


@pytest.mark.parametrize("template", ["narrated", "explainer", "listicle", "comparison", "shorts"])
def test_a_narrating_template_is_not_split_into_chunks(template: str) -> None:
    # Each chunk pod expands the template; speech synthesis differs between runs.
    _, errors = validate_spec("RenderJob", {"template": template, "output": {"chunks": 2}})
    assert any("render in one pod" in str(error) for error in errors), errors
    for chunks in ("auto", 1):
        _, errors = validate_spec("RenderJob", {"template": template, "output": {"chunks": chunks}})
        assert not [e for e in errors if "render in one pod" in str(e)], errors
    _, errors = validate_spec("RenderJob", {"template": "slideshow", "output": {"chunks": 2}})
    assert not [e for e in errors if "render in one pod" in str(e)], errors
