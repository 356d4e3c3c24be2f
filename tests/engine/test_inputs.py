"""Input fetching against real files and a real loopback HTTP server. The tests that fetch real
media (made and probed with ffmpeg) are slow; refusals that come before any probe are not."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from reelkube.api.common import InputLimits
from reelkube.engine.inputs import fetch_inputs
from reelkube.errors import (
    InputError,
    InputNotFound,
    InputRejected,
    InputTimeout,
    InputTooLarge,
    InputUnreadable,
)
from support.file_server import FileServer
from support.timelines import timeline


def fetch(tl_clips: list[dict], root: Path, workdir: Path, **limits: float) -> dict:
    return fetch_inputs(timeline(tl_clips, duration=1), workdir, InputLimits(**limits), base_dir=root)


@pytest.mark.slow
def test_local_and_http_inputs_are_probed_once_per_src(
    media: dict[str, Path], file_server: FileServer, tmp_path: Path
) -> None:
    url = f"{file_server.url}/clip.mp4"
    clips = [
        {"type": "video", "src": url, "duration": 0.5},
        {"type": "video", "src": url, "duration": 0.5},
        {"type": "image", "src": "image.jpg", "duration": 0.5},
        {"type": "audio", "src": str(media["tone"])},
    ]
    resolved = fetch(clips, media["root"], tmp_path)
    assert set(resolved) == {url, "image.jpg", str(media["tone"])}
    remote = resolved[url]
    assert remote.path.parent == tmp_path / "inputs" and remote.path.suffix == ".mp4"
    assert (
        remote.info is not None
        and remote.info.has_audio
        and (remote.info.width, remote.info.height) == (320, 240)
    )
    assert abs((remote.info.duration or 0) - 2.0) < 0.1
    image = resolved["image.jpg"].info
    assert image is not None and image.is_still and image.duration is None
    assert resolved["image.jpg"].path == media["image"]  # local files are used in place


def test_missing_file_and_404(empty_file_server: FileServer, tmp_path: Path) -> None:
    root = empty_file_server.root
    with pytest.raises(InputNotFound, match="nope.mp4"):
        fetch([{"type": "video", "src": "nope.mp4"}], root, tmp_path)
    with pytest.raises(InputNotFound, match="404"):
        fetch([{"type": "image", "src": f"{empty_file_server.url}/missing.png"}], root, tmp_path)


@pytest.mark.parametrize(
    ("code", "error", "retryable"),
    [
        (403, InputRejected, False),
        (401, InputRejected, False),
        (429, InputError, True),
        (503, InputError, True),
    ],
)
def test_client_errors_are_permanent_and_server_errors_transient(
    empty_file_server: FileServer, tmp_path: Path, code: int, error: type[InputError], retryable: bool
) -> None:
    with pytest.raises(error, match=f"HTTP {code}") as raised:
        fetch([{"type": "image", "src": f"{empty_file_server.url}/status/{code}/x.png"}], tmp_path, tmp_path)
    assert raised.value.retryable is retryable


def test_stalled_and_trickling_servers_time_out(empty_file_server: FileServer, tmp_path: Path) -> None:
    server, root = empty_file_server, empty_file_server.root
    (root / "image.jpg").write_bytes(b"\xff\xd8 never read: the answer comes too late")
    started = time.monotonic()
    with pytest.raises(InputTimeout):
        fetch([{"type": "image", "src": f"{server.url}/slow/image.jpg"}], root, tmp_path,
              timeoutSeconds=1)  # fmt: skip
    with pytest.raises(InputTimeout):
        fetch([{"type": "image", "src": f"{server.url}/trickle/x.jpg"}], root, tmp_path,
              timeoutSeconds=1)  # fmt: skip
    assert time.monotonic() - started < 6
    assert not list((tmp_path / "inputs").glob("*.part"))


@pytest.mark.slow
def test_too_large_local_and_remote(media: dict[str, Path], file_server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(InputTooLarge, match="over the limit"):
        fetch([{"type": "image", "src": "image.jpg"}], media["root"], tmp_path, maxImageBytes=100)
    with pytest.raises(InputTooLarge):
        fetch(
            [{"type": "video", "src": f"{file_server.url}/clip.mp4"}],
            media["root"],
            tmp_path,
            maxVideoBytes=100,
        )
    # Audio has its own limit: a video limit does not apply to it.
    assert fetch([{"type": "audio", "src": "tone.wav"}], media["root"], tmp_path, maxVideoBytes=100)


@pytest.mark.slow
def test_unreadable_bytes_carry_ffprobes_message(media: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputUnreadable, match=r"ffprobe cannot read junk\.mp4: .*Invalid data"):
        fetch([{"type": "video", "src": "junk.mp4"}], media["root"], tmp_path)
    with pytest.raises(InputUnreadable, match="no picture"):
        fetch([{"type": "video", "src": "tone.wav"}], media["root"], tmp_path)
    with pytest.raises(InputUnreadable, match="no audio"):
        fetch([{"type": "audio", "src": "silent.mp4"}], media["root"], tmp_path)


@pytest.mark.slow
def test_demuxers_listed_early_are_the_ones_a_probe_uses(
    media: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from reelkube.engine import probe

    monkeypatch.setattr(probe, "_demuxers", None)  # as in a fresh process
    monkeypatch.setattr(probe, "_listing_started", False)
    probe.list_demuxers_early()
    probe.list_demuxers_early()  # asked again (the command line, then the pipeline): one thread
    assert [t.name for t in threading.enumerate()].count("list-demuxers") <= 1
    listed = probe.allowed_demuxers()  # waits for the early listing rather than starting another
    names = set(listed.split(","))
    assert "mov" in names and "image2" in names and not names & probe.REFERENCE_FORMATS
    assert probe.allowed_demuxers() is listed
    assert probe.probe_media(media["image"]).is_still
