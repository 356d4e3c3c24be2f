"""Uploading the local files a manifest names, so that a render pod can read them.

In the cluster a relative path resolves only inside the renderer image's asset folder. Before
`submit` creates a resource, every input field whose value is a relative path to a file beside
the manifest (and not one the image already holds, :mod:`reelkube.client.image_assets`) is
uploaded to the resource's storage and rewritten to its ``s3://`` URI.

Uploads are content-addressed, under the namespace's own area of the storage (which the render
pod may read, :class:`reelkube.storage.tenancy.S3ReadScope`)::

    <prefix>/<namespace>/uploads/sha256/<hex>/<file name>

A HEAD comes first, so a file already there (a second submit, another manifest with the same
music) is not sent again. A library index (``library.indexUrl``) is uploaded with its own
relative ``src`` entries uploaded and rewritten, since they are read relative to the index.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from reelkube.api.common import StorageSpec
from reelkube.client.errors import ClientError
from reelkube.client.image_assets import file_sha256, in_image_asset_folder
from reelkube.storage.keys import check_key, check_segment, normalize_prefix, s3_uri

if TYPE_CHECKING:
    from reelkube.client.cluster import Client
    from reelkube.storage.client import S3Credentials

UPLOADS_FOLDER = "uploads/sha256"
INPUT_KEYS = frozenset({"src", "url", "images", "productImage", "script"})
"""Spec fields that name an input besides every ``...Url`` field (``backgroundUrl``,
``musicUrl``, ``library.indexUrl``, ...): clip and asset ``src``, a scene visual's ``url``, a
slideshow's ``images``, a static ad's ``productImage``, a TTSJob's ``script``."""
INDEX_KEY = "indexUrl"


@dataclass(frozen=True)
class LocalInput:
    """One input field naming a file beside the manifest."""

    field: str
    """Where it is, e.g. ``spec.props.backgroundUrl`` or ``spec.props.images[2]``."""
    written: str
    """The value as the manifest writes it."""
    path: Path


@dataclass
class UploadReport:
    """What uploading a manifest's local files did."""

    rewritten: dict[str, str] = field(default_factory=dict)
    """Field -> the ``s3://`` URI it now names."""
    uploaded: list[str] = field(default_factory=list)
    """Keys sent now."""
    present: list[str] = field(default_factory=list)
    """Keys that were there already (same content), so nothing was sent."""
    in_image: list[str] = field(default_factory=list)
    """Fields left as written: the image's asset folder holds the same file."""
    storage: str = ""
    """``s3://bucket/area/`` the uploads went to, and where the client learned it."""


def is_local_reference(value: object) -> bool:
    """A relative path (no scheme, not absolute, one line): what may name a file beside the
    manifest."""
    return (
        isinstance(value, str)
        and bool(value)
        and value == value.strip()
        and "://" not in value
        and not value.startswith(("/", "~", "file:"))
        and "\n" not in value
        and len(value) <= 4096
    )


def is_input_key(key: str) -> bool:
    """Whether a spec field of this name holds an input location."""
    return key in INPUT_KEYS or (key.endswith("Url") and key != "endpointUrl")


def local_inputs(spec: Any, base_dir: Path, at: str = "spec") -> list[LocalInput]:
    """Every input field of ``spec`` whose value is a relative path to an existing file under
    ``base_dir`` (others are left for the pod: an asset folder path, or a mistake it reports)."""
    found: list[LocalInput] = []

    def consider(where: str, value: object) -> None:
        if is_local_reference(value):
            assert isinstance(value, str)
            path = base_dir / value
            if path.is_file():
                found.append(LocalInput(where, value, path))

    def walk(node: Any, where: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                child = f"{where}.{key}"
                if is_input_key(str(key)) and isinstance(value, list):
                    for index, item in enumerate(value):
                        consider(f"{child}[{index}]", item)
                elif is_input_key(str(key)) and isinstance(value, str):
                    consider(child, value)
                else:
                    walk(value, child)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}[{index}]")

    walk(spec, at)
    return found


