"""Relative paths in the cluster resolve inside the read-only asset folder and never leave it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelkube.api.common import InputLimits
from reelkube.engine.inputs import fetch_one
from reelkube.errors import InputForbidden, InputNotFound

from .policies import cluster_policy

CUES = "1\n00:00:00,000 --> 00:00:01,000\nhello\n"


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    """An asset folder beside a secret it must not reach, with symbolic links both ways."""
    root = tmp_path / "assets"
    (root / "captions").mkdir(parents=True)
    (root / "captions" / "intro.srt").write_text(CUES)
    (tmp_path / "secret.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nroot:x:0:0\n")
    (root / "captions" / "inside-link.srt").symlink_to(root / "captions" / "intro.srt")
    (root / "escape.srt").symlink_to(tmp_path / "secret.srt")
    (root / "etc").symlink_to("/etc", target_is_directory=True)
    (root / "captions" / "up").symlink_to(tmp_path, target_is_directory=True)
    return root


def fetch(src: str, assets: Path, workdir: Path) -> Path:
    policy = cluster_policy(asset_dir=assets)
    # base_dir is where a local render would look; in the cluster only the asset folder counts.
    fetched = fetch_one(
        src, "subtitles", workdir, InputLimits(), base_dir=assets.parent, storage=None, policy=policy,
        field="spec.timeline.tracks[1].clips[0].src",
    )  # fmt: skip
    return fetched.path


def test_paths_inside_the_asset_folder_are_used_in_place(assets: Path, tmp_path: Path) -> None:
    assert fetch("captions/intro.srt", assets, tmp_path) == assets / "captions" / "intro.srt"
    assert fetch("./captions/../captions/intro.srt", assets, tmp_path) == assets / "captions" / "intro.srt"
    # A link that stays inside is followed.
    assert fetch("captions/inside-link.srt", assets, tmp_path) == assets / "captions" / "intro.srt"


@pytest.mark.parametrize(
    "src",
    ["../secret.srt", "captions/../../secret.srt", "escape.srt", "etc/passwd", "captions/up/secret.srt",
     "captions/up/assets/../secret.srt"],
)  # fmt: skip
def test_dot_dot_and_symbolic_links_cannot_leave_the_asset_folder(
    src: str, assets: Path, tmp_path: Path
) -> None:
    with pytest.raises(
        InputForbidden, match=r"^spec\.timeline\.tracks\[1\]\.clips\[0\]\.src: .*asset folder"
    ) as caught:
        fetch(src, assets, tmp_path)
    assert "root:" not in caught.value.message


def test_a_missing_asset_is_not_found_and_no_asset_folder_means_no_relative_paths(
    assets: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputNotFound):
        fetch("captions/missing.srt", assets, tmp_path)
    with pytest.raises(InputForbidden, match="asset folder"):
        fetch_one(
            "captions/intro.srt", "subtitles", tmp_path, InputLimits(), base_dir=assets, storage=None,
            policy=cluster_policy(asset_dir=None),
        )  # fmt: skip


def test_absolute_paths_only_inside_the_jobs_own_workdir(assets: Path, tmp_path: Path) -> None:
    # A template puts what the render made itself (a narration, captions) into the timeline
    # by absolute path under the workdir; nothing else absolute is accepted.
    workdir = tmp_path / "work"
    (workdir / "narration").mkdir(parents=True)
    made = workdir / "narration" / "captions.srt"
    made.write_text(CUES)
    (workdir / "out-link.srt").symlink_to(tmp_path / "secret.srt")
    assert fetch(str(made), assets, workdir) == made
    for src in (
        str(workdir / "out-link.srt"),
        f"{workdir}/../secret.srt",
        str(tmp_path / "secret.srt"),
        f"file://{made}",
    ):
        with pytest.raises(InputForbidden, match="names a file of the render pod"):
            fetch(src, assets, workdir)
