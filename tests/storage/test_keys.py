"""Object keys: the layout, and inputs that must never escape the prefix."""

from __future__ import annotations

import pytest

from reelkube.errors import SpecError
from reelkube.storage.keys import check_key, object_key, parse_s3_uri

UID = "3f2a1b4c-9d8e-4f00-a1b2-c3d4e5f60718"


def test_layout_is_prefix_namespace_name_uid8_file() -> None:
    assert (
        object_key("reelkube", "media", "promo", UID, "video.mp4")
        == "reelkube/media/promo-3f2a1b4c/video.mp4"
    )


def test_layout_is_deterministic_so_retries_overwrite() -> None:
    first = object_key("out/reels", "ns", "job", UID, "thumb.jpg")
    assert first == object_key("out/reels", "ns", "job", UID, "thumb.jpg")
    assert first != object_key("out/reels", "ns", "job", "99999999-0000", "thumb.jpg")


def test_empty_prefix_and_trailing_slash_and_no_uid() -> None:
    assert object_key("", "ns", "job", "", "a.mp4") == "ns/job/a.mp4"
    assert object_key("p/", "ns", "job", UID, "a.mp4") == "p/ns/job-3f2a1b4c/a.mp4"


@pytest.mark.parametrize(
    "prefix",
    ["/abs", "/", "a//b", "a/../b", "..", "../x", "a/./b", "a\\b", "a/\x00b", "a\nb", "a\u202eb", "//"],
)
def test_bad_prefixes_are_rejected(prefix: str) -> None:
    with pytest.raises(SpecError):
        object_key(prefix, "ns", "job", UID, "video.mp4")


@pytest.mark.parametrize(
    ("namespace", "name", "uid", "filename"),
    [
        ("..", "job", UID, "video.mp4"),
        ("ns", "../../etc", UID, "video.mp4"),
        ("ns", "job", UID, "../video.mp4"),
        ("ns", "job", UID, "sub/video.mp4"),
        ("ns", "job", UID, "/video.mp4"),
        ("ns", "job", UID, ""),
        ("", "job", UID, "video.mp4"),
        ("ns", "", UID, "video.mp4"),
        ("ns", "job", UID, ".."),
        ("ns", "job", UID, "."),
        ("ns", "job", UID, "..\\..\\video.mp4"),
        ("ns", "job", UID, "vid\reo.mp4"),
        ("ns", "job", UID, "vid\x7feo.mp4"),
        ("ns", "job", "ab/../cd", "video.mp4"),
        ("ns", "job\t", UID, "video.mp4"),
    ],
)
def test_bad_parts_are_rejected(namespace: str, name: str, uid: str, filename: str) -> None:
    with pytest.raises(SpecError):
        object_key("reelkube", namespace, name, uid, filename)


@pytest.mark.parametrize("key", ["", "/a", "a//b", "a/", "a/../b", "a/./b", "a\\b", "a\x01b", "x" * 1025])
def test_check_key_rejects(key: str) -> None:
    with pytest.raises(SpecError):
        check_key(key)


def test_check_key_accepts_unicode_and_spaces() -> None:
    assert check_key("p/ns/job/vidéo final.mp4") == "p/ns/job/vidéo final.mp4"


def test_parse_s3_uri() -> None:
    assert parse_s3_uri("s3://my-bucket/a/b.mp4") == ("my-bucket", "a/b.mp4")
    for bad in ["http://b/k", "s3://", "s3://bucket", "s3://bucket/", "s3://B_ad/k", "s3://bucket/k\x00"]:
        with pytest.raises(SpecError):
            parse_s3_uri(bad)
