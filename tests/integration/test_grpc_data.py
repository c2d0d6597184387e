"""DataService through a real `mlstore serve`: statistics, drift and anomalies of days where
StatisticsGen, SchemaGen and ExampleValidator ran equal the local summaries and the TFDV
protos; bad references get their status; the CLI's ``--server`` reads go through it."""

from __future__ import annotations

import json

import grpc
import pytest

import mlstore
import mlstore.client
from mlstore import errors
from mlstore.cli import cli
from mlstore.cli._common import run_cli
from mlstore.components.statistics import read_anomalies, read_schema, read_statistics, summary
from mlstore.components.statistics.schema_gen import feature_name
from mlstore.v1 import data_service_pb2 as dpb
from mlstore.v1 import data_service_pb2_grpc as dgrpc
from tests.data_validation_support import record_days
from tests.grpc_support import READ, serve, serve_with_tokens

DAY1, DAY2 = 20130107, 20130108


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("grpc_data")
    uri = str(directory / "store")
    out = record_days(uri)
    with mlstore.open(uri) as local, serve(uri) as (_, target), grpc.insecure_channel(target) as channel:
        yield uri, target, out, local, dgrpc.DataServiceStub(channel)


def _ref(artifact) -> str:
    return f"artifact:{artifact.id}"


def _row(f: dpb.FeatureStatistics) -> dict:
    """A wire row in summary.feature_summary's shape (fields absent on the wire left out)."""
    row = {"feature": f.name, "type": f.type, "count": f.count, "missing": f.missing}
    row.update({k: getattr(f, k) for k in ("mean", "std_dev", "min", "median", "max", "zeros", "unique", "avg_length")
                if f.HasField(k)})
    if f.top_values:
        row["top_values"] = [{"value": t.value, "count": t.count} for t in f.top_values]
    return row


def test_get_statistics_rows_equal_the_local_summary_and_the_protos(served):
    uri, target, out, local, stub = served
    stats = out[DAY2]["statistics"]
    datasets = read_statistics(local.local_path(stats))
    response = stub.GetStatistics(dpb.GetStatisticsRequest(ref=_ref(stats)), timeout=30)
    assert response.artifact == _ref(stats) and response.span == DAY2
    assert [s.split for s in response.splits] == ["eval", "train"]
    for split in response.splits:
        assert split.num_examples == datasets[split.split].num_examples > 0
        assert [_row(f) for f in split.features] == summary.feature_summary(datasets[split.split])
    train = next(s for s in response.splits if s.split == "train")
    protos = {feature_name(f): f for f in datasets["train"].features}
    dep = next(f for f in train.features if f.name == "dep_delay")
    num = protos["dep_delay"].num_stats
    assert dep.type == "FLOAT" and dep.missing == protos["dep_delay"].num_stats.common_stats.num_missing > 0
    assert (dep.mean, dep.std_dev, dep.min, dep.median, dep.max, dep.zeros) == (
        num.mean, num.std_dev, num.min, num.median, num.max, num.num_zeros)
    assert not dep.HasField("unique") and not dep.top_values
    carrier = next(f for f in train.features if f.name == "carrier")
    strings = protos["carrier"].string_stats
    assert carrier.type == "STRING" and carrier.unique == strings.unique and not carrier.HasField("mean")
    assert [(t.value, t.count) for t in carrier.top_values] == [
        (t.value, t.frequency) for t in strings.top_values[:summary.NUM_TOP]]
    only_eval = stub.GetStatistics(dpb.GetStatisticsRequest(ref=_ref(stats), split="eval"), timeout=30)
    assert [s.split for s in only_eval.splits] == ["eval"] and only_eval.splits[0] == response.splits[0]
    # the client rebuilds exactly the local Store's dicts (what `stats show --json` prints)
    with mlstore.client.RemoteStore(target) as remote:
        assert remote.statistics_summary(_ref(stats)) == local.statistics_summary(_ref(stats))
        assert remote.statistics_summary(stats.id, "train") == local.statistics_summary(stats.id, "train")


