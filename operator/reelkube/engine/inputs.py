"""Fetching a timeline's inputs: local paths, http(s) URLs and s3:// objects, each checked
against the input policy and the size limit of its kind, then probed once. Identical sources are
fetched once. ffmpeg only ever sees the local files made here."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlparse

from reelkube.api.common import InputLimits, StorageSpec
from reelkube.api.status import Step
from reelkube.api.timeline import AudioClip, ImageClip, SubtitlesClip, Timeline, VideoClip
from reelkube.downloads import write_bounded
from reelkube.engine.probe import REFERENCE_FORMATS, ResolvedInput, probe_media
from reelkube.errors import (
    InputError,
    InputForbidden,
    InputNotFound,
    InputRejected,
    InputTimeout,
    InputTooLarge,
    InputUnreadable,
)
from reelkube.input_policy import InputPolicy
from reelkube.progress_events import ProgressCallback, ProgressEvent, ignore_progress
from reelkube.storage.tenancy import read_scope_from_env

log = logging.getLogger(__name__)

_TRANSIENT_CLIENT_ERRORS = frozenset({408, 425, 429})
"""Client errors that say "later" (timeout, too early, too many requests): retried like a 5xx."""

_REDIRECTS = (301, 302, 303, 307, 308)

FETCH_WORKERS = 4
"""Inputs fetched and probed at the same time."""


def timeline_sources(timeline: Timeline) -> dict[str, str]:
    """Every distinct `src` of the timeline with its kind (video, image, audio, subtitles)."""
    sources: dict[str, str] = {}
    for track in timeline.tracks:
        for clip in track.clips:
            if isinstance(clip, VideoClip):
                sources.setdefault(clip.src, "video")
            elif isinstance(clip, ImageClip):
                sources.setdefault(clip.src, "image")
            elif isinstance(clip, AudioClip):
                sources.setdefault(clip.src, "audio")
            elif isinstance(clip, SubtitlesClip) and clip.src:
                sources.setdefault(clip.src, "subtitles")
    return sources


def size_limit(kind: str, limits: InputLimits) -> int:
    """Largest accepted size for an input kind (subtitle files share the image limit)."""
    if kind == "video":
        return limits.maxVideoBytes
    if kind == "audio":
        return limits.maxAudioBytes
    return limits.maxImageBytes


def fetch_inputs(
    timeline: Timeline,
    workdir: Path,
    limits: InputLimits,
    *,
    base_dir: Path,
    storage: StorageSpec | None = None,
    on_progress: ProgressCallback = ignore_progress,
    policy: InputPolicy | None = None,
) -> dict[str, ResolvedInput]:
    """Fetch and probe every input of `timeline`; returns src -> ResolvedInput.

    Local paths are relative to `base_dir` (to the policy's asset folder when it has one) and
    used in place; URLs are downloaded into `workdir/inputs/`. `policy` defaults to the local
    one. Raises InputForbidden, InputNotFound, InputTooLarge, InputTimeout, InputUnreadable
    (with ffprobe's message) or InputError.
    """
    sources = timeline_sources(timeline)
    if not sources:
        return {}
    on_progress(ProgressEvent(step=Step.DOWNLOADING, percent=0.0))

    def fetch(item: tuple[str, str]) -> ResolvedInput:
        src, kind = item
        return fetch_one(src, kind, workdir, limits, base_dir=base_dir, storage=storage, policy=policy)

    # Inputs are fetched and probed side by side: each ffprobe costs tens of milliseconds of
    # start-up and each download waits on the network, neither on this process's CPU.
    pool = ThreadPoolExecutor(max_workers=min(FETCH_WORKERS, len(sources)), thread_name_prefix="fetch")
    futures = {pool.submit(fetch, item): item[0] for item in sources.items()}
    try:
        for done, future in enumerate(as_completed(futures), start=1):
            if future.exception() is not None:
                break
            percent = 100 * done / len(sources)
            on_progress(ProgressEvent(step=Step.DOWNLOADING, percent=percent, message=futures[future]))
        # The first failure in the timeline's order is the one reported, whichever ended first.
        return {src: future.result() for future, src in futures.items()}
    finally:
        # On a failure or a cancel, inputs not yet started are dropped rather than fetched.
        pool.shutdown(wait=False, cancel_futures=True)


def fetch_one(
    src: str,
    kind: str,
    workdir: Path,
    limits: InputLimits,
    *,
    base_dir: Path,
    storage: StorageSpec | None,
    policy: InputPolicy | None = None,
    field: str | None = None,
) -> ResolvedInput:
    """Fetch one input of a kind and probe it (subtitle files are not probed).

    `field` names the input in refusals (default: "<kind> input"); `policy` defaults to the
    local one.
    """
    policy = policy or InputPolicy.local()
    field = field or f"{kind} input"
    max_bytes = size_limit(kind, limits)
    scheme = policy.check_scheme(src, field)
    started = time.monotonic()
    if scheme in ("http", "https"):
        path = download_http(
            src,
            _download_path(src, workdir),
            max_bytes=max_bytes,
            timeout=limits.timeoutSeconds,
            policy=policy,
            field=field,
        )
    elif scheme == "s3":
        if not policy.allows_local_files:
            # In the cluster: only the chart's listed prefixes and this namespace's own area.
            read_scope_from_env(os.environ, storage).check(src, field)
        path = _download_s3(src, _download_path(src, workdir), max_bytes, limits.timeoutSeconds, storage)
    else:
        path = _local_path(src, base_dir, max_bytes, policy, field, workdir)
    size = path.stat().st_size
    try:
        info = None if kind == "subtitles" else probe_media(path, max_pixels=limits.maxPixels)
    except InputForbidden as exc:
        raise InputForbidden(f"{field}: {src} is refused: {exc.message}") from exc
    except InputTooLarge as exc:
        raise InputTooLarge(f"{field}: {src} is refused: {exc.message}") from exc
    if info is not None and REFERENCE_FORMATS.intersection((info.format_name or "").split(",")):
        # A playlist or concat list names other files or URLs that were never checked.
        raise InputForbidden(
            f"{field}: {src} is a {info.format_name} playlist or list, not media; "
            "inputs that name other files or URLs are refused"
        )
    if info is not None:
        if kind in ("video", "image") and not info.has_picture:
            raise InputUnreadable(f"{src} has no picture (no video stream ffmpeg can read)")
        if kind == "audio" and not info.has_audio:
            raise InputUnreadable(f"{src} has no audio stream")
    log.info(
        "event=input_ready src=%s kind=%s bytes=%d seconds=%.2f", src, kind, size, time.monotonic() - started
    )
    return ResolvedInput(src=src, path=path, kind=kind, size=size, info=info, max_pixels=limits.maxPixels)


def _local_path(
    src: str, base_dir: Path, max_bytes: int, policy: InputPolicy, field: str, workdir: Path
) -> Path:
    # Files under the workdir were made or fetched (and checked) by this render itself.
    path = policy.local_path(src, base_dir, field, made_here=workdir)
    if not path.is_file():
        raise InputNotFound(f"input file not found: {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputTooLarge(f"{src} is {size} bytes, over the limit of {max_bytes}")
    return path


def _download_path(src: str, workdir: Path) -> Path:
    """A stable name in the workdir that keeps the URL's extension (ffmpeg and pysubs2 use it)."""
    suffix = PurePosixPath(urlparse(src).path).suffix[:10]
    if not suffix.replace(".", "").isalnum():
        suffix = ""
    digest = hashlib.sha256(src.encode()).hexdigest()[:16]
    return workdir / "inputs" / f"{digest}{suffix}"


def download_http(
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    timeout: float,
    policy: InputPolicy | None = None,
    field: str = "input",
) -> Path:
    """Stream `url` to `dest`, refusing more than `max_bytes` and more than `timeout` seconds
    in all (a slow trickle times out too). `dest` appears only when complete.

    Every hop (the URL and each redirect, at most `policy.max_redirects`) is checked against
    `policy` (default: the local one) and connected to the address that was checked.
    """
    # httpx loads with the first URL: a render of local files needs none (about 0.1 s).
    import httpx

    policy = policy or InputPolicy.local()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    deadline = time.monotonic() + timeout
    try:
        _download_hops(url, part, policy, field, max_bytes=max_bytes, deadline=deadline, timeout=timeout)
    except httpx.TimeoutException as exc:
        part.unlink(missing_ok=True)
        raise InputTimeout(f"{url} took longer than {timeout:g}s ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        part.unlink(missing_ok=True)
        raise InputError(f"cannot download {url}: {exc}") from exc
    except InputError:
        part.unlink(missing_ok=True)
        raise
    part.replace(dest)
    return dest


def _download_hops(
    url: str, part: Path, policy: InputPolicy, field: str, *, max_bytes: int, deadline: float, timeout: float
) -> None:
    import httpx

    from reelkube.input_policy.pinned import PinnedTransport

    hop = url
    for redirects in range(policy.max_redirects + 1):
        host, address = policy.check_url(hop, field)
        with (
            httpx.Client(
                transport=PinnedTransport(host, address), timeout=httpx.Timeout(timeout), trust_env=False
            ) as client,
            client.stream("GET", hop) as response,
        ):
            if response.status_code in _REDIRECTS and "location" in response.headers:
                hop = urljoin(hop, response.headers["location"])
                if urlparse(hop).scheme.lower() not in ("http", "https"):
                    raise InputForbidden(f"{field}: {url} redirects to a {urlparse(hop).scheme}: URL")
                log.debug("event=input_redirect src=%s hop=%d", url, redirects + 1)
                continue
            if response.status_code in (404, 410):
                raise InputNotFound(f"{url} answered HTTP {response.status_code}")
            if 400 <= response.status_code < 500 and response.status_code not in _TRANSIENT_CLIENT_ERRORS:
                raise InputRejected(f"{url} answered HTTP {response.status_code}")
            if response.status_code >= 400:
                raise InputError(f"{url} answered HTTP {response.status_code}")
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise InputTooLarge(f"{url} is {declared} bytes, over the limit of {max_bytes}")
            chunks = response.iter_bytes()
            write_bounded(chunks, part, source=url, max_bytes=max_bytes, deadline=deadline, timeout=timeout)
            return
    raise InputForbidden(f"{field}: {url} redirects more than {policy.max_redirects} times")


def _download_s3(src: str, dest: Path, max_bytes: int, timeout: float, storage: StorageSpec | None) -> Path:
    try:
        from reelkube.storage.s3 import download_object
    except ImportError as exc:
        raise InputError(f"cannot fetch {src}: S3 support (reelkube.storage.s3) is not available") from exc
    dest.parent.mkdir(parents=True, exist_ok=True)
    return download_object(src, dest, max_bytes=max_bytes, timeout=timeout, storage=storage)
