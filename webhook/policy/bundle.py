"""A policy bundle: the Rego modules and configuration data of one directory.

Layout of a bundle directory (subdirectories allowed, any depth):

* every ``*.rego`` file is a module; ``*_test.rego`` files are unit tests and
  are only part of a bundle loaded with ``include_tests=True``;
* every ``*.json``, ``*.yaml`` or ``*.yml`` file under the top-level ``data/``
  directory holds one object, and all of them are deep-merged into
  ``data.kubernaut.config``. Two files may add different keys to the same
  object, but a key defined with a value in two files (or an object in one and
  a scalar in another) is a load error naming the key and both files;
* entries whose name starts with ``.`` are skipped, which is how the
  ``..data`` / ``..2024_...`` directories of a Kubernetes ConfigMap volume
  are ignored while the visible symlinks are followed.

The ``sha256`` digest covers every file of the bundle (sorted relative path
and content), so equal directories have equal digests on every machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from webhook.policy.errors import BundleLoadError

DATA_DIRECTORY = "data"
_DATA_SUFFIXES = (".json", ".yaml", ".yml")
_TEST_SUFFIX = "_test.rego"


@dataclass(frozen=True)
class PolicyModule:
    path: str  # relative to the bundle directory, "/"-separated
    source: str


@dataclass(frozen=True)
class PolicyBundle:
    directory: Path
    modules: tuple[PolicyModule, ...]
    config: Mapping[str, Any]  # served as data.kubernaut.config
    files: tuple[str, ...]  # every file of the bundle, relative, sorted
    sha256: str


def load_bundle(directory: Path, *, include_tests: bool = False) -> PolicyBundle:
    """Read a bundle directory; raise :class:`BundleLoadError` with a clear message."""
    if not directory.is_dir():
        raise BundleLoadError(f"policy directory {directory} does not exist or is not a directory")
    modules: list[PolicyModule] = []
    config: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    digest = hashlib.sha256()
    files: list[str] = []
    for relative in bundle_files(directory, include_tests=include_tests):
        content = _read(directory / relative)
        files.append(relative)
        _digest_file(digest, relative, content)
        if relative.endswith(".rego"):
            modules.append(PolicyModule(relative, _decode(relative, content)))
        else:
            document = _parse_data(relative, content)
            _merge(config, document, (), relative, origins)
    if not modules:
        raise BundleLoadError(f"policy directory {directory} holds no .rego module")
    return PolicyBundle(
        directory=directory,
        modules=tuple(modules),
        config=config,
        files=tuple(files),
        sha256=digest.hexdigest(),
    )


def bundle_files(directory: Path, *, include_tests: bool = False) -> list[str]:
    """Relative paths of the files that make up the bundle, sorted."""
    found: list[str] = []
    for relative in _walk(directory):
        if relative.endswith(".rego"):
            if include_tests or not relative.endswith(_TEST_SUFFIX):
                found.append(relative)
        elif relative.startswith(f"{DATA_DIRECTORY}/") and relative.endswith(_DATA_SUFFIXES):
            found.append(relative)
    return sorted(found)


def directory_fingerprint(directory: Path) -> tuple[tuple[str, str, int, int], ...]:
    """Cheap change detector: (path, resolved path, mtime, size) of every bundle file.

    The resolved path changes when a ConfigMap volume swaps its ``..data``
    symlink, even if the new files happen to have the same mtime and size.
    """
    entries: list[tuple[str, str, int, int]] = []
    try:
        relatives = bundle_files(directory, include_tests=False)
    except OSError:
        return ()
    for relative in relatives:
        path = directory / relative
        try:
            stat = path.stat()
            resolved = str(path.resolve())
        except OSError:
            continue
        entries.append((relative, resolved, stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def _walk(directory: Path) -> Iterator[str]:
    for root, dirnames, filenames in os.walk(directory, followlinks=True):
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        base = Path(root).relative_to(directory)
        for name in sorted(filenames):
            if not name.startswith("."):
                yield (base / name).as_posix()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise BundleLoadError(f"cannot read policy file {path}: {err.strerror or err}") from err


def _decode(relative: str, content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BundleLoadError(f"{relative}: not valid UTF-8 (byte {err.start})") from err


def _digest_file(digest: Any, relative: str, content: bytes) -> None:
    encoded = relative.encode("utf-8")
    digest.update(len(encoded).to_bytes(8, "big"))
    digest.update(encoded)
    digest.update(len(content).to_bytes(8, "big"))
    digest.update(content)


def _parse_data(relative: str, content: bytes) -> dict[str, Any]:
    text = _decode(relative, content)
    document: Any
    try:
        document = json.loads(text) if relative.endswith(".json") else yaml.safe_load(text)
    except json.JSONDecodeError as err:
        raise BundleLoadError(
            f"{relative}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}"
        ) from err
    except yaml.YAMLError as err:
        raise BundleLoadError(f"{relative}: invalid YAML: {err}") from err
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise BundleLoadError(
            f"{relative}: a data file must hold an object, not {type(document).__name__}"
        )
    return document


def _merge(
    target: dict[str, Any],
    source: Mapping[str, Any],
    prefix: tuple[str, ...],
    relative: str,
    origins: dict[tuple[str, ...], str],
) -> None:
    for key, value in source.items():
        if not isinstance(key, str):
            raise BundleLoadError(f"{relative}: key {key!r} is not a string")
        path = (*prefix, key)
        if key not in target:
            target[key] = _copy(value)
            _record_origins(origins, path, value, relative)
            continue
        existing = target[key]
        if isinstance(existing, dict) and isinstance(value, dict):
            _merge(existing, value, path, relative, origins)
            continue
        first = origins.get(path, "another data file")
        raise BundleLoadError(
            f"conflicting data: key {'.'.join(path)} is defined in both {first} and {relative}"
        )


def _record_origins(
    origins: dict[tuple[str, ...], str], path: tuple[str, ...], value: Any, relative: str
) -> None:
    origins[path] = relative
    if isinstance(value, dict):
        for key, child in value.items():
            _record_origins(origins, (*path, str(key)), child, relative)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_copy(child) for child in value]
    return value
