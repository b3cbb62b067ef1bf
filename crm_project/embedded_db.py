"""Embedded PostgreSQL for development, demo and tests when no DATABASE_URL is set.

pgserver ships real PostgreSQL binaries in a wheel; every process that calls
``database_url()`` shares the one server under ``var/pgdata`` (pgserver counts
its users and stops the server when the last one exits).
"""

from pathlib import Path

_server = None


def database_url(data_dir: Path, name: str = "crm") -> str:
    global _server
    import pgserver  # imported lazily: production never needs it

    if _server is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        _server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
        exists = _server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "1 row" not in exists:
            _server.psql(f'CREATE DATABASE "{name}";')
    socket_dir = str(data_dir)
    return f"postgres://postgres@/{name}?host={socket_dir}"
