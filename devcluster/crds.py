"""CustomResourceDefinition handling: validation, the types a CRD serves, its status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devcluster.errors import Cause
from devcluster.resources import PrinterColumn, ResourceType, ScaleSpec
from devcluster.schema import unsupported_rules

JsonObject = dict[str, Any]

_AGE_COLUMN = PrinterColumn("Age", "date", ".metadata.creationTimestamp")


def validate_crd(crd: Mapping[str, Any]) -> list[Cause]:
    """The checks of the apiextensions server this project can trip over."""
    causes: list[Cause] = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    plural = names.get("plural") or ""
    if not group:
        causes.append(Cause("FieldValueRequired", "spec.group", "Required value"))
    if not plural:
        causes.append(Cause("FieldValueRequired", "spec.names.plural", "Required value"))
    if not names.get("kind"):
        causes.append(Cause("FieldValueRequired", "spec.names.kind", "Required value"))
    name = (crd.get("metadata") or {}).get("name", "")
    if group and plural and name != f"{plural}.{group}":
        causes.append(
            Cause(
                "FieldValueInvalid",
                "metadata.name",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            Cause(
                "FieldValueNotSupported",
                "spec.scope",
                f'Unsupported value: "{spec.get("scope", "")}": supported values: "Cluster", '
                '"Namespaced"',
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        causes.append(
            Cause(
                "FieldValueRequired",
                "spec.versions",
                "Required value: must have exactly one version marked as storage version",
            )
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            Cause(
                "FieldValueInvalid",
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    for index, version in enumerate(versions):
        if not version.get("name"):
            causes.append(
                Cause("FieldValueRequired", f"spec.versions[{index}].name", "Required value")
            )
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            causes.append(
                Cause(
                    "FieldValueRequired",
                    f"spec.versions[{index}].schema.openAPIV3Schema",
                    "Required value: schemas are required",
                )
            )
    return causes


def ignored_rules(crd: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(version, field path, rule)`` of validation rules this stand-in does not evaluate."""
    found: list[tuple[str, str, str]] = []
    for version in (crd.get("spec") or {}).get("versions") or []:
        schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}
        found.extend(
            (str(version.get("name")), path, rule) for path, rule in unsupported_rules(schema)
        )
    return found


def _columns(version: Mapping[str, Any]) -> tuple[PrinterColumn, ...]:
    declared = version.get("additionalPrinterColumns")
    if declared is None:
        return (_AGE_COLUMN,)
    return tuple(
        PrinterColumn(
            str(column.get("name")),
            str(column.get("type", "string")),
            str(column.get("jsonPath", "")),
            str(column.get("description", "")),
            int(column.get("priority", 0)),
            str(column.get("format", "")),
        )
        for column in declared
    )


def types_for_crd(crd: Mapping[str, Any]) -> tuple[list[ResourceType], str]:
    """The resource types a CRD serves (one per served version) and its storage version."""
    spec = crd["spec"]
    names = spec["names"]
    storage = next(str(v["name"]) for v in spec["versions"] if v.get("storage"))
    types: list[ResourceType] = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        scale_def = subresources.get("scale")
        scale = (
            ScaleSpec(
                str(scale_def.get("specReplicasPath", ".spec.replicas")),
                str(scale_def.get("statusReplicasPath", ".status.replicas")),
                scale_def.get("labelSelectorPath"),
            )
            if isinstance(scale_def, Mapping)
            else None
        )
        types.append(
            ResourceType(
                group=str(spec["group"]),
                version=str(version["name"]),
                kind=str(names["kind"]),
                plural=str(names["plural"]),
                namespaced=spec["scope"] == "Namespaced",
                singular=str(names.get("singular") or str(names["kind"]).lower()),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in subresources,
                scale=scale,
                has_generation=True,
                custom=True,
                schema=(version.get("schema") or {}).get("openAPIV3Schema") or {},
                printer_columns=_columns(version),
            )
        )
    return types, storage


def established_status(crd: Mapping[str, Any], now: str) -> JsonObject:
    """The status the apiextensions controllers settle on for an accepted CRD."""
    spec = crd["spec"]
    names = dict(spec["names"])
    names.setdefault("singular", str(names["kind"]).lower())
    names.setdefault("listKind", f"{names['kind']}List")
    conditions = [
        {
            "type": "NamesAccepted",
            "status": "True",
            "lastTransitionTime": now,
            "reason": "NoConflicts",
            "message": "no conflicts found",
        },
        {
            "type": "Established",
            "status": "True",
            "lastTransitionTime": now,
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        },
    ]
    if (crd.get("metadata") or {}).get("deletionTimestamp"):
        conditions.append(
            {
                "type": "Terminating",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "InstanceDeletionInProgress",
                "message": "CustomResourceDefinition marked for deletion",
            }
        )
    return {
        "acceptedNames": names,
        "conditions": conditions,
        "storedVersions": [next(str(v["name"]) for v in spec["versions"] if v.get("storage"))],
    }
