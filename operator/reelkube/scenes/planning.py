"""A brief's scene plan, end to end: drafts -> speech -> slots -> visuals -> storyboard.

This is where media is made (so it is not pure): the narration is synthesized with Piper as one
track (all scenes' sentences in order), measured, laid out scene by scene (`timing`) and
normalized to the brief's loudness; the asset library is read (inline and from its index);
`storyboard.json` and its contact sheet are written into the workdir. `estimate=True` skips
Piper and times scenes by an estimated speaking rate (a quick plan, no voice track).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urljoin

import numpy as np
import yaml
from pydantic import ValidationError

from reelkube.errors import InputError, InputUnreadable, SpecError
from reelkube.scenes.brief import AssetKind, AssetLibrary, BriefCommon, LibraryAsset, Orientation
from reelkube.scenes.contact_sheet import write_contact_sheet
from reelkube.scenes.context import SceneContext, SceneFrame
from reelkube.scenes.library import ChosenVisual, choose_visuals
from reelkube.scenes.splitting import SceneDraft
from reelkube.scenes.storyboard import Card, Storyboard, StoryboardScene
from reelkube.scenes.timing import (
    SceneSlot,
    SpeechSpan,
    fixed_slots,
    lay_out,
    place_voice,
    placed_timings,
    speech_spans,
    with_recorded,
)
from reelkube.speech.estimate import NOMINAL_SAMPLE_RATE, estimate_timings
from reelkube.subtitles.timings import SentenceTiming, Timings, WordTiming

log = logging.getLogger(__name__)

ESTIMATED_WORDS_PER_SECOND = 3.0
"""Speaking rate assumed by `estimate=True` (the bundled Piper voice speaks about this fast)."""


@dataclass(frozen=True)
class CardRequest:
    """A card a format puts before or after the scenes."""

    kind: str
    seconds: float
    text: str


@dataclass
class ScenePlan:
    """What planning made: the storyboard and the files behind it."""

    storyboard: Storyboard
    drafts: list[SceneDraft]
    slots: list[SceneSlot]
    visuals: list[ChosenVisual]
    timings: Timings
    """Word timings on the video's clock (after the scenes were laid out)."""
    voice: str | None
    """The voice track, as long as the video (None when estimated or silent): a file in the
    workdir, or a given voiceover's location."""
    artifacts: dict[str, Path] = field(default_factory=dict)

    @property
    def intro(self) -> Card | None:
        return next((c for c in self.storyboard.cards if c.start == 0 and self.slots[0].start > 0), None)

    @property
    def outros(self) -> list[Card]:
        end = self.slots[-1].end if self.slots else 0.0
        return [c for c in self.storyboard.cards if c.start >= end]


def orientation_of(canvas: SceneFrame) -> Orientation:
    """The canvas's shape."""
    if canvas.width == canvas.height:
        return Orientation.SQUARE
    return Orientation.PORTRAIT if canvas.height > canvas.width else Orientation.LANDSCAPE