def test_diff_statistics_rows_equal_the_local_drift(served):
    uri, target, out, local, stub = served
    a, b = out[DAY1]["statistics"], out[DAY2]["statistics"]
    da, db = (read_statistics(local.local_path(s)) for s in (a, b))
    response = stub.DiffStatistics(dpb.DiffStatisticsRequest(a=_ref(a), b=_ref(b), split="train"), timeout=30)
    expected = summary.drift_rows(da["train"], db["train"], {}, summary.DEFAULT_DRIFT_THRESHOLD)
    assert [(r.split, r.feature, r.metric, r.distance, r.threshold, r.over_threshold,
             r.value_at if r.HasField("value_at") else None) for r in response.features] == [
        ("train", e["feature"], e["metric"], e["distance"], e["threshold"], e["over_threshold"], e["value_at"])
        for e in expected]
    assert response.over_threshold == sum(e["over_threshold"] for e in expected) >= 1
    first = response.features[0]  # the day of month moved from the 7th to the 8th
    assert (first.feature, first.metric, first.over_threshold) == ("day", "JENSEN_SHANNON_DIVERGENCE", True)
    carrier = next(r for r in response.features if r.feature == "carrier")
    assert carrier.metric == "L_INFTY" and carrier.HasField("value_at") and 0 <= carrier.distance <= 1
    # the schema's drift_comparator thresholds (0.2) apply per feature, over both splits
    with_schema = stub.DiffStatistics(dpb.DiffStatisticsRequest(a=_ref(a), b=_ref(b), schema=_ref(out["schema"]),
                                                                threshold=0.9), timeout=30)
    assert {r.split for r in with_schema.features} == {"eval", "train"}
    assert [r.threshold for r in with_schema.features] == pytest.approx([0.2] * 20)
    with mlstore.client.RemoteStore(target) as remote:
        for kwargs in ({}, {"split": "eval", "threshold": 0.5}, {"schema": _ref(out["schema"])}):
            assert remote.statistics_drift(a.id, b.id, **kwargs) == local.statistics_drift(a.id, b.id, **kwargs)


def test_get_anomalies_equal_the_local_summary(served):
    uri, target, out, local, stub = served
    anomalies = out[DAY2]["anomalies"]
    found = read_anomalies(local.local_path(anomalies))
    response = stub.GetAnomalies(dpb.GetAnomaliesRequest(ref=_ref(anomalies)), timeout=30)
    assert response.artifact == _ref(anomalies) and [s.split for s in response.splits] == sorted(found)
    for split in response.splits:
        expected = summary.anomalies_summary(found[split.split])
        assert [(f.feature, f.short_description, f.description, list(f.types)) for f in split.features] == [
            (e["feature"], e["short_description"], e["description"], e["types"]) for e in expected]
    train = next(s for s in response.splits if s.split == "train")
    day = next(f for f in train.features if f.feature == "day")
    assert day.short_description == "High approximate Jensen-Shannon divergence between current and previous"
    assert day.description == ("The approximate Jensen-Shannon divergence between current and previous is 1, "
                               "above the threshold 0.2.")
    assert list(day.types) == ["COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"]
    assert response.anomalous_features == sum(len(s.features) for s in response.splits) >= 2
    day1 = stub.GetAnomalies(dpb.GetAnomaliesRequest(ref=_ref(out[DAY1]["anomalies"])), timeout=30)
    # day 1 has no previous day (no drift): only the skew of eval from train, and train is clean
    assert day1.anomalous_features == 1 and [(s.split, [f.feature for f in s.features]) for s in day1.splits] == [
        ("eval", ["day"]), ("train", [])]
    assert list(day1.splits[0].features[0].types) == ["COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"]
    with mlstore.client.RemoteStore(target) as remote:
        assert remote.anomalies_summary(anomalies.id) == local.anomalies_summary(anomalies.id)


def test_get_schema_equals_the_local_summary(served):
    uri, target, out, local, stub = served
    schema = out["schema"]
    parsed = read_schema(local.local_path(schema))
    response = stub.GetSchema(dpb.GetSchemaRequest(ref=_ref(schema)), timeout=30)
    assert response.artifact == _ref(schema) and [f.feature for f in response.features] == [
        f.name for f in parsed.feature]
    carrier = next(f for f in response.features if f.feature == "carrier")
    domain = next(d for d in parsed.string_domain if d.name == "carrier")
    assert (carrier.type, carrier.min_fraction, carrier.min_count, list(carrier.shape.sizes)) == ("BYTES", 1, 1, [1])
    assert list(carrier.domain.values) == list(domain.value) and len(domain.value) == 15
    assert (carrier.drift_threshold, carrier.skew_threshold) == (0.2, 0.3) and not carrier.HasField("value_count")
    dep = next(f for f in response.features if f.feature == "dep_delay")
    assert dep.type == "FLOAT" and not dep.HasField("domain") and dep.min_fraction < 1
    with mlstore.client.RemoteStore(target) as remote:
        assert remote.schema_summary(schema.id) == local.schema_summary(schema.id) == {
            "artifact": _ref(schema), "features": summary.schema_summary(parsed)}


