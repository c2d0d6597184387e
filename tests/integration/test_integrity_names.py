"""Issue 18, defect 5: NUL and other control characters in names are refused, never truncated."""

import pytest

import mlstore
from mlstore import errors
from mlstore.client import RemoteStore
from mlstore.hub.handles import parse_handle
from mlstore.store import OutputArtifact
from tests.grpc_support import serve

BAD = ["fu\x00zz", "r\x00", "a\nb", "tab\there", "bell\x07", "del\x7f", "line\u2028sep", "c1\x85"]


def _out(store, tmp_path, role="examples"):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "rows.csv").write_text("x\n1\n")
    blob = store.blobs.publish(src)
    return OutputArtifact("Examples", blob.uri, blob.digest, blob.size, role)


@pytest.mark.parametrize("bad", BAD)
def test_sdk_and_store_refuse_control_characters_in_every_name(store, tmp_path, bad):
    out = _out(store, tmp_path)
    for kwargs in ({"pipeline": bad}, {"step": bad}, {"run_id": bad}):
        call = {"pipeline": "p", "step": "ExampleGen", **kwargs}
        with pytest.raises(errors.InvalidArgument):
            with mlstore.run(call["pipeline"], call["step"], store=store, run_id=call.get("run_id")):
                pass
        with pytest.raises(errors.InvalidArgument):
            store.log_execution(call["step"], call["pipeline"], outputs=[out], run_id=call.get("run_id"))
    with pytest.raises(errors.InvalidArgument):
        store.log_execution("ExampleGen", "p", outputs=[_out(store, tmp_path, role=bad)])
    with pytest.raises(errors.InvalidArgument):
        store.log_execution("ExampleGen", "p", outputs=[OutputArtifact("Examples" + bad, out.uri, out.digest,
                                                                       out.size, "examples")])
    assert store.executions() == [] and store.pipelines() == []
    with pytest.raises(errors.InvalidArgument):  # the run is recorded FAILED, without the bad role
        with mlstore.run("p", "ExampleGen", store=store) as r:
            r.log_artifact(tmp_path / "src", "Examples", role=bad)
    [failed] = store.executions()
    assert failed.state == "FAILED" and store.artifacts() == []


def test_length_limits(sqlite_store, tmp_path):
    out = _out(sqlite_store, tmp_path)
    with pytest.raises(errors.InvalidArgument, match="at most 255"):
        sqlite_store.log_execution("ExampleGen", "p" * 256, outputs=[out])
    with pytest.raises(errors.InvalidArgument, match="at most 128"):
        sqlite_store.log_execution("ExampleGen", "p", outputs=[out], run_id="r" * 129)
    with pytest.raises(errors.InvalidArgument, match="at most 64"):
        sqlite_store.log_execution("S" * 65, "p", outputs=[out])
    logged = sqlite_store.log_execution("ExampleGen", "p" * 255, outputs=[out], run_id="r" * 128)
    assert sqlite_store.execution(logged.execution_id).pipeline == "p" * 255


@pytest.mark.parametrize("handle", ["pub/name\n", "pub/na\x00me", "pub/name/1\n", "/abs/pa\x00th",
                                    "grpc://h:1\n/pub/name", "pub/" + "n" * 2000])
def test_hub_handles_refuse_control_characters(handle):
    with pytest.raises(errors.InvalidArgument):
        parse_handle(handle)


def test_grpc_log_execution_refuses_nul_in_names(sqlite_store_uri, tmp_path):
    with mlstore.open(sqlite_store_uri) as local:
        out = _out(local, tmp_path)
    with serve(sqlite_store_uri) as (_, target), RemoteStore(target) as remote:
        for kwargs in ({"pipeline": "fu\x00zz"}, {"run_id": "r\x00"}, {"step": "Tr\x00ainer"}):
            call = {"step": "ExampleGen", "pipeline": "p", **kwargs}
            with pytest.raises(errors.InvalidArgument):
                remote.log_execution(call.pop("step"), call.pop("pipeline"), outputs=[out], **call)
        with pytest.raises(errors.InvalidArgument):
            remote.log_execution("ExampleGen", "p", outputs=[_out(local, tmp_path, role="r\x00")])
        assert remote.executions() == []
