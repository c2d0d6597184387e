"""The store's write and query paths, on SQLite, MariaDB and PostgreSQL."""

import json

import pytest
from sqlalchemy import func, select

import mlstore
from mlstore import errors
from mlstore.index import tables as t


def write_files(directory, **files):
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def log_day(store, tmp_path, day, base_model=None, blessed=True):
    """Examples -> Trainer -> Model -> Evaluator -> ModelEvaluation -> Gate -> ModelBlessing."""
    data = write_files(tmp_path / f"data{day}", **{"rows.csv": f"x,y\n{day},1\n"})
    with mlstore.run("demo", "ExampleGen", {"day": day}, store=store) as r:
        r.log_artifact(data, "Examples", properties={"span": day})
    examples = r.outputs[0]
    model_dir = write_files(tmp_path / f"model{day}", **{"saved_model.pb": f"model {day}"})
    with mlstore.run("demo", "Trainer", {"epochs": 1}, store=store, seed=7) as r:
        r.use(examples, "examples")
        if base_model is not None:
            r.use(base_model, "base_model")
        r.log_model(model_dir)
    model = r.outputs[0]
    with mlstore.run("demo", "Evaluator", store=store) as r:
        r.use(model, "model")
        r.log_evaluation({"Overall": {"auc_roc": 0.5 + day / 100}, "carrier=AA": {"auc_roc": 0.4 + day / 100}})
    evaluation = r.outputs[0]
    blessing_dir = write_files(tmp_path / f"blessing{day}", **{"BLESSED" if blessed else "NOT_BLESSED": ""})
    with mlstore.run("demo", "Gate", store=store) as r:
        r.use(model, "model")
        r.use(evaluation, "evaluation")
        r.log_artifact(blessing_dir, "ModelBlessing", properties={
            "blessed": int(blessed), "current_model_id": model.id, "evaluation_id": evaluation.id})
    return examples, model, evaluation


def test_daily_pipeline_lineage_metrics_and_blessing(store, tmp_path):
    model = None
    for day in (1, 2, 3):
        examples, model, evaluation = log_day(store, tmp_path, day, model, blessed=day != 3)
    graph = store.lineage(model, direction="up")
    types = sorted({n.type for n in graph.nodes})
    assert types == ["ExampleGen", "Examples", "Model", "Trainer"]
    assert len([n for n in graph.nodes if n.type == "Model"]) == 3
    roles = {e.role for e in graph.edges}
    assert roles == {"examples", "base_model", "model"}
    series = store.metric_series("demo", "auc_roc", "carrier=AA")
    assert [(p.span, round(p.value, 6)) for p in series] == [(1, 0.41), (2, 0.42), (3, 0.43)]
    latest = store.latest_blessed("demo")
    assert latest.span == 2 and latest.type == "Model"
    assert store.evaluation_metrics(evaluation)["Overall"]["auc_roc"] == pytest.approx(0.53)
    assert [b.blessed for b in store.blessings(pipeline="demo")] == [True, True, False]
    # execution capture
    trainer = store.execution(graph.edges[-1].source if graph.edges[-1].source.kind == "execution" else
                              [n.id for n in graph.nodes if n.type == "Trainer"][-1])
    props = trainer.properties
    assert json.loads(props["params"]) == {"epochs": 1}
    assert json.loads(props["seeds"]) == {"global": 7}
    assert props["python_version"].startswith("3.11")
    assert "ml-metadata" in json.loads(props["packages"])
    assert {"git_commit", "git_dirty", "command", "host", "start_time_ms", "end_time_ms"} <= set(props)


