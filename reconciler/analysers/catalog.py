"""The catalog analyser: match a signal against a workflow catalog and fill in the template.

A catalog is a JSON (or YAML) document ``{"workflowCatalog": {"entries": [...]}}``;
the shipped one is ``policies/data/workflow_catalog.json``, so in a cluster it
arrives with the policies ConfigMap (and policies may read it as
``data.kubernaut.config.workflowCatalog``). An entry::

    {"name": "crashloop-restart-deployment",
     "match": {"signalNames": ["KubePodCrashLooping"],      # any of these names
               "signalLabels": {"team": "shop"},            # every one of these labels
               "targetKinds": ["Deployment"],               # any of these target kinds
               "workloadKinds": ["Deployment"]},            # any of these workload kinds
     "confidence": 0.9,
     "rationale": "restarting {{ target.name }} clears a crash loop ...",
     "workflow": {<a WorkflowDefinition whose strings may hold placeholders>}}

Every criterion present must hold; at least one of ``signalNames`` and
``signalLabels`` is required (a catalog never matches every signal by
accident). The most specific matching entry wins (one point per criterion,
one per required label), then the higher confidence, then the earlier entry.
Placeholders are described in :mod:`reconciler.analysers.templating`; they are
checked when the catalog is loaded, and the filled-in workflow is validated
again as a :class:`~api.workflow.WorkflowDefinition`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final

import yaml
from pydantic import Field, ValidationError, model_validator

from api.base import WireModel
from api.dag import step_dag_errors
from api.workflow import WorkflowDefinition
from reconciler.analysers.base import (
    AnalysisFailure,
    AnalysisOutcome,
    AnalysisRequest,
    AnalysisResult,
)
from reconciler.analysers.templating import (
    TemplateError,
    check_names,
    context_for,
    placeholders,
    render,
)

__all__ = [
    "CATALOG_KEY",
    "Catalog",
    "CatalogAnalyser",
    "CatalogEntry",
    "CatalogError",
    "CatalogFile",
    "CatalogMatch",
    "load_catalog",
    "parse_catalog",
    "select_entry",
]

CATALOG_KEY: Final = "workflowCatalog"
_log = logging.getLogger(__name__)


class CatalogError(ValueError):
    """A catalog that cannot be read or is not valid; the message says where and why."""


_Names = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class CatalogMatch(WireModel):
    signal_names: _Names | None = None
    signal_labels: Annotated[dict[str, str], Field(min_length=1)] | None = None
    target_kinds: _Names | None = None
    workload_kinds: _Names | None = None

    @model_validator(mode="after")
    def _names_or_labels(self) -> CatalogMatch:
        if self.signal_names is None and self.signal_labels is None:
            raise ValueError("a match needs signalNames or signalLabels")
        return self

    @property
    def specificity(self) -> int:
        return (
            (1 if self.signal_names else 0)
            + len(self.signal_labels or {})
            + (1 if self.target_kinds else 0)
            + (1 if self.workload_kinds else 0)
        )


class CatalogEntry(WireModel):
    name: Annotated[str, Field(min_length=1, max_length=253)]
    description: str | None = None
    match: CatalogMatch
    confidence: Annotated[float, Field(ge=0, le=1)]
    rationale: Annotated[str, Field(min_length=1)]
    workflow: WorkflowDefinition

    @model_validator(mode="after")
    def _template_is_sound(self) -> CatalogEntry:
        check_names(placeholders(self.rationale) | placeholders(self.workflow_template()))
        errors = step_dag_errors(self.workflow.steps, "workflow.steps")
        if errors:
            raise ValueError("; ".join(f"{error.path}: {error.message}" for error in errors))
        return self

    def workflow_template(self) -> Any:
        return self.workflow.model_dump(mode="json", by_alias=True, exclude_none=True)


class Catalog(WireModel):
    entries: list[CatalogEntry]

    @model_validator(mode="after")
    def _unique_names(self) -> Catalog:
        seen: set[str] = set()
        for entry in self.entries:
            if entry.name in seen:
                raise ValueError(f"entry name {entry.name} is used twice")
            seen.add(entry.name)
        return self


def parse_catalog(document: Any, source: str = "catalog") -> Catalog:
    """A catalog from ``{"workflowCatalog": {...}}``; CatalogError says what is wrong where."""
    if not isinstance(document, Mapping) or not isinstance(document.get(CATALOG_KEY), Mapping):
        raise CatalogError(f"{source}: expected an object with a {CATALOG_KEY!r} object")
    try:
        return Catalog.model_validate(document[CATALOG_KEY])
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or CATALOG_KEY}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in err.errors()[:5]
        )
        more = f" (and {err.error_count() - 5} more)" if err.error_count() > 5 else ""
        raise CatalogError(f"{source}: invalid workflow catalog: {problems}{more}") from None


def load_catalog(path: Path) -> Catalog:
    """Read a catalog file (.json, .yaml or .yml)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CatalogError(f"cannot read workflow catalog {path}: {err}") from None
    try:
        document = yaml.safe_load(text) if path.suffix in {".yaml", ".yml"} else json.loads(text)
    except (ValueError, yaml.YAMLError) as err:
        kind = "YAML" if path.suffix in {".yaml", ".yml"} else "JSON"
        raise CatalogError(f"{path}: not valid {kind}: {err}") from None
    return parse_catalog(document, str(path))


