"""The pod's status reporter: progress into the resource's status, one write per interval,
never going back, paced on the API server's answers, the final state retried (no cluster)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from reelkube.api.kinds import RENDER_JOB, TTS_JOB
from reelkube.api.status import Step
from reelkube.pipeline import status_reporter
from reelkube.pipeline.pacing import WritePacer
from reelkube.pipeline.status_reporter import (
    ProgressReporter,
    StatusWriteFailed,
    StatusWriteThrottled,
    retry_after_seconds,
)
from reelkube.progress_events import ProgressEvent


class Recorder:
    """A status writer that records each patch and when it came."""

    def __init__(self, fail_times: int = 0) -> None:
        self.patches: list[tuple[float, dict[str, Any]]] = []
        self.fail_times = fail_times
        self.lock = threading.Lock()

    def __call__(self, patch: dict[str, Any]) -> None:
        with self.lock:
            if self.fail_times:
                self.fail_times -= 1
                raise ConnectionError("api server unavailable")
            self.patches.append((time.monotonic(), patch))


def test_overall_percent_weighs_steps() -> None:
    assert RENDER_JOB.overall_percent(Step.DOWNLOADING, 50) == 5
    assert RENDER_JOB.overall_percent(Step.RENDERING, 50) == 10 + 15 + 35
    assert RENDER_JOB.overall_percent(Step.UPLOADING, 100) == 100
    assert RENDER_JOB.overall_percent(Step.DONE, 0) == 100
    assert TTS_JOB.overall_percent(Step.NARRATING, 100) == 75


def test_writes_are_throttled_to_one_per_interval_and_latest_wins() -> None:
    recorder = Recorder()
    reporter = ProgressReporter(RENDER_JOB, recorder, label="media/x", min_interval=0.3)
    started = time.monotonic()
    for frame in range(1, 301):
        reporter(
            ProgressEvent(
                step=Step.RENDERING,
                percent=frame / 3,
                frame=frame,
                total_frames=300,
                eta_seconds=(300 - frame) / 30,
            )
        )
        time.sleep(0.003)
    elapsed = time.monotonic() - started
    reporter.close(final={"step": "done", "progress": 100})
    times = [t for t, _ in recorder.patches]
    assert len(times) <= elapsed / 0.3 + 2, (len(times), elapsed)
    assert all(b - a >= 0.29 for a, b in zip(times, times[1:-1], strict=False)), times
    final = recorder.patches[-1][1]
    assert final["progress"] == 100 and final["step"] == "done"
    assert final["currentFrame"] == 300 and final["totalFrames"] == 300
    progresses = [p["progress"] for _, p in recorder.patches if "progress" in p]
    assert progresses == sorted(progresses)
    assert any(0 < p < 100 for p in progresses)


def test_progress_never_goes_back_and_stays_below_100_until_done() -> None:
    recorder = Recorder()
    reporter = ProgressReporter(RENDER_JOB, recorder, label="media/x", min_interval=0.0)
    reporter(ProgressEvent(step=Step.RENDERING, percent=100))
    reporter(ProgressEvent(step=Step.RENDERING, percent=10))  # a late, smaller figure
    reporter(ProgressEvent(step=Step.UPLOADING, percent=100))
    reporter.close()
    progresses = [p["progress"] for _, p in recorder.patches if "progress" in p]
    assert progresses and max(progresses) == 99 and progresses == sorted(progresses)


def test_the_encoder_chosen_before_the_render_is_written_with_the_progress() -> None:
    recorder = Recorder()
    reporter = ProgressReporter(RENDER_JOB, recorder, label="media/x", min_interval=0.0)
    label = "libx264 (fallback: h264_nvenc unavailable: Cannot load libcuda.so.1)"
    reporter(ProgressEvent(step=Step.RENDERING, percent=0, encoder=label))
    reporter(ProgressEvent(step=Step.RENDERING, percent=50))
    reporter.close()
    assert [p["encoder"] for _, p in recorder.patches if "encoder" in p] == [label]


def test_final_state_is_retried_then_reported() -> None:
    flaky = Recorder(fail_times=2)
    reporter = ProgressReporter(RENDER_JOB, flaky, label="media/x", min_interval=10, retry_delay=0.01)
    reporter.close(final={"progress": 100})
    assert flaky.patches[-1][1] == {"progress": 100}
    broken = Recorder(fail_times=100)
    reporter = ProgressReporter(RENDER_JOB, broken, label="media/x", min_interval=10, retry_delay=0.001)
    with pytest.raises(StatusWriteFailed):
        reporter.close(final={"progress": 100})


def test_retry_after_header_is_read_as_seconds() -> None:
    assert retry_after_seconds({"Retry-After": "2"}) == 2.0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds(None) == 0.0


class SlowRecorder(Recorder):
    """A status writer whose every answer takes ``delay`` (an API server under load)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def __call__(self, patch: dict[str, Any]) -> None:
        time.sleep(self.delay)
        super().__call__(patch)


