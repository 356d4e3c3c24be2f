"""Downloads against a real loopback HTTP server: a file is kept only when its size and SHA-256
match the status."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from reelkube.api.status import OutputArtifact
from reelkube.client import OutputMismatch
from reelkube.client.download import download_outputs, output_filename
from reelkube.client.errors import ClientError
from support.file_server import serve_files


def artifact(url: str, data: bytes, **overrides: object) -> OutputArtifact:
    fields: dict[str, object] = {
        "uri": "s3://bucket/reelkube/media/reel/uid/video.mp4",
        "url": url,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    return OutputArtifact.model_validate(fields | overrides)


@pytest.fixture
def served(tmp_path: Path) -> bytes:
    data = bytes(range(256)) * 4096  # 1 MiB, several chunks
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "video.mp4").write_bytes(data)
    return data


def test_matching_outputs_are_saved_under_their_uri_names(tmp_path: Path, served: bytes) -> None:
    with serve_files(tmp_path / "served") as server:
        outputs = {
            "video": artifact(f"{server.url}/video.mp4", served),
            "local": OutputArtifact(uri="/out/only-local.txt"),  # no URL: nothing to fetch
        }
        saved = download_outputs(outputs, tmp_path / "out" / "reel")
    assert saved == {"video": tmp_path / "out" / "reel" / "video.mp4"}
    assert saved["video"].read_bytes() == served
    assert not list((tmp_path / "out" / "reel").glob("*.part"))


@pytest.mark.parametrize(
    ("overrides", "what"),
    [({"sha256": "0" * 64}, "sha256"), ({"size": 17}, "size")],
)
def test_a_mismatch_is_refused_and_leaves_no_file(
    tmp_path: Path, served: bytes, overrides: dict[str, object], what: str
) -> None:
    with serve_files(tmp_path / "served") as server:
        outputs = {"video": artifact(f"{server.url}/video.mp4", served, **overrides)}
        with pytest.raises(OutputMismatch) as caught:
            download_outputs(outputs, tmp_path / "out")
    assert caught.value.what == what and caught.value.output == "video"
    assert list((tmp_path / "out").iterdir()) == []


def test_an_http_error_is_refused(tmp_path: Path, served: bytes) -> None:
    with serve_files(tmp_path / "served") as server:
        outputs = {"video": artifact(f"{server.url}/missing.mp4", served)}
        with pytest.raises(ClientError, match="HTTP 404"):
            download_outputs(outputs, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("uri", "name"),
    [("s3://b/p/video.mp4", "video.mp4"), ("s3://b/", "video"), ("out/reel/thumb.jpg", "thumb.jpg")],
)
def test_output_filenames(uri: str, name: str) -> None:
    assert output_filename("video", OutputArtifact(uri=uri)) == name
