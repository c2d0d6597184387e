import os

import pytest

from mlstore.blobs import MANIFEST_HEADER, BlobStore, Manifest
from mlstore.errors import InvalidArgument, NotFound


def make_tree(root):
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)))
    return root


def test_manifest_is_versioned_sorted_and_deterministic(tmp_path):
    store = BlobStore(str(tmp_path / "blobs"))
    blob = store.publish(make_tree(tmp_path / "src"))
    text = store.manifest(blob.digest).text()
    lines = text.splitlines()
    assert lines[0] == MANIFEST_HEADER
    assert [line.split("\t")[2] for line in lines[1:]] == ["a.txt", "sub/b.bin"]
    assert Manifest.parse(text).digest == blob.digest
    assert blob.size == 5 + 256


def test_publish_is_idempotent_and_content_addressed(tmp_path):
    store = BlobStore(str(tmp_path / "blobs"))
    first = store.publish(make_tree(tmp_path / "one"))
    second = store.publish(make_tree(tmp_path / "two"))
    assert first.digest == second.digest
    assert first.stored_new_bytes and not second.stored_new_bytes
    assert len(store.digests()) == 1
    assert not list((tmp_path / "blobs" / "staging").iterdir())
    (tmp_path / "two" / "a.txt").write_text("changed")
    assert store.publish(tmp_path / "two").digest != first.digest


def test_stored_blob_is_read_only(tmp_path):
    store = BlobStore(str(tmp_path / "blobs"))
    blob = store.publish(make_tree(tmp_path / "src"))
    stored = store.local_path(blob.digest) / "a.txt"
    assert not os.stat(stored).st_mode & 0o222


def test_single_file_uri_points_at_the_file(tmp_path):
    store = BlobStore(str(tmp_path / "blobs"))
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    blob = store.publish(tmp_path / "data.csv")
    assert blob.uri.endswith("/data.csv")
    assert open(blob.uri).read() == "a,b\n1,2\n"


def test_verify_finds_a_flipped_byte(tmp_path):
    store = BlobStore(str(tmp_path / "blobs"))
    blob = store.publish(make_tree(tmp_path / "src"))
    assert store.verify(blob.digest) == []
    target = store.local_path(blob.digest) / "sub" / "b.bin"
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[10] ^= 0xFF
    target.write_bytes(bytes(data))
    problems = store.verify(blob.digest)
    assert [(p.path, p.problem) for p in problems] == [("sub/b.bin", "sha256 differs")]


def test_symlink_escape_is_refused_and_writes_nothing(tmp_path):
    src = make_tree(tmp_path / "src")
    (tmp_path / "secret").write_text("outside")
    os.symlink(tmp_path / "secret", src / "link")
    store = BlobStore(str(tmp_path / "blobs"))
    with pytest.raises(InvalidArgument, match="outside"):
        store.publish(src)
    assert store.digests() == []


def test_symlink_inside_is_followed(tmp_path):
    src = make_tree(tmp_path / "src")
    os.symlink(src / "a.txt", src / "alias.txt")
    store = BlobStore(str(tmp_path / "blobs"))
    blob = store.publish(src)
    assert "alias.txt" in store.manifest(blob.digest).text()


def test_missing_and_empty_sources(tmp_path):
    store = BlobStore(str(tmp_path / "blobs"))
    with pytest.raises(NotFound):
        store.publish(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgument, match="no files"):
        store.publish(tmp_path / "empty")


def test_fsspec_object_store_root(tmp_path):
    store = BlobStore("memory://bucket-test-blobs")
    blob = store.publish(make_tree(tmp_path / "src"))
    assert store.exists(blob.digest) and not store.is_local
    assert store.verify(blob.digest) == []
    local = store.local_path(blob.digest, cache_dir=tmp_path / "cache")
    assert (local / "a.txt").read_text() == "alpha"
    again = store.publish(make_tree(tmp_path / "src2"))
    assert not again.stored_new_bytes
    store.fs.pipe(f"{store._base}/objects/{blob.digest[7:]}/a.txt", b"alphX")
    assert [p.problem for p in store.verify(blob.digest)] == ["sha256 differs"]
    store.delete(blob.digest)
    assert not store.exists(blob.digest)
