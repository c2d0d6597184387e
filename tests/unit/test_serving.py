"""TF Serving version directories on a real file system: order, races, failures (mlstore.serving)."""

from __future__ import annotations

import threading

import pytest

from mlstore import errors
from mlstore.blobs import collect_files, manifest_of
from mlstore.serving import STAGING_PREFIX, install_version, next_version, versions


def _saved_model(directory, content: str):
    (directory / "variables").mkdir(parents=True)
    (directory / "saved_model.pb").write_text(content)
    (directory / "variables" / "variables.index").write_text(content * 2)
    return directory


def test_next_version_counts_only_integer_directories(tmp_path):
    root = tmp_path / "flights"
    assert next_version(root) == 1
    for name in ("5", "12", "latest", "7a", f"{STAGING_PREFIX}x"):
        (root / name).mkdir(parents=True)
    (root / "99").write_text("a file, not a version")
    assert versions(root) == [5, 12] and next_version(root) == 13


def test_install_copies_renames_and_hashes(tmp_path):
    source = _saved_model(tmp_path / "model", "one")
    first = install_version(source, tmp_path / "base", "flights")
    second = install_version(source, tmp_path / "base", "flights")
    assert (first.version, second.version) == (1, 2)
    assert first.path == tmp_path / "base" / "flights" / "1"
    assert first.digest == second.digest == manifest_of(collect_files(source)).digest
    assert sorted(p.name for p in (tmp_path / "base" / "flights").iterdir()) == ["1", "2"]


def test_concurrent_installs_get_distinct_complete_versions(tmp_path):
    sources = [_saved_model(tmp_path / f"m{i}", f"model {i}") for i in range(8)]
    results, failures = [], []

    def push(source):
        try:
            results.append((source, install_version(source, tmp_path / "base", "flights")))
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=push, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(r.version for _, r in results) == list(range(1, 9))
    for source, result in results:
        assert manifest_of(collect_files(result.path)).digest == manifest_of(collect_files(source)).digest
    assert sorted(p.name for p in (tmp_path / "base" / "flights").iterdir()) == [str(i) for i in range(1, 9)]


def test_a_failed_copy_leaves_no_version_and_no_staging(tmp_path):
    source = _saved_model(tmp_path / "model", "x")
    (source / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(errors.FailedPrecondition, match="cannot push to .*: copying .*dangling failed"):
        install_version(source, tmp_path / "base", "flights")
    assert list((tmp_path / "base" / "flights").iterdir()) == []


def test_bad_sources_names_and_bases_are_refused_before_writing(tmp_path):
    with pytest.raises(errors.NotFound, match="no saved_model.pb"):
        install_version(tmp_path, tmp_path / "base", "flights")
    source = _saved_model(tmp_path / "model", "x")
    for name in ("", ".", "..", "a/b", ".hidden"):
        with pytest.raises(errors.InvalidArgument, match="bad model name"):
            install_version(source, tmp_path / "base", name)
    for base in ("", f"{tmp_path}/a\0b"):
        with pytest.raises(errors.InvalidArgument, match="bad serving base path"):
            install_version(source, base, "flights")
    (tmp_path / "file").write_text("")
    with pytest.raises(errors.FailedPrecondition, match="is not a writable directory"):
        install_version(source, tmp_path / "file" / "base", "flights")
    assert not (tmp_path / "base").exists()
