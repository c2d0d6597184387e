"""A first attach of a big TFX store fingerprints its bytes in a second process while the
index is built (mlstore.index.fingerprints.BulkFingerprints): every artifact is still
fingerprinted once, with the same digest an inline fingerprint gives, and verify uses them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

import mlstore
from mlstore.index import fingerprints, sync
from mlstore.index import tables as t

ROOT = Path(__file__).resolve().parents[2]


def test_first_attach_of_a_big_store_fingerprints_every_artifact_once(tmp_path):
    days = 130  # 1,040 executions: more than a rebuild fingerprints inline
    assert days * 8 > sync._BULK_FROM
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_tfx_store.py"), "--out", str(tmp_path / "tfx"),
                    "--days", str(days)], check=True, capture_output=True, timeout=600)
    store = mlstore.open(str(tmp_path / "tfx" / "metadata.sqlite"))
    with store.engine.connect() as connection:
        rows = connection.execute(select(t.fingerprint.c.artifact_id, t.fingerprint.c.digest)).all()
        uris = dict(connection.execute(select(t.artifact.c.id, t.artifact.c.uri)).all())
    recorded = dict(rows)
    assert len(rows) == len(recorded)  # once each, although later runs read earlier runs' models
    with_bytes = {i for i, uri in uris.items()  # TFX leaves some directories empty (ModelRun)
                  if any(files for _, _, files in os.walk(Path(uri).resolve()))}
    assert set(recorded) == with_bytes and len(with_bytes) > 1000
    for artifact_id in sorted(with_bytes)[::97]:  # the same digests as an inline fingerprint
        assert fingerprints.take(artifact_id, uris[artifact_id]).digest == recorded[artifact_id]
    report = store.check_bytes()
    assert len(report.corrupted) == 0 and report.hashed >= len(with_bytes)
    store.close()
