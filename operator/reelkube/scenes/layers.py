"""Timeline pieces every scene-based format shares: the picture track (cards and scene visuals,
cut or joined by a scene's transition), tints, fallback-card text, captions that follow the
voice word by word, the voice and ducked music, and the logo watermark. Pure but for the
caption and progress-bar files written into the workdir."""

from __future__ import annotations

import subprocess
from pathlib import Path

from reelkube.api.timeline import (
    AudioClip,
    Box,
    Clip,
    ColorClip,
    Fit,
    ImageClip,
    KenBurns,
    Position,
    Slide,
    SlideFrom,
    SubtitlesClip,
    TextClip,
    Track,
    Transition,
    TransitionKind,
    VideoClip,
)
from reelkube.api.ttsjob import CaptionStyle
from reelkube.errors import RenderFailed
from reelkube.scenes.brief import AssetKind, Style
from reelkube.scenes.context import SceneFrame
from reelkube.scenes.planning import ScenePlan
from reelkube.scenes.storyboard import Card

TRANSITION_SECONDS = 0.4
ZOOM_END = 1.1
MUSIC_FADE = 1.5
LOGO_SHARE = 0.1
"""The logo's box, as a share of the short side."""
BADGE_SHARE = 0.12
"""A number badge's font size, as a share of the short side."""
LABEL_SHARE = 0.035
"""A label tag's font size, as a share of the short side."""


def picture_track(plan: ScenePlan, canvas: SceneFrame, style: Style) -> Track:
    """Cards and scene visuals back to back from 0: a cut between scenes, or the scene's
    transition (the earlier clip is lengthened by the overlap so every scene starts on time).
    Clips are placed in whole frames: each starts on its planned frame."""
    entries: list[tuple[float, float, Clip]] = []
    for card in plan.storyboard.cards:
        entries.append((card.start, card.end, ColorClip(color=style.primaryColor, start=0, duration=1)))
    for scene, draft in zip(plan.storyboard.scenes, plan.drafts, strict=True):
        visual = scene.visual
        clip: Clip
        transition = (
            Transition(type=TransitionKind(draft.transition), duration=TRANSITION_SECONDS)
            if draft.transition
            else None
        )
        if visual.source == "fallback" or visual.src is None:
            clip = ColorClip(color=visual.color or style.primaryColor, transition=transition)
        elif visual.kind == AssetKind.VIDEO:
            clip = VideoClip(src=visual.src, loop=True, fit=Fit.COVER, transition=transition)
        else:
            kenburns = KenBurns(zoomStart=1.0, zoomEnd=ZOOM_END, panX=0.3 if scene.index % 2 else -0.3)
            clip = ImageClip(src=visual.src, fit=Fit.COVER, kenBurns=kenburns, transition=transition)
        entries.append((scene.start, scene.end, clip))
    entries.sort(key=lambda entry: entry[0])

    def frame(seconds: float) -> int:
        return round(seconds * canvas.fps)

    clips: list[Clip] = []
    for position, (start, end, clip) in enumerate(entries):
        following = entries[position + 1][2] if position + 1 < len(entries) else None
        overlap = following.transition.duration if following and following.transition else 0.0  # type: ignore[union-attr]
        # Starts and lengths in frames: a clip following its predecessor, or lengths in seconds
        # rounded one by one, would land a frame off its planned start (the frames of rounded
        # durations do not add up to the rounded sum). The clip under a transition ends
        # `overlap` frames into the next one, which the engine reads as the transition.
        update: dict[str, object] = {
            "start": None,
            "duration": None,
            "startFrame": frame(start),
            "durationFrames": frame(end) - frame(start) + frame(overlap),
        }
        if position == 0 and clip.transition is not None:  # type: ignore[union-attr]
            update["transition"] = None
        clips.append(clip.model_copy(update=update))
    return Track(name="pictures", clips=clips)


def tint_track(plan: ScenePlan, style: Style) -> Track | None:
    """A darkening colour over each scene that shows media (text stays readable)."""
    if style.tintOpacity <= 0:
        return None
    clips: list[Clip] = [
        ColorClip(color="#000000", opacity=style.tintOpacity, start=s.start, duration=s.duration)
        for s in plan.storyboard.scenes
        if s.visual.source != "fallback" and not plan.drafts[s.index].transition
    ]
    return Track(name="tint", clips=clips) if clips else None


