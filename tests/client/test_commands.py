"""The commands' pure parts: the `get` table row, ages, the `describe` page, `batch --dry-run`
through the program's entry, and the kubeconfig's namespace."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from reelkube.api.kinds import RENDER_JOB, TTS_JOB
from reelkube.cli import main
from reelkube.client import Client, Snapshot
from reelkube.client.resources import kind_for
from reelkube.commands.describe import describe_page
from reelkube.commands.get import age, split_name, table_row

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def snapshot(status: dict[str, Any], spec: dict[str, Any] | None = None) -> Snapshot:
    body = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {
            "name": "reel",
            "namespace": "media",
            "creationTimestamp": "2026-11-30T11:55:00Z",
            "labels": {"reelkube.io/batch": "b1"},
        },
        "spec": spec or {"template": "captioned-reel"},
        "status": status,
    }
    return Snapshot(RENDER_JOB, body)


@pytest.mark.parametrize(
    ("stamp", "text"),
    [
        (None, ""),
        ("2026-11-30T11:59:18Z", "42s"),
        ("2026-11-30T11:55:00Z", "5m"),
        ("2026-11-30T09:00:00Z", "3h"),
        ("2026-11-28T12:00:00Z", "2d"),
    ],
)
def test_age(stamp: str | None, text: str) -> None:
    assert age(stamp, NOW) == text


def test_table_rows() -> None:
    running = snapshot(
        {
            "phase": "Running",
            "step": "rendering",
            "progress": 40,
            "currentFrame": 120,
            "totalFrames": 300,
            "etaSeconds": 65,
        }
    )
    assert table_row(running, now=NOW) == [
        "reel", "RenderJob", "Running", "", "rendering", "40%", "120/300", "1m05s", "5m",
    ]  # fmt: skip
    queued = snapshot({"phase": "Queued", "queuePosition": 4}, {"cancel": True})
    assert table_row(queued, namespace=True, now=NOW)[:5] == [
        "media",
        "reel",
        "RenderJob",
        "Queued (canceling)",
        "#4",
    ]


def test_names_with_kinds() -> None:
    assert split_name("rj/reel") == (RENDER_JOB, "reel")
    assert split_name("ttsjobs.reelkube.io/voice") == (TTS_JOB, "voice")
    assert split_name("reel") == (None, "reel")
    assert kind_for("TTSJob") is TTS_JOB


def test_describe_page_has_every_section() -> None:
    status = {
        "phase": "Failed",
        "reason": "InputNotFound",
        "message": "bg.jpg: 404",
        "attempts": 1,
        "jobName": "rj-reel-abc",
        "outputs": {
            "voiceover": {
                "uri": "s3://b/p/voiceover.wav",
                "url": "https://s3/b/p/voiceover.wav?sig",
                "size": 1234,
                "sha256": "ab" * 32,
                "contentType": "audio/wav",
                "duration": 3.5,
            }
        },
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "InputNotFound", "message": "bg.jpg: 404"}
        ],
        "webhook": {
            "event": "failed",
            "state": "Delivered",
            "attempts": 2,
            "deliveries": [
                {"event": "failed", "id": "msg_1", "state": "Delivered", "attempts": 2, "responseCode": 200}
            ],
        },
    }
    events = [
        {"lastTimestamp": "2026-11-30T11:56:00Z", "type": "Warning", "reason": "Failed", "message": "boom"}
    ]
    page = describe_page(snapshot(status), events)
    for expected in (
        "Name:         reel",
        "Namespace:    media",
        "Labels:       reelkube.io/batch=b1",
        "Template:     captioned-reel",
        "Progress:     Failed  InputNotFound: bg.jpg: 404",
        "Attempts:     1   Job: rj-reel-abc",
        "Reason:       InputNotFound",
        "  voiceover: s3://b/p/voiceover.wav  (1234 bytes, audio/wav, 3.5s)",
        "    sha256: " + "ab" * 32,
        "    url: https://s3/b/p/voiceover.wav?sig",
        "  Ready=False  InputNotFound  bg.jpg: 404",
        "  failed: Delivered after 2 attempt(s) HTTP 200",
        "  2026-11-30T11:56:00Z  Warning  Failed  boom",
    ):
        assert expected in page.splitlines(), (expected, page)
    empty = describe_page(snapshot({}), [])
    assert "Outputs:      <none>" in empty and "Events:       <none>" in empty


def test_batch_dry_run_through_the_program(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "listing"},
        "spec": {"template": "captioned-reel", "props": {"backgroundUrl": "s3://b/bg.jpg"}},
    }
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(template))
    (tmp_path / "rows.csv").write_text("id,title,durationSeconds\na,A,3\nb,,3\nc,C,x\n")
    args = [str(tmp_path / "t.yaml"), str(tmp_path / "rows.csv"), "--name-from", "id", "--dry-run"]
    assert main(["batch", *args]) == 2
    out, err = capsys.readouterr()
    assert "row 2, column title: Field required" in err
    assert "row 3, column durationSeconds" in err
    assert "2 bad row(s): 2, 3; 1 good row(s)" in err
    assert out.splitlines()[0].split() == ["ROW", "NAME", "OUTCOME", "DETAIL", "OUTPUT"]
    assert out.splitlines()[1].split()[:3] == ["1", "a", "Valid"]
    assert main(["batch", *args[:-1], "--dry-run", "-o", "json"]) == 2
    assert '"outcome": "Invalid"' in capsys.readouterr().out


def test_the_kubeconfigs_context_namespace(tmp_path: Path) -> None:
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": "plain", "context": {"cluster": "c", "user": "u"}},
            {"name": "media", "context": {"cluster": "c", "user": "u", "namespace": "media"}},
        ],
        "current-context": "plain",
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig))
    assert Client.from_kubeconfig(config_file=str(path)).namespace == "default"
    chosen = Client.from_kubeconfig(context="media", config_file=str(path))
    assert chosen.namespace == "media"
    assert chosen.api_client.configuration.host == "https://127.0.0.1:1"


def test_a_long_url_column_does_not_squeeze_the_names_out_of_the_terminal_table() -> None:
    import io

    from rich.console import Console

    from reelkube.commands.get import print_table

    url = "http://10.88.0.1:9000/renders/e2e/demo/elm-12-17d75aa1/video.mp4?X-Amz-Signature=" + "f" * 400
    rows = [["1", "elm-12", "Succeeded", "", url], ["3", "", "Invalid", "overlayOpacity: not a number", ""]]
    out = io.StringIO()
    print_table(("ROW", "NAME", "RESULT", "DETAIL", "OUTPUT"), rows, console=Console(file=out, width=150))
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["ROW", "NAME", "RESULT", "DETAIL", "OUTPUT"], lines[0]
    cells = lines[1].split()
    assert cells[:3] == ["1", "elm-12", "Succeeded"] and url.startswith(cells[3]) and cells[3] != url
    assert "overlayOpacity: not a number" in lines[2]
    assert all(len(line) <= 150 for line in lines)
