"""TTSJob runs: the example manifest through the command line, scripts from HTTP and S3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reelkube.api.ttsjob import TTSJob
from reelkube.engine.probe import probe_media
from reelkube.errors import SpecError
from reelkube.speech.tts import run_tts_job
from reelkube.subtitles.timings import Timings
from support.media import integrated_lufs, wav_frames

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPT = "The harbour wakes up slowly, one light at a time. By seven the boats are back in port."


@pytest.mark.slow
def test_example_manifest_produces_audio_timings_and_subtitles(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "reelkube.cli",
            "tts",
            str(EXAMPLES / "tts.yaml"),
            "-o",
            str(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    outputs: dict[str, Any] = summary["outputs"]
    assert set(outputs) == {"audio", "audio-mp3", "timings", "subtitles", "subtitles-vtt", "subtitles-ass"}
    wav, mp3 = Path(outputs["audio"]["path"]), Path(outputs["audio-mp3"]["path"])
    assert (
        outputs["audio"]["contentType"] == "audio/wav" and outputs["audio-mp3"]["contentType"] == "audio/mpeg"
    )
    timings = Timings.read(Path(outputs["timings"]["path"]))
    frames, rate = wav_frames(wav)
    assert frames == timings.total_samples and rate == timings.sample_rate
    mp3_duration = probe_media(mp3).duration
    assert mp3_duration is not None and abs(mp3_duration - timings.duration) < 0.1
    assert abs(integrated_lufs(mp3) - (-16.0)) <= 1.5
    assert summary["wordTimingSource"] == "alignment" == timings.word_timing_source
    srt = Path(outputs["subtitles"]["path"]).read_text()
    assert srt.startswith("1\n00:00:00,000 --> ") and "1,000" in srt
    assert Path(outputs["subtitles-vtt"]["path"]).read_text().startswith("WEBVTT")
    assert "\\1c&H" in Path(outputs["subtitles-ass"]["path"]).read_text()  # word-highlight captions


@pytest.mark.slow
def test_script_from_http_with_opus_output(file_server: tuple[str, Path], tmp_path: Path) -> None:
    base_url, served = file_server
    (served / "script.txt").write_text(SCRIPT, encoding="utf-8")
    job = TTSJob.model_validate(
        {
            "metadata": {"name": "from-http"},
            "spec": {
                "script": f"{base_url}/script.txt",
                "audioFormats": ["opus"],
                "subtitleFormats": ["vtt"],
            },
        }
    )
    result = run_tts_job(job, tmp_path, base_dir=tmp_path)
    assert set(result.outputs) == {"audio", "timings", "subtitles"}
    opus = result.outputs["audio"].path
    assert opus.suffix == ".opus" and not (tmp_path / "from-http.wav").exists()
    info = probe_media(opus)
    assert info.audio_codec == "opus" and info.duration is not None
    assert abs(info.duration - result.duration) < 0.1
    assert "boats" in result.outputs["subtitles"].path.read_text()


def test_script_over_the_limit_from_http_is_refused(file_server: tuple[str, Path], tmp_path: Path) -> None:
    base_url, served = file_server
    (served / "long.txt").write_text("word " * 100, encoding="utf-8")
    job = TTSJob.model_validate({"spec": {"script": f"{base_url}/long.txt", "maxScriptChars": 120}})
    with pytest.raises(SpecError, match="120"):
        run_tts_job(job, tmp_path, base_dir=tmp_path)


@pytest.mark.slow
def test_script_from_s3(s3_server: Any, tmp_path: Path) -> None:
    uri = s3_server.put("scripts/narration.txt", SCRIPT.encode())
    storage = s3_server.storage_spec().model_dump(exclude_none=True)
    job = TTSJob.model_validate(
        {"spec": {"script": uri, "storage": storage, "audioFormats": ["wav"], "subtitleFormats": []}}
    )
    result = run_tts_job(job, tmp_path, base_dir=tmp_path)
    assert set(result.outputs) == {"audio", "timings"}
    assert result.sentences == 2
