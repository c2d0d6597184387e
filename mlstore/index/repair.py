"""A corrupt embedded index (``index.sqlite``) is derived data: move it aside, rebuild it.

``mlstore reindex`` checks the file first (SQLite's ``quick_check``); an unreadable or
damaged file is renamed ``index.sqlite.corrupt-<time>`` (with its -wal/-shm files) and
a new index is built from ML Metadata. Every other command that meets a damaged index
fails with a one-line message pointing at ``mlstore reindex`` (see :func:`unreadable_message`).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

INDEX_FILE = "index.sqlite"


def is_damage(error: Exception) -> bool:
    """True for SQLAlchemy's wrapping of SQLite's "file is not a database" / "disk image is
    malformed" (plain ``sqlite3.DatabaseError``; its subclasses are locks, constraints, SQL errors)."""
    return type(getattr(error, "orig", None)) is sqlite3.DatabaseError


def damage(path: Path) -> str | None:
    """Why the SQLite file at ``path`` cannot serve as an index (None when it is fine or absent)."""
    if not path.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("PRAGMA quick_check").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        return str(e)
    if rows != [("ok",)]:
        return "; ".join(str(r[0]) for r in rows[:3])
    return None


def move_aside(path: Path) -> Path:
    """Renames a damaged index (and its -wal/-shm files) out of the way; returns the new name."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            extra.rename(target.with_name(target.name + suffix))
    path.rename(target)
    return target


def unreadable_message(uri: str, detail: str) -> str:
    """The one-line error of a command that found the index damaged."""
    return (f"the index of {uri} is damaged ({' '.join(detail.split())[:200]}); it is derived data: run "
            f"`mlstore reindex --store {uri}` to move it aside and rebuild it from ML Metadata")