def test_same_savedmodel_twice_is_stored_once(store, tmp_path):
    model_dir = write_files(tmp_path / "m", **{"saved_model.pb": "same bytes"})
    ids = []
    for _ in range(2):
        with mlstore.run("demo", "Trainer", store=store) as r:
            r.log_model(model_dir)
        ids.append(r.outputs[0])
    assert ids[0].id != ids[1].id and ids[0].digest == ids[1].digest
    # the model's bytes once, and the package list both runs recorded (packages_blob) once
    package_lists = {store.execution(f"execution:{e.execution_id}").properties["packages_blob"]
                     for i in ids for e in store.events(i.node_id) if e.is_output}
    assert len(package_lists) == 1
    assert sorted(store.blobs.digests()) == sorted([ids[0].digest, *package_lists])
    assert store.resolve(ids[0].digest[:16]) == ids[1].node_id  # newest artifact with that digest


def test_failed_run_is_recorded_and_its_outputs_are_not_live(store, tmp_path):
    model_dir = write_files(tmp_path / "m", **{"saved_model.pb": "x"})
    with pytest.raises(RuntimeError, match="boom"):
        with mlstore.run("demo", "Trainer", store=store) as r:
            r.log_model(model_dir)
            raise RuntimeError("boom")
    execution = store.execution(r.execution_id)
    assert execution.state == "FAILED"
    assert execution.properties["error"] == "RuntimeError: boom"
    assert [a.state for a in r.outputs] == ["ABANDONED"]


def counts(store):
    with store.engine.connect() as c:
        return {tb.name: c.scalar(select(func.count()).select_from(tb))
                for tb in (t.artifact, t.execution, t.event, t.metric, t.metric_recent, t.blessing, t.journal)}


def test_bad_input_is_typed_and_writes_nothing(store, tmp_path):
    log_day(store, tmp_path, 1)
    before = counts(store)
    blobs_before = store.blobs.digests()
    data = write_files(tmp_path / "d", **{"f.txt": "new content"})
    cases = [
        (errors.NotFound, lambda r: r.use("artifact:999", "examples")),
        (errors.NotFound, lambda r: r.use("execution:999", "examples")),
        (errors.InvalidArgument, lambda r: r.use("artifact:abc", "examples")),
        (errors.NotFound, lambda r: r.use("sha256:ffffffffff", "examples")),
        (errors.InvalidArgument, lambda r: r.log_artifact(data, "Modle")),
        (errors.InvalidArgument, lambda r: r.log_artifact(data, "Model", properties={"colour": "red"})),
        (errors.NotFound, lambda r: r.log_artifact(tmp_path / "missing", "Model")),
        (errors.InvalidArgument, lambda r: r.log_model(data)),
    ]
    for error, action in cases:
        run = mlstore.sdk.Run(store, "demo", "Trainer", {}, None, None)
        with pytest.raises(error):
            action(run)
    assert counts(store) == before
    assert store.blobs.digests() == blobs_before
    with pytest.raises(errors.InvalidArgument):
        store.log_execution("Bad Step!", "demo")
    with pytest.raises(errors.NotFound):
        store.log_execution("Trainer", "demo", inputs=[(12345, "examples")])
    assert counts(store) == before


def test_ambiguous_digest_prefix(store, tmp_path):
    digests = set()
    i = 0
    while True:  # find two artifacts whose digests share a first hex character
        d = write_files(tmp_path / f"f{i}", **{"x": str(i)})
        with mlstore.run("demo", "ExampleGen", store=store) as r:
            r.log_artifact(d, "Examples")
        digests.add(r.outputs[0].digest)
        firsts = [x[7] for x in digests]
        if len(set(firsts)) < len(firsts):
            break
        i += 1
    shared = next(c for c in firsts if firsts.count(c) > 1)
    with pytest.raises(errors.AmbiguousReference, match="ambiguous"):
        store.resolve("sha256:" + shared)


def test_reindex_rebuilds_an_identical_index(store, tmp_path):
    model = None
    for day in (1, 2):
        _, model, _ = log_day(store, tmp_path, day, model)

    def snapshot():
        with store.engine.connect() as c:
            return {tb.name: sorted(tuple(r) for r in c.execute(
                        select(*[col for col in tb.c if not (tb is t.event and col.name == "id")])))
                    for tb in (t.artifact, t.execution, t.event, t.metric, t.metric_recent, t.blessing)}

    before = snapshot()
    assert store.reindex() == 8
    assert snapshot() == before


