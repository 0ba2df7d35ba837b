"""Discovery documents (``/api``, ``/apis``, ``/apis/{group}/{version}``, ``/version``)."""

from __future__ import annotations

from typing import Any

from devcluster.resources import SUBRESOURCE_KINDS, Registry, ResourceType

JsonObject = dict[str, Any]

VERSION_INFO: JsonObject = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.0-devcluster",
    "gitCommit": "devcluster",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "devcluster",
    "compiler": "devcluster",
    "platform": "linux/amd64",
}


def api_versions() -> JsonObject:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def _group_entry(group: str, versions: list[str], preferred: str) -> JsonObject:
    return {
        "name": group,
        "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
        "preferredVersion": {"groupVersion": f"{group}/{preferred}", "version": preferred},
    }


def api_group_list(registry: Registry) -> JsonObject:
    groups = [_group_entry(*entry) for entry in registry.groups() if entry[0]]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> JsonObject | None:
    for entry in registry.groups():
        if entry[0] == group and group:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(*entry)}
    return None


def _resource_entries(rtype: ResourceType) -> list[JsonObject]:
    main: JsonObject = {
        "name": rtype.plural,
        "singularName": rtype.singular_name,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        main["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        main["categories"] = list(rtype.categories)
    entries = [main]
    if rtype.status_subresource:
        entries.append(
            {
                "name": f"{rtype.plural}/status",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    if rtype.scale is not None:
        group, version, kind = SUBRESOURCE_KINDS["scale"]
        entries.append(
            {
                "name": f"{rtype.plural}/scale",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "group": group,
                "version": version,
                "kind": kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    for sub in rtype.extra_subresources:
        if sub in SUBRESOURCE_KINDS:
            group, version, kind = SUBRESOURCE_KINDS[sub]
            entries.append(
                {
                    "name": f"{rtype.plural}/{sub}",
                    "singularName": "",
                    "namespaced": rtype.namespaced,
                    "group": group,
                    "version": version,
                    "kind": kind,
                    "verbs": ["create"],
                }
            )
        else:
            entries.append(
                {
                    "name": f"{rtype.plural}/{sub}",
                    "singularName": "",
                    "namespaced": rtype.namespaced,
                    "kind": rtype.kind,
                    "verbs": ["get"],
                }
            )
    return entries


def api_resource_list(registry: Registry, group: str, version: str) -> JsonObject | None:
    types = registry.resources(group, version)
    if not types:
        return None
    resources = [entry for rtype in types for entry in _resource_entries(rtype)]
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }
