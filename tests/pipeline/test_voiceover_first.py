"""A narrated render's voice-over is in storage and in the status before the video renders.

The run pipeline as a render pod runs it (:func:`reelkube.pipeline.run.run_resource` with a
:class:`~reelkube.pipeline.status_reporter.ProgressReporter` as its status), with real Piper,
real ffmpeg and the real S3 server (reelkube-s3server, ``support.s3``). One journal takes, in the order they
happen, the status writes (from the reporter, in whichever thread writes them) and the engine's
progress events: the write that lists the voice-over must come before ffmpeg reports its first
frame, and at that moment the object must already be in the bucket with the listed checksum
and the video not yet begun. ``reelkube render`` prints the same milestone as a line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from reelkube.api.kinds import RENDER_JOB
from reelkube.api.renderjob import RenderJob
from reelkube.api.status import Step
from reelkube.errors import StorageFailed
from reelkube.pipeline.render_job import VOICEOVER_ARTIFACT
from reelkube.pipeline.run import run_resource
from reelkube.pipeline.status_reporter import ProgressReporter
from reelkube.progress_events import ProgressEvent
from reelkube.webhooks.milestones import VOICEOVER_OUTPUTS
from support.s3 import S3Server

UID = "0badf00d-0000-0000-0000-000000000000"


def narrated(name: str, **spec: Any) -> dict[str, Any]:
    """A short narrated reel, small and fast: two sentences over the plain background."""
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name, "namespace": "media", "uid": UID},
        "spec": {
            "template": "narrated",
            "props": {"script": "The voice comes first. The picture follows it."},
            "output": {"width": 180, "height": 320, "fps": 10, "preset": "ultrafast", "thumbnail": False},
            **spec,
        },
    }


class Journal:
    """What happened, in order: ``("write", patch)`` and ``("progress", step)`` entries, and
    what the bucket and the output directory held when the voice-over was first listed."""

    def __init__(self, s3: S3Server, out_dir: Path) -> None:
        self.entries: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.s3 = s3
        self.out_dir = out_dir
        self.at_voiceover: dict[str, Any] | None = None

    def write(self, patch: dict[str, Any]) -> None:
        """The status writer (the API server's place)."""
        listed = (patch.get("outputs") or {}).get(VOICEOVER_ARTIFACT)
        with self.lock:
            if listed is not None and self.at_voiceover is None:
                key = listed["uri"].removeprefix(f"s3://{self.s3.bucket}/")
                self.at_voiceover = {
                    "stored": hashlib.sha256(self.s3.get(key)).hexdigest(),
                    "files": sorted(p.name for p in self.out_dir.iterdir()),
                }
            self.entries.append(("write", patch))

    def progress(self, reporter: ProgressReporter) -> Any:
        """A progress sink that notes each event's step, then passes it on to ``reporter``."""

        def sink(event: ProgressEvent) -> None:
            with self.lock:
                self.entries.append(("progress", event.step))
            reporter(event)

        return sink

    def first(self, kind: str, match: Any) -> int | None:
        """The index of the first ``kind`` entry whose value ``match`` accepts (None: none)."""
        return next((i for i, (k, value) in enumerate(self.entries) if k == kind and match(value)), None)


def test_the_pipelines_voiceover_is_the_operators_voiceover_output() -> None:
    assert VOICEOVER_OUTPUTS["RenderJob"] == VOICEOVER_ARTIFACT


@pytest.mark.slow
def test_the_voiceover_is_uploaded_and_reported_before_the_video_renders(
    tmp_path: Path, s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    storage = s3_server.storage_spec()
    job = RenderJob.model_validate(narrated("voiced", storage=storage.model_dump(mode="json")))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    journal = Journal(s3_server, out_dir)
    reporter = ProgressReporter(RENDER_JOB, journal.write, label="media/voiced", min_interval=0.2)
    told: list[tuple[str, str]] = []
    caplog.set_level(logging.INFO, logger="reelkube.pipeline.outputs")

    outcome = run_resource(
        job,
        out_dir=out_dir,
        base_dir=tmp_path,
        progress=journal.progress(reporter),
        status=reporter,
        on_output=lambda name, artifact: told.append((name, artifact.uri)),
    )

    listed_at = journal.first("write", lambda p: VOICEOVER_ARTIFACT in (p.get("outputs") or {}))
    rendering_at = journal.first("progress", lambda step: step == Step.RENDERING)
    assert listed_at is not None and rendering_at is not None, journal.entries
    assert listed_at < rendering_at, journal.entries
    early = journal.entries[listed_at][1]
    assert early["outputs"].keys() == {VOICEOVER_ARTIFACT}  # the video is not listed yet
    assert early.get("progress", 0) < 99 and early.get("step") != Step.DONE.value
    voiceover = outcome.outputs[VOICEOVER_ARTIFACT]
    assert early["outputs"][VOICEOVER_ARTIFACT] == voiceover.model_dump(mode="json", exclude_none=True)
    # At the write, the object was in the bucket with the listed checksum, and no video yet.
    assert journal.at_voiceover is not None
    assert journal.at_voiceover["stored"] == voiceover.sha256
    assert not [name for name in journal.at_voiceover["files"] if name.startswith("video")]
    assert told == [(VOICEOVER_ARTIFACT, voiceover.uri)]

    final = journal.entries[-1][1]
    assert final["step"] == "done" and final["progress"] == 100
    assert {"video", "voiceover", "subtitles", "timings"} <= set(final["outputs"])
    assert final["outputs"][VOICEOVER_ARTIFACT] == early["outputs"][VOICEOVER_ARTIFACT]
    uploads = [r.getMessage() for r in caplog.records if "event=uploaded" in r.getMessage()]
    assert len([u for u in uploads if f"output={VOICEOVER_ARTIFACT} " in u]) == 1, uploads
    assert len([u for u in uploads if "output=video " in u]) == 1, uploads
    progresses = [p["progress"] for kind, p in journal.entries if kind == "write" and "progress" in p]
    assert progresses == sorted(progresses)


@pytest.mark.slow
def test_a_voiceover_that_cannot_be_stored_fails_the_render_before_the_video(
    tmp_path: Path, s3_server: S3Server
) -> None:
    missing = s3_server.storage_spec().model_copy(update={"bucket": "no-such-bucket-for-voiceovers"})
    job = RenderJob.model_validate(narrated("unstored", storage=missing.model_dump(mode="json")))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    journal = Journal(s3_server, out_dir)
    reporter = ProgressReporter(RENDER_JOB, journal.write, label="media/unstored", min_interval=0.2)
    with pytest.raises(StorageFailed) as failed:
        run_resource(
            job, out_dir=out_dir, base_dir=tmp_path, progress=journal.progress(reporter), status=reporter
        )
    reporter.close()
    # The storage's own cause, as when the final upload fails.
    assert failed.value.reason == "StorageFailed", failed.value.message
    assert "no-such-bucket-for-voiceovers" in failed.value.message, failed.value.message
    assert not [p for kind, p in journal.entries if kind == "write" and "outputs" in p]
    assert ("progress", Step.RENDERING) not in journal.entries
    assert not list(out_dir.glob("video*"))


@pytest.mark.slow
def test_reelkube_render_says_the_voiceover_is_ready_before_the_video_renders(tmp_path: Path) -> None:
    manifest = tmp_path / "narrated.yaml"
    manifest.write_text(yaml.safe_dump(narrated("said")))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "reelkube.cli", "render", str(manifest), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    ready = [i for i, line in enumerate(lines) if line.startswith(f"{VOICEOVER_ARTIFACT} ready: ")]
    rendering = [i for i, line in enumerate(lines) if line.startswith("rendering ")]
    assert len(ready) == 1 and rendering and ready[0] < rendering[0], lines
    assert lines[ready[0]].split(" ready: ")[1].startswith(str(out / "voiceover.wav"))
    assert (out / "voiceover.wav").is_file() and (out / "video.mp4").is_file()
