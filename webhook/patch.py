"""Edit a copy of a JSON document and record every edit as an RFC 6902 operation.

The mutating webhook never diffs whole objects (a diff would also "repair"
values the API server sends in another spelling, such as an explicit
``null``): each default or stamp is one recorded edit, so the patch holds
exactly what the webhook added or changed. Pointers are escaped as RFC 6901
says (``kubernaut.ai/approved-by`` becomes ``kubernaut.ai~1approved-by``);
the ``jsonpatch`` library parses pointers and applies patches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import jsonpatch

PathParts = Sequence[str | int]


def pointer(parts: PathParts) -> str:
    """The RFC 6901 JSON pointer of ``parts`` (``("metadata", "annotations", "a/b")`` ->
    ``/metadata/annotations/a~1b``)."""
    return "".join(["/" + _escape(part) for part in parts])


def child_pointer(parent: str, part: str | int) -> str:
    """The pointer of member or index ``part`` of the node at pointer ``parent``."""
    return f"{parent}/{_escape(part)}"


def _escape(part: str | int) -> str:
    # The two RFC 6901 escapes, "~" first; faster than a JsonPointer per operation.
    return str(part).replace("~", "~0").replace("/", "~1")


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists and scalars), much faster than deepcopy."""
    # Scalars, most of a document, are shared without a call each.
    if isinstance(value, dict):
        return {
            key: item if type(item) in _SCALARS else json_copy(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [item if type(item) in _SCALARS else json_copy(item) for item in value]
    return value


def parse_pointer(text: str) -> list[str]:
    """The unescaped tokens of a JSON pointer; ValueError when it is not one."""
    if text.startswith("/") and "~" not in text:
        return text[1:].split("/")  # nothing escaped, nothing to check
    try:
        return list(jsonpatch.JsonPointer(text).parts)
    except jsonpatch.JsonPointerException as err:
        raise ValueError(f"{text!r} is not a JSON pointer: {err}") from None


class PatchBuilder:
    """A working copy of ``document`` plus the operations that produced it."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document: dict[str, Any] = json_copy(dict(document))
        self.operations: list[dict[str, Any]] = []

    def _container(self, parts: PathParts) -> Any:
        node: Any = self.document
        for part in parts:
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
            elif isinstance(node, list) and (index := _index(part, len(node))) is not None:
                node = node[index]
            else:
                return None
        return node

    def add_if_absent(self, parts: PathParts, value: Any) -> bool:
        """Add ``value`` at ``parts`` when the parent object exists and the key is absent.

        Never replaces anything and never creates a missing parent; returns
        whether the document changed.
        """
        if not parts or not isinstance(parts[-1], str):
            return False
        return self._add(self._container(parts[:-1]), parts[-1], pointer(parts), value)

    def add_member(self, parent: Any, at: str, key: str, value: Any) -> bool:
        """:meth:`add_if_absent` when the caller already holds ``parent``, the node of
        the working document at pointer ``at``: add member ``key`` when absent."""
        return self._add(parent, key, child_pointer(at, key), value)

    def _add(self, parent: Any, key: str, path: str, value: Any) -> bool:
        if not isinstance(parent, dict) or key in parent:
            return False
        parent[key] = json_copy(value)
        self.operations.append({"op": "add", "path": path, "value": json_copy(value)})
        return True

    def set_annotation(self, key: str, value: str) -> None:
        """Set ``metadata.annotations[key]``, creating ``annotations`` when needed."""
        metadata = self.document.get("metadata")
        if not isinstance(metadata, dict):
            metadata = {}
            self.document["metadata"] = metadata
            self.operations.append({"op": "add", "path": "/metadata", "value": {}})
        annotations = metadata.get("annotations")
        if not isinstance(annotations, dict):
            # Absent or an explicit null: either way "add" creates or replaces the member.
            annotations = {}
            metadata["annotations"] = annotations
            self.operations.append({"op": "add", "path": "/metadata/annotations", "value": {}})
        if annotations.get(key) == value:
            return
        op = "replace" if key in annotations else "add"
        annotations[key] = value
        self.operations.append(
            {"op": op, "path": pointer(("metadata", "annotations", key)), "value": value}
        )

    def remove_annotation(self, key: str) -> None:
        """Remove ``metadata.annotations[key]`` when present."""
        annotations = self._container(("metadata", "annotations"))
        if isinstance(annotations, dict) and key in annotations:
            del annotations[key]
            self.operations.append(
                {"op": "remove", "path": pointer(("metadata", "annotations", key))}
            )

    @property
    def changed(self) -> bool:
        return bool(self.operations)


def _index(part: str | int, length: int) -> int | None:
    if isinstance(part, int):
        index = part
    elif part.isdigit() and (part == "0" or not part.startswith("0")):
        index = int(part)
    else:
        return None
    return index if 0 <= index < length else None


def apply_patch(document: Mapping[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """``document`` with ``operations`` applied, as the API server would (a new object)."""
    result = jsonpatch.JsonPatch(operations).apply(dict(document), in_place=False)
    assert isinstance(result, dict)
    return result
