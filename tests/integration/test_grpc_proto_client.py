"""A client generated from proto/ alone (no mlstore import) calls every RPC of a real server.

Also checks the committed generated code is what proto/generate.sh produces today.
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path


import mlstore
from tests.grpc_support import GATE_SPEC, build_days, serve

REPO = Path(__file__).resolve().parents[2]
TOKEN = "proto-client-token-123"

# Runs in a fresh interpreter whose sys.path has only the temp dir with freshly generated
# modules (the repository and the editable install are removed): it cannot import mlstore.
CLIENT = r'''
import json, sys
from pathlib import Path
out, target, token, spec = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
sys.path = [out] + [p for p in sys.path if not (Path(p) / "mlstore" / "store.py").exists() and p not in ("", ".")]
from grpc_tools import protoc
proto = sys.argv[5]
files = sorted(str(p) for p in Path(proto, "mlstore", "v1").glob("*.proto"))
assert protoc.main(["protoc", f"-I{proto}", f"--python_out={out}", f"--grpc_python_out={out}", *files]) == 0
import grpc
from mlstore.v1 import (artifact_service_pb2 as a, artifact_service_pb2_grpc as ag, gate_service_pb2 as g,
    gate_service_pb2_grpc as gg, ingest_service_pb2 as i, ingest_service_pb2_grpc as ig,
    lineage_service_pb2 as l, lineage_service_pb2_grpc as lg, model_service_pb2 as m,
    model_service_pb2_grpc as mg, store_service_pb2 as s, store_service_pb2_grpc as sg, types_pb2 as t)
import mlstore
assert mlstore.__file__ is None or mlstore.__file__.startswith(out), mlstore.__file__
assert "mlstore.store" not in sys.modules
md = (("authorization", f"Bearer {token}"),)
ch = grpc.insecure_channel(target)
A, L, M, G, I, S = (ag.ArtifactServiceStub(ch), lg.LineageServiceStub(ch), mg.ModelServiceStub(ch),
                    gg.GateServiceStub(ch), ig.IngestServiceStub(ch), sg.StoreServiceStub(ch))
r = {}
r["GetStoreInfo"] = S.GetStoreInfo(s.GetStoreInfoRequest(), metadata=md).api_version
models = A.ListArtifacts(a.ListArtifactsRequest(type="Model", page_size=2), metadata=md)
r["ListArtifacts"] = [x.id for x in models.artifacts]
page2 = A.ListArtifacts(a.ListArtifactsRequest(type="Model", page_size=2, page_token=models.next_page_token),
                        metadata=md)
r["ListArtifacts_page2"] = [x.id for x in page2.artifacts]
last = f"artifact:{page2.artifacts[-1].id}"
art = A.GetArtifact(a.GetArtifactRequest(ref=last), metadata=md).artifact
r["GetArtifact"] = art.type
r["ResolveNode"] = A.ResolveNode(a.ResolveNodeRequest(ref=art.digest[:20]), metadata=md).node_id
r["GetExecution"] = A.GetExecution(a.GetExecutionRequest(ref="execution:1"), metadata=md).execution.type
r["ListExecutions"] = len(A.ListExecutions(a.ListExecutionsRequest(), metadata=md).executions)
r["ListEvents"] = sorted(e.role for e in A.ListEvents(a.ListEventsRequest(ref="execution:3"), metadata=md).events)
graph = L.GetLineage(l.GetLineageRequest(start=[last], direction=t.DIRECTION_UP), metadata=md).graph
r["GetLineage"] = [len(graph.node_ids), len(graph.edge_artifact_ids)]
# decode the packed columns with nothing but the generated code
kinds = ["artifact" if k == t.NODE_KIND_ARTIFACT else "execution" for k in bytes(graph.node_kinds)]
nodes = {f"{k}:{i}": graph.node_type_names[c] for k, i, c in zip(kinds, graph.node_ids, graph.node_type_codes)}
r["lineage_nodes"] = nodes
r["lineage_edges"] = sorted(
    [f"execution:{x}", f"artifact:{a}", graph.edge_role_names[c]] if out else
    [f"artifact:{a}", f"execution:{x}", graph.edge_role_names[c]]
    for a, x, out, c in zip(graph.edge_artifact_ids, graph.edge_execution_ids, bytes(graph.edge_is_output),
                            graph.edge_role_codes))
pages = list(L.StreamLineage(l.StreamLineageRequest(start=[last], page_size=3), metadata=md))
r["StreamLineage"] = [len(pages), sum(len(p.page.node_ids) for p in pages),
                      sum(len(p.page.edge_artifact_ids) for p in pages)]
newest = A.ListArtifacts(a.ListArtifactsRequest(order=t.ORDER_DESC, page_size=2), metadata=md)
older = A.ListArtifacts(a.ListArtifactsRequest(order=t.ORDER_DESC, page_size=2, page_token=newest.next_page_token),
                        metadata=md)
r["ListArtifacts_desc"] = [x.id for x in list(newest.artifacts) + list(older.artifacts)]
r["ListExecutions_desc"] = [x.id for x in A.ListExecutions(
    a.ListExecutionsRequest(order=t.ORDER_DESC, before_id=5, page_size=2), metadata=md).executions]
r["GetNewestExecutionId"] = S.GetNewestExecutionId(s.GetNewestExecutionIdRequest(), metadata=md).execution_id
r["ListMetricNames"] = list(M.ListMetricNames(m.ListMetricNamesRequest(pipeline="daily"), metadata=md).metric_names)
r["ListSlices"] = list(M.ListSlices(m.ListSlicesRequest(pipeline="daily", metric="auc_roc"), metadata=md).slices)
r["GetMetricSeries"] = len(M.GetMetricSeries(m.GetMetricSeriesRequest(pipeline="daily", metric="auc_roc"),
                                             metadata=md).points)
evals = A.ListArtifacts(a.ListArtifactsRequest(type="ModelEvaluation"), metadata=md).artifacts
r["GetEvaluationMetrics"] = sorted(x.slice for x in M.GetEvaluationMetrics(
    m.GetEvaluationMetricsRequest(ref=f"artifact:{evals[-1].id}"), metadata=md).slices)
r["GetLatestBlessed"] = M.GetLatestBlessed(m.GetLatestBlessedRequest(pipeline="daily"), metadata=md).model.id
r["ListBlessings"] = len(M.ListBlessings(m.ListBlessingsRequest(pipeline="daily"), metadata=md).blessings)
r["ListPipelines"] = list(M.ListPipelines(m.ListPipelinesRequest(), metadata=md).pipelines)
ws = M.SelectWarmStart(m.SelectWarmStartRequest(
    pipeline="daily", policy="best", metric="auc_roc", exclude=[page2.artifacts[-1].id], explain="all",
    require_compatible=m.CompatibilityRequirement(reference_model=last)), metadata=md)
r["SelectWarmStart"] = [ws.ok, ws.model.id, ws.chosen.model_id, len(ws.skipped)]
gate = G.EvaluateGate(g.EvaluateGateRequest(spec_yaml=spec, candidate=last), metadata=md)
r["EvaluateGate"] = [gate.report.passed, len(gate.report.checks), gate.baseline_evaluation]
logged = I.LogExecution(i.LogExecutionRequest(
    step="Pusher", pipeline="daily", inputs=[i.InputArtifact(artifact_id=art.id, role="model")],
    outputs=[i.OutputArtifact(type="PushedModel", uri=art.uri, digest=art.digest, size=art.size, role="pushed_model")],
    properties={"target": t.PropertyValue(string_value="prod")}), metadata=md)
r["LogExecution"] = [logged.execution_id > 0, len(logged.output_ids)]
r["ListDailyModels"] = [x.id for x in M.ListDailyModels(m.ListDailyModelsRequest(pipeline="daily"), metadata=md).models]
r["ListDailyModels_newest2"] = [x.id for x in M.ListDailyModels(
    m.ListDailyModelsRequest(pipeline="daily", newest=2), metadata=md).models]
r["GetNewestDailyModel"] = M.GetNewestDailyModel(m.GetNewestDailyModelRequest(pipeline="daily"), metadata=md).model.id


def status(call, request):
    try:
        call(request, metadata=md)
        return ["OK", "", ""]
    except grpc.RpcError as e:
        classes = [v for k, v in (e.trailing_metadata() or ()) if k == "mlstore-error-class"]
        return [e.code().name, e.details(), classes[0] if classes else ""]


r["errors"] = {
    "series_no_pipeline": status(M.GetMetricSeries, m.GetMetricSeriesRequest(pipeline="", metric="auc_roc")),
    "series_unknown_pipeline": status(M.GetMetricSeries, m.GetMetricSeriesRequest(pipeline="nope", metric="auc_roc")),
    "series_unknown_metric": status(M.GetMetricSeries, m.GetMetricSeriesRequest(pipeline="daily", metric="nope")),
    "latest_blessed_unknown": status(M.GetLatestBlessed, m.GetLatestBlessedRequest(pipeline="nope")),
    "warm_start_no_policy": status(M.SelectWarmStart, m.SelectWarmStartRequest(pipeline="daily", policy="")),
    "daily_unknown": status(M.ListDailyModels, m.ListDailyModelsRequest(pipeline="nope")),
    "missing_artifact": status(A.GetArtifact, a.GetArtifactRequest(ref="artifact:99999")),
    "garbage": status(ch.unary_unary("/mlstore.v1.ModelService/GetMetricSeries"), b"\xff\xff\xff\xff"),
}
# Health without the mlstore package: grpcio-health-checking's generated stubs.
from grpc_health.v1 import health_pb2, health_pb2_grpc
r["health"] = health_pb2.HealthCheckResponse.ServingStatus.Name(health_pb2_grpc.HealthStub(ch).Check(
    health_pb2.HealthCheckRequest(service="mlstore.v1.ModelService")).status)
print(json.dumps(r))
'''


def test_generated_code_is_up_to_date(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run([str(REPO / "proto" / "generate.sh"), str(tmp_path)], check=True, env=env)
    generated = sorted(p.name for p in (tmp_path / "mlstore" / "v1").iterdir())
    committed = sorted(p.name for p in (REPO / "mlstore" / "v1").iterdir() if p.suffix in (".py", ".pyi")
                       and p.name != "__init__.py")
    assert generated == committed
    stale = [n for n in generated if not filecmp.cmp(tmp_path / "mlstore" / "v1" / n, REPO / "mlstore" / "v1" / n,
                                                     shallow=False)]
    assert not stale, f"run proto/generate.sh: {stale} differ from proto/"


def test_every_rpc_from_a_client_generated_from_proto(tmp_path):
    uri = str(tmp_path / "store")
    with mlstore.open(uri) as store:
        models = build_days(store, 4)
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    out = tmp_path / "gen"
    out.mkdir()
    env = {"MLSTORE_SERVER_TOKENS": json.dumps({"tokens": {TOKEN: {"name": "ci", "scopes": ["write"]}}})}
    with serve(uri, env=env) as (server, target):
        run = subprocess.run([sys.executable, str(script), str(out), target, TOKEN, GATE_SPEC, str(REPO / "proto")],
                             capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""},
                             timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    r = json.loads(run.stdout)
    assert r["GetStoreInfo"] == "v1"
    assert r["ListArtifacts"] + r["ListArtifacts_page2"] == models
    # every artifact of a day shares one blob; a shared digest resolves to the newest artifact
    assert r["GetArtifact"] == "Model" and r["ResolveNode"] == "artifact:20"
    assert r["GetExecution"] == "ExampleGen" and r["ListExecutions"] == 20
    assert r["ListEvents"] == ["examples", "model", "transform_graph"]
    nodes, edges = r["GetLineage"]
    assert r["StreamLineage"] == [-(-max(nodes, edges) // 3), nodes, edges]
    with mlstore.open(uri) as store:
        graph = store.lineage(f"artifact:{models[-1]}")
    assert r["lineage_nodes"] == {str(n.id): n.type for n in graph.nodes}
    assert r["lineage_edges"] == sorted([str(e.source), str(e.target), e.role] for e in graph.edges)
    assert r["ListArtifacts_desc"] == [20, 19, 18, 17]
    assert r["ListExecutions_desc"] == [4, 3] and r["GetNewestExecutionId"] == 20
    assert r["ListMetricNames"] == ["auc_roc", "example_count", "log_loss"]
    assert r["ListSlices"] == ["Overall", "carrier=AA", "carrier=DL"]
    assert r["GetMetricSeries"] == 4
    assert r["GetEvaluationMetrics"] == ["Overall", "carrier=AA", "carrier=DL"]
    assert r["GetLatestBlessed"] == models[-1]  # day 4 is blessed (every third day is not)
    assert r["ListBlessings"] == 4 and r["ListPipelines"] == ["daily"]
    ok, model, chosen, skipped = r["SelectWarmStart"]
    assert ok is True and model in models[:-1] and chosen == f"artifact:{model}" and skipped == len(models) - 1
    assert r["EvaluateGate"][1] > 0
    assert r["LogExecution"] == [True, 1]
    assert r["ListDailyModels"] == models and r["ListDailyModels_newest2"] == models[-2:]
    assert r["GetNewestDailyModel"] == models[-1]
    e = r["errors"]
    assert e["series_no_pipeline"][:1] == e["warm_start_no_policy"][:1] == ["INVALID_ARGUMENT"]
    assert e["series_no_pipeline"][2] == "InvalidArgument" and "policy" in e["warm_start_no_policy"][1]
    for key in ("series_unknown_pipeline", "latest_blessed_unknown", "daily_unknown"):
        assert e[key][0] == "NOT_FOUND" and "no pipeline 'nope'" in e[key][1], (key, e[key])
    assert e["series_unknown_metric"][0] == "NOT_FOUND" and "no metric 'nope'" in e["series_unknown_metric"][1]
    assert e["missing_artifact"] == ["NOT_FOUND", "artifact:99999 does not exist in the store", "NotFound"]
    assert all(uri not in details and str(tmp_path) not in details for _, details, _ in e.values())
    assert e["garbage"][0] == "INVALID_ARGUMENT" and "malformed request" in e["garbage"][1]
    assert r["health"] == "SERVING"
    log = server.stderr.read()
    assert "Traceback" not in log and "Exception deserializing" not in log
    assert [line for line in log.splitlines() if "malformed" in line] == [
        line for line in log.splitlines() if "GetMetricSeries: rejected a malformed request" in line]
    assert sum("malformed" in line for line in log.splitlines()) == 1
