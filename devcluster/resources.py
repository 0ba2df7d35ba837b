"""The resource types the stand-in serves: the built-in table and CRD-defined ones.

A :class:`ResourceType` is one group/version/resource as discovery lists it. Objects
of the same group and resource share storage across versions (``storage_key``);
a read through another version only rewrites ``apiVersion`` (conversion
strategy ``None``, which is all this project's CRDs use).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, Any]

_VERBS_ALL = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_VERBS_REVIEW = ("create",)
_META_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class ScaleSpec:
    """Where a kind keeps the values of its ``scale`` subresource (CRD ``subresources.scale``)."""

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    label_selector_path: str | None = ".status.selector"
    selector_is_object: bool = False


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = _VERBS_ALL
    status_subresource: bool = False
    scale: ScaleSpec | None = None
    extra_subresources: tuple[str, ...] = ()
    has_generation: bool = False
    custom: bool = False
    schema: Mapping[str, Any] | None = None
    printer_columns: tuple[PrinterColumn, ...] = ()
    field_selectors: frozenset[str] = _META_FIELDS
    storage_key_override: tuple[str, str] | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_key(self) -> tuple[str, str]:
        return self.storage_key_override or (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def qualified_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def is_review(self) -> bool:
        return self.verbs == _VERBS_REVIEW


def _core(kind: str, plural: str, *, namespaced: bool = True, **extra: Any) -> ResourceType:
    return ResourceType("", "v1", kind, plural, namespaced, **extra)


def _col(name: str, json_path: str, kind: str = "string", priority: int = 0) -> PrinterColumn:
    return PrinterColumn(name, kind, json_path, priority=priority)


_POD_FIELDS = _META_FIELDS | {
    "status.phase",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "status.podIP",
    "status.nominatedNodeName",
}
_EVENT_FIELDS = _META_FIELDS | {
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
}

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _core(
        "Namespace",
        "namespaces",
        namespaced=False,
        short_names=("ns",),
        status_subresource=True,
        field_selectors=_META_FIELDS | {"status.phase"},
    ),
    _core(
        "Pod",
        "pods",
        short_names=("po",),
        categories=("all",),
        status_subresource=True,
        extra_subresources=("log", "eviction"),
        has_generation=True,
        field_selectors=_POD_FIELDS,
    ),
    _core("Event", "events", short_names=("ev",), field_selectors=_EVENT_FIELDS),
    _core("ConfigMap", "configmaps", short_names=("cm",)),
    _core("Secret", "secrets", field_selectors=_META_FIELDS | {"type"}),
    _core("ServiceAccount", "serviceaccounts", short_names=("sa",)),
    _core(
        "Node",
        "nodes",
        namespaced=False,
        short_names=("no",),
        status_subresource=True,
        field_selectors=_META_FIELDS | {"spec.unschedulable"},
    ),
    _core(
        "Service", "services", short_names=("svc",), categories=("all",), status_subresource=True
    ),
    ResourceType(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        short_names=("deploy",),
        categories=("all",),
        status_subresource=True,
        scale=ScaleSpec(label_selector_path=".spec.selector", selector_is_object=True),
        has_generation=True,
    ),
    ResourceType(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        True,
        short_names=("rs",),
        categories=("all",),
        status_subresource=True,
        scale=ScaleSpec(label_selector_path=".spec.selector", selector_is_object=True),
        has_generation=True,
    ),
    ResourceType(
        "batch",
        "v1",
        "Job",
        "jobs",
        True,
        categories=("all",),
        status_subresource=True,
        has_generation=True,
        field_selectors=_META_FIELDS | {"status.successful"},
    ),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True),
    ResourceType(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        True,
        short_names=("pdb",),
        status_subresource=True,
        has_generation=True,
    ),
    ResourceType(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        True,
        short_names=("ev",),
        storage_key_override=("events.k8s.io", "events"),
    ),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        status_subresource=True,
        has_generation=True,
    ),
    ResourceType(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
        categories=("api-extensions",),
        has_generation=True,
    ),
    ResourceType(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
        categories=("api-extensions",),
        has_generation=True,
    ),
    ResourceType(
        "authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False, verbs=_VERBS_REVIEW
    ),
    ResourceType(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        False,
        verbs=_VERBS_REVIEW,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        False,
        verbs=_VERBS_REVIEW,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        False,
        verbs=_VERBS_REVIEW,
    ),
)

# Subresources whose objects are of another kind (discovery lists them with it).
SUBRESOURCE_KINDS: Mapping[str, tuple[str, str, str]] = {
    "scale": ("autoscaling", "v1", "Scale"),
    "eviction": ("policy", "v1", "Eviction"),
}


@dataclass
class _GroupVersions:
    versions: list[str] = field(default_factory=list)
    preferred: str = ""


class Registry:
    """Thread-safe lookup of served resource types; CRDs add and remove entries at run time."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN_TYPES) -> None:
        self._lock = threading.Lock()
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self._group_order: list[str] = []
        self._preferred: dict[str, str] = {}
        self._crd_types: dict[str, list[ResourceType]] = {}
        for rtype in types:
            self._add(rtype)

    def _add(self, rtype: ResourceType) -> None:
        self._by_gvr[(rtype.group, rtype.version, rtype.plural)] = rtype
        if rtype.group not in self._group_order:
            self._group_order.append(rtype.group)
        self._preferred.setdefault(rtype.group, rtype.version)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def for_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rtype in self._by_gvr.values():
                if rtype.group == group and rtype.version == version and rtype.kind == kind:
                    return rtype
        return None

    def storage_types(self) -> list[ResourceType]:
        """One type per storage key (the preferred version), for GC and snapshots."""
        with self._lock:
            seen: dict[tuple[str, str], ResourceType] = {}
            for rtype in self._by_gvr.values():
                if rtype.is_review:
                    continue
                current = seen.get(rtype.storage_key)
                if current is None or rtype.version == self._preferred.get(rtype.group):
                    seen[rtype.storage_key] = rtype
            return list(seen.values())

    def groups(self) -> list[tuple[str, list[str], str]]:
        """``(group, versions, preferred version)`` in registration order."""
        with self._lock:
            result: list[tuple[str, list[str], str]] = []
            for group in self._group_order:
                versions: list[str] = []
                for rtype in self._by_gvr.values():
                    if rtype.group == group and rtype.version not in versions:
                        versions.append(rtype.version)
                if versions:
                    preferred = self._preferred.get(group, versions[0])
                    result.append(
                        (group, versions, preferred if preferred in versions else versions[0])
                    )
            return result

    def resources(self, group: str, version: str) -> list[ResourceType]:
        with self._lock:
            return [r for r in self._by_gvr.values() if r.group == group and r.version == version]

    def set_crd(self, crd_name: str, types: list[ResourceType], preferred_version: str) -> None:
        """Serve ``types`` for the CRD ``crd_name``, replacing what it served before."""
        with self._lock:
            self._drop_crd(crd_name)
            self._crd_types[crd_name] = types
            for rtype in types:
                self._add(rtype)
            if types:
                self._preferred[types[0].group] = preferred_version

    def remove_crd(self, crd_name: str) -> None:
        with self._lock:
            self._drop_crd(crd_name)

    def _drop_crd(self, crd_name: str) -> None:
        for rtype in self._crd_types.pop(crd_name, []):
            self._by_gvr.pop((rtype.group, rtype.version, rtype.plural), None)
        remaining = {r.group for r in self._by_gvr.values()}
        self._group_order = [g for g in self._group_order if g in remaining]
        self._preferred = {g: v for g, v in self._preferred.items() if g in remaining}
