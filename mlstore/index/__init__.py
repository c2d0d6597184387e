"""The index: fast, rebuildable tables derived from MLMD (SQLAlchemy + alembic)."""