def plan_scenes(
    format_name: str,
    drafts: Sequence[SceneDraft],
    brief: BriefCommon,
    canvas: SceneFrame,
    context: SceneContext,
    *,
    intro: CardRequest | None = None,
    outros: Sequence[CardRequest] = (),
    estimate: bool = False,
    contact_sheet: bool = True,
    voice_track: bool = True,
    voiceover: tuple[str, float] | None = None,
    extras: dict[str, Any] | None = None,
) -> ScenePlan:
    """Plan the scenes of `drafts` (see the module docstring); files go to the context's workdir.
    `voice_track=False` measures the speech but writes no voice track (a storyboard alone).
    `voiceover` (location, seconds) is a recorded voice played as it is: sentences are spread
    over it by their length and the scenes cut where their sentences start (no cards)."""
    if not drafts:
        raise SpecError("spec.props: the brief holds no scenes")
    workdir = context.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    recorded = {
        d.index: fetch_voiceover(d.voiceover, context, f"spec.props.scenes[{d.index}].voiceoverUrl")
        for d in drafts
        if d.voiceover
    }
    if recorded and voiceover is not None:
        raise SpecError("spec.props: scenes with their own voiceoverUrl cannot share one voice-over")
    # Scenes playing their own recording are not synthesized.
    spoken = [draft for draft in drafts if not draft.voiceover]
    sentences = [sentence for draft in spoken for sentence in draft.sentences]
    samples: np.ndarray | None = None
    if not sentences or voiceover is not None:
        raw = Timings(sample_rate=48_000, total_samples=0, sentence_silence=0.0, sentences=[])
    elif estimate:
        raw = estimated_timings(sentences, brief.voice.sentenceSilence)
    else:
        samples, raw = synthesize(sentences, brief, context)
    if voiceover is not None:
        raw = estimate_timings(sentences, voiceover[1])
        slots = fixed_slots(speech_spans(drafts, raw), voiceover[1])
        intro, outros = None, ()
    else:
        offset = intro.seconds if intro else 0.0
        spoken_spans = iter(speech_spans(spoken, raw))
        spans = [
            SpeechSpan(0.0, 0.0, (), recorded=recorded[d.index][1]) if d.voiceover else next(spoken_spans)
            for d in drafts
        ]
        slots = lay_out(drafts, spans, offset=offset)
    scenes_end = slots[-1].end
    cards: list[Card] = []
    if intro:
        cards.append(Card(intro.kind, 0.0, round(intro.seconds, 3), intro.text))
    cursor = scenes_end
    for request in outros:
        cards.append(Card(request.kind, round(cursor, 3), round(cursor + request.seconds, 3), request.text))
        cursor += request.seconds
    total = round(cursor, 3)
    timings = raw if voiceover is not None else placed_timings(raw, slots, total)
    if recorded:
        timings = with_recorded(timings, drafts, slots)
    artifacts: dict[str, Path] = {}
    voice: str | None = voiceover[0] if voiceover is not None else None
    if voice_track and (samples is not None or (recorded and not estimate)):
        from reelkube.speech.loudness import normalize_loudness

        wav = workdir / "voiceover.wav"
        rate = raw.sample_rate
        track = place_voice(samples if samples is not None else np.zeros(0, np.float32), rate, slots, total)
        for draft, slot in zip(drafts, slots, strict=True):
            if draft.index in recorded:
                # The recording goes into the one voice track: one loudness, and music ducks under it.
                audio = decode_voiceover(recorded[draft.index][0], rate)
                at = round(slot.speech_at * rate)
                piece = audio[: max(0, len(track) - at)]
                track[at : at + len(piece)] = piece
        normalize_loudness(track, rate, brief.loudnessLufs, wav)
        artifacts["voiceover"] = wav
        voice = str(wav)
    if timings.sentences:
        artifacts["timings"] = timings.write(workdir / "timings.json")
    assets = load_library(brief.library, context)
    from reelkube.scenes.stock import stock_provider

    provider = stock_provider(brief.stock)
    search = provider.search if provider is not None else None
    visuals = choose_visuals(drafts, assets, orientation_of(canvas), brief.style.primaryColor, search)
    storyboard = Storyboard(
        format=format_name,
        width=canvas.width,
        height=canvas.height,
        fps=canvas.fps,
        duration=total,
        scenes=[
            StoryboardScene(
                index=draft.index,
                start=slot.start,
                end=slot.end,
                speech_start=slot.speech_at if slot.speech.sentences or slot.speech.recorded else None,
                narration=draft.narration,
                text=draft.text,
                visual=visual,
            )
            for draft, slot, visual in zip(drafts, slots, visuals, strict=True)
        ],
        cards=cards,
        word_timing_source="estimated" if estimate or voiceover or recorded else timings.word_timing_source,
        extras=extras or {},
    )
    artifacts["storyboard"] = storyboard.write(workdir / "storyboard.json")
    if contact_sheet:
        artifacts["storyboardSheet"] = draw_contact_sheet(storyboard, brief, context, workdir)
    log.info("event=scenes_planned format=%s scenes=%d seconds=%.2f", format_name, len(drafts), total)
    return ScenePlan(storyboard, list(drafts), slots, visuals, timings, voice, artifacts)


def estimated_timings(sentences: Sequence[str], silence: float) -> Timings:
    """Timings as if each sentence were spoken at ESTIMATED_WORDS_PER_SECOND, with `silence`
    after each (words spread within a sentence by their length)."""
    rate = NOMINAL_SAMPLE_RATE
    timed: list[SentenceTiming] = []
    cursor = 0.0
    for index, sentence in enumerate(sentences):
        seconds = max(0.6, len(sentence.split()) / ESTIMATED_WORDS_PER_SECOND)
        alone = estimate_timings([sentence], seconds).sentences[0]
        timed.append(
            replace(
                alone,
                index=index,
                start=cursor,
                end=cursor + seconds,
                start_sample=round(cursor * rate),
                end_sample=round((cursor + seconds) * rate),
                words=[WordTiming(w.text, w.start + cursor, w.end + cursor) for w in alone.words],
            )
        )
        cursor += seconds + silence
    return Timings(
        sample_rate=rate, total_samples=round(cursor * rate), sentence_silence=silence, sentences=timed
    )


def synthesize(
    sentences: Sequence[str], brief: BriefCommon, context: SceneContext
) -> tuple[np.ndarray, Timings]:
    """All sentences as one track from the voice's provider (Piper unless the brief names
    another), with their timings."""
    from reelkube.speech.provider import speech_provider

    provider = speech_provider(
        brief.voice, base_dir=_base_dir(context), policy=context.policy, field="spec.props.voice"
    )
    narration = provider.synthesize(list(sentences), brief.voice)
    return narration.samples, narration.timings


