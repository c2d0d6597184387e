"""Module handle parsing: accepted forms, and a clear InvalidArgument for everything else."""

from __future__ import annotations

import pytest

from mlstore.errors import InvalidArgument
from mlstore.hub import Handle


@pytest.mark.parametrize("text, expected", [
    ("acme/embed", Handle("acme", "embed")),
    ("acme/embed/3", Handle("acme", "embed", 3)),
    ("a-b.c_d/x9/12", Handle("a-b.c_d", "x9", 12)),
    ("  acme/embed/1 ", Handle("acme", "embed", 1)),
    ("grpc://127.0.0.1:50051/acme/embed/2", Handle("acme", "embed", 2, server="127.0.0.1:50051")),
    ("grpc://hub.example.org:443/acme/embed", Handle("acme", "embed", None, server="hub.example.org:443")),
    ("/models/embed", Handle(path="/models/embed")),
    ("file:///models/embed/", Handle(path="/models/embed")),
])
def test_accepted_handles_round_trip(text, expected):
    handle = Handle.parse(text)
    assert handle == expected
    assert Handle.parse(str(handle)) == handle


@pytest.mark.parametrize("text, says", [
    ("", "empty module handle"),
    ("   ", "empty module handle"),
    ("../x", "bad publisher '..'"),
    ("./x", "bad publisher '.'"),
    ("acme", "expected publisher/name"),
    ("acme/embed/1/extra", "expected publisher/name"),
    ("/", None),
    ("acme//1", "empty name"),
    ("/embed/1", None),
    ("acme/embed/", "bad module version ''"),
    ("acme/embed/0", "bad module version '0'"),
    ("acme/embed/01", "bad module version '01'"),
    ("acme/embed/-1", "bad module version '-1'"),
    ("acme/embed/v1", "bad module version 'v1'"),
    ("acme/embed/1.0", "bad module version '1.0'"),
    ("acme/embed/99999999999", "bad module version"),
    ("Acme/embed", "bad publisher 'Acme'"),
    ("acme/em bed", "bad name 'em bed'"),
    ("acme/_embed", "bad name '_embed'"),
    ("acme/emb\u00e9d", "bad name"),
    ("acme/" + "e" * 65, "bad name"),
    ("grpc://nohost/acme/embed", "bad server 'nohost'"),
    ("grpc://h:1/../embed", "bad publisher"),
    ("file://relative/path", "must be absolute"),
])
def test_bad_handles_raise_invalid_argument(text, says):
    if text in ("/", "/embed/1"):
        # Absolute paths are local modules; whether they exist is checked on use.
        assert Handle.parse(text).is_local
        return
    with pytest.raises(InvalidArgument) as info:
        Handle.parse(text)
    assert says in str(info.value)


def test_version_limit_fits_mlmd_int32():
    assert Handle.parse("a/b/2147483647").version == 2**31 - 1
    with pytest.raises(InvalidArgument):
        Handle.parse("a/b/2147483648")
