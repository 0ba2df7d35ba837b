"""How ``kubernaut admit`` prints its results: for people (text) or for tools (json, yaml)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TextIO

import yaml

from webhook.admit import AdmitResult
from webhook.patch import parse_pointer
from webhook.verdict import Decision, Verdict

OutputFormat = Literal["text", "json", "yaml"]

_INDENT = "    "


@dataclass(frozen=True)
class _Style:
    color: bool

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def good(self, text: str) -> str:
        return self.paint(text, "1;32")

    def bad(self, text: str) -> str:
        return self.paint(text, "1;31")

    def warn(self, text: str) -> str:
        return self.paint(text, "33")

    def dim(self, text: str) -> str:
        return self.paint(text, "2")


def _label(result: AdmitResult) -> str:
    final = result.final
    if final.decision is Decision.IGNORED:
        return "SKIPPED"
    if final.allowed:
        return "ALLOWED"
    return f"DENIED {final.code} {final.reason.value if final.reason else ''}".rstrip()


def _yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100)


def _indented(text: str, prefix: str) -> list[str]:
    return [f"{prefix}{line}" if line else line for line in text.rstrip("\n").split("\n")]


def _warnings(result: AdmitResult) -> list[str]:
    later = result.validation.warnings if result.validation else ()
    return [*result.mutation.warnings, *later]


def _denial_lines(verdict: Verdict, style: _Style) -> list[str]:
    if not verdict.violations:
        return [f"{_INDENT}{style.bad('x')} {verdict.message}"]
    lines = []
    for error in verdict.violations:
        where = f"{error.path}: " if error.path else ""
        lines.append(f"{_INDENT}{style.bad('x')} {where}{error.message}")
    return lines


def _text_result(result: AdmitResult, style: _Style, show_patch: bool) -> list[str]:
    final = result.final
    label = _label(result)
    painted = (
        style.dim(label)
        if final.decision is Decision.IGNORED
        else style.good(label)
        if final.allowed
        else style.bad(label)
    )
    lines = [f"{painted}  {result.subject}  {style.dim('(' + result.source.location + ')')}"]
    if final.decision is Decision.IGNORED:
        lines.append(f"{_INDENT}not a kubernaut.ai resource: the webhook leaves it alone")
        return lines
    if not final.allowed:
        lines.extend(_denial_lines(final, style))
    lines.extend(f"{_INDENT}{style.warn('!')} warning: {text}" for text in _warnings(result))
    if not final.allowed:
        return lines
    patch = result.mutation.patch
    if show_patch:
        if patch:
            lines.append(f"{_INDENT}JSON Patch of the mutating webhook ({len(patch)} operations):")
            lines.extend(_indented(json.dumps(list(patch), indent=2), _INDENT + "  "))
        else:
            lines.append(f"{_INDENT}the mutating webhook changes nothing")
    elif result.mutation.object is not None:
        if patch:
            noun = "change" if len(patch) == 1 else "changes"
            lines.append(f"{_INDENT}mutating webhook: {len(patch)} {noun}")
            lines.extend(f"{_INDENT}  {_change(operation, style)}" for operation in patch)
        else:
            lines.append(f"{_INDENT}mutating webhook: no change")
        lines.append(f"{_INDENT}{style.dim('object as stored:')}")
        lines.extend(_indented(_yaml(dict(result.mutation.object)), _INDENT + "  "))
    return lines


_MARKS = {"add": "+", "replace": "~", "remove": "-"}


def _field_path(pointer: str) -> str:
    path = ""
    for part in parse_pointer(pointer):
        if part.isdigit() or "." in part or "/" in part:
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _change(operation: Mapping[str, Any], style: _Style) -> str:
    mark = _MARKS.get(str(operation["op"]), "?")
    text = f"{mark} {_field_path(str(operation['path']))}"
    if "value" in operation:
        text += f": {json.dumps(operation['value'], separators=(', ', ': '))}"
    return style.good(text) if mark == "+" else style.warn(text)


def _summary(results: Sequence[AdmitResult]) -> dict[str, int]:
    skipped = sum(result.final.decision is Decision.IGNORED for result in results)
    allowed = sum(result.allowed for result in results) - skipped
    return {
        "objects": len(results),
        "allowed": allowed,
        "denied": len(results) - allowed - skipped,
        "skipped": skipped,
    }


def render_text(
    results: Sequence[AdmitResult], out: TextIO, *, color: bool, show_patch: bool
) -> None:
    style = _Style(color)
    for index, result in enumerate(results):
        if index:
            out.write("\n")
        out.write("\n".join(_text_result(result, style, show_patch)) + "\n")
    counts = _summary(results)
    parts = [f"{counts['allowed']} allowed", f"{counts['denied']} denied"]
    if counts["skipped"]:
        parts.append(f"{counts['skipped']} skipped")
    noun = "object" if counts["objects"] == 1 else "objects"
    line = f"{counts['objects']} {noun}: {', '.join(parts)}"
    out.write("\n" + (style.bad(line) if counts["denied"] else style.good(line)) + "\n")


def _document(result: AdmitResult, show_patch: bool) -> dict[str, Any]:
    final = result.final
    kind, _, name = result.subject.partition(" ")
    document: dict[str, Any] = {
        "source": result.source.location,
        "kind": kind,
        "name": name,
        "decision": final.decision.value,
        "allowed": final.allowed,
    }
    if not final.allowed:
        document["code"] = final.code
        document["reason"] = final.reason.value if final.reason else ""
        document["message"] = final.message
        document["violations"] = [
            {"field": error.path, "message": error.message} for error in final.violations
        ]
    document["warnings"] = _warnings(result)
    if final.allowed and final.decision is not Decision.IGNORED:
        if show_patch:
            document["patch"] = list(result.mutation.patch)
        else:
            document["mutated"] = result.mutation.object
    return document


def render_document(
    results: Sequence[AdmitResult], out: TextIO, *, output: OutputFormat, show_patch: bool
) -> None:
    report = {
        "results": [_document(result, show_patch) for result in results],
        "summary": _summary(results),
    }
    if output == "json":
        out.write(json.dumps(report, indent=2) + "\n")
    else:
        out.write(_yaml(report))
