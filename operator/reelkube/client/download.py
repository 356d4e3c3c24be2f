"""Fetching a resource's outputs from their presigned URLs, checked against the status.

Each file is streamed to a temporary name beside its destination while its size and SHA-256 are
computed, and only renamed into place when both match what the render pod wrote into
``status.outputs``: a truncated or altered download never looks like a finished one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import httpx

from reelkube.api.status import OutputArtifact
from reelkube.client.errors import ClientError, OutputMismatch

CHUNK_BYTES = 1024 * 1024


def output_filename(name: str, artifact: OutputArtifact) -> str:
    """The file name an output is saved under: the last segment of its URI (``video.mp4``),
    else the output's name."""
    path = urlsplit(artifact.uri).path if "://" in artifact.uri else artifact.uri
    return PurePosixPath(path).name or name


def connect_via(url: str, via: str | None) -> tuple[str, dict[str, str]]:
    """The URL to request and the headers to add: ``url`` itself, or (with ``via``, the base URL
    of a local forward) the same path and query on ``via`` with the original ``Host`` header, so
    that a presigned signature, which covers the host, still verifies."""
    if via is None:
        return url, {}
    parts = urlsplit(url)
    target = via.rstrip("/") + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return target, {"Host": parts.netloc}


def download_artifact(
    name: str,
    artifact: OutputArtifact,
    destination: Path,
    *,
    http: httpx.Client | None = None,
    via: str | None = None,
) -> Path:
    """Download one output to ``destination``; OutputMismatch when size or SHA-256 differ.

    ``via``: connect there instead of the URL's host (a forward through the API server, see
    :mod:`reelkube.client.port_forward`), sending the URL's own ``Host``.
    """
    if not artifact.url:
        raise ClientError(f"output {name} has no URL to download ({artifact.uri})")
    url, headers = connect_via(artifact.url, via)
    partial = destination.with_name(destination.name + ".part")
    digest = hashlib.sha256()
    size = 0
    owned = http is None
    session = http or httpx.Client(timeout=60, follow_redirects=True)
    try:
        with session.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise ClientError(f"output {name}: GET returned HTTP {response.status_code}")
            with partial.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        if artifact.size is not None and size != artifact.size:
            raise OutputMismatch(name, "size", artifact.size, size)
        if artifact.sha256 is not None and digest.hexdigest() != artifact.sha256.lower():
            raise OutputMismatch(name, "sha256", artifact.sha256, digest.hexdigest())
        partial.replace(destination)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        host = urlsplit(artifact.url).netloc + (f" (through {via})" if via else "")
        raise ClientError(f"output {name}: GET {host} failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if owned:
            session.close()
    return destination


Reach = Callable[[str], AbstractContextManager[str | None]]
"""For a URL, a context giving the base URL to connect through (None: directly)."""


def download_outputs(
    outputs: Mapping[str, OutputArtifact],
    directory: Path,
    *,
    http: httpx.Client | None = None,
    reach: Reach | None = None,
) -> dict[str, Path]:
    """Download every output that has a URL into ``directory`` (created); their paths by name.

    ``reach`` chooses the route of each URL (the Client's sends cluster-internal hosts through
    the API server); without it every URL is fetched directly.
    """
    directory.mkdir(parents=True, exist_ok=True)
    saved: dict[str, Path] = {}
    for name, artifact in outputs.items():
        if not artifact.url:
            continue
        destination = directory / output_filename(name, artifact)
        with reach(artifact.url) if reach is not None else nullcontext() as via:
            saved[name] = download_artifact(name, artifact, destination, http=http, via=via)
    return saved
