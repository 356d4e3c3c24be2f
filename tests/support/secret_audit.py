"""Secrets in what the cluster tests wrote: captured while they run, searched after the last one.

The issue's proof: "a search of every log line, Event and status written during the end-to-end run
finds no webhook secret, S3 secret key or token". Much of that is gone by the end of a run (each
module uninstalls its release, Jobs have TTLs, namespaces are deleted, Events expire), so it is
captured as the run goes:

- **The API's writes**: the test cluster's kube-apiserver keeps an audit log
  (tests/cluster/audit-policy.yaml, started by tests/cluster/up.sh) of every Event (core and
  events.k8s.io) and RenderJob/TTSJob write, status included, with request and response bodies,
  and of every Secret write: the Secrets tell the search which values are secret (the S3 keys,
  each module's webhook secret, the chart's generated storage keys).
- **Container logs**: :class:`PodLogKeeper` hard-links every file under the kubelet's pod log
  directory into a folder of its own, every half second, from the session's first cluster test
  on. A link keeps the file's content after the kubelet deletes the pod's folder, including what
  the container wrote after the link.
- **Host-side logs**: the cluster components' and the S3 server's logs (from their size at the
  start on), the ``*.log`` files in each cluster test's ``tmp_path`` (where the operator
  processes some modules run on the host write) and each cluster test's captured output.

:class:`SecretAuditPlugin` does the capturing; tests/support/cluster.py registers it, and moves the
search (tests/e2e/test_secret_audit_cluster.py, whose module sets
``RUNS_AFTER_EVERY_CLUSTER_TEST``) after every other test, when the search is collected.
:func:`find_leaks` is the search: every form of every known secret value, and any service-account
token (a JWT), in every captured text.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import json
import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

CLUSTER_DIR = Path(os.environ.get("REELKUBE_CLUSTER_DIR", "/tmp/reelkube-cluster"))
"""tests/cluster/lib.sh's CLUSTER_DIR: the audit log, the components' logs, kubelet.yaml."""
CACHE_DIR = Path(os.environ.get("REELKUBE_CACHE", Path.home() / ".cache" / "reelkube"))
AUDIT_DIR = CLUSTER_DIR / "audit"
DEFAULT_POD_LOGS = Path("/var/log/pods")
"""The kubelet's podLogsDir when kubelet.yaml does not set one."""

PLUGIN_NAME = "reelkube-secret-audit"
RUNS_LAST = "RUNS_AFTER_EVERY_CLUSTER_TEST"
"""A test module that sets this true runs after every other test (and is not itself captured)."""

JWT = re.compile(r"eyJhbGciOi[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
"""A JSON Web Token as service-account tokens are written: its header always starts
``{"alg":`` (base64url ``eyJhbGciOi``), then the payload and the signature."""

AUDITED_RESOURCES = {"events", "renderjobs", "ttsjobs"}
"""What the search reads in the audit log (Secrets are audited only to learn the values)."""
NOT_SECRET_KEYS = {"AWS_ACCESS_KEY_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"}
"""Secret keys whose values are identifiers, written in logs and presigned URLs on purpose."""
NOT_SECRET_TYPES = {"helm.sh/release.v1"}
"""Helm's record of a release: the chart and values, no credential of the tests."""
MIN_SECRET_LENGTH = 6
"""Shorter values ("1", "true") would match by chance."""


@dataclass(frozen=True)
class KnownSecret:
    """A value that must appear nowhere, and where the search learned it."""

    value: str
    source: str


@dataclass(frozen=True)
class Leak:
    """A secret found in a captured text; ``excerpt`` shows the context with the secret masked."""

    where: str
    what: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}: …{self.excerpt}…"


