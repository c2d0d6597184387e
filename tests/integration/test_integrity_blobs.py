"""Issue 18, defects 1 and 7: an artifact's bytes are bound to its digest, reads verify them.

On SQLite, MariaDB and PostgreSQL (the uri check and the read path do not depend on the
backend, but the write path that refuses a uri does).
"""

import os
import shutil
import stat
from pathlib import Path

import pytest

import mlstore
from mlstore import errors
from mlstore.artifact_bytes import artifact_local_path, verify_artifacts
from mlstore.store import OutputArtifact
from mlstore.types import Artifact


def _publish(store, tmp_path, name="model", text="weights"):
    src = tmp_path / name
    src.mkdir(parents=True, exist_ok=True)
    (src / "saved_model.pb").write_text(text)
    (src / "vars.bin").write_bytes(b"\x00\x01" * 100)
    return store.blobs.publish(src)


def _counts(store):
    return len(store.executions()), len(store.artifacts())


@pytest.mark.parametrize("bad_uri", [
    "{obj}/../../../../etc/passwd",
    "{obj}/../{other}",
    "/etc/passwd",
    "http://example.invalid/model",
    "{obj}/not-in-manifest.txt",
    "{obj}x",
])
def test_an_output_uri_other_than_its_blobs_is_refused_and_nothing_is_written(store, tmp_path, bad_uri):
    blob = _publish(store, tmp_path)
    other = _publish(store, tmp_path, "other", "other weights")
    uri = bad_uri.format(obj=store.blobs.object_uri(blob.digest), other=other.digest[7:])
    before = _counts(store)
    with pytest.raises(errors.InvalidArgument, match="not where mlstore stores blob"):
        store.log_execution("Trainer", "p", outputs=[OutputArtifact("Model", uri, blob.digest, blob.size, "model")])
    assert _counts(store) == before


def test_uris_of_the_blob_are_accepted_and_an_empty_one_is_derived(store, tmp_path):
    blob = _publish(store, tmp_path)
    base = store.blobs.object_uri(blob.digest)
    logged = store.log_execution("Trainer", "p", outputs=[
        OutputArtifact("Model", "", blob.digest, blob.size, "model"),
        OutputArtifact("Model", base, blob.digest, blob.size, "model2"),
        OutputArtifact("Model", f"{base}/vars.bin", blob.digest, blob.size, "model3")])
    uris = [store.artifact(i).uri for i in logged.output_ids]
    assert uris == [base, base, f"{base}/vars.bin"]
    assert store.local_path(logged.output_ids[2]) == f"{store.blobs.local_path(blob.digest)}/vars.bin"
    assert store.verify() == {}


def test_local_path_refuses_corrupt_bytes_and_reports_missing_ones(store, tmp_path):
    blob = _publish(store, tmp_path)
    logged = store.log_execution("Trainer", "p", outputs=[OutputArtifact("Model", "", blob.digest, blob.size, "m")])
    model = logged.output_ids[0]
    path = Path(store.local_path(model))
    assert (path / "saved_model.pb").read_text() == "weights"
    target = path / "saved_model.pb"
    os.chmod(target, 0o644)
    for attempt in range(3):  # the same size and a restored mtime: only the ctime tells
        st = target.stat()
        target.write_text("weighTs" if attempt % 2 == 0 else "WEIGHTS")
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
        with pytest.raises(errors.IntegrityError, match="sha256 differs"):
            store.local_path(model)
    os.chmod(path, 0o755)
    shutil.rmtree(path)
    with pytest.raises(errors.NotFound, match="missing"):
        store.local_path(model)


def test_an_added_file_in_a_blob_is_refused(sqlite_store, tmp_path):
    blob = _publish(sqlite_store, tmp_path)
    path = sqlite_store.blobs.local_path(blob.digest)
    os.chmod(path, 0o755)
    (path / "extra.py").write_text("import os")
    with pytest.raises(errors.IntegrityError, match="unexpected file"):
        sqlite_store.blobs.local_path(blob.digest)


def _external(uri, digest=None):
    return Artifact(id=9, type="Model", uri=uri, digest=digest, size=None, state="LIVE", pipeline="p", span=None,
                    create_time_ms=0)


