"""A rebuild parses a TFMA output directory once per state (mlstore.index.sync._TfmaCache):
evaluations reaching the same unchanged files share one parse, a changed file is read again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ml_metadata.proto import metadata_store_pb2 as pb

from mlstore.index import sync
from mlstore.tfx import tfma

EVALUATION = Path(__file__).resolve().parents[1] / "fixtures" / "tfx_flights" / "pipeline_root" / "Evaluator" \
    / "evaluation" / "23"
TYPES = {1: "ModelEvaluation"}


def _evaluation(artifact_id: int, uri: Path) -> pb.Artifact:
    return pb.Artifact(id=artifact_id, type_id=1, uri=str(uri), state=pb.Artifact.LIVE)


def test_evaluations_sharing_files_are_parsed_once_and_a_changed_file_again(tmp_path, monkeypatch):
    shared = tmp_path / "template"
    shutil.copytree(EVALUATION, shared)
    (tmp_path / "7").symlink_to(shared)
    (tmp_path / "8").symlink_to(shared)
    other = tmp_path / "9"
    shutil.copytree(EVALUATION, other)
    reads = []
    original = tfma.read_metrics
    monkeypatch.setattr(tfma, "read_metrics", lambda path, **kw: reads.append(Path(path)) or original(path, **kw))

    cache = sync._TfmaCache()
    found = cache.evaluations([_evaluation(7, tmp_path / "7"), _evaluation(8, tmp_path / "8"),
                               _evaluation(9, other)], TYPES)
    assert sorted(found) == [7, 8, 9] and found[7] == found[8] == found[9] == original(EVALUATION)
    assert found[7]["Overall"]
    assert len(reads) == 2  # the shared directory once, the copy once

    metrics_file = next(shared.glob("metrics-*"))
    stat = metrics_file.stat()
    os.utime(metrics_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    again = cache.evaluations([_evaluation(10, tmp_path / "7")], TYPES)
    assert again == {10: found[7]} and len(reads) == 3  # changed (here: its time) -> parsed anew


def test_a_directory_without_tfma_files_or_bytes_gives_no_metrics(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    cache = sync._TfmaCache()
    assert cache.evaluations([_evaluation(1, tmp_path / "empty"), _evaluation(2, tmp_path / "dangling"),
                              _evaluation(3, tmp_path / "missing")], TYPES) == {}
