"""The API models' field docstrings, read from the source once and then from a cache file.

The models document each field with a docstring under it (pydantic's
``use_attribute_docstrings``), which become the CRD's descriptions and `kubectl explain` text.
pydantic finds them anew in every process: for each model class it walks the stack to the
class's source, tokenizes and parses it. For the 36 API models that was 0.1-0.2 CPU seconds of
every `reelkube` command's start. The docstrings change only with the API's sources, so they
are kept on disk (beside celpy's parser tables, :mod:`reelkube.api.cel_parser`) under a digest
of those sources and of Python's and pydantic's versions; pydantic applies them as it would
its own. Anything not cached (another package's models, a folder that cannot be written) goes
through pydantic's own extraction, unchanged.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic

try:  # pydantic's private module: where it is not as in pydantic 2.x, nothing is cached
    from pydantic._internal import _fields
except ImportError:  # pragma: no cover
    _fields = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

CACHE_ENV = "REELKUBE_CACHE"
_API_PACKAGE = __name__.rsplit(".", 1)[0] + "."


def cache_dir() -> Path:
    """Where the caches are kept: $REELKUBE_CACHE, else ~/.cache/reelkube."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "reelkube")


def source_digest(*versions: str) -> str:
    """A digest of the API's source files and of Python's and pydantic's versions (and any
    further ``versions``): what the models, and what is derived from them, depend on."""
    digest = hashlib.sha256(f"{sys.version} pydantic={pydantic.VERSION} {' '.join(versions)}".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:32]


def write_whole(path: Path, value: object) -> None:
    """Pickle ``value`` to ``path`` whole or not at all (another process may be reading it), and
    remove the files that earlier sources left under the same name (``<name>-<digest>.pickle``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    prefix = path.name.rsplit("-", 1)[0]
    for stale in path.parent.glob(f"{prefix}-*.pickle"):
        if stale != path:
            stale.unlink(missing_ok=True)


Docs = dict[str, str]
_extract: Callable[..., Docs] | None = getattr(_fields, "extract_docstrings_from_cls", None)
_cached: dict[str, Docs] = {}
_found: dict[str, Docs] = {}
_path: Path | None = None


def install() -> None:
    """Serve the API models' field docstrings from the cache (before the first model class)."""
    global _path
    if _extract is None or _fields.extract_docstrings_from_cls is not _extract:
        return  # not pydantic's layout, or installed already
    try:
        _path = cache_dir() / f"field-docs-{source_digest()}.pickle"
        with _path.open("rb") as handle:
            loaded = pickle.load(handle)
        if isinstance(loaded, dict):
            _cached.update(loaded)
    except FileNotFoundError:
        pass
    except Exception as exc:  # unreadable, damaged, no home folder: pydantic extracts  # noqa: BLE001
        log.debug("event=field_docs_cache_unreadable cause=%r", exc)
    _fields.extract_docstrings_from_cls = _docstrings


def _docstrings(cls: type[Any], use_inspect: bool = False) -> Docs:
    """pydantic's ``extract_docstrings_from_cls``, from the cache for this package's models."""
    assert _extract is not None
    if not cls.__module__.startswith(_API_PACKAGE):
        return _extract(cls, use_inspect=use_inspect)
    key = f"{cls.__module__}:{cls.__qualname__}"
    if key in _cached:
        return dict(_cached[key])
    docs = _extract(cls, use_inspect=use_inspect)
    if not _found:
        atexit.register(_save)
    _found[key] = dict(docs)
    return docs


def _save() -> None:
    """Write what this process extracted, with what it read, for the next one."""
    if _path is None:
        return
    try:
        write_whole(_path, {**_cached, **_found})
    except (OSError, pickle.PicklingError) as exc:
        log.debug("event=field_docs_cache_not_written path=%s cause=%r", _path, exc)
