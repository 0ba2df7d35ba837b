"""The input document of the admission, mutation and approval policies.

The contract is documented for policy authors in ``policies/README.md``
(section "Admission input"); change it only together with that page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.review import AdmissionRequest


def policy_input(
    request: AdmissionRequest,
    obj: Mapping[str, Any] | None,
    *,
    namespace_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The policy input for ``request`` with ``obj`` as the object under review.

    ``obj`` is the request's object as the policies should see it (the
    defaulted one while mutating); ``namespace_labels`` is added only when known.
    """
    document: dict[str, Any] = {
        "operation": request.operation,
        "userInfo": {
            "username": request.user_info.username,
            "groups": list(request.user_info.groups),
        },
        "kind": {
            "group": request.kind.group,
            "version": request.kind.version,
            "kind": request.kind.kind,
        },
        "resource": {
            "group": request.resource.group,
            "version": request.resource.version,
            "resource": request.resource.resource,
        },
        "subResource": request.sub_resource,
        "namespace": request.namespace,
        "name": request.name,
        "dryRun": request.dry_run,
        "object": obj,
        "oldObject": request.old_object,
    }
    if namespace_labels is not None:
        document["namespaceLabels"] = dict(namespace_labels)
    return document