def card_text(
    card: Card, canvas: SceneFrame, style: Style, *, size: float = 0.085, position: Position = Position.CENTER
) -> TextClip:
    """A card's text: large, bold, centred, fading in."""
    return TextClip(
        text=card.text,
        start=card.start,
        duration=round(card.end - card.start, 3),
        fadeIn=0.3,
        bold=True,
        font=style.font,
        color=style.textColor,
        fontSize=canvas.scaled(size),
        position=position,
        margin=canvas.scaled(0.08),
    )


def fallback_texts(
    plan: ScenePlan, canvas: SceneFrame, style: Style, *, skip_headed: bool = False
) -> list[TextClip]:
    """The text of each fallback card (its heading, else its narration's words), centred."""
    clips = []
    for scene in plan.storyboard.scenes:
        if scene.visual.source != "fallback" or (skip_headed and scene.text.heading):
            continue
        text = scene.label if len(scene.label) <= 140 else scene.label[:139].rstrip() + "…"
        clips.append(
            TextClip(
                text=text,
                start=scene.start,
                duration=scene.duration,
                fadeIn=0.25,
                bold=True,
                font=style.font,
                color=style.textColor,
                fontSize=canvas.scaled(0.06),
                position=Position.CENTER,
                offsetY=-canvas.scaled(0.08),
                margin=canvas.scaled(0.08),
            )
        )
    return clips


def caption_track(
    plan: ScenePlan,
    canvas: SceneFrame,
    style: Style,
    workdir: Path,
    *,
    scale: float = 1.0,
    emphasis: bool = False,
) -> Track | None:
    """Word-highlight captions on the video's clock (`scale` enlarges them; `emphasis` also
    enlarges the spoken word). None when captions are off or nothing is said."""
    if not style.captions or not plan.timings.sentences:
        return None
    from reelkube.engine.ass import ass_override_color
    from reelkube.subtitles.files import CaptionLook, build_ass

    look = CaptionLook(
        width=canvas.width,
        height=canvas.height,
        font=style.font,
        color=style.textColor,
        highlight_color=style.accentColor,
    )
    subs = build_ass(plan.timings, CaptionStyle.WORD_HIGHLIGHT, look)
    if scale != 1.0:
        for ass_style in subs.styles.values():
            ass_style.fontsize = round(ass_style.fontsize * scale)
            ass_style.outline = ass_style.outline * scale
    if emphasis:
        active = "{\\1c" + ass_override_color(style.accentColor) + "}"
        normal = "{\\1c" + ass_override_color(style.textColor) + "}"
        for event in subs.events:
            event.text = event.text.replace(active, active[:-1] + "\\fscx120\\fscy120}").replace(
                normal, normal[:-1] + "\\fscx100\\fscy100}"
            )
    # A page may linger after its last word; never past its scene's cut.
    ends = [scene.end for scene in plan.storyboard.scenes]
    for event in subs.events:
        start = event.start / 1000
        scene_end = next((end for end in ends if start < end), None)
        if scene_end is not None:
            event.end = min(event.end, round(scene_end * 1000))
    path = workdir / "captions.ass"
    path.write_text(subs.to_string("ass"), encoding="utf-8")
    plan.artifacts["subtitles"] = path
    total = plan.storyboard.duration
    return Track(name="captions", clips=[SubtitlesClip(src=str(path), start=0, duration=total)])


def sound_tracks(plan: ScenePlan, style: Style) -> list[Track]:
    """The voice, and the music looped under it, ducked while it speaks, faded at both ends."""
    total = plan.storyboard.duration
    tracks = []
    if plan.voice is not None:
        tracks.append(Track(name="voice", clips=[AudioClip(id="voice", src=plan.voice, start=0)]))
    if style.musicUrl:
        music = AudioClip(
            id="music",
            src=style.musicUrl,
            start=0,
            duration=total,
            loop=True,
            volume=style.musicVolume,
            duckUnder="voice" if plan.voice is not None else None,
            fadeIn=min(0.5, total / 4),
            fadeOut=min(MUSIC_FADE, total / 4),
        )
        tracks.append(Track(name="music", clips=[music]))
    return tracks