def test_lineage_depth_direction_types_and_multiple_starts(store, tmp_path):
    model = None
    models = []
    for day in (1, 2, 3):
        examples, model, _ = log_day(store, tmp_path, day, model)
        models.append(model)
    shallow = store.lineage(models[-1], "up", depth=2)
    assert {str(n.id) for n in shallow.nodes if n.depth == 2} >= {str(models[1].node_id)}
    assert max(n.depth for n in shallow.nodes) == 2
    down = store.lineage(models[0], "down")
    assert {n.type for n in down.nodes} >= {"Model", "ModelEvaluation", "ModelBlessing", "Trainer"}
    only_models = store.lineage(models[-1], "up", types=["Model"])
    assert [n.id for n in only_models.nodes] == [m.node_id for m in models]
    both = store.lineage([models[0], models[1]], "both", depth=1)
    assert set(both.start) == {models[0].node_id, models[1].node_id}
    with pytest.raises(errors.InvalidArgument):
        store.lineage(models[0], "sideways")
    with pytest.raises(errors.InvalidArgument):
        store.lineage(models[0], "up", depth=-1)
    with pytest.raises(errors.InvalidArgument, match="unknown type"):
        store.lineage(models[0], "up", types=["Modle"])
    assert store.lineage(models[-1], "up", depth=100) .to_json()["nodes"] == store.lineage(models[-1], "up").to_json()["nodes"]


def test_cache_and_recursive_sql_give_identical_graphs(store, tmp_path):
    from mlstore.lineage import lineage_from_sql

    model = None
    first = None
    for day in range(1, 21):  # small queries sort their nodes, large ones filter the cache's order
        examples, model, _ = log_day(store, tmp_path, day, model)
        first = first or examples
    cases = [([model.node_id], "up", None, ()), ([model.node_id], "up", 3, ()), ([first.node_id], "down", None, ()),
             ([first.node_id, model.node_id], "both", 2, ()), ([model.node_id], "up", None, ("Model", "Examples")),
             ([model.node_id], "up", 1, ()), ([first.node_id], "both", 2, ("Trainer",))]
    for start, direction, depth, types in cases:
        cached = store.lineage(start, direction, depth, types)
        sql = lineage_from_sql(store.engine, start, direction, depth, types)
        assert cached == sql, (start, direction, depth, types)
        assert [n.to_json() for n in cached.nodes] == cached.to_json()["nodes"]


def test_several_stores_on_one_directory_in_one_process(sqlite_store_uri, tmp_path):
    """MLMD links its own SQLite: Python's sqlite3 must not touch an open MLMD file."""
    data = write_files(tmp_path / "d", **{"f.txt": "x"})

    def log(store):
        with mlstore.run("p", "ExampleGen", store=store) as r:
            r.log_artifact(data, "Examples")

    first = mlstore.open(sqlite_store_uri)
    log(first)
    second = mlstore.open(sqlite_store_uri)
    log(second)
    del second
    third = mlstore.open(sqlite_store_uri)
    log(third)
    assert len(third.artifacts()) == 3 and len(first.artifacts()) == 3


def test_strings_with_backslashes_round_trip_on_every_backend(store, tmp_path):
    """MLMD 1.17 cannot store a backslash on PostgreSQL; mlstore encodes it there."""
    text = 'C:\\data\\flights {"multi": "line\\nspec"}'
    logged = store.log_execution("Trainer", "demo", properties={"note": text, "params": json.dumps({"s": "a\nb"})})
    execution = store.execution(logged.execution_id)
    assert execution.properties["note"] == text
    assert json.loads(execution.properties["params"]) == {"s": "a\nb"}
    store.reindex()
    assert store.execution(logged.execution_id).properties["note"] == text
