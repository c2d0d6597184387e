"""Database servers for tests: fresh databases on MariaDB and PostgreSQL.

MLMD's MySQL client authenticates with mysql_native_password, so tests connect as a
password user (``mlstore``/``mlstore``) that :func:`ensure_mysql_user` creates via the
passwordless root account.
"""

from __future__ import annotations

import os
import uuid

import pytest

MYSQL = dict(host="127.0.0.1", port=3306)
POSTGRES = dict(host="127.0.0.1", port=5432)
MYSQL_USER, MYSQL_PASSWORD = "mlstore", "mlstore"
PG_USER = "postgres"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(what: str, error: Exception):
    message = f"{what} unreachable: {error}"
    if in_ci():
        pytest.fail(message + " (CI=true: server tests must run)")
    pytest.skip(message)


def _mysql_root():
    import pymysql

    return pymysql.connect(user="root", password="", autocommit=True, **MYSQL)


def ensure_mysql_user() -> None:
    with _mysql_root() as con, con.cursor() as cur:
        cur.execute(
            f"CREATE USER IF NOT EXISTS '{MYSQL_USER}'@'%' IDENTIFIED VIA mysql_native_password "
            f"USING PASSWORD('{MYSQL_PASSWORD}')"
        )
        cur.execute(
            f"CREATE USER IF NOT EXISTS '{MYSQL_USER}'@'localhost' IDENTIFIED VIA mysql_native_password "
            f"USING PASSWORD('{MYSQL_PASSWORD}')"
        )
        for host in ("%", "localhost"):
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{MYSQL_USER}'@'{host}'")


def create_mysql_database() -> str:
    name = "mlstore_t_" + uuid.uuid4().hex[:10]
    ensure_mysql_user()
    with _mysql_root() as con, con.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    return name


def drop_mysql_database(name: str) -> None:
    with _mysql_root() as con, con.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")


def _pg_admin():
    import psycopg2

    con = psycopg2.connect(dbname="postgres", user=PG_USER, **POSTGRES)
    con.autocommit = True
    return con


def create_postgres_database() -> str:
    name = "mlstore_t_" + uuid.uuid4().hex[:10]
    con = _pg_admin()
    try:
        con.cursor().execute(f"CREATE DATABASE {name}")
    finally:
        con.close()
    return name


def drop_postgres_database(name: str) -> None:
    con = _pg_admin()
    try:
        cur = con.cursor()
        cur.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
    finally:
        con.close()


def fresh_store_uri(backend: str, tmp_path):
    """Yields a URI of an empty store on ``backend``; drops its database afterwards."""
    blobs = tmp_path / "blobs"
    if backend == "sqlite":
        yield str(tmp_path / "store")
        return
    if backend == "mysql":
        try:
            name = create_mysql_database()
        except Exception as e:  # noqa: BLE001 - any connection failure means "unreachable"
            unavailable("MariaDB at 127.0.0.1:3306", e)
        try:
            yield (f"mysql://{MYSQL_USER}:{MYSQL_PASSWORD}@{MYSQL['host']}:{MYSQL['port']}/{name}"
                   f"?artifact_root={blobs}")
        finally:
            drop_mysql_database(name)
        return
    try:
        name = create_postgres_database()
    except Exception as e:  # noqa: BLE001
        unavailable("PostgreSQL at 127.0.0.1:5432", e)
    try:
        yield f"postgresql://{PG_USER}@{POSTGRES['host']}:{POSTGRES['port']}/{name}?artifact_root={blobs}"
    finally:
        drop_postgres_database(name)
