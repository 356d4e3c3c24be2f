"""Object keys and `s3://` URIs: a deterministic layout that user input cannot escape.

Layout of every output::

    <prefix>/<namespace>/<name>-<uid8>/<artifact filename>

and of a chunked render's segments (:func:`segment_object_key`)::

    <prefix>/<namespace>/_chunk-cache/<sha256 of what determines the bytes>.mp4   (chunk cache)
    <prefix>/<namespace>/<name>-<uid8>/segment-<index>.mp4                        (cache off)

The cache is per namespace: a tenant never reads another's segments, nor learns whether another
rendered the same content. ``_chunk-cache`` cannot be a resource's directory (Kubernetes names
hold no underscore).

``uid8`` is the first 8 characters of the resource's UID. The key depends only on the
resource and the artifact, so a retried render (a new pod, the same resource) overwrites
its earlier upload instead of leaving a second copy; the UID part keeps a deleted and
re-created resource of the same name from overwriting the old one's files while its
presigned URLs may still be in use. Without a UID (a local `reelkube render`) the
directory is just ``<name>``.
"""

from __future__ import annotations

import re
import unicodedata

from reelkube.errors import SpecError

UID_CHARS = 8
MAX_KEY_BYTES = 1024  # S3's limit on a key, in UTF-8 bytes
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def _check_no_forbidden_chars(text: str, what: str) -> None:
    for char in text:
        # Control characters (Cc) and format characters (Cf, e.g. bidi overrides) make keys
        # that display as something else; backslashes become separators on some stores.
        if char == "\\" or unicodedata.category(char) in ("Cc", "Cf"):
            raise SpecError(f"{what} {text!r} contains a forbidden character {char!r}")


def check_segment(segment: str, what: str) -> str:
    """Validate one path segment (a namespace, a name, a file name): no `/`, not empty,
    not `.` or `..`, no backslash or control characters. Returns it unchanged."""
    if not segment:
        raise SpecError(f"{what} is empty")
    _check_no_forbidden_chars(segment, what)
    if "/" in segment:
        raise SpecError(f"{what} {segment!r} must not contain '/'")
    if segment in (".", ".."):
        raise SpecError(f"{what} {segment!r} is not allowed")
    return segment


def check_key(key: str) -> str:
    """Validate a full object key: relative, no empty, `.` or `..` segments, no backslash
    or control characters, at most 1024 bytes. Returns it unchanged."""
    if not key:
        raise SpecError("object key is empty")
    if key.startswith("/"):
        raise SpecError(f"object key {key!r} must not be absolute")
    for segment in key.split("/"):
        if not segment:
            raise SpecError(f"object key {key!r} has an empty segment")
        check_segment(segment, f"segment of object key {key!r}:")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise SpecError(f"object key is longer than {MAX_KEY_BYTES} bytes")
    return key


def normalize_prefix(prefix: str) -> str:
    """Validate a key prefix and drop one trailing `/`; an empty prefix stays empty."""
    trimmed = prefix[:-1] if prefix.endswith("/") else prefix
    if trimmed:
        check_key(trimmed)
    elif prefix:
        raise SpecError("storage prefix '/' is absolute")
    return trimmed


def object_key(prefix: str, namespace: str, name: str, uid: str, artifact_filename: str) -> str:
    """The object key for one artifact of one resource (see the module docstring).

    Raises SpecError when any part could make the key escape ``prefix``."""
    base = normalize_prefix(prefix)
    check_segment(namespace, "namespace")
    check_segment(name, "name")
    check_segment(artifact_filename, "artifact file name")
    directory = name
    if uid:
        directory = f"{name}-{check_segment(uid[:UID_CHARS], 'uid')}"
    parts = (
        [base, namespace, directory, artifact_filename] if base else [namespace, directory, artifact_filename]
    )
    return check_key("/".join(parts))


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key); SpecError when it is not one."""
    if not uri.startswith("s3://"):
        raise SpecError(f"{uri!r} is not an s3:// URI")
    bucket, sep, key = uri[len("s3://") :].partition("/")
    if not _BUCKET_RE.match(bucket):
        raise SpecError(f"{uri!r}: {bucket!r} is not a valid bucket name")
    if not sep or not key:
        raise SpecError(f"{uri!r} names no object (expected s3://bucket/key)")
    _check_no_forbidden_chars(key, "object key")
    return bucket, key


def s3_uri(bucket: str, key: str) -> str:
    """``s3://bucket/key``."""
    return f"s3://{bucket}/{key}"


CHUNK_CACHE_DIR = "_chunk-cache"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def segment_object_key(
    prefix: str, namespace: str, *, digest: str, cached: bool, name: str = "", uid: str = "", index: int = 0
) -> str:
    """Where one segment of a chunked render is stored (see the module docstring): in the
    namespace's chunk cache under its content ``digest`` when ``cached``, else beside the
    resource's outputs by ``index`` (deleted after the merge)."""
    if cached:
        if not _SHA256_RE.match(digest):
            raise SpecError(f"segment key {digest!r} is not a sha256 hex digest")
        base = normalize_prefix(prefix)
        check_segment(namespace, "namespace")
        parts = (
            [base, namespace, CHUNK_CACHE_DIR, f"{digest}.mp4"]
            if base
            else [namespace, CHUNK_CACHE_DIR, f"{digest}.mp4"]
        )
        return check_key("/".join(parts))
    return object_key(prefix, namespace, name, uid, f"segment-{index:03d}.mp4")
