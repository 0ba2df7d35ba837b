"""Random identifiers of the stand-in: object UIDs, review UIDs and generateName suffixes.

``uuid.uuid4()`` and :mod:`secrets` read ``os.urandom`` on every call, and that
system call gives up and re-takes the interpreter lock on every write, which
under load queues the request behind every other thread. These identifiers
must be unique, not secret: a generator seeded once from ``os.urandom`` makes
the same version-4 UUIDs and suffixes without a system call.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Sequence

_RANDOM = random.Random(os.urandom(32))  # noqa: S311 - unique, not secret (see above)


def new_uid() -> str:
    """A random (version 4) UUID in its canonical text form."""
    return str(uuid.UUID(int=_RANDOM.getrandbits(128), version=4))


def random_suffix(alphabet: Sequence[str], length: int) -> str:
    return "".join(_RANDOM.choices(alphabet, k=length))


__all__ = ["new_uid", "random_suffix"]
