"""``--state FILE``: JSON snapshots of the store, written on shutdown and read on start."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from devcluster.store import Store

_FORMAT = "devcluster.kubernaut.ai/v1"


class StateError(Exception):
    """A state file that cannot be read; the message names the file and the problem."""


def save(store: Store, path: Path) -> None:
    """Write atomically (temporary file + rename) so a crash never leaves half a snapshot."""
    resource_version, objects = store.export_objects()
    document = {"format": _FORMAT, "resourceVersion": resource_version, "objects": objects}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, separators=(",", ":"))
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(store: Store, path: Path) -> list[str]:
    """Restore a snapshot into ``store``; returns problems with objects that were skipped."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise StateError(f"cannot read state file {path}: {err.strerror}") from err
    except ValueError as err:
        raise StateError(f"state file {path} is not valid JSON: {err}") from err
    if (
        not isinstance(document, dict)
        or document.get("format") != _FORMAT
        or not isinstance(document.get("objects"), list)
    ):
        raise StateError(f"state file {path} is not a devcluster snapshot (format {_FORMAT})")
    return store.import_objects(int(document.get("resourceVersion") or 0), document["objects"])