def feed(reporter: ProgressReporter, seconds: float) -> None:
    started = time.monotonic()
    frame = 0
    while time.monotonic() - started < seconds:
        frame += 1
        reporter(ProgressEvent(step=Step.RENDERING, percent=min(99, frame / 10), frame=frame))
        time.sleep(0.01)


def test_reporter_writes_less_often_while_the_api_server_answers_slowly() -> None:
    slow = SlowRecorder(delay=0.06)
    pacer = WritePacer(base=0.05, ceiling=0.4, slow_after=0.03)
    reporter = ProgressReporter(RENDER_JOB, slow, label="media/x", pacer=pacer)
    feed(reporter, 2.5)
    reporter.close()
    starts = [t - slow.delay for t, _ in slow.patches[:-1]]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert pacer.interval == 0.4
    assert len(gaps) >= 4 and all(g >= 0.39 for g in gaps[3:]), gaps  # 0.05 -> 0.1 -> 0.2 -> 0.4
    quick = Recorder()
    pacer = WritePacer(base=0.05, ceiling=0.4, slow_after=0.03)
    reporter = ProgressReporter(RENDER_JOB, quick, label="media/x", pacer=pacer)
    feed(reporter, 1.0)
    reporter.close()
    assert pacer.interval == 0.05 and len(quick.patches) >= 10


def test_reporter_honours_a_429_and_keeps_the_values() -> None:
    class Throttling(Recorder):
        def __call__(self, patch: dict[str, Any]) -> None:
            if not self.patches and not getattr(self, "refused", False):
                self.refused = True
                raise StatusWriteThrottled(retry_after=0.3)
            super().__call__(patch)

    throttling = Throttling()
    pacer = WritePacer(base=0.05, ceiling=1.0, slow_after=0.5)
    reporter = ProgressReporter(RENDER_JOB, throttling, label="media/x", pacer=pacer)
    refused_at = time.monotonic()
    reporter(ProgressEvent(step=Step.RENDERING, percent=40, frame=7))
    time.sleep(0.6)
    reporter.close()
    first_time, first = throttling.patches[0]
    assert first_time - refused_at >= 0.3  # waited out Retry-After before writing again
    assert first["currentFrame"] == 7  # the refused values were kept, not lost


def test_without_a_cluster_updates_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    reporter = ProgressReporter(RENDER_JOB, None, label="media/x", min_interval=0)
    reporter(ProgressEvent(step=Step.RENDERING, percent=50, frame=10))
    reporter.close(final={"step": "done"})
    assert "resource=media/x" in caplog.text and "currentFrame=10" in caplog.text
    assert reporter.writes[-1]["step"] == "done"


