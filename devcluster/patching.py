"""Applying the patch types of ``PATCH`` requests (pure)."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from devcluster.errors import ApiError, bad_request
from devcluster.strategic_merge import StrategicMergeError, strategic_merge

JsonObject = dict[str, Any]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def accepted_types(strategic: bool) -> list[str]:
    types = [JSON_PATCH, MERGE_PATCH]
    if strategic:
        types.append(STRATEGIC_MERGE_PATCH)
    return types


def unsupported_patch(content_type: str, strategic: bool) -> ApiError:
    accepted = ", ".join(accepted_types(strategic))
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        f"{accepted}",
        {
            "causes": [
                {
                    "reason": "UnexpectedServerResponse",
                    "message": f"unsupported patch type {content_type!r}",
                }
            ]
        },
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patch(
    content_type: str, current: JsonObject, patch: Any, *, strategic: bool
) -> JsonObject:
    """Apply ``patch`` of ``content_type`` to ``current``; a bad patch raises an ``ApiError``."""
    if content_type == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise bad_request("a merge patch must be a JSON object")
        result = merge_patch(current, patch)
    elif content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise bad_request("a JSON patch must be a JSON array of operations")
        try:
            result = jsonpatch.JsonPatch(patch).apply(copy.deepcopy(current))
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as err:
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: {err}",
            ) from err
        except (TypeError, KeyError, ValueError) as err:
            raise bad_request(f"invalid JSON patch: {err}") from err
    elif content_type == STRATEGIC_MERGE_PATCH and strategic:
        if not isinstance(patch, dict):
            raise bad_request("a strategic merge patch must be a JSON object")
        try:
            result = strategic_merge(current, patch)
        except StrategicMergeError as err:
            raise bad_request(str(err)) from err
    else:
        raise unsupported_patch(content_type, strategic)
    if not isinstance(result, dict):
        raise bad_request("the patched object is not a JSON object")
    return result