def upload_area(storage: StorageSpec, namespace: str) -> str:
    """``<prefix>/<namespace>``: the namespace's own area, which its render pods may read."""
    base = normalize_prefix(storage.prefix)
    check_segment(namespace, "namespace")
    return f"{base}/{namespace}" if base else namespace


class ContentStore:
    """Content-addressed objects in one area of a bucket (``<area>/uploads/sha256/<hex>/<name>``)."""

    def __init__(self, s3: Any, bucket: str, area: str, report: UploadReport) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.area = area
        self.report = report

    def key_for(self, sha256: str, filename: str) -> str:
        """The object key of content with this digest, saved under ``filename``."""
        return check_key(f"{self.area}/{UPLOADS_FOLDER}/{sha256}/{check_segment(filename, 'file name')}")

    def put_file(self, path: Path, sha256: str | None = None) -> str:
        """Upload ``path`` unless its content is there already; its ``s3://`` URI."""
        key = self.key_for(sha256 or file_sha256(path), path.name)
        if not self._present(key):
            self.s3.upload_file(str(path), self.bucket, key)
            self.report.uploaded.append(key)
        return s3_uri(self.bucket, key)

    def put_bytes(self, data: bytes, filename: str) -> str:
        """Upload ``data`` as ``filename`` unless that content is there already; its URI."""
        import hashlib

        key = self.key_for(hashlib.sha256(data).hexdigest(), filename)
        if not self._present(key):
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
            self.report.uploaded.append(key)
        return s3_uri(self.bucket, key)

    def _present(self, key: str) -> bool:
        from botocore.exceptions import ClientError as BotoError

        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except BotoError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        self.report.present.append(key)
        return True


def rewrite_local_inputs(
    body: dict[str, Any], base_dir: Path, open_store: Callable[[UploadReport], ContentStore]
) -> UploadReport:
    """Upload what ``body``'s spec names beside ``base_dir`` and rewrite those fields to
    ``s3://`` in place. ``open_store`` is called once, and only if something must be uploaded."""
    report = UploadReport()
    pending: list[tuple[LocalInput, str]] = []
    for local in local_inputs(body.get("spec") or {}, base_dir):
        digest = file_sha256(local.path)
        if in_image_asset_folder(local.written, digest):
            report.in_image.append(local.field)
        else:
            pending.append((local, digest))
    if not pending:
        return report
    store = open_store(report)
    for local, digest in pending:
        if local.field.endswith(f".{INDEX_KEY}"):
            uri = upload_index(local, store)
        else:
            uri = store.put_file(local.path, digest)
        _assign(body, local.field, uri)
        report.rewritten[local.field] = uri
    return report


