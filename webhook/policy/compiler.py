"""Compiling a :class:`PolicyBundle` into a regorus engine, and regorus error text.

A regorus ``Engine`` is bound to the thread that created it (the Python
binding is ``unsendable``), so callers compile one engine per thread; the
compile of the shipped policies takes a few milliseconds.
"""

from __future__ import annotations

from typing import Any

import regorus

from webhook.policy.bundle import PolicyBundle
from webhook.policy.errors import BundleLoadError

_BACKTRACE_MARKER = "Stack backtrace:"


def compile_bundle(bundle: PolicyBundle, *, coverage: bool = False) -> Any:
    """A new regorus engine holding the bundle's modules and data; raises BundleLoadError."""
    engine = regorus.Engine()
    if coverage:
        engine.set_enable_coverage(True)
    try:
        engine.add_data({"kubernaut": {"config": bundle.config}})
    except (RuntimeError, TypeError, ValueError) as err:
        raise BundleLoadError(f"policy data cannot be loaded: {regorus_message(err)}") from err
    for module in bundle.modules:
        try:
            engine.add_policy(module.path, module.source)
        except (RuntimeError, ValueError) as err:
            message = regorus_message(err)
            if "-->" not in message:
                message = f"{module.path}: {message}"
            raise BundleLoadError(message) from err
    return engine


def regorus_message(err: BaseException) -> str:
    """The human part of a regorus error: the located snippet without the Rust backtrace."""
    text = str(err)
    marker = text.find(_BACKTRACE_MARKER)
    if marker >= 0:
        text = text[:marker]
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines).strip() or type(err).__name__


def one_line(message: str) -> str:
    """Condense a located regorus message to ``file:line:col: error`` for logs and metrics."""
    location = ""
    error = ""
    for line in message.splitlines():
        stripped = line.strip()
        if stripped.startswith("-->") and not location:
            location = stripped[3:].strip()
        elif stripped.startswith("error:"):
            error = stripped[len("error:") :].strip()
    if location and error:
        return f"{location}: {error}"
    return " ".join(part.strip() for part in message.splitlines() if part.strip())