def test_external_artifacts_are_read_only_under_the_read_roots(tmp_path):
    root = tmp_path / "tfx_root"
    (root / "Trainer" / "model" / "3").mkdir(parents=True)
    (root / "Trainer" / "model" / "3" / "saved_model.pb").write_text("tfx model")
    (tmp_path / "secret").write_text("no")
    store = mlstore.open(str(tmp_path / "store"), read_roots=[str(root)])
    try:
        model_dir = root / "Trainer" / "model" / "3"
        assert store.local_path(_external(str(model_dir))) == str(model_dir)
        assert store.local_path(_external(f"file://{model_dir}")) == str(model_dir)
        for outside in (str(tmp_path / "secret"), f"{model_dir}/../../../../secret", "/etc/passwd",
                        "http://example.invalid/m", "relative/path"):
            with pytest.raises(errors.PermissionDenied, match="read roots"):
                store.local_path(_external(outside))
        os.symlink(tmp_path / "secret", root / "link")
        with pytest.raises(errors.PermissionDenied):
            store.local_path(_external(str(root / "link")))
        with pytest.raises(errors.NotFound):
            store.local_path(_external(str(root / "gone")))
        from mlstore.blobs import collect_files, manifest_of
        digest = manifest_of(collect_files(model_dir)).digest
        assert store.local_path(_external(str(model_dir), digest)) == str(model_dir)
        wrong = "sha256:" + "0" * 64
        with pytest.raises(errors.IntegrityError, match="hash to"):
            store.local_path(_external(str(model_dir), wrong))
        assert verify_artifacts(store.blobs, [_external(str(model_dir), wrong)], store.read_roots)
    finally:
        store.close()
    plain = mlstore.open(str(tmp_path / "store"))
    try:
        with pytest.raises(errors.PermissionDenied):
            plain.local_path(_external(str(model_dir)))
    finally:
        plain.close()


def test_verify_reports_an_artifact_whose_uri_is_not_its_blob(sqlite_store, tmp_path):
    blob = _publish(sqlite_store, tmp_path)
    good = _external(sqlite_store.blobs.object_uri(blob.digest), blob.digest)
    bad = _external("/etc/passwd", blob.digest)
    assert verify_artifacts(sqlite_store.blobs, [good]) == {}
    problems = verify_artifacts(sqlite_store.blobs, [bad])
    assert "is not where blob" in problems[bad.node_id][0]
    # The read path ignores a recorded uri that is not the blob's: the digest names the bytes.
    assert artifact_local_path(sqlite_store.blobs, bad) == str(sqlite_store.blobs.local_path(blob.digest))


def test_fifo_and_socket_in_a_logged_directory_are_typed_errors(sqlite_store, tmp_path):
    import socket

    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.txt").write_text("ok")
    os.mkfifo(src / "pipe")
    with pytest.raises(errors.InvalidArgument, match="FIFO"):
        sqlite_store.blobs.publish(src)
    os.remove(src / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "sock"))
    try:
        with pytest.raises(errors.InvalidArgument, match="socket"):
            sqlite_store.blobs.publish(src)
    finally:
        sock.close()
    assert stat.S_ISSOCK(os.stat(src / "sock").st_mode)


def test_a_copied_store_still_reads_and_verifies_its_artifacts(tmp_path):
    """Uris are absolute: a store copied elsewhere has uris under the old root."""
    from tests.conftest import copy_store

    original = str(tmp_path / "one")
    with mlstore.open(original) as store:
        (tmp_path / "f.csv").write_text("a\n1\n")
        with mlstore.run("p", "ExampleGen", store=store) as r:
            r.log_artifact(tmp_path / "f.csv", "Examples")
    copy = copy_store(original, tmp_path / "two")
    shutil.rmtree(original)
    with mlstore.open(copy) as store:
        [examples] = store.artifacts()
        assert str(tmp_path / "one") in examples.uri
        assert store.verify() == {}
        path = store.local_path(examples)
        assert path.startswith(str(tmp_path / "two")) and open(path).read() == "a\n1\n"


def test_grpc_log_execution_refuses_a_uri_that_is_not_the_blobs(sqlite_store_uri, tmp_path):
    from mlstore.client import RemoteStore
    from tests.grpc_support import serve

    with mlstore.open(sqlite_store_uri) as local:
        blob = _publish(local, tmp_path)
        base = local.blobs.object_uri(blob.digest)
    with serve(sqlite_store_uri) as (_, target), RemoteStore(target) as remote:
        for uri in (f"{base}/../../../../etc/passwd", "/etc/passwd", "http://example.invalid/x"):
            with pytest.raises(errors.InvalidArgument, match="not where mlstore stores blob"):
                remote.log_execution("Trainer", "p", outputs=[OutputArtifact("Model", uri, blob.digest, blob.size,
                                                                             "model")])
        assert remote.executions() == []
        logged = remote.log_execution("Trainer", "p", outputs=[OutputArtifact("Model", base, blob.digest, blob.size,
                                                                              "model")])
        assert remote.local_path(logged.output_ids[0]) == str(remote.blobs.local_path(blob.digest))
