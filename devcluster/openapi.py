"""A minimal OpenAPI v3 index (``/openapi/v3`` and one document per group/version).

``kubectl apply``/``create``/``replace`` look here to learn whether the server
validates fields itself (the ``fieldValidation`` query parameter of each kind's
PATCH operation); finding it, they send ``fieldValidation=Strict`` instead of
validating on the client against full schemas, which this stand-in does not
publish. Component schemas are therefore omitted.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from devcluster.resources import Registry, ResourceType

JsonObject = dict[str, Any]

_QUERY_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation", "force")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _item_path(rtype: ResourceType) -> str:
    prefix = "/" + _gv_path(rtype.group, rtype.version)
    scope = "/namespaces/{namespace}" if rtype.namespaced else ""
    return f"{prefix}{scope}/{rtype.plural}/{{name}}"


def group_version_document(registry: Registry, group: str, version: str) -> JsonObject | None:
    types = [r for r in registry.resources(group, version) if not r.is_review]
    if not registry.resources(group, version):
        return None
    paths: JsonObject = {}
    for rtype in types:
        gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
        parameters = [
            {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for name in _QUERY_PARAMETERS
        ]
        paths[_item_path(rtype)] = {
            "patch": {
                "operationId": f"patch{rtype.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": parameters,
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0-devcluster"},
        "paths": paths,
    }


def root_document(registry: Registry) -> JsonObject:
    paths: JsonObject = {}
    for group, versions, _preferred in registry.groups():
        for version in versions:
            document = group_version_document(registry, group, version)
            digest = (
                hashlib.sha256(json.dumps(document, sort_keys=True).encode())
                .hexdigest()[:32]
                .upper()
            )
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