def fetch_voiceover(location: str, context: SceneContext, field: str) -> tuple[Path, float]:
    """A scene's recorded voice-over fetched under the job's input policy: its local path and
    length in seconds (an InputError naming `field` when it cannot be had or holds no audio)."""
    from reelkube.engine.inputs import fetch_one

    try:
        fetched = fetch_one(
            location, "audio", context.workdir, context.limits, base_dir=_base_dir(context),
            storage=context.storage, policy=context.policy, field=field,
        )  # fmt: skip
    except InputError as error:
        if error.message.startswith(field):
            raise
        raise type(error)(f"{field}: {error.message}", reason=error.reason) from error
    duration = fetched.info.duration if fetched.info is not None else None
    if not duration or duration <= 0:
        raise InputUnreadable(f"{field}: cannot tell the length of {location}")
    return fetched.path.resolve(), float(duration)


def decode_voiceover(path: Path, rate: int) -> np.ndarray:
    """A recording as mono float32 samples at `rate` (ffmpeg decodes and resamples it)."""
    import subprocess

    command = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
        "-vn", "-ac", "1", "-ar", str(rate), "-f", "f32le", "pipe:1",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        tail = result.stderr.decode("utf-8", "replace").strip()[-300:]
        raise InputUnreadable(f"spec.props.scenes: the voice-over {path.name} could not be decoded: {tail}")
    return np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)


def load_library(library: AssetLibrary, context: SceneContext) -> list[LibraryAsset]:
    """The inline assets followed by the index file's (its relative `src`s made relative to the
    manifest, or absolute URLs when the index is remote)."""
    assets = list(library.assets)
    if library.indexUrl:
        assets.extend(read_index(library.indexUrl, context))
    seen: set[str] = set()
    for asset in assets:
        if asset.id in seen:
            raise SpecError(f"spec.props.library: asset id {asset.id!r} is used twice")
        seen.add(asset.id)
    return assets


def read_index(location: str, context: SceneContext) -> list[LibraryAsset]:
    """The assets of an index file (JSON or YAML: a list, or a mapping with an `assets` list)."""
    from reelkube.engine.inputs import fetch_one

    fetched = fetch_one(
        location, "subtitles", context.workdir, context.limits, base_dir=_base_dir(context),
        storage=context.storage, policy=context.policy, field="spec.props.library.indexUrl",
    )  # fmt: skip
    try:
        data = yaml.safe_load(fetched.path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        message = f"spec.props.library.indexUrl: {location} is not JSON or YAML: {error}"
        raise InputUnreadable(message) from None
    items = data.get("assets") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise SpecError(f"spec.props.library.indexUrl: {location} holds no `assets` list")
    assets = []
    for number, item in enumerate(items):
        try:
            asset = LibraryAsset.model_validate(item)
        except ValidationError as error:
            raise SpecError(f"spec.props.library.indexUrl: {location} asset {number}: {error}") from None
        assets.append(asset.model_copy(update={"src": resolve_relative(asset.src, location)}))
    return assets


def resolve_relative(src: str, index_location: str) -> str:
    """`src` as written in the index at `index_location`: URLs and absolute paths unchanged,
    relative paths joined to the index's folder (a URL join for a remote index)."""
    if "://" in src or src.startswith("/"):
        return src
    if index_location.startswith(("http://", "https://")):
        return urljoin(index_location, src)
    if "://" in index_location:
        # urljoin leaves schemes it does not know (s3://) alone: join to the prefix by hand.
        return f"{index_location.rsplit('/', 1)[0]}/{src}"
    return str(PurePosixPath(index_location).parent / src)


def draw_contact_sheet(
    storyboard: Storyboard, brief: BriefCommon, context: SceneContext, workdir: Path
) -> Path:
    """`storyboard.png` in `workdir`, its visuals fetched under the job's input limits."""
    from reelkube.engine.inputs import fetch_one
    from reelkube.engine.text_layout import font_for_text

    fetch_dir = workdir / "storyboard-inputs"
    fetch_dir.mkdir(parents=True, exist_ok=True)

    def resolve(src: str, kind: AssetKind) -> Path:
        fetched = fetch_one(
            src, kind.value, fetch_dir, context.limits, base_dir=_base_dir(context), storage=context.storage,
            policy=context.policy, field="spec.props.library",
        )  # fmt: skip
        return fetched.path

    # One font draws every label: the brief's, or one that has the labels' characters (CJK).
    labels = " ".join(scene.label for scene in storyboard.scenes)
    font = font_for_text(brief.style.font, False, labels, field="spec.props.style.font").file
    tiles = workdir / "storyboard-tiles"
    return write_contact_sheet(storyboard, workdir / "storyboard.png", resolve, tiles, font)


def _base_dir(context: SceneContext) -> Path:
    return context.base_dir if context.base_dir is not None else Path.cwd()
