"""`mlstore db tfx-types` on a store the previous release wrote (tests/fixtures/release_430cede)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

import mlstore
from mlstore.tfx.records import STANDARD_ARTIFACT_TYPES

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "release_430cede"


def _cli(*args: str, check: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "mlstore", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == check, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


def _records(path: Path) -> tuple[dict, dict]:
    """({type name: {property: kind}}, {artifact id: {field: value}} with type and custom properties merged)."""
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READONLY
    raw = metadata_store.MetadataStore(config)
    types = {t.name: dict(t.properties) for t in raw.get_artifact_types()}
    values = {}
    for artifact in raw.get_artifacts():
        merged = {k: v.WhichOneof("value") and getattr(v, v.WhichOneof("value"))
                  for k, v in [*artifact.custom_properties.items(), *artifact.properties.items()]}
        values[artifact.id] = merged
    return types, values


def test_old_release_store_becomes_tfx_native_and_keeps_every_value(tmp_path):
    store_dir = tmp_path / "store"
    shutil.copytree(FIXTURE, store_dir)
    mlmd_file = store_dir / "mlmd.sqlite"
    proc = _cli("ls", "--store", str(store_dir), check=2)
    assert "mlstore db upgrade" in proc.stderr
    _cli("db", "upgrade", "--store", str(store_dir))
    types_before, values_before = _records(mlmd_file)
    assert types_before["Model"], "the old release registered Model with extra type properties"
    digest = hashlib.sha256(mlmd_file.read_bytes()).hexdigest()
    dry = _cli("db", "tfx-types", "--dry-run", "--store", str(store_dir)).stdout
    assert "Model: would move" in dry and "ModelBlessing: would move" in dry
    assert hashlib.sha256(mlmd_file.read_bytes()).hexdigest() == digest  # a dry run changes nothing
    _cli("db", "tfx-types", "--store", str(store_dir))
    types_after, values_after = _records(mlmd_file)
    for name, props in STANDARD_ARTIFACT_TYPES.items():
        if name in types_after:
            assert set(types_after[name]) == set(props), name
    assert types_after["HubModule"] == types_before["HubModule"]  # mlstore's own types stay
    assert values_after == values_before  # every field of every artifact, same value
    again = _cli("db", "tfx-types", "--store", str(store_dir)).stdout
    assert "already has TFX's exact properties" in again
    store = mlstore.open(str(store_dir))
    try:
        latest = store.latest_blessed("flights")
        assert latest is not None and latest.type == "Model"
        assert store.reindex() > 0
        assert store.latest_blessed("flights").id == latest.id
    finally:
        store.close()
