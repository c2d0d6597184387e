"""Issue 18, defect 3: every legal file name survives the manifest; verify carries on past a bad one."""

import hashlib
import os

import pytest

from mlstore.blobs import MANIFEST_HEADER, BlobStore, Manifest
from mlstore.manifest import MANIFEST_HEADER_V2

#: Every byte but NUL and "/" (which no POSIX file name can hold), alone and inside a name.
BYTE_NAMES = [bytes([b]) for b in range(1, 256) if b not in (0x2F, 0x2E)] + [b"a" + bytes([b]) + b"z"
                                                                              for b in range(1, 256) if b != 0x2F]
SEPARATORS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\t"]


def test_every_byte_1_to_255_in_a_name_round_trips(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i, name in enumerate(BYTE_NAMES):
        with open(os.path.join(os.fsencode(src), name), "wb") as f:
            f.write(b"%d" % i)
    blobs = BlobStore(str(tmp_path / "blobs"))
    blob = blobs.publish(src)
    manifest = blobs.manifest(blob.digest)
    assert len(manifest.entries) == len(BYTE_NAMES)
    assert {os.fsencode(e.path) for e in manifest.entries} == set(BYTE_NAMES)
    assert blobs.verify(blob.digest) == []
    local = blobs.local_path(blob.digest)
    for i, name in enumerate(BYTE_NAMES):
        with open(os.path.join(os.fsencode(local), name), "rb") as f:
            assert f.read() == b"%d" % i
    text = (tmp_path / "blobs" / "manifests" / blob.digest[7:]).read_text()
    assert text.startswith(MANIFEST_HEADER_V2 + "\n") and text.isascii()
    assert len(text.split("\n")) == len(BYTE_NAMES) + 2  # header, one line each, final newline


@pytest.mark.parametrize("separator", SEPARATORS)
def test_unicode_separators_in_names_round_trip(tmp_path, separator):
    src = tmp_path / "src"
    (src / f"dir{separator}x").mkdir(parents=True)
    (src / f"dir{separator}x" / f"f{separator}.txt").write_text("inner")
    (src / "plain.txt").write_text("plain")
    blobs = BlobStore(str(tmp_path / "blobs"))
    blob = blobs.publish(src)
    assert blobs.verify(blob.digest) == []
    assert (blobs.local_path(blob.digest) / f"dir{separator}x" / f"f{separator}.txt").read_text() == "inner"
    assert Manifest.parse(blobs.manifest(blob.digest).text()).digest == blob.digest


def test_plain_names_keep_the_v1_manifest_and_digest(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a b ü.txt").write_text("x")
    blobs = BlobStore(str(tmp_path / "blobs"))
    blob = blobs.publish(src)
    expected = f"{MANIFEST_HEADER}\n1\t{hashlib.sha256(b'x').hexdigest()}\ta b ü.txt\n"
    assert blob.digest == "sha256:" + hashlib.sha256(expected.encode()).hexdigest()


def test_an_old_v1_manifest_with_a_form_feed_name_is_still_read(tmp_path):
    """A v1 manifest written before v2 existed, holding a name v1 now leaves to v2."""
    blobs = BlobStore(str(tmp_path / "blobs"))
    sha = hashlib.sha256(b"data").hexdigest()
    raw = f"{MANIFEST_HEADER}\n4\t{sha}\tf\x0cg\u2028h\n".encode()
    hexd = hashlib.sha256(raw).hexdigest()
    (tmp_path / "blobs" / "manifests").mkdir(parents=True)
    (tmp_path / "blobs" / "manifests" / hexd).write_bytes(raw)
    (tmp_path / "blobs" / "objects" / hexd).mkdir(parents=True)
    (tmp_path / "blobs" / "objects" / hexd / "f\x0cg\u2028h").write_bytes(b"data")
    assert blobs.verify("sha256:" + hexd) == []
    assert (blobs.local_path("sha256:" + hexd) / "f\x0cg\u2028h").read_bytes() == b"data"


def test_a_malformed_manifest_is_a_finding_not_a_crash(tmp_path):
    blobs = BlobStore(str(tmp_path / "blobs"))
    raw = f"{MANIFEST_HEADER}\n4\tabc\tname\nsecond-half-of-a-name\n".encode()  # a v1 name with "\n"
    hexd = hashlib.sha256(raw).hexdigest()
    (tmp_path / "blobs" / "manifests").mkdir(parents=True)
    (tmp_path / "blobs" / "manifests" / hexd).write_bytes(raw)
    problems = blobs.verify("sha256:" + hexd)
    assert len(problems) == 1 and "malformed" in problems[0].problem
