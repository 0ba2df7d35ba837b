"""Defaults of the mutating webhook: the schema's static ones, then the policies' ones.

Both only ever fill ABSENT fields of the spec: a value the user wrote, even
one equal to a default, is never touched. Static defaults come from the
kind's pydantic model (a field the user left out and the model fills in);
policy defaults come from ``data.kubernaut.mutation.defaults`` (JSON pointer
-> value) and are checked here again so a policy bug can never override a
user's value or create a missing parent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from api.validation import parse_resource
from webhook.patch import PatchBuilder, child_pointer, parse_pointer

_log = logging.getLogger("kubernaut.webhook")

# Only the spec is defaulted: metadata belongs to the API server and status to
# the reconciler (and to the /status subresource, which is never mutated).
_DEFAULTED_SECTION = "spec"


def apply_static_defaults(builder: PatchBuilder) -> int:
    """Add the model's defaults for every field absent from the spec; the number added.

    An object that does not parse gets no static defaults (the validating
    webhook reports why it is invalid).
    """
    document = builder.document
    spec = document.get(_DEFAULTED_SECTION)
    if not isinstance(spec, dict):
        return 0
    try:
        resource = parse_resource(document)
    except (ValidationError, ValueError):
        return 0
    defaulted = resource.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _fill_absent(builder, child_pointer("", _DEFAULTED_SECTION), spec, defaulted)


def _fill_absent(builder: PatchBuilder, at: str, current: Any, defaulted: Any) -> int:
    # ``current`` is the node of the builder's working document at pointer ``at``, so
    # members are added to it directly (no walk from the root for each default).
    # Equal subtrees have the same members all the way down: only unequal ones are walked.
    added = 0
    if isinstance(current, dict) and isinstance(defaulted, dict):
        for key, value in defaulted.items():
            if key not in current:
                added += builder.add_member(current, at, key, value)
            elif current[key] != value:
                added += _fill_absent(builder, child_pointer(at, key), current[key], value)
    elif (
        isinstance(current, list) and isinstance(defaulted, list) and len(current) == len(defaulted)
    ):
        for index, (item, value) in enumerate(zip(current, defaulted, strict=True)):
            if item != value:
                added += _fill_absent(builder, child_pointer(at, index), item, value)
    return added


def apply_policy_defaults(builder: PatchBuilder, defaults: Mapping[str, Any]) -> int:
    """Add each ``pointer -> value`` of the policies where the target is absent.

    Pointers are applied shortest first, so a policy may default a whole parent
    and its children in one answer; a pointer into a missing parent or onto
    an existing value is skipped (and logged: the policy contract forbids it).
    """
    added = 0
    for text in sorted(defaults, key=lambda item: (item.count("/"), item)):
        try:
            parts = parse_pointer(text)
        except ValueError as err:
            _log.warning("policy default ignored: %s", err)
            continue
        if builder.add_if_absent(parts, defaults[text]):
            added += 1
        else:
            _log.debug("policy default %s ignored: the target exists or has no parent", text)
    return added