class CatalogFile:
    """A catalog file, read again when it changes (a ConfigMap volume update).

    A changed file that does not load keeps the previous catalog in service
    and logs the error; only when no catalog was ever loaded does
    :meth:`current` raise :class:`CatalogError`.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._catalog: Catalog | None = None
        self._error: str | None = None

    def current(self) -> Catalog:
        with self._lock:
            try:
                stat = self.path.stat()
                stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
            except OSError as err:
                stamp, self._error = None, f"cannot read workflow catalog {self.path}: {err}"
            if stamp is not None and stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._catalog, self._error = load_catalog(self.path), None
                except CatalogError as err:
                    self._error = str(err)
                    _log.error("workflow catalog not loaded; keeping the previous one: %s", err)
            if self._catalog is None:
                raise CatalogError(self._error or f"workflow catalog {self.path} not loaded")
            return self._catalog


def _workload_kind(request: AnalysisRequest) -> str:
    owners = request.enrichment.owner_chain or []
    return owners[-1].kind if owners else request.signal.target_resource.kind


def _matches(match: CatalogMatch, request: AnalysisRequest) -> bool:
    signal = request.signal
    labels = signal.labels or {}
    return (
        (match.signal_names is None or signal.name in match.signal_names)
        and all(labels.get(key) == value for key, value in (match.signal_labels or {}).items())
        and (match.target_kinds is None or signal.target_resource.kind in match.target_kinds)
        and (match.workload_kinds is None or _workload_kind(request) in match.workload_kinds)
    )


def select_entry(catalog: Catalog, request: AnalysisRequest) -> CatalogEntry | None:
    """The most specific matching entry (then the most confident, then the first)."""
    best: CatalogEntry | None = None
    for entry in catalog.entries:
        if not _matches(entry.match, request):
            continue
        if best is None or (entry.match.specificity, entry.confidence) > (
            best.match.specificity,
            best.confidence,
        ):
            best = entry
    return best


class CatalogAnalyser:
    """Selects a workflow from the catalog ``source()`` returns (e.g. ``CatalogFile.current``)."""

    name = "catalog"

    def __init__(self, source: Callable[[], Catalog]) -> None:
        self._source = source

    @classmethod
    def from_file(cls, path: Path | str) -> CatalogAnalyser:
        return cls(CatalogFile(path).current)

    def analyse(self, request: AnalysisRequest) -> AnalysisOutcome:
        try:
            catalog = self._source()
        except CatalogError as err:
            return AnalysisFailure("CatalogUnavailable", str(err))
        entry = select_entry(catalog, request)
        if entry is None:
            return AnalysisFailure("NoMatchingWorkflow", _no_match_message(request))
        context = context_for(request)
        try:
            rendered = render(entry.workflow_template(), context)
            rationale = render(entry.rationale, context)
        except TemplateError as err:
            return AnalysisFailure("WorkflowTemplateError", f"catalog entry {entry.name}: {err}")
        try:
            workflow = WorkflowDefinition.model_validate(rendered)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            return AnalysisFailure(
                "WorkflowTemplateError",
                f"catalog entry {entry.name}: the filled-in workflow is invalid at {where}: "
                f"{first['msg']}",
            )
        return AnalysisResult(
            workflow=workflow,
            confidence=entry.confidence,
            rationale=f"catalog entry {entry.name}: {rationale}",
        )


def _no_match_message(request: AnalysisRequest) -> str:
    signal = request.signal
    labels = ", ".join(f"{key}={value}" for key, value in sorted((signal.labels or {}).items()))
    return (
        f"no workflow catalog entry matches signal {signal.name} "
        f"(target kind {signal.target_resource.kind}, workload kind {_workload_kind(request)}"
        f"{', labels ' + labels if labels else ''})"
    )
