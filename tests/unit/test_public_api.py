"""Pins the public surface: changing it must be a conscious decision."""

import mlstore


def test_exported_members():
    assert sorted(mlstore.__all__) == sorted([
        "Artifact", "Blessing", "EventRecord", "Execution", "LineageEdge", "LineageGraph", "LineageNode",
        "LoggedExecution", "MetricPoint", "NodeId", "OutputArtifact", "Run", "Store", "StoreAPI", "errors", "open",
        "run",
    ])
    for name in mlstore.__all__:
        assert getattr(mlstore, name) is not None


def test_every_error_has_a_wire_status_and_exit_code():
    import grpc

    for name in mlstore.errors.__all__:
        error = getattr(mlstore.errors, name)
        assert isinstance(error.grpc_code, grpc.StatusCode)
        assert error.exit_code in (1, 2)