def upload_index(local: LocalInput, store: ContentStore) -> str:
    """Upload a library index with each relative ``src`` uploaded and rewritten to ``s3://``
    (the pod reads them relative to the index, which no longer sits beside them)."""
    try:
        data = yaml.safe_load(local.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ClientError(f"{local.field}: cannot read {local.written}: {exc}") from None
    items = data.get("assets") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return store.put_file(local.path)  # not an index the pod accepts: it says so itself
    for item in items:
        src = item.get("src") if isinstance(item, dict) else None
        if not is_local_reference(src):
            continue
        assert isinstance(src, str)
        path = local.path.parent / src
        if not path.is_file():
            raise ClientError(f"{local.field}: {local.written} names {src!r}, which is not a file beside it")
        item["src"] = store.put_file(path)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return store.put_bytes(text.encode("utf-8"), local.path.name)


def _assign(body: dict[str, Any], where: str, value: str) -> None:
    """Set the field at a path like ``spec.props.images[2]``."""
    node: Any = body
    steps = list(_steps(where))
    for step in steps[:-1]:
        node = node[step]
    node[steps[-1]] = value


def _steps(where: str) -> Iterator[str | int]:
    for part in where.split("."):
        name, _, rest = part.partition("[")
        if name:
            yield name
        for index in rest.rstrip("]").split("][") if rest else ():
            yield int(index)


# -- the cluster side: which storage, whose credentials, which route ----------------------------


def secret_credentials(client: Client, namespace: str, secret: str) -> S3Credentials | None:
    """The access keys in the Secret ``secret`` of ``namespace`` (the ones the render pod gets);
    None when the user may not read it or it holds none."""
    from kubernetes.client.exceptions import ApiException

    from reelkube.storage.client import S3Credentials

    try:
        response = client.core.read_namespaced_secret(secret, namespace, _preload_content=False)
    except ApiException as exc:
        if exc.status in (403, 404):
            return None
        raise
    data = json.loads(response.data).get("data") or {}

    def value(name: str) -> str | None:
        if name not in data:
            return None
        try:
            return base64.b64decode(data[name]).decode().strip() or None
        except (binascii.Error, UnicodeDecodeError):
            return None

    access, secret_key = value("AWS_ACCESS_KEY_ID"), value("AWS_SECRET_ACCESS_KEY")
    if not (access and secret_key):
        return None
    token = value("AWS_SESSION_TOKEN")
    return S3Credentials(access, secret_key, token, source=f"Secret {namespace}/{secret}")


def s3_client(storage: StorageSpec, credentials: S3Credentials | None, endpoint: str | None) -> Any:
    """A boto3 client for ``storage`` at ``endpoint`` (a forward's local URL, or the storage's
    own); path-style through a forward, since the forward's address names no bucket."""
    import boto3
    from botocore.config import Config

    keys: dict[str, str | None] = {}
    if credentials is not None:
        keys = {
            "aws_access_key_id": credentials.access_key_id,
            "aws_secret_access_key": credentials.secret_access_key,
            "aws_session_token": credentials.session_token,
        }
    path_style = storage.pathStyle or endpoint != storage.endpointUrl
    config = Config(
        signature_version="s3v4",
        connect_timeout=10,
        read_timeout=60,
        retries={"mode": "standard", "total_max_attempts": 3},
        s3={"addressing_style": "path" if path_style else "auto"},
    )
    session = boto3.session.Session(region_name=storage.region, **keys)
    return session.client("s3", endpoint_url=endpoint, config=config)


def upload_local_inputs(
    client: Client, body: dict[str, Any], base_dir: Path, environ: Mapping[str, str] | None = None
) -> UploadReport:
    """Upload the local files ``body`` names (see the module docstring) to its storage: its
    ``spec.storage``, else the operator's default (:mod:`reelkube.client.default_storage`).

    Credentials: the Secret the render pod would get (``spec.storage.credentialsSecret``, else
    the operator's), when the user may read it in the resource's namespace; else the user's own
    (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, then boto3's chain). A cluster-internal
    endpoint is reached through the API server. ``body`` is rewritten in place.
    """
    from reelkube.client.default_storage import find_default_storage
    from reelkube.storage.client import credentials_from_environment

    environ = os.environ if environ is None else environ
    namespace = str(body["metadata"]["namespace"])
    spec_storage = (body.get("spec") or {}).get("storage")

    with ExitStack() as routes:

        def open_store(report: UploadReport) -> ContentStore:
            if spec_storage:
                storage = StorageSpec.model_validate(spec_storage)
                secret, source = storage.credentialsSecret, "spec.storage"
                if not secret:  # as the operator does: the chart's Secret signs for the chart's storage
                    with suppress(ClientError):
                        secret = find_default_storage(client, namespace, environ).credentials_secret
            else:
                default = find_default_storage(client, namespace, environ)
                storage, secret, source = default.storage, default.credentials_secret, default.source
            credentials = (secret and secret_credentials(client, namespace, secret)) or None
            credentials = credentials or credentials_from_environment(environ)
            area = upload_area(storage, namespace)
            report.storage = f"s3://{storage.bucket}/{area}/ ({source})"
            endpoint = storage.endpointUrl
            via = routes.enter_context(client.reach(endpoint)) if endpoint else None
            s3 = s3_client(storage, credentials, via or endpoint)
            return ContentStore(s3, storage.bucket, area, report)

        return rewrite_local_inputs(body, base_dir, open_store)
