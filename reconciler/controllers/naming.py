"""Deterministic Kubernetes names for the objects the controllers create (pure).

A restarted reconciler must arrive at exactly the same child names, so names
are derived from the parent's name only, never from a clock or a counter kept
in memory. When a derived name does not fit a limit it is shortened with a
stable hash of the full name, so two long parents never collide on the same
child name and the same parent always gets the same one.

Limits that matter here: object names are DNS-1123 subdomains (at most 253
characters); label values, and therefore the names of Jobs (the Job controller
copies the name into the ``job-name`` label of its pods), are at most 63.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

__all__ = [
    "HASH_LENGTH",
    "MAX_LABEL_VALUE",
    "MAX_NAME",
    "child_name",
    "kebab_case",
    "label_value",
    "shorten",
]

MAX_NAME: Final = 253
"""Longest DNS-1123 subdomain: the limit of most object names."""
MAX_LABEL_VALUE: Final = 63
"""Longest label value, and so the longest Job name."""
HASH_LENGTH: Final = 10
"""Hex digits of the SHA-256 of the full name appended to a shortened one."""

# Word boundaries of camelCase / PascalCase, keeping acronyms together:
# "updateConfigMap" -> update|Config|Map, "HTTPServer" -> HTTP|Server.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+")
# Characters a label value / DNS-1123 subdomain may end with.
_ALPHANUMERIC_END = re.compile(r"[^a-z0-9A-Z]+$")


def kebab_case(name: str) -> str:
    """``scaleDeployment`` -> ``scale-deployment``: a camelCase identifier as a DNS-1123 label.

    Anything that is not a letter or digit separates words. ValueError when
    nothing usable is left (the caller passed no identifier at all).
    """
    words = [word.lower() for word in _WORD.findall(name)]
    if not words:
        raise ValueError(f"cannot make a Kubernetes name from {name!r}: no letters or digits")
    return "-".join(words)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def _trim_end(text: str) -> str:
    return _ALPHANUMERIC_END.sub("", text)


def shorten(name: str, max_length: int = MAX_LABEL_VALUE) -> str:
    """``name`` itself when it fits, else a prefix of it plus ``-<hash>`` in ``max_length``.

    The hash is taken over the whole ``name``, so distinct long names stay
    distinct; the prefix never ends in ``-`` or ``.`` (the result stays a
    valid label value and DNS-1123 subdomain when ``name`` was one).
    """
    if max_length <= HASH_LENGTH:
        raise ValueError(f"max_length must exceed {HASH_LENGTH}, got {max_length}")
    if len(name) <= max_length:
        return name
    prefix = _trim_end(name[: max_length - HASH_LENGTH - 1])
    return f"{prefix}-{_digest(name)}" if prefix else _digest(name)


def child_name(parent: str, suffix: str, max_length: int = MAX_LABEL_VALUE) -> str:
    """``<parent>-<suffix>``, shortened as ``<parent prefix>-<hash>-<suffix>`` when too long.

    The suffix (an attempt number, a step number) stays readable at the end;
    the hash covers the full ``<parent>-<suffix>`` so every child of a long
    parent still gets its own name.
    """
    full = f"{parent}-{suffix}"
    if len(full) <= max_length:
        return full
    room = max_length - len(suffix) - HASH_LENGTH - 2
    if room < 1:
        raise ValueError(f"suffix {suffix!r} leaves no room for a name in {max_length} characters")
    prefix = _trim_end(parent[:room])
    head = f"{prefix}-{_digest(full)}" if prefix else _digest(full)
    return f"{head}-{suffix}"


def label_value(text: str) -> str:
    """``text`` fitted into a label value (at most 63 characters), shortened stably."""
    return shorten(text, MAX_LABEL_VALUE)
