"""Pure parts of the gRPC layer: token tables, scopes, page tokens, record conversions."""

from __future__ import annotations

import pytest

from mlstore import errors
from mlstore.lineage import LineageEdge, LineageGraph, LineageNode
from mlstore.server import convert, lineage_columns
from mlstore.server.app import ServeOptions, check_exposure, is_loopback
from mlstore.server.auth import parse_tokens, required_scope
from mlstore.server.query_services import decode_page_token, encode_page_token
from mlstore.types import Artifact, Blessing, Execution, NodeId
from mlstore.v1 import types_pb2 as tpb


def test_token_table_scopes_nest():
    table = parse_tokens("tokens:\n  aaaaaaaa: {name: ci, scopes: [read]}\n  bbbbbbbb: {scopes: admin}\n", "t")
    assert table.lookup("aaaaaaaa").scopes == {"read"}
    assert table.lookup("bbbbbbbb").scopes == {"read", "write", "admin"}
    assert table.lookup("cccccccc") is None


@pytest.mark.parametrize("text, message", [
    ("tokens: [a, b]", "expected a mapping"),
    ("tokens:\n  short: {scopes: [read]}", "at least 8"),
    ("tokens:\n  aaaaaaaa: {scopes: [root]}", "unknown scope"),
    ("tokens: {", "not valid YAML"),
])
def test_bad_token_tables(text, message):
    with pytest.raises(errors.InvalidArgument, match=message):
        parse_tokens(text, "tokens.yaml")


def test_method_scopes():
    assert required_scope("/mlstore.v1.IngestService/LogExecution") == "write"
    assert required_scope("/mlstore.v1.LineageService/GetLineage") == "read"
    assert required_scope("/grpc.health.v1.Health/Check") is None


def test_page_tokens_round_trip_and_reject_forgeries():
    assert decode_page_token(encode_page_token(41)) == 41
    assert decode_page_token("") == 0
    for bad in ("garbage", "djE6LTE=", "!!!"):
        with pytest.raises(errors.InvalidArgument, match="page_token"):
            decode_page_token(bad)


def test_exposure_rules():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    check_exposure(ServeOptions(store_uri=None))
    check_exposure(ServeOptions(store_uri=None, host="0.0.0.0", insecure_open=True))
    with pytest.raises(errors.InvalidArgument, match="without tokens"):
        check_exposure(ServeOptions(store_uri=None, host="0.0.0.0"))


def test_records_round_trip_exactly():
    artifact = Artifact(3, "Model", "/b/x", "sha256:ab", 10, "LIVE", "p", 7, 99, "m",
                        {"i": 1, "f": 1.5, "s": "x", "b": True})
    assert convert.artifact_from_pb(convert.artifact_to_pb(artifact)) == artifact
    bare = Artifact(4, "Model", "", None, None, "LIVE", None, None, 0)
    assert convert.artifact_from_pb(convert.artifact_to_pb(bare)) == bare
    execution = Execution(5, "Trainer", "COMPLETE", None, 1, {"params": "{}"})
    assert convert.execution_from_pb(convert.execution_to_pb(execution)) == execution
    blessing = Blessing(1, 2, None, 3, "p", True, None, 4)
    assert convert.blessing_from_pb(convert.blessing_to_pb(blessing)) == blessing
    nodes = [LineageNode(NodeId("artifact", 1), "Examples", "train", "LIVE", 1),
             LineageNode(NodeId("execution", 2), "Trainer", None, "COMPLETE", 0)]
    edges = [LineageEdge(NodeId("artifact", 1), NodeId("execution", 2), "INPUT", "examples")]
    graph = LineageGraph.from_objects([NodeId("execution", 2)], "up", None, nodes, edges)
    start, columns = ["execution:2"], tpb.LineageColumns.FromString(lineage_columns.columns_bytes(graph))
    back = lineage_columns.graph_from_columns(start, "up", None, [columns])
    assert back == graph and back.nodes == tuple(nodes) and back.edges == tuple(edges)
    pages = list(map(tpb.LineageColumns.FromString, lineage_columns.page_bytes(graph, 1)))
    assert len(pages) == 2 and lineage_columns.graph_from_columns(start, "up", None, pages) == graph
    assert list(columns.node_ids) == [1, 2] and list(columns.node_kinds) == [0, 1]
    # the hand-written packed fields are exactly what protobuf itself writes for those values
    plain = type(columns)(node_ids=[1, 2], node_type_codes=list(columns.node_type_codes),
                          node_state_codes=list(columns.node_state_codes), node_depths=list(columns.node_depths),
                          edge_artifact_ids=[1], edge_execution_ids=[2], edge_role_codes=[0])
    numeric = type(columns)()
    numeric.MergeFrom(columns)
    for field in ("node_kinds", "node_type_names", "node_names", "node_state_names", "edge_is_output",
                  "edge_role_names"):
        numeric.ClearField(field)
    assert numeric.SerializeToString(deterministic=True) == plain.SerializeToString(deterministic=True)
    assert [columns.node_type_names[c] for c in columns.node_type_codes] == ["Examples", "Trainer"]
    assert list(columns.edge_artifact_ids) == [1] and list(columns.edge_execution_ids) == [2]


def test_inconsistent_lineage_columns_are_rejected():
    columns = tpb.LineageColumns.FromString(lineage_columns.columns_bytes(LineageGraph.from_objects(
        [NodeId("artifact", 1)], "up", None, [LineageNode(NodeId("artifact", 1), "Examples", None, "LIVE", 0)], [])))
    bad_code, short = (type(columns).FromString(columns.SerializeToString()) for _ in range(2))
    bad_code.node_type_codes[0] = 5
    short.node_depths.append(1)
    for bad in (bad_code, short):
        with pytest.raises(errors.InvalidArgument):
            lineage_columns.graph_from_columns(["artifact:1"], "up", None, [bad])


def test_unknown_direction_is_invalid():
    assert convert.direction_name(0) == "up"
    with pytest.raises(errors.InvalidArgument, match="direction"):
        convert.direction_name(99)
