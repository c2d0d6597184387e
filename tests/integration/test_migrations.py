"""Index migrations: they build exactly the ORM schema on every backend, go down cleanly,
and ship inside the wheel (``mlstore db upgrade`` from an installed wheel)."""

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from mlstore._uri import parse_store_uri
from mlstore.index import migrate
from mlstore.index.tables import metadata
from mlstore.index.sync import index_engine

ROOT = Path(__file__).resolve().parents[2]


def test_migrated_schema_equals_the_tables_and_downgrades(store_uri):
    location = parse_store_uri(store_uri)
    if location.directory is not None:
        location.directory.mkdir(parents=True)
    engine = index_engine(location)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_object": lambda obj, name, type_, *a: type_ != "table" or (
                name.startswith("mlstore_") and name != migrate.VERSION_TABLE)})
        diff = compare_metadata(context, metadata)
    assert diff == [], diff
    migrate.downgrade(engine, "base")
    remaining = [n for n in inspect(engine).get_table_names() if n.startswith("mlstore_") and "alembic" not in n]
    assert remaining == []
    migrate.upgrade(engine)
    engine.dispose()


def test_db_upgrade_from_an_installed_wheel(tmp_path):
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheel_dir)], check=True, capture_output=True, timeout=300)
    wheel = next(wheel_dir.glob("mlstore-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    assert (site / "mlstore" / "_migrations" / "versions").is_dir()
    assert not (site / "mlstore" / "_migrations").is_symlink()
    script = ("import sys, mlstore; assert mlstore.__file__.startswith(sys.argv[1]), mlstore.__file__;"
              "from mlstore.cli import main; sys.argv=['mlstore','db','upgrade','--store',sys.argv[2]]; main()")
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", script, str(site), str(tmp_path / "store")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "-> " + migrate.head_revision() in proc.stdout
