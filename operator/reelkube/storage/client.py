"""S3 client construction: endpoint, region, addressing style, retries, timeouts, credentials.

Credentials come from the environment only, never from a spec, and are never logged:

1. ``REELKUBE_S3_CREDENTIALS_DIR``: a directory (a mounted Secret) holding the files
   ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` (and optionally ``AWS_SESSION_TOKEN``);
2. else the variables ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (/ ``AWS_SESSION_TOKEN``);
3. else boto3's own chain (web identity / IRSA, instance roles, ``~/.aws``).

The endpoint is the spec's ``endpointUrl``; without one (or without a spec, as for
``s3://`` inputs) it is ``REELKUBE_S3_ENDPOINT_URL``, then ``AWS_ENDPOINT_URL``, then AWS S3.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from reelkube.api.common import StorageSpec
from reelkube.errors import StorageDenied, StorageFailed

CREDENTIALS_DIR_ENV = "REELKUBE_S3_CREDENTIALS_DIR"
ENDPOINT_ENVS = ("REELKUBE_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
DEFAULT_REGION = "us-east-1"
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_MAX_ATTEMPTS = 5
MAX_ATTEMPTS_ENV = "REELKUBE_S3_MAX_ATTEMPTS"


@dataclass(frozen=True)
class S3Credentials:
    """An access key pair; the secret parts are left out of ``repr`` so they never reach a log."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    source: str = "environment"


def _read_secret_file(directory: Path, name: str, *, required: bool) -> str | None:
    path = directory / name
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if required:
            raise StorageDenied(f"credentials directory {directory} has no file {name}") from None
        return None
    except OSError as exc:
        raise StorageFailed(f"cannot read {path}: {exc.strerror}") from None
    if required and not value:
        raise StorageDenied(f"credentials file {path} is empty")
    return value or None


def credentials_from_environment(env: Mapping[str, str] | None = None) -> S3Credentials | None:
    """The credentials the environment provides (see the module docstring), or None to let
    boto3's default chain decide. StorageFailed when the credentials directory is set but broken."""
    env = os.environ if env is None else env
    directory = env.get(CREDENTIALS_DIR_ENV)
    if directory:
        root = Path(directory)
        access = _read_secret_file(root, "AWS_ACCESS_KEY_ID", required=True)
        secret = _read_secret_file(root, "AWS_SECRET_ACCESS_KEY", required=True)
        token = _read_secret_file(root, "AWS_SESSION_TOKEN", required=False)
        assert access is not None and secret is not None  # required=True never returns None
        return S3Credentials(access, secret, token, source=f"files in {root}")
    access = env.get("AWS_ACCESS_KEY_ID")
    secret = env.get("AWS_SECRET_ACCESS_KEY")
    if access and secret:
        return S3Credentials(access, secret, env.get("AWS_SESSION_TOKEN") or None)
    return None


def resolve_endpoint(storage: StorageSpec | None, env: Mapping[str, str] | None = None) -> str | None:
    """The endpoint URL to talk to: the spec's, else the environment's, else None (AWS S3)."""
    if storage is not None and storage.endpointUrl:
        return storage.endpointUrl
    env = os.environ if env is None else env
    return next((env[name] for name in ENDPOINT_ENVS if env.get(name)), None)


def resolve_region(storage: StorageSpec | None, env: Mapping[str, str] | None = None) -> str:
    """The signing region: the spec's, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else us-east-1."""
    if storage is not None:
        return storage.region
    env = os.environ if env is None else env
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def make_s3_client(
    storage: StorageSpec | None,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    max_attempts: int | None = None,
) -> Any:
    """A boto3 S3 client for ``storage`` (or, with None, for inputs named by ``s3://`` URIs).

    Path-style addressing follows ``storage.pathStyle``; without a spec it is used whenever a
    custom endpoint is set (MinIO and most S3-compatible stores need it). Retries use botocore's
    "standard" mode (exponential backoff on throttling, 5xx and connection errors), at most
    ``max_attempts`` tries per request (default: ``REELKUBE_S3_MAX_ATTEMPTS``, else 5)."""
    if max_attempts is None:
        max_attempts = int(os.environ.get(MAX_ATTEMPTS_ENV) or DEFAULT_MAX_ATTEMPTS)
    endpoint = resolve_endpoint(storage)
    path_style = storage.pathStyle if storage is not None else endpoint is not None
    config = Config(
        signature_version="s3v4",
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        s3={"addressing_style": "path" if path_style else "auto"},
    )
    credentials = credentials_from_environment()
    keys: dict[str, str | None] = {}
    if credentials is not None:
        keys = {
            "aws_access_key_id": credentials.access_key_id,
            "aws_secret_access_key": credentials.secret_access_key,
            "aws_session_token": credentials.session_token,
        }
    # A private session: boto3's default session is shared module state that another
    # caller may have configured differently.
    # Its botocore session shares one loader, so the service model (JSON of several MB) is read
    # once per process instead of once per client.
    core = botocore.session.Session()
    core.register_component("data_loader", _shared_loader())
    session = boto3.session.Session(region_name=resolve_region(storage), botocore_session=core, **keys)
    return session.client("s3", endpoint_url=endpoint, config=config)


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()