def search_forms(secret: KnownSecret) -> dict[str, str]:
    """The spellings of ``secret`` to look for, each with what it is: the value, its base64 (as a
    Secret's ``data`` holds it), and for a Standard Webhooks ``whsec_`` secret the raw key it
    encodes (what the operator signs with)."""
    forms = {secret.value: secret.source}
    forms[base64.b64encode(secret.value.encode()).decode()] = f"{secret.source} (base64)"
    if secret.value.startswith("whsec_"):
        try:
            raw = base64.b64decode(secret.value.removeprefix("whsec_"), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raw = ""
        if len(raw) >= MIN_SECRET_LENGTH and raw.isprintable():
            forms[raw] = f"{secret.source} (the key inside whsec_)"
    return forms


def find_leaks(texts: Iterable[tuple[str, str]], secrets: Iterable[KnownSecret]) -> list[Leak]:
    """Each known secret (in any of its forms, :func:`search_forms`) and each JWT found in
    ``texts``, pairs of (where, text): one leak per text and secret."""
    forms: dict[str, str] = {}
    for secret in secrets:
        forms.update(search_forms(secret))
    # Longest first, so a value is reported as itself rather than as a shorter one it contains.
    alternatives = [re.escape(form) for form in sorted(forms, key=len, reverse=True)]
    pattern = re.compile("|".join([JWT.pattern, *alternatives]))
    leaks = []
    for where, text in texts:
        reported = set()
        for match in pattern.finditer(text):
            found = match.group()
            what = forms.get(found, "a service-account token (JWT)")
            if what in reported:
                continue  # once per text and secret
            reported.add(what)
            before = text[max(0, match.start() - 60) : match.start()]
            after = text[match.end() : match.end() + 60]
            leaks.append(Leak(where, what, f"{before}<{len(found)} characters>{after}".replace("\n", " ")))
    return leaks


# --- the audit log -----------------------------------------------------------------------------


def audit_log_files(audit_dir: Path = AUDIT_DIR) -> list[Path]:
    """The audit log and the backups the apiserver rotated it into."""
    return sorted(audit_dir.glob("audit*.log")) if audit_dir.is_dir() else []


def read_audit_events(files: Iterable[Path], since: datetime) -> Iterator[dict[str, Any]]:
    """Every audit event received at or after ``since`` (the window of the run)."""
    for path in files:
        with path.open(errors="replace") as lines:
            for line in lines:
                try:
                    event = json.loads(line)
                    received = datetime.fromisoformat(event["requestReceivedTimestamp"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line the apiserver was writing as the search began
                if received >= since:
                    yield event


def strings_in(value: Any) -> Iterator[str]:
    """Every string (keys too) in a decoded JSON value: searched as written, not JSON-escaped."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def audited_texts(events: Iterable[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(where, text) for each audited write of an Event or a RenderJob/TTSJob (status
    included): the request's and the response's bodies."""
    for event in events:
        ref = event.get("objectRef") or {}
        if ref.get("resource") not in AUDITED_RESOURCES:
            continue
        request, response = event.get("requestObject"), event.get("responseObject")
        bodies = [request] if request == response else [request, response]
        resource = "/".join(filter(None, (ref.get("resource"), ref.get("subresource"))))
        where = (
            f"audit: {event.get('verb')} {resource} {ref.get('namespace', '')}/{ref.get('name', '')} "
            f"at {event.get('requestReceivedTimestamp')}"
        )
        yield where, "\n".join(strings_in(bodies))


def secrets_written(events: Iterable[dict[str, Any]]) -> list[KnownSecret]:
    """The values of every Secret written in the window (from the audited bodies), but for the
    keys that hold identifiers (:data:`NOT_SECRET_KEYS`) and Helm's release records."""
    found: dict[str, KnownSecret] = {}
    for event in events:
        ref = event.get("objectRef") or {}
        if ref.get("resource") != "secrets" or ref.get("subresource"):
            continue
        for body in (event.get("requestObject"), event.get("responseObject")):
            if not isinstance(body, dict) or body.get("kind") != "Secret":
                continue
            if body.get("type") in NOT_SECRET_TYPES:
                continue
            meta = body.get("metadata") or {}
            name = (
                f"{meta.get('namespace', ref.get('namespace', ''))}/{meta.get('name', ref.get('name', ''))}"
            )
            values = {key: _decoded(value) for key, value in (body.get("data") or {}).items()}
            values.update({key: str(value) for key, value in (body.get("stringData") or {}).items()})
            for key, value in values.items():
                if key in NOT_SECRET_KEYS or value is None or len(value) < MIN_SECRET_LENGTH:
                    continue
                found.setdefault(value, KnownSecret(value, f"Secret {name} key {key}"))
    return list(found.values())


def _decoded(data: Any) -> str | None:
    try:
        return base64.b64decode(str(data), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None  # binary: not text that a log line could hold as written


# --- container logs ----------------------------------------------------------------------------


def pod_log_dir(cluster_dir: Path = CLUSTER_DIR) -> Path:
    """The kubelet's pod log directory: kubelet.yaml's podLogsDir, else the default."""
    config = cluster_dir / "kubelet.yaml"
    if config.is_file():
        match = re.search(r"^podLogsDir:\s*(\S+)", config.read_text(), re.M)
        if match:
            return Path(match.group(1).strip("\"'"))
    return DEFAULT_POD_LOGS


class PodLogKeeper:
    """Hard-links every container log file the kubelet writes into ``kept`` (on the same file
    system), so that deleting the pod deletes only the kubelet's name for it.

    Each file is linked once per inode (``NAME.INODE``): a log the kubelet rotates gets a new
    inode under the old name and is linked again. A file that the kubelet creates and deletes
    between two scans is missed; :attr:`copied` counts files that had to be copied instead of
    linked (another file system), whose later lines are missed."""

    def __init__(self, pod_logs: Path, kept: Path, interval: float = 0.5) -> None:
        self.pod_logs = pod_logs
        self.kept = kept
        self.interval = interval
        self.linked = 0
        self.copied = 0
        self._seen: set[tuple[int, int]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Scan now, then every ``interval`` seconds in a daemon thread until :meth:`stop`."""
        self.kept.mkdir(parents=True, exist_ok=True)
        self.kept.chmod(0o700)
        self.scan()
        self._thread = threading.Thread(target=self._run, name="pod-log-keeper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.scan()

    def scan(self) -> None:
        """Link every log file not linked yet (files vanishing meanwhile are skipped)."""
        try:
            pods = list(os.scandir(self.pod_logs))
        except FileNotFoundError:
            return  # no kubelet has written a log yet
        for pod in pods:
            try:
                files = [(c.name, f) for c in os.scandir(pod.path) for f in os.scandir(c.path) if f.is_file()]
            except (FileNotFoundError, NotADirectoryError):
                continue
            for container, entry in files:
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue
                key = (stat.st_dev, stat.st_ino)
                if key in self._seen:
                    continue
                target = self.kept / pod.name / container / f"{entry.name}.{stat.st_ino}"
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(entry.path, target)
                    self.linked += 1
                except FileExistsError:
                    pass
                except FileNotFoundError:
                    continue
                except OSError:  # EXDEV: another file system; the content so far is better than none
                    try:
                        shutil.copyfile(entry.path, target)
                    except FileNotFoundError:
                        continue
                    self.copied += 1
                self._seen.add(key)

    def stop(self) -> None:
        """Stop scanning (the kept files stay until :meth:`remove`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def remove(self) -> None:
        shutil.rmtree(self.kept, ignore_errors=True)

    def files(self) -> list[Path]:
        return sorted(p for p in self.kept.rglob("*") if p.is_file())


def container_log_messages(path: Path, since: datetime) -> str:
    """The messages of a CRI container log file (``TIME STREAM P|F MESSAGE`` lines) logged at or
    after ``since``, one per line; partial lines (``P``) are joined to the line they begin."""
    opener = gzip.open if ".gz" in path.name else open
    messages: list[str] = []
    partial = ""
    with opener(path, "rt", errors="replace") as lines:
        for line in lines:
            stamp, _, rest = line.partition(" ")
            _stream, _, rest = rest.partition(" ")
            tag, _, message = rest.partition(" ")
            try:
                logged = datetime.fromisoformat(stamp)
            except ValueError:
                continue
            message = message.removesuffix("\n")
            if tag == "P":
                partial += message
                continue
            if logged >= since:
                messages.append(partial + message)
            partial = ""
    return "\n".join(messages)


def kept_log_label(kept: Path, path: Path) -> str:
    """``log NAMESPACE/POD/CONTAINER`` for a kept file (the kubelet names pod folders
    ``NAMESPACE_POD_UID``)."""
    pod_folder, container = path.relative_to(kept).parts[:2]
    namespace, _, rest = pod_folder.partition("_")
    pod = rest.rpartition("_")[0] or rest
    return f"log {namespace}/{pod}/{container}"


# --- host-side logs ----------------------------------------------------------------------------


def host_log_files(cluster_dir: Path = CLUSTER_DIR, cache_dir: Path = CACHE_DIR) -> list[Path]:
    """The cluster components' logs (apiserver, kubelet, ...) and the test S3 server's."""
    return [*sorted((cluster_dir / "logs").glob("*.log")), cache_dir / "s3" / "s3server.log"]


def read_from(path: Path, offset: int) -> str:
    """What ``path`` holds past ``offset`` (all of it if the file shrank: it was started anew)."""
    try:
        with path.open("rb") as handle:
            if handle.seek(0, os.SEEK_END) >= offset:
                handle.seek(offset)
            else:
                handle.seek(0)
            return handle.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


# --- the capture during a pytest session ---------------------------------------------------------


@dataclass
class Captured:
    """What the session wrote, ready for :func:`find_leaks`."""

    texts: list[tuple[str, str]]
    secrets: list[KnownSecret]
    audit_events: int
    """Audited writes of Events and RenderJobs/TTSJobs in the window."""
    event_writes: int
    status_writes: int
    pod_log_files: int
    started_pods: set[str] = field(default_factory=set)
    """namespace/pod of every pod the kubelet reported started (an audited ``Started`` Event)."""
    kept_pods: set[str] = field(default_factory=set)
    """namespace/pod of every pod whose log was kept."""


class RunCapture:
    """Everything the cluster writes from :meth:`start` on (see the module's docstring)."""

    def __init__(
        self,
        *,
        cluster_dir: Path = CLUSTER_DIR,
        cache_dir: Path = CACHE_DIR,
        kept: Path | None = None,
        interval: float = 0.5,
    ) -> None:
        self.cluster_dir = cluster_dir
        self.cache_dir = cache_dir
        self.pod_logs = pod_log_dir(cluster_dir)
        # A sibling of the pod log folder: a hard link needs the same file system.
        self.kept_root = self.pod_logs.parent / "reelkube-kept-pod-logs"
        self.keeper = PodLogKeeper(self.pod_logs, kept or self.kept_root / f"{os.getpid()}", interval)
        self.started: datetime | None = None
        self.host_offsets: dict[Path, int] = {}
        self.test_outputs: list[tuple[str, str]] = []
        self.test_folders: list[Path] = []
        """The cluster tests' ``tmp_path`` folders, whose ``*.log`` files are searched."""

    def start(self) -> None:
        """Begin the window: note the host logs' sizes and start keeping container logs."""
        self.started = datetime.now(UTC)
        self.host_offsets = {
            path: path.stat().st_size if path.exists() else 0
            for path in host_log_files(self.cluster_dir, self.cache_dir)
        }
        self._remove_abandoned_folders()
        self.keeper.start()

    def _remove_abandoned_folders(self) -> None:
        """Kept folders of sessions that ended without cleaning up (killed): named by their PID."""
        if not self.kept_root.is_dir():
            return
        for folder in self.kept_root.iterdir():
            if folder == self.keeper.kept or not folder.name.isdigit():
                continue
            try:
                os.kill(int(folder.name), 0)
            except ProcessLookupError:
                shutil.rmtree(folder, ignore_errors=True)
            except PermissionError:
                pass

    def stop(self) -> None:
        self.keeper.stop()
        self.keeper.remove()
        with contextlib.suppress(OSError):
            self.kept_root.rmdir()  # only when no other session keeps logs there

    def collect(self) -> Captured:
        """Everything captured since :meth:`start`: a last scan of the pod logs, then the audit
        log's window, the kept container logs, the host logs past their starting sizes, the
        ``*.log`` files in the cluster tests' ``tmp_path`` and the tests' captured output."""
        assert self.started is not None, "the capture was not started"
        since = self.started
        self.keeper.scan()
        events = list(read_audit_events(audit_log_files(self.cluster_dir / "audit"), since))
        texts = list(audited_texts(events))
        kinds = [(e.get("objectRef") or {}).get("resource") for e in events]
        subresources = [(e.get("objectRef") or {}).get("subresource") for e in events]
        kept_files = self.keeper.files()
        kept_pods = set()
        for path in kept_files:
            label = kept_log_label(self.keeper.kept, path)
            kept_pods.add(label.removeprefix("log ").rsplit("/", 1)[0])
            texts.append((label, container_log_messages(path, since)))
        for path, offset in self.host_offsets.items():
            texts.append((f"host log {path}", read_from(path, offset)))
        for folder in self.test_folders:
            for path in sorted(folder.rglob("*.log")):
                if path.is_file():
                    texts.append((f"test log {path}", path.read_text(errors="replace")))
        texts.extend(self.test_outputs)
        return Captured(
            texts=texts,
            secrets=secrets_written(events),
            audit_events=sum(1 for kind in kinds if kind in AUDITED_RESOURCES),
            event_writes=kinds.count("events"),
            status_writes=sum(1 for k, s in zip(kinds, subresources, strict=True) if s == "status"),
            pod_log_files=len(kept_files),
            started_pods=pods_started(events),
            kept_pods=kept_pods,
        )


def pods_started(events: Iterable[dict[str, Any]]) -> set[str]:
    """namespace/name of the pods with an audited kubelet ``Started`` Event (core or
    events.k8s.io): pods that ran a container on the real node, so wrote a log."""
    pods = set()
    for event in events:
        if (event.get("objectRef") or {}).get("resource") != "events":
            continue
        body = event.get("responseObject") or event.get("requestObject") or {}
        if not isinstance(body, dict) or body.get("reason") != "Started":
            continue
        subject = body.get("involvedObject") or body.get("regarding") or {}
        if subject.get("kind") == "Pod":
            pods.add(f"{subject.get('namespace')}/{subject.get('name')}")
    return pods


class SecretAuditPlugin:
    """The pytest side of the capture: starts it at the session's first cluster test (other than
    the search itself), keeps each cluster test's captured output, and cleans up at the end."""

    def __init__(self, capture: RunCapture | None = None) -> None:
        self.capture = capture or RunCapture()
        self.cluster_tests = 0
        """Cluster tests set up in this session before the search (the search's own excluded)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if item.get_closest_marker("cluster") is None or runs_last(item):
            return
        if self.capture.started is None:
            self.capture.start()
        self.cluster_tests += 1

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
        if self.capture.started is not None and item.get_closest_marker("cluster") and tmp_path:
            self.capture.test_folders.append(Path(tmp_path))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.capture.started is None or "cluster" not in report.keywords:
            return
        for name, content in report.sections:
            self.test_output(f"{report.nodeid} {report.when}: {name}", content)

    def test_output(self, where: str, content: str) -> None:
        self.capture.test_outputs.append((where, content))

    def pytest_sessionfinish(self) -> None:
        if self.capture.started is not None:
            self.capture.stop()


def runs_last(item: pytest.Item) -> bool:
    """The item's module asks to run after every other test (:data:`RUNS_LAST`)."""
    return bool(getattr(getattr(item, "module", None), RUNS_LAST, False))


def order_secret_audit_last(config: pytest.Config, items: list[pytest.Item], *, capture: bool) -> None:
    """Move the items of :data:`RUNS_LAST` modules after every other item (pytest-xdist keeps
    this order inside the cluster group), and, with ``capture``, register the plugin that
    captures what the tests before them write. Nothing happens when none was collected."""
    last = [item for item in items if runs_last(item)]
    if not last:
        return
    others = [item for item in items if not runs_last(item)]
    items[:] = others + last
    if capture and not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(SecretAuditPlugin(), PLUGIN_NAME)


def audit_plugin(config: pytest.Config) -> SecretAuditPlugin | None:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    return plugin if isinstance(plugin, SecretAuditPlugin) else None
