"""``kubernaut crds``: write the generated CRDs, or check that the files on disk are current."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kubernaut.errors import CommandError

__all__ = ["register"]

DEFAULT_OUT = Path("charts/kubernaut/crds")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "crds",
        help="generate the CustomResourceDefinitions from the API models",
        description="Write one CustomResourceDefinition per kind, generated from api/, "
        "as <plural>.kubernaut.ai.yaml.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"directory of the CRD files (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a file differs from the generated one",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from api.crds import render_crds

    out: Path = args.out
    generated = render_crds()
    if args.check:
        stale = stale_files(out, generated)
        for name in stale:
            print(f"{out / name}: differs from the models (run `make crds`)", file=sys.stderr)
        return 1 if stale else 0
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in generated.items():
            path = out / name
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path}")
    except OSError as error:
        raise CommandError(f"cannot write {out}: {error.strerror or error}") from None
    return 0


def stale_files(out: Path, generated: dict[str, str]) -> list[str]:
    """Names of generated files that are missing from ``out`` or differ there."""
    stale = []
    for name, text in generated.items():
        path = out / name
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror or error}") from None
        if current != text:
            stale.append(name)
    return stale
