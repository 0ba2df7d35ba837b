"""``kubernaut admit``: the admission pipeline run offline over manifest files.

Each object goes through the mutating webhook, then the mutated object
through the validating webhook, as the API server does. Reading files is the
only I/O here; printing is :mod:`webhook.admit_output`'s job.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from api.resources import info_for
from webhook.pipeline import AdmissionPipeline, Endpoint, subject_of
from webhook.policy import EngineStatus, PolicyEngine, PolicyInput
from webhook.review import AdmissionRequest, MalformedReviewError
from webhook.verdict import Verdict

__all__ = [
    "AdmitInputError",
    "AdmitResult",
    "NoPolicyEngine",
    "Source",
    "admit",
    "load_documents",
]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
AUTHENTICATED = "system:authenticated"

Operation = Literal["CREATE", "UPDATE"]


class AdmitInputError(ValueError):
    """A file or document that cannot be admitted at all (exit code 2)."""


@dataclass(frozen=True)
class Source:
    """One document of one file."""

    location: str
    """``file`` or ``file#N`` (N counts the documents of a multi-document file from 1)."""
    document: Mapping[str, Any]


@dataclass(frozen=True)
class AdmitResult:
    source: Source
    subject: str
    mutation: Verdict
    validation: Verdict | None
    """None when the object was not validated (the mutating webhook refused it)."""

    @property
    def final(self) -> Verdict:
        return self.validation or self.mutation

    @property
    def allowed(self) -> bool:
        return self.final.allowed


class NoPolicyEngine(PolicyEngine):
    """An engine without policies: every rule is undefined (schema checks only)."""

    def _evaluate(self, rules: Sequence[str], policy_input: PolicyInput) -> list[Any]:
        return [None for _ in rules]

    def status(self) -> EngineStatus:
        return EngineStatus(ready=True, detail="no policies")


# -- reading -------------------------------------------------------------------


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(
            child
            for child in path.iterdir()
            if child.is_file() and child.suffix.lower() in MANIFEST_SUFFIXES
        )
        if not found:
            raise AdmitInputError(f"{path}: no *.yaml, *.yml or *.json file in this directory")
        return found
    if not path.exists():
        raise AdmitInputError(f"{path}: no such file or directory")
    return [path]


def _read(path: Path) -> str:
    try:
        if str(path) == STDIN:
            return sys.stdin.read()
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise AdmitInputError(f"{path}: not UTF-8 text ({err.reason})") from None
    except OSError as err:
        raise AdmitInputError(f"{path}: {err.strerror or err}") from None


def _parse(path: Path, text: str) -> list[Any]:
    if path.suffix.lower() == ".json":
        try:
            return [json.loads(text)]
        except json.JSONDecodeError as err:
            raise AdmitInputError(
                f"{path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}"
            ) from None
    try:
        return [document for document in yaml.safe_load_all(text) if document is not None]
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        raise AdmitInputError(f"{where}: invalid YAML: {problem}") from None


def _expand(location: str, document: Any) -> Iterator[Source]:
    if not isinstance(document, Mapping):
        raise AdmitInputError(
            f"{location}: expected a Kubernetes object (a mapping), got {type(document).__name__}"
        )
    if document.get("kind") == "List" and isinstance(document.get("items"), list):
        for index, item in enumerate(document["items"]):
            yield from _expand(f"{location} items[{index}]", item)
        return
    for field in ("apiVersion", "kind"):
        if not isinstance(document.get(field), str) or not document[field]:
            raise AdmitInputError(f"{location}: not a Kubernetes object: {field} is missing")
    yield Source(location, document)


def load_documents(paths: Sequence[Path]) -> list[Source]:
    """Every object of ``paths`` (files, directories of manifests, ``-`` for stdin), in order."""
    sources: list[Source] = []
    for path in paths:
        for file in [path] if str(path) == STDIN else _files(path):
            documents = _parse(file, _read(file))
            if not documents:
                raise AdmitInputError(f"{file}: no object in this file")
            for index, document in enumerate(documents, start=1):
                location = f"{file}#{index}" if len(documents) > 1 else str(file)
                sources.extend(_expand(location, document))
    return sources


# -- admitting -----------------------------------------------------------------


def _identity(document: Mapping[str, Any]) -> tuple[str, str, str]:
    metadata = document.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    namespace = metadata.get("namespace")
    name = metadata.get("name")
    return (
        str(document.get("kind")),
        namespace if isinstance(namespace, str) else "",
        name if isinstance(name, str) else "",
    )


def _old_for(source: Source, olds: Sequence[Source]) -> Mapping[str, Any]:
    if len(olds) == 1:
        return olds[0].document
    wanted = _identity(source.document)
    for old in olds:
        if _identity(old.document) == wanted:
            return old.document
    kind, namespace, name = wanted
    raise AdmitInputError(
        f"{source.location}: --old has no {kind} {namespace + '/' if namespace else ''}{name}"
    )


def _resource(kind: str, group: str) -> str:
    try:
        return info_for(kind).plural
    except ValueError:
        # Not a kubernaut kind: the pipeline leaves it alone; the name is only informative.
        return f"{kind.lower()}s" if group else kind.lower()


def _request(
    document: Mapping[str, Any],
    *,
    operation: Operation,
    old: Mapping[str, Any] | None,
    user: str,
    groups: Sequence[str],
) -> AdmissionRequest:
    group, _, version = str(document["apiVersion"]).rpartition("/")
    kind, namespace, name = _identity(document)
    gvk = {"group": group, "version": version, "kind": kind}
    review = {
        "uid": str(uuid.uuid4()),
        "kind": gvk,
        "resource": {"group": group, "version": version, "resource": _resource(kind, group)},
        "subResource": "",
        "name": name,
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": user, "groups": list(groups)},
        "object": dict(document),
        "oldObject": dict(old) if old is not None else None,
        "dryRun": True,
    }
    return AdmissionRequest.model_validate(review)


def admit(
    pipeline: AdmissionPipeline,
    sources: Sequence[Source],
    *,
    operation: Operation = "CREATE",
    olds: Sequence[Source] = (),
    user: str,
    groups: Sequence[str] = (),
) -> list[AdmitResult]:
    """Mutate, then validate the mutated object, for every source."""
    if operation == "UPDATE" and not olds:
        raise AdmitInputError("--operation UPDATE needs the stored object: pass --old FILE")
    all_groups = list(dict.fromkeys([*groups, AUTHENTICATED]))
    results = []
    for source in sources:
        old = _old_for(source, olds) if operation == "UPDATE" else None
        request = _request(
            source.document, operation=operation, old=old, user=user, groups=all_groups
        )
        subject = subject_of(request, source.document)
        try:
            mutation = pipeline.review(Endpoint.MUTATE, request)
            validation = None
            if mutation.allowed:
                mutated = mutation.object if mutation.object is not None else source.document
                validation = pipeline.review(
                    Endpoint.VALIDATE, request.model_copy(update={"object": dict(mutated)})
                )
        except MalformedReviewError as err:
            raise AdmitInputError(f"{source.location}: {err}") from None
        results.append(AdmitResult(source, subject, mutation, validation))
    return results
