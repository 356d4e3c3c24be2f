"""The picture track every scene-based format shares, placed by the engine's own clip placement:
each scene starts on its planned frame, whether it is cut to or enters by a transition (the clip
before it is lengthened by the overlap), and a chain of transitions does not drift. No ffmpeg:
scenes are timed by the estimator."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelkube.api.output import OutputSpec
from reelkube.api.timeline import Timeline
from reelkube.engine.placement import resolve_timing
from reelkube.scenes.brief import BriefCommon, SceneSpec
from reelkube.scenes.layers import TRANSITION_SECONDS, picture_track
from reelkube.scenes.planning import CardRequest, plan_scenes
from reelkube.scenes.splitting import drafts_from_scenes
from reelkube.templates.base import Canvas, TemplateContext

NARRATIONS = [
    "The harbour wakes up slowly.",
    "By seven the boats are back in port, heavy with the night's catch.",
    "Gulls follow them in.",
    "Then the market opens and the whole town comes down to the water.",
    "By noon it is quiet again.",
]


@pytest.mark.parametrize("fps", [15.0, 24.0, 29.97, 30.0])
@pytest.mark.parametrize("transitions", [(), (1,), (1, 2, 3, 4)])
def test_every_scene_starts_on_its_planned_frame(
    fps: float, transitions: tuple[int, ...], tmp_path: Path
) -> None:
    scenes = [
        SceneSpec(narration=text, transition="fade" if n in transitions else None)
        for n, text in enumerate(NARRATIONS)
    ]
    canvas = Canvas(width=320, height=180, fps=fps)
    context = TemplateContext(output=OutputSpec(), workdir=tmp_path, base_dir=tmp_path)
    plan = plan_scenes(
        "explainer", drafts_from_scenes(scenes), BriefCommon(), canvas, context,
        intro=CardRequest("title", 2.5, "Harbour"), outros=[CardRequest("outro", 2.5, "The end")],
        estimate=True, contact_sheet=False, voice_track=False,
    )  # fmt: skip
    track = picture_track(plan, canvas, BriefCommon().style)
    timeline = Timeline(width=320, height=180, fps=fps, duration=plan.storyboard.duration, tracks=[track])
    [placed] = resolve_timing(timeline, fps, lambda clip: None).tracks
    parts = sorted([*plan.storyboard.cards, *plan.storyboard.scenes], key=lambda part: part.start)
    assert len(placed) == len(parts)
    overlap = round(TRANSITION_SECONDS * fps)
    for number, (clip, part) in enumerate(zip(placed, parts, strict=True)):
        entering = number - 1 in transitions  # scenes follow the title card: scene n is part n + 1
        # Every part starts on its planned frame; one entering by a transition starts its
        # transition there, over the last `overlap` frames of the clip before it.
        assert clip.start == round(part.start * fps), (number, part)
        assert clip.overlap == (overlap if entering else 0), number
        assert placed[number - 1].end == clip.start + clip.overlap if number else clip.start == 0
    assert placed[-1].end == round(plan.storyboard.duration * fps)