def test_in_cluster_writer_turns_a_429_into_a_throttle_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubernetes import client, config

    token = tmp_path / "token"
    token.write_text("t")
    monkeypatch.setattr(status_reporter, "TOKEN_PATH", token)
    monkeypatch.setattr(config, "load_incluster_config", lambda: None)
    answers: list[client.ApiException] = []

    def patch_status(self: Any, *args: Any, **kwargs: Any) -> None:
        raise answers.pop(0)

    monkeypatch.setattr(client.CustomObjectsApi, "patch_namespaced_custom_object_status", patch_status)
    write = status_reporter.in_cluster_writer(RENDER_JOB, "media", "x")
    assert write is not None
    busy = client.ApiException(status=429, reason="Too Many Requests")
    busy.headers = {"Retry-After": "2"}
    answers.append(busy)
    with pytest.raises(StatusWriteThrottled) as throttled:
        write({"progress": 5})
    assert throttled.value.retry_after == 2.0
    answers.append(client.ApiException(status=500, reason="Internal Server Error"))
    with pytest.raises(client.ApiException):  # other failures stay what they are
        write({"progress": 5})


VOICEOVER = {"voiceover": {"uri": "s3://bucket/media/x-1234abcd/voiceover.wav", "size": 100}}


def test_publish_writes_at_once_with_the_pending_progress_despite_the_pacing() -> None:
    recorder = Recorder()
    reporter = ProgressReporter(RENDER_JOB, recorder, label="media/x", min_interval=60)
    reporter(ProgressEvent(step=Step.DOWNLOADING, percent=100))
    deadline = time.monotonic() + 10
    while not recorder.patches and time.monotonic() < deadline:
        time.sleep(0.01)  # the first write goes out at once; the next would wait 60 s
    reporter(ProgressEvent(step=Step.NARRATING, percent=100))
    assert reporter.publish(outputs=VOICEOVER)
    # Written in the caller's thread before publish returned, the progress with it.
    assert [p for _, p in recorder.patches][-1]["outputs"] == VOICEOVER
    assert recorder.patches[-1][1]["step"] == "narrating"
    assert len(recorder.patches) == 2
    reporter.close(final={"step": "done", "progress": 100})
    assert recorder.patches[-1][1] == {"step": "done", "progress": 100}


def test_a_publish_that_fails_leaves_its_fields_for_the_next_write() -> None:
    flaky = Recorder(fail_times=1)
    reporter = ProgressReporter(RENDER_JOB, flaky, label="media/x", min_interval=60, retry_delay=0.01)
    assert not reporter.publish(outputs=VOICEOVER)
    assert flaky.patches == []
    reporter.close(final={"progress": 100})
    assert flaky.patches[-1][1] == {"outputs": VOICEOVER, "progress": 100}


def test_publish_waits_for_a_write_in_flight_so_the_status_never_goes_back() -> None:
    class Slow(Recorder):
        """Holds its first write until released, as a busy API server would."""

        def __init__(self) -> None:
            super().__init__()
            self.writing = threading.Event()
            self.release = threading.Event()

        def __call__(self, patch: dict[str, Any]) -> None:
            if not self.writing.is_set():
                self.writing.set()
                assert self.release.wait(10)
            super().__call__(patch)

    slow = Slow()
    reporter = ProgressReporter(RENDER_JOB, slow, label="media/x", min_interval=0.0)
    reporter(ProgressEvent(step=Step.DOWNLOADING, percent=50))
    assert slow.writing.wait(10)  # the writer thread is inside its first write
    reporter(ProgressEvent(step=Step.NARRATING, percent=100))
    published = threading.Thread(target=reporter.publish, kwargs={"outputs": VOICEOVER})
    published.start()
    published.join(0.3)
    assert published.is_alive(), "publish must wait for the write in flight"
    slow.release.set()
    published.join(10)
    reporter.close()
    patches = [p for _, p in slow.patches]
    # The write in flight landed first; the newer step (written by publish, or by the writer
    # thread just before it) after it, never the other way round.
    assert patches[0]["step"] == "downloading" and "outputs" not in patches[0]
    assert [p.get("outputs") for p in patches[1:] if "outputs" in p] == [VOICEOVER], patches
    steps = [p["step"] for p in patches if "step" in p]
    assert steps == ["downloading", "narrating"], patches