def badge_geometry(canvas: SceneFrame) -> tuple[int, int, int]:
    """(font size, padding, margin) of a number badge in the top-left corner: what is stacked
    under it starts below `margin + size + 2 * padding` pixels from the top."""
    size = canvas.scaled(BADGE_SHARE)
    return size, round(size * 0.25), canvas.scaled(0.06)


def number_badge(number: int, start: float, duration: float, canvas: SceneFrame, style: Style) -> TextClip:
    """A scene's number, large, in an accent-coloured box at the top left, sliding in."""
    size, padding, margin = badge_geometry(canvas)
    return TextClip(
        text=str(number), start=start, duration=duration, bold=True, font=style.font, color="#000000",
        fontSize=size, position=Position.TOP_LEFT, margin=margin, offsetX=padding, offsetY=padding,
        background=True, backgroundColor=style.accentColor, backgroundOpacity=1.0, backgroundPadding=padding,
        shadow=False, slide=Slide(start=SlideFrom.LEFT, distance=canvas.scaled(0.05), duration=0.3),
    )  # fmt: skip


def label_tag(label: str, start: float, duration: float, canvas: SceneFrame, style: Style) -> TextClip:
    """A scene's label: a small tag in the accent colour at the top right, under the logo when
    the brief has one."""
    size = canvas.scaled(LABEL_SHARE)
    padding = round(size * 0.4)
    margin = canvas.scaled(0.03) + padding
    below_logo = canvas.scaled(LOGO_SHARE) + canvas.scaled(0.02) if style.logoUrl else 0
    return TextClip(
        text=label, start=start, duration=duration, fadeIn=0.2, bold=True, font=style.font, color="#000000",
        fontSize=size, position=Position.TOP_RIGHT, margin=margin, offsetY=below_logo, maxWidth=0.4,
        background=True, backgroundColor=style.accentColor, backgroundOpacity=1.0, backgroundPadding=padding,
        shadow=False,
    )  # fmt: skip


def corner_texts(
    plan: ScenePlan, canvas: SceneFrame, style: Style, *, numbers: bool = True
) -> list[TextClip]:
    """Each scene's `text.label` as a tag at the top right and, with `numbers`, its
    `text.number` as a badge at the top left (formats that draw numbers their own way pass
    False)."""
    clips = []
    for scene in plan.storyboard.scenes:
        if numbers and scene.text.number is not None:
            clips.append(number_badge(scene.text.number, scene.start, scene.duration, canvas, style))
        if scene.text.label:
            clips.append(label_tag(scene.text.label, scene.start, scene.duration, canvas, style))
    return clips


def watermark_track(canvas: SceneFrame, style: Style, total: float) -> Track | None:
    """The logo, contained in a small box in the top-right corner, slightly transparent."""
    if not style.logoUrl:
        return None
    side = canvas.scaled(LOGO_SHARE)
    margin = canvas.scaled(0.03)
    box = Box(left=canvas.width - side - margin, top=margin, width=side, height=side)
    logo = ImageClip(src=style.logoUrl, start=0, duration=total, fit=Fit.CONTAIN, box=box, opacity=0.85)
    return Track(name="watermark", clips=[logo])


def progress_bar_track(canvas: SceneFrame, style: Style, total: float, workdir: Path) -> Track:
    """A thin bar along the top that fills from left to right over the video (a small clip made
    with ffmpeg: the timeline has no animated widths)."""
    height = max(4, 2 * round(canvas.height * 0.004))
    path = workdir / "progress.mp4"
    size = f"{canvas.width}x{height}"
    track_color, fill = "0x" + "404040", "0x" + style.accentColor.lstrip("#")
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"color=c={track_color}:s={size}:r={canvas.fps}:d={total}",
        "-f", "lavfi", "-i", f"color=c={fill}:s={size}:r={canvas.fps}:d={total}",
        "-filter_complex", f"[0][1]overlay=x='-W+W*t/{total}':eval=frame:shortest=1,format=yuv420p",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", str(path),
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise RenderFailed(f"progress bar: ffmpeg failed: {proc.stderr.strip()[-400:]}")
    bar = VideoClip(
        src=str(path),
        start=0,
        duration=total,
        fit=Fit.STRETCH,
        box=Box(left=0, top=0, width=canvas.width, height=height),
    )
    return Track(name="progress", clips=[bar])