def _status(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def test_bad_requests_get_their_status(served):
    uri, target, out, local, stub = served
    stats, examples = _ref(out[DAY2]["statistics"]), _ref(out[DAY2]["examples"])
    cases = [
        (lambda: stub.GetStatistics(dpb.GetStatisticsRequest(ref="artifact:99999")), "NOT_FOUND", "does not exist"),
        (lambda: stub.GetStatistics(dpb.GetStatisticsRequest(ref=examples)), "INVALID_ARGUMENT",
         f"{examples} is of type Examples, not ExampleStatistics"),
        (lambda: stub.GetStatistics(dpb.GetStatisticsRequest(ref=stats, split="test")), "INVALID_ARGUMENT",
         f"{stats} has no split 'test'; splits: eval, train"),
        (lambda: stub.DiffStatistics(dpb.DiffStatisticsRequest(a=stats, b="artifact:99999")), "NOT_FOUND", ""),
        (lambda: stub.DiffStatistics(dpb.DiffStatisticsRequest(a=stats, b=stats, threshold=2)), "INVALID_ARGUMENT",
         "threshold must be in [0, 1], got 2"),
        (lambda: stub.DiffStatistics(dpb.DiffStatisticsRequest(a=stats, b=stats, threshold=float("nan"))),
         "INVALID_ARGUMENT", "threshold must be in [0, 1], got nan"),
        (lambda: stub.DiffStatistics(dpb.DiffStatisticsRequest(a=stats, b=stats, split="test")), "INVALID_ARGUMENT",
         "split 'test' is not in both"),
        (lambda: stub.DiffStatistics(dpb.DiffStatisticsRequest(a=stats, b=stats, schema=stats)), "INVALID_ARGUMENT",
         "not Schema"),
        (lambda: stub.GetAnomalies(dpb.GetAnomaliesRequest(ref=stats)), "INVALID_ARGUMENT",
         "is of type ExampleStatistics, not ExampleAnomalies"),
        (lambda: stub.GetAnomalies(dpb.GetAnomaliesRequest(ref="sha256:zz")), "INVALID_ARGUMENT", ""),
        (lambda: stub.GetSchema(dpb.GetSchemaRequest(ref=stats)), "INVALID_ARGUMENT",
         "is of type ExampleStatistics, not Schema"),
        (lambda: stub.GetSchema(dpb.GetSchemaRequest(ref="artifact:99999")), "NOT_FOUND", "does not exist"),
    ]
    for call, code, message in cases:
        got_code, details = _status(lambda: call())
        assert (got_code.name, message in details) == (code, True), (code, message, details)
    with mlstore.client.RemoteStore(target) as remote:
        with pytest.raises(errors.NotFound):
            remote.anomalies_summary("artifact:99999")
        with pytest.raises(errors.InvalidArgument, match="has no split 'test'"):
            remote.statistics_summary(stats, "test")


def test_read_scope_is_enough(served, tmp_path):
    uri, _, out, _, _ = served
    with serve_with_tokens(uri, tmp_path) as target, grpc.insecure_channel(target) as channel:
        stub = dgrpc.DataServiceStub(channel)
        request = dpb.GetAnomaliesRequest(ref=_ref(out[DAY2]["anomalies"]))
        assert stub.GetAnomalies(request, metadata=(("authorization", f"Bearer {READ}"),), timeout=30).splits
        code, _ = _status(lambda: stub.GetAnomalies(request, timeout=30))
        assert code == grpc.StatusCode.UNAUTHENTICATED


def _cli(capsys, *args):
    code = run_cli(cli, [*map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_reads_through_the_server_print_what_the_local_ones_do(served, capsys):
    uri, target, out, _, _ = served
    stats1, stats2 = _ref(out[DAY1]["statistics"]), _ref(out[DAY2]["statistics"])
    anomalies = _ref(out[DAY2]["anomalies"])
    for args in (("stats", "show", stats2), ("stats", "show", "--span", DAY2, "--split", "train"),
                 ("stats", "diff", stats1, stats2, "--schema", _ref(out["schema"])), ("anomalies", anomalies),
                 ("schema", "show", _ref(out["schema"]))):
        for json_flag in ((), ("--json",)):
            local = _cli(capsys, *args, *json_flag, "--store", uri)
            remote = _cli(capsys, *args, *json_flag, "--server", target)
            assert local[0] == 0 and remote == local, args
    code, text, _ = _cli(capsys, "stats", "diff", stats1, stats2, "--json", "--server", target)
    assert json.loads(text)["over_threshold"] >= 1
    code, _, err = _cli(capsys, "stats", "diff", stats1, stats2, "--fail-on-drift", "--server", target)
    assert code == 1 and err.startswith("mlstore: drift over threshold") and "day" in err
    code, _, err = _cli(capsys, "stats", "show", stats2, "--split", "test", "--server", target)
    assert code == 2 and err.strip() == f"mlstore: {stats2} has no split 'test'; splits: eval, train"
    code, text, _ = _cli(capsys, "anomalies", anomalies, "--server", target)
    assert f"{anomalies} (ExampleAnomalies, span {DAY2}) split train:" in text
