"""The client over real HTTP with the official kubernetes client, against a small scripted API
server on loopback: create, get, a watch that streams status changes, a 410 that forces a fresh
read, and the cancel merge patch. The real API server is exercised by the cluster tests."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import json
import os
import pty
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from kubernetes import client as kube

from reelkube.api.status import Phase, ResourceStatus
from reelkube.cli import main
from reelkube.client import Client, RenderFailed

PATH = "/apis/reelkube.io/v1alpha1/namespaces/media/renderjobs"
TTS_PATH = "/apis/reelkube.io/v1alpha1/namespaces/media/ttsjobs"
EVENTS_PATH = "/api/v1/namespaces/media/events"
VIDEO = b"not really an mp4, but bytes with a checksum" * 1000


@dataclass
class ScriptedApi:
    """What the fake API server holds and will say."""

    body: dict[str, Any] = field(default_factory=dict)
    watches: list[list[dict[str, Any]]] = field(default_factory=list)
    """Each watch request streams the next list of events (a status dict, or {"gone": True})."""
    requests: list[tuple[str, str]] = field(default_factory=list)
    patches: list[tuple[str, Any]] = field(default_factory=list)
    url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    pause: float = 0.02
    """Seconds between streamed events."""

    def bump(self, status: dict[str, Any]) -> dict[str, Any]:
        version = int(self.body["metadata"]["resourceVersion"]) + 1
        self.body = {**self.body, "status": status}
        self.body["metadata"] = {**self.body["metadata"], "resourceVersion": str(version)}
        return self.body


@pytest.fixture
def api() -> Iterator[tuple[ScriptedApi, Client]]:
    state = ScriptedApi()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            pass

        def _json(self, code: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _read(self) -> Any:
            return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            state.requests.append(("POST", self.path))
            body = self._read()
            body["metadata"] |= {"resourceVersion": "1", "uid": "u-1", "namespace": "media"}
            state.body = body
            self._json(201, body)

        def do_PATCH(self) -> None:  # noqa: N802
            state.requests.append(("PATCH", self.path))
            patch = self._read()
            state.patches.append((self.headers["Content-Type"], patch))
            state.body["spec"] = {**state.body["spec"], **patch["spec"]}
            self._json(200, state.body)

        def do_GET(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            query = parse_qs(url.query)
            state.requests.append(("GET", self.path))
            if url.path == f"{PATH}/reel":
                self._json(200, state.body)
                return
            if query.get("watch") != ["True"] and url.path in (PATH, TTS_PATH, EVENTS_PATH):
                items = [state.body] if url.path == PATH and state.body else []
                if url.path == EVENTS_PATH:
                    items = state.events
                self._json(200, {"kind": "List", "metadata": {"resourceVersion": "9"}, "items": items})
                return
            if url.path == "/files/video.mp4":  # the "presigned URL" of the output
                self.send_response(200)
                self.send_header("Content-Length", str(len(VIDEO)))
                self.end_headers()
                self.wfile.write(VIDEO)
                return
            if url.path != PATH or query.get("watch") != ["True"]:
                self._json(404, {"kind": "Status", "code": 404, "message": "not found"})
                return
            assert query["fieldSelector"] == ["metadata.name=reel"]
            events = state.watches.pop(0) if state.watches else []
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in events:
                if event.get("gone"):
                    line = {
                        "type": "ERROR",
                        "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"},
                    }
                else:
                    line = {"type": "MODIFIED", "object": state.bump(event)}
                data = (json.dumps(line) + "\n").encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
                time.sleep(state.pause)
            self.wfile.write(b"0\r\n\r\n")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    configuration = kube.Configuration(host=state.url)
    try:
        yield state, Client(kube.ApiClient(configuration), namespace="media")
    finally:
        server.shutdown()
        server.server_close()


MANIFEST = {
    "apiVersion": "reelkube.io/v1alpha1",
    "kind": "RenderJob",
    "metadata": {"name": "reel"},
    "spec": {"template": "captioned-reel", "props": {"title": "Hi", "backgroundUrl": "s3://b/bg.jpg"}},
}


def running(progress: int) -> dict[str, Any]:
    return {"phase": "Running", "step": "rendering", "progress": progress, "jobName": "rj-reel"}


def test_submit_then_wait_follows_the_watch(api: tuple[ScriptedApi, Client]) -> None:
    state, client = api
    state.watches = [
        [{"phase": "Queued", "queuePosition": 1}, running(10), running(40)],
        [{"gone": True}],
        [
            running(80),
            {
                "phase": "Succeeded",
                "step": "done",
                "progress": 100,
                "outputs": {"video": {"uri": "s3://b/v.mp4"}},
            },
        ],
    ]
    handle = client.submit(MANIFEST)
    assert (
        state.requests[0] == ("POST", f"{PATH}?fieldManager=reelkube-client")
        and state.body["metadata"]["namespace"] == "media"
    )
    seen: list[ResourceStatus] = []
    final = handle.wait(timeout=10, on_progress=seen.append)
    assert final.phase == Phase.SUCCEEDED
    assert [s.progress for s in seen if s.phase == Phase.RUNNING] == [10, 40, 80]
    assert handle.outputs["video"].uri == "s3://b/v.mp4"
    watches = [parse_qs(urlparse(p).query) for m, p in state.requests if m == "GET" and "watch=True" in p]
    assert [w["resourceVersion"] for w in watches] == [["1"], ["4"], ["4"]]  # after the 410: a fresh read


def test_a_failure_and_a_cancel(api: tuple[ScriptedApi, Client]) -> None:
    state, client = api
    handle = client.submit(MANIFEST)
    handle.cancel()
    assert state.patches == [("application/merge-patch+json", {"spec": {"cancel": True}})]
    assert handle.last.cancel_requested
    state.watches = [[{"phase": "Failed", "reason": "InputNotFound", "message": "bg.jpg: 404"}]]
    with pytest.raises(RenderFailed) as caught:
        handle.wait(timeout=10)
    assert caught.value.reason == "InputNotFound"


def test_wait_async_leaves_the_event_loop_free(api: tuple[ScriptedApi, Client]) -> None:
    state, client = api
    state.pause = 0.2
    state.watches = [[running(30), running(60), {"phase": "Succeeded", "progress": 100}]]
    handle = client.submit(MANIFEST)
    seen: list[int | None] = []

    async def main() -> tuple[Phase | None, int]:
        ticks = 0
        waiting = asyncio.create_task(
            handle.wait_async(timeout=10, on_progress=lambda s: seen.append(s.progress))
        )
        while not waiting.done():  # the loop keeps running while the watch streams
            ticks += 1
            await asyncio.sleep(0.02)
        return (await waiting).phase, ticks

    phase, ticks = asyncio.run(main())
    assert phase == Phase.SUCCEEDED and seen[-2:] == [60, 100]
    assert ticks >= 10


def kubeconfig(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "me", "user": {"token": "t"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "me", "namespace": "media"}}],
        "current-context": "fake",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_submit_command_waits_downloads_and_exits_0(
    api: tuple[ScriptedApi, Client],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, _ = api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, state.url)))
    video = {
        "uri": "s3://b/media/reel/u-1/video.mp4",
        "url": f"{state.url}/files/video.mp4",
        "size": len(VIDEO),
        "sha256": hashlib.sha256(VIDEO).hexdigest(),
    }
    state.watches = [
        [
            running(30),
            running(70),
            {"phase": "Succeeded", "step": "done", "progress": 100, "outputs": {"video": video}},
        ]
    ]
    (tmp_path / "reel.yaml").write_text(yaml.safe_dump(MANIFEST))
    code = main(["submit", str(tmp_path / "reel.yaml"), "--wait", "--download", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert (tmp_path / "out" / "reel" / "video.mp4").read_bytes() == VIDEO
    assert out.splitlines() == ["renderjob.reelkube.io/reel created", f"reel: video: {video['url']}"]
    assert err.splitlines() == [
        "reel  Pending",  # as created: the operator has not written a status yet
        "reel  Running  rendering  30%",
        "reel  Running  rendering  70%",
        "reel  Succeeded  100%",
        f"reel: video -> {tmp_path / 'out' / 'reel' / 'video.mp4'}",
    ]


@pytest.mark.parametrize(
    ("final", "code", "says"),
    [
        (
            {"phase": "Failed", "reason": "InputNotFound", "message": "bg.jpg: 404"},
            1,
            "InputNotFound: bg.jpg: 404",
        ),
        ({"phase": "Canceled", "reason": "CanceledByUser"}, 3, "CanceledByUser"),
    ],
)
def test_the_submit_command_exit_codes(
    api: tuple[ScriptedApi, Client],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    final: dict[str, Any],
    code: int,
    says: str,
) -> None:
    state, _ = api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, state.url)))
    state.watches = [[running(30), final]]
    (tmp_path / "reel.yaml").write_text(yaml.safe_dump(MANIFEST))
    assert main(["submit", str(tmp_path / "reel.yaml"), "--wait"]) == code
    out, _ = capsys.readouterr()
    assert out.splitlines()[-1].startswith(f"reel: {final['phase']}: ") and says in out


def test_the_submit_command_times_out_with_4(
    api: tuple[ScriptedApi, Client],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, _ = api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, state.url)))
    state.watches = [[running(30)]]
    (tmp_path / "reel.yaml").write_text(yaml.safe_dump(MANIFEST))
    assert main(["submit", str(tmp_path / "reel.yaml"), "--wait", "--timeout", "1s"]) == 4
    assert "reel: Timeout: reel did not finish within 1s" in capsys.readouterr().out


def test_the_live_line_in_a_pseudo_terminal(api: tuple[ScriptedApi, Client], tmp_path: Path) -> None:
    """On a terminal the line is drawn by rich and redrawn in place (ANSI erase-line), with a bar;
    the cluster tests read the same through tmux."""
    state, _ = api
    state.pause = 0.4  # rich redraws four times a second: each state gets drawn
    state.watches = [[running(30), running(70), {"phase": "Succeeded", "step": "done", "progress": 100}]]
    (tmp_path / "reel.yaml").write_text(yaml.safe_dump(MANIFEST))
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reelkube.cli", "submit", str(tmp_path / "reel.yaml"), "--wait"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={
            **os.environ,
            "KUBECONFIG": str(kubeconfig(tmp_path, state.url)),
            "COLUMNS": "120",
            "TERM": "xterm",
        },
    )
    os.close(terminal)
    screen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the program ended and closed its side
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    assert process.wait(timeout=30) == 0
    text = screen.decode("utf-8", "replace")
    assert "\x1b[2K" in text, text  # erase-line: the line is redrawn in place, not appended
    assert "━" in text and "rendering" in text and "30%" in text and "70%" in text, text
    assert "Succeeded" in text and "100%" in text, text


def test_get_describe_and_cancel_commands(
    api: tuple[ScriptedApi, Client],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, client = api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, state.url)))
    client.submit(MANIFEST)
    state.body["metadata"]["creationTimestamp"] = "2026-11-30T11:55:00Z"
    state.bump({"phase": "Queued", "queuePosition": 2})
    state.events = [
        {"type": "Normal", "reason": "Queued", "message": "waiting for a slot", "lastTimestamp": "t1"}
    ]
    assert main(["get"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["NAME", "KIND", "PHASE", "QUEUE", "STEP", "PROGRESS", "FRAMES", "ETA", "AGE"]
    assert table[1].split()[:4] == ["reel", "RenderJob", "Queued", "#2"]
    assert main(["get", "rj/reel", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"]["queuePosition"] == 2
    assert main(["describe", "reel"]) == 0
    page = capsys.readouterr().out
    assert "Progress:     Queued  queue #2" in page and "  t1  Normal  Queued  waiting for a slot" in page
    assert main(["get", "nothing"]) == 1
    assert "no RenderJob or TTSJob media/nothing" in capsys.readouterr().err
    assert main(["cancel", "reel", "--no-wait"]) == 0
    assert capsys.readouterr().out == "renderjob.reelkube.io/reel cancel requested\n"
    assert state.patches == [("application/merge-patch+json", {"spec": {"cancel": True}})]
