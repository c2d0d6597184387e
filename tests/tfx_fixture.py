"""The committed real-TFX fixture (``tests/fixtures/tfx_flights``) and a copy to test on.

The fixture is the output of three LocalDagRunner runs of ``tests/tfx/flights_tfx_pipeline.py``
(``tests/tfx/make_fixture.sh``; what it holds: ``tests/tfx/RECORDS.md``). TFX records
absolute paths, so :func:`copy_tfx_fixture` copies it and rewrites, in the COPY's
``metadata.sqlite`` only, every path under the directory the runs wrote to (``ORIGIN``)
to the copy's location: artifact uris, string custom properties (``current_model``,
``baseline_model``, ``pushed_destination``) and string exec properties (``input_base``,
``module_path``, ``push_destination``). Files inside the artifacts (TFMA's
``eval_config.json`` ``modelLocations``) keep the original paths. Empty artifact
directories, which git does not keep, are recreated.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tfx_flights"
PIPELINE = "flights_tfx"


def fixture_origin(fixture: Path = FIXTURE) -> str:
    """The absolute directory the fixture's runs wrote to (its recorded paths start with it)."""
    return (fixture / "ORIGIN").read_text().strip()


def copy_tfx_fixture(tmp_path: Path) -> Path:
    """Copies the fixture to ``tmp_path/tfx_flights`` with its MLMD paths pointing at the copy.

    Returns the copy's directory (``metadata.sqlite``, ``pipeline_root/``, ``serving/``, ``data/``).
    """
    target = Path(tmp_path) / "tfx_flights"
    shutil.copytree(FIXTURE, target, symlinks=True)
    rewrite_paths(target / "metadata.sqlite", fixture_origin(), str(target))
    recreate_empty_artifact_dirs(target)
    return target


def recreate_empty_artifact_dirs(target: Path) -> None:
    """git keeps no empty directories: TFX's empty artifact dirs (every ModelRun, the
    PushedModel of a run that did not push) are recreated from the recorded uris."""
    con = sqlite3.connect(target / "metadata.sqlite")
    try:
        uris = [u for (u,) in con.execute("SELECT uri FROM Artifact")]
    finally:
        con.close()
    for uri in uris:
        if uri.startswith(str(target) + "/"):
            Path(uri).mkdir(parents=True, exist_ok=True)


def rewrite_paths(db: Path, old: str, new: str) -> None:
    """Replaces the directory prefix ``old`` by ``new`` in the path-valued MLMD columns of ``db``."""
    old, new = old.rstrip("/") + "/", new.rstrip("/") + "/"
    con = sqlite3.connect(db)
    try:
        with con:
            con.execute("UPDATE Artifact SET uri = ? || substr(uri, ?) WHERE substr(uri, 1, ?) = ?",
                        (new, len(old) + 1, len(old), old))
            for table in ("ArtifactProperty", "ExecutionProperty"):
                con.execute(f"UPDATE {table} SET string_value = replace(string_value, ?, ?) "
                            "WHERE instr(string_value, ?) > 0", (old, new, old))
    finally:
        con.close()
