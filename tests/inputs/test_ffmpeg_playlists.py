"""A playlist or concat list disguised as media reads nothing, with the real ffmpeg and ffprobe.

The attack: a tenant serves "clip.mp4" that is really an HLS playlist or an ffconcat list naming
``http://127.0.0.1:PORT/...`` (a Service only the pod can reach), ``file:///etc/passwd`` or a
local media file outside the inputs. Each control first shows the harness would see the attack
succeed (the server is contacted, the local segment is read) when ffmpeg is not restricted.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelkube.api.common import InputLimits
from reelkube.api.timeline import Timeline
from reelkube.engine.inputs import fetch_inputs
from reelkube.engine.probe import probe_media, with_input_protocols
from reelkube.errors import InputForbidden
from reelkube.input_policy import InputPolicy
from support.tools import require_tool

from .servers import RecordingServer, recording_server

pytestmark = pytest.mark.slow


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with recording_server({"segment.ts": b"\x47" * 188}) as running:
        yield running


@pytest.fixture
def outside_segment(tmp_path: Path) -> Path:
    """A real MPEG-TS file the pod holds but no resource named (stands for another job's data)."""
    require_tool(shutil.which("ffmpeg"), "ffmpeg is not installed")
    path = tmp_path / "elsewhere" / "private.ts"
    path.parent.mkdir()
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:d=1",
         "-f", "mpegts", str(path)],
        check=True,
    )  # fmt: skip
    return path


def hostile_files(folder: Path, server: RecordingServer, outside: Path) -> dict[str, Path]:
    """Playlists and lists named like media, each pointing at something the pod must not read."""
    remote = f"http://127.0.0.1:{server.port}/files/segment.ts"
    texts = {
        "hls-remote.mp4": f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{remote}\n#EXT-X-ENDLIST\n",
        "hls-passwd.mp4": "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
        "hls-local.mp4": f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{outside}\n#EXT-X-ENDLIST\n",
        "concat-remote.mp4": f"ffconcat version 1.0\nfile {remote}\n",
        "concat-passwd.mp4": "ffconcat version 1.0\nfile file:///etc/passwd\nfile /etc/passwd\n",
        "concat-local.mp4": f"ffconcat version 1.0\nfile '{outside}'\n",
    }
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in texts.items():
        paths[name] = folder / name
        paths[name].write_text(text)
    return paths


def ffprobe_streams(path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ffprobe", "-v", "error", *options, "-show_streams", str(path)], capture_output=True, text=True,
        check=False, timeout=60,
    )  # fmt: skip


def test_controls_show_the_attack_works_on_an_unrestricted_ffmpeg(
    server: RecordingServer, outside_segment: Path, tmp_path: Path
) -> None:
    files = hostile_files(tmp_path / "inputs", server, outside_segment)
    # With http allowed, the "media" makes ffprobe fetch from the loopback server...
    ffprobe_streams(files["hls-remote.mp4"], "-protocol_whitelist", "file,http,tcp")
    assert server.paths == ["/files/segment.ts"]
    # ...and with only files allowed, it still reads a local file nobody named as an input.
    unrestricted = ffprobe_streams(files["hls-local.mp4"], "-protocol_whitelist", "file")
    assert unrestricted.returncode == 0 and "codec_type=video" in unrestricted.stdout


@pytest.mark.parametrize(
    "name", ["hls-remote.mp4", "hls-passwd.mp4", "hls-local.mp4", "concat-remote.mp4", "concat-passwd.mp4",
             "concat-local.mp4"],
)  # fmt: skip
def test_probe_and_render_read_nothing_a_playlist_names(
    name: str, server: RecordingServer, outside_segment: Path, tmp_path: Path
) -> None:
    hostile = hostile_files(tmp_path / "inputs", server, outside_segment)[name]
    with pytest.raises(InputForbidden, match="names other files or URLs"):
        probe_media(hostile)
    output = tmp_path / "out.mp4"
    render = subprocess.run(
        with_input_protocols(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", str(hostile),
                              "-frames:v", "1", "-y", str(output)]),
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert render.returncode != 0 and "not on whitelist" in render.stderr
    assert not output.exists()
    assert server.requests == []


def test_a_fetched_playlist_fails_the_input_as_forbidden(
    server: RecordingServer, outside_segment: Path, tmp_path: Path
) -> None:
    # The disguised playlist itself is served by an allowed host; what it names is never read.
    playlist = hostile_files(tmp_path / "made", server, outside_segment)["hls-remote.mp4"]
    server.files["clip.mp4"] = playlist.read_bytes()
    src = f"{server.url}/files/clip.mp4"
    timeline = Timeline.model_validate(
        {"width": 64, "height": 48, "duration": 1, "tracks": [{"clips": [{"type": "video", "src": src}]}]}
    )
    policy = InputPolicy.cluster(allowed_cidrs=["127.0.0.0/8"], asset_dir=None)
    with pytest.raises(InputForbidden, match=r"^video input: .*clip\.mp4 is refused: .*names other files"):
        fetch_inputs(timeline, tmp_path / "work", InputLimits(), base_dir=tmp_path, policy=policy)
    assert server.paths == ["/files/clip.mp4"]
