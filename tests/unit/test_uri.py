import pytest

from mlstore._uri import parse_store_uri
from mlstore.errors import InvalidArgument


def test_default_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv("MLSTORE_URI", raising=False)
    assert parse_store_uri(None).directory.name == ".mlstore"
    monkeypatch.setenv("MLSTORE_URI", str(tmp_path / "s"))
    loc = parse_store_uri(None)
    assert loc.directory == tmp_path / "s"
    assert loc.artifact_root == str(tmp_path / "s" / "blobs")


def test_database_uris(monkeypatch):
    monkeypatch.delenv("MLSTORE_ARTIFACT_ROOT", raising=False)
    loc = parse_store_uri("mysql://u:p%40ss@db.example:3307/meta?artifact_root=s3://bucket/x")
    assert (loc.database.dialect, loc.database.host, loc.database.port) == ("mysql", "db.example", 3307)
    assert loc.database.password == "p@ss" and loc.artifact_root == "s3://bucket/x"
    monkeypatch.setenv("MLSTORE_ARTIFACT_ROOT", "/data/blobs")
    loc = parse_store_uri("postgresql://me@localhost/meta")
    assert (loc.database.dialect, loc.database.port, loc.database.user) == ("postgresql", 5432, "me")
    assert loc.artifact_root == "/data/blobs"
    assert parse_store_uri("grpc://127.0.0.1:50051").server == "127.0.0.1:50051"


@pytest.mark.parametrize(
    "uri, message",
    [
        ("ftp://x/y", "unknown scheme"),
        ("mysql://u:p@host", "expected mysql://"),
        ("mysql://u:p@host:notaport/db?artifact_root=/x", "bad port"),
        ("mysql://u:secret@host/db", "needs an artifact root"),
        ("postgresql://u@h/db?artifact_root=/x&bogus=1", "unknown option"),
        ("grpc://hostonly", "needs host:port"),
    ],
)
def test_malformed_uris(uri, message, monkeypatch):
    monkeypatch.delenv("MLSTORE_ARTIFACT_ROOT", raising=False)
    with pytest.raises(InvalidArgument, match=message) as info:
        parse_store_uri(uri)
    assert "secret" not in str(info.value)  # passwords never reach error messages


def test_file_path_that_is_a_file(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(InvalidArgument, match="not a directory"):
        parse_store_uri(str(f))
