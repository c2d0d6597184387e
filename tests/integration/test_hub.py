"""Module registry end to end: real SavedModels, real MLMD stores, the real CLI entry point."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

import mlstore
import mlstore.hub as hub
from mlstore import errors
from mlstore.cli import cli
from mlstore.cli._common import run_cli
from mlstore.hub.cache import digest_of_tree
from tests import backends

VOCAB = ["AA", "DL", "UA"]


@pytest.fixture(autouse=True)
def hub_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hub-cache"
    monkeypatch.setenv("MLSTORE_HUB_CACHE", str(cache))
    return cache


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    """Three embedding modules with different weights (so different digests)."""
    root = tmp_path_factory.mktemp("modules")
    return [hub.export_embedding_module(VOCAB, np.full((3, 4), float(i + 1)), root / f"m{i}") for i in range(3)]


def _counts(store) -> tuple:
    return (len(store.artifacts()), len(store.executions()), len(store.blobs.digests()))


def _cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run_cli(cli, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_publish_load_finetune_keeps_published_bytes(sqlite_store, modules, hub_cache):
    import keras
    import tensorflow as tf

    with mlstore.run("emb", "EmbeddingTrainer", store=sqlite_store) as producer:
        producer.log_model(modules[0])
    published = hub.publish(modules[0], "acme/carrier-emb", description="# Carriers\nlearnt", tags=["embedding"],
                            license="Apache-2.0", store=sqlite_store)
    assert (published.handle, published.trainable, published.license) == ("acme/carrier-emb/1", True, "Apache-2.0")
    assert published.source_model == str(producer.outputs[0].node_id)
    assert published.source_execution == f"execution:{producer.execution_id}"
    assert published.signatures["serving_default"]["outputs"]["embeddings"] == {"dtype": "float32", "shape": [None, 4]}

    path = hub.resolve("acme/carrier-emb/1", store=sqlite_store)
    assert Path(path).parent == hub_cache and digest_of_tree(Path(path)) == published.digest
    with mlstore.run("flights", "Trainer", store=sqlite_store) as run:
        layer = hub.load("acme/carrier-emb/1", trainable=True, run=run)
        before = layer.module_weights[0].numpy().copy()
        tokens = keras.Input(shape=(), dtype="string")
        model = keras.Model(tokens, keras.layers.Dense(1)(layer(tokens)))
        model.compile(keras.optimizers.SGD(0.5), "mse")
        model.fit(tf.constant(["AA", "DL", "UA", "AA"]), tf.constant([1.0, 0.0, 1.0, 1.0]), epochs=3, verbose=0)
        assert np.abs(layer.module_weights[0].numpy() - before).max() > 1e-4
        export = Path(path).parent.parent / "trained"
        tf.saved_model.save(layer.module, str(export))  # the fine-tuned module as this run's model
        run.log_model(export)
    assert sqlite_store.blobs.verify(published.digest) == []
    assert digest_of_tree(Path(sqlite_store.local_path(published.artifact))) == published.digest
    assert digest_of_tree(Path(path)) == published.digest
    assert [m.id for m in hub.consumers("acme/carrier-emb/1", store=sqlite_store)] == [run.outputs[0].id]
    lineage = sqlite_store.lineage(run.outputs[0], direction="up")
    assert producer.outputs[0].node_id in {n.id for n in lineage.nodes}  # module → models, back to its run


def test_versions_are_ordered_immutable_and_idempotent(store, modules):
    first = hub.publish(modules[0], "acme/emb", store=store)
    before = _counts(store)
    assert hub.publish(modules[0], "acme/emb", store=store) == first  # same bytes: same version
    assert hub.publish(modules[0], "acme/emb/1", store=store) == first
    assert _counts(store) == before
    second = hub.publish(modules[1], "acme/emb", store=store)
    assert (first.version, second.version) == (1, 2)
    before = _counts(store)
    with pytest.raises(errors.AlreadyExists, match="immutable"):
        hub.publish(modules[2], "acme/emb/2", store=store)
    with pytest.raises(errors.InvalidArgument, match="next one is 3"):
        hub.publish(modules[2], "acme/emb/5", store=store)
    assert _counts(store) == before
    assert hub.publish(modules[2], "acme/emb/3", store=store).version == 3
    assert hub.show("acme/emb", store=store).version == 3
    assert hub.show("acme/emb/2", store=store).digest == second.digest


@pytest.fixture(params=["mysql", "postgresql"])
def server_store_uri(request, tmp_path):
    # Concurrent writers belong on a database server: MLMD's SQLite driver fails with
    # "disk I/O error" when several connections of one process write at once.
    yield from backends.fresh_store_uri(request.param, tmp_path)


def test_racing_publishers_get_distinct_versions(server_store_uri, modules):
    mlstore.open(server_store_uri).close()
    barrier = threading.Barrier(3)
    results, failures = [], []

    def publisher(module_dir):
        try:
            with mlstore.open(server_store_uri) as s:
                barrier.wait()
                results.append(hub.publish(module_dir, "acme/race", store=s))
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            failures.append(e)

    threads = [threading.Thread(target=publisher, args=(m,)) for m in modules]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert failures == []
    assert sorted(r.version for r in results) == [1, 2, 3]
    assert len({r.digest for r in results}) == 3


def test_corrupt_or_stale_cache_entry_is_fetched_again(sqlite_store, modules, hub_cache):
    module = hub.publish(modules[0], "acme/emb", store=sqlite_store)
    path = Path(hub.resolve(module.handle, store=sqlite_store))
    target = next(p for p in sorted(path.rglob("*")) if p.is_file() and "variables.data" in p.name)
    target.chmod(target.stat().st_mode | stat.S_IWUSR)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    assert digest_of_tree(path) != module.digest
    assert Path(hub.resolve(module.handle, store=sqlite_store)) == path
    assert digest_of_tree(path) == module.digest

    (path / "saved_model.pb").chmod(0o644)
    (path / "saved_model.pb").unlink()  # a partial entry: also refetched
    hub.load(module.handle, store=sqlite_store)
    assert digest_of_tree(path) == module.digest


def test_consumers_are_exactly_the_models_that_used_the_version(sqlite_store_uri, modules, tmp_path, capsys):
    store = mlstore.open(sqlite_store_uri)
    for m in modules:
        hub.publish(m, "acme/emb", store=store)

    def train(handle, ok=True, with_model=True):
        model_file = tmp_path / f"model-{len(store.executions())}.txt"
        model_file.write_text(model_file.name)  # the model's bytes do not matter here
        try:
            with mlstore.run("flights", "Trainer", store=store) as run:
                hub.use(run, handle)
                if with_model:
                    run.log_artifact(model_file, "Model")
                if not ok:
                    raise RuntimeError("training diverged")
        except RuntimeError:
            pass
        return run.outputs[0].id if run.outputs else None

    a, b = train("acme/emb/3"), train("acme/emb/3")
    c = train("acme/emb/2")
    train("acme/emb/3", ok=False)  # failed run: its model is ABANDONED, not a consumer
    train("acme/emb/3", with_model=False)
    assert [m.id for m in hub.consumers("acme/emb/3", store=store)] == [a, b]
    assert [m.id for m in hub.consumers("acme/emb", store=store)] == [a, b, c]

    code, out, err = _cli(capsys, "hub", "consumers", "acme/emb/3", "--store", sqlite_store_uri, "--json")
    assert (code, err) == (0, "")
    assert [m["id"] for m in json.loads(out)] == [f"artifact:{a}", f"artifact:{b}"]
    code, out, _ = _cli(capsys, "hub", "show", "acme/emb/3", "--store", sqlite_store_uri, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["versions"] == [1, 2, 3]
    assert [m["id"] for m in shown["consumers"]] == [f"artifact:{a}", f"artifact:{b}"]


def test_cli_publish_search_show(sqlite_store_uri, modules, tmp_path, capsys):
    doc = tmp_path / "README.md"
    doc.write_text("# Carrier embedding\n\nLearnt from 2013 flights.\n")
    code, out, err = _cli(capsys, "hub", "publish", str(modules[0]), "--handle", "acme/carrier", "--description",
                          str(doc), "--tag", "embedding", "--tag", "flights", "--license", "MIT",
                          "--store", sqlite_store_uri, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["handle"] == "acme/carrier/1"
    _cli(capsys, "hub", "publish", str(modules[1]), "--handle", "acme/airport", "--store", sqlite_store_uri)
    code, out, _ = _cli(capsys, "hub", "search", "2013", "--store", sqlite_store_uri, "--json")
    assert [m["handle"] for m in json.loads(out)] == ["acme/carrier/1"]
    code, out, _ = _cli(capsys, "hub", "search", "", "--tag", "flights", "--store", sqlite_store_uri, "--json")
    assert [m["handle"] for m in json.loads(out)] == ["acme/carrier/1"]
    code, out, _ = _cli(capsys, "hub", "search", "acme", "--store", sqlite_store_uri, "--json")
    assert [m["handle"] for m in json.loads(out)] == ["acme/airport/1", "acme/carrier/1"]
    code, out, _ = _cli(capsys, "hub", "show", "acme/carrier", "--store", sqlite_store_uri)
    assert code == 0 and "Carrier embedding" in out and "serving_default" in out and "consumers: none" in out


@pytest.mark.parametrize("bad", ["../x", "acme//1", "acme/emb/0", "acme/emb/x", "acme/emb/01", "Acme/emb",
                                 "acme/em$b", "acme", "relative/dir/1/2"])
def test_bad_handles_exit_2_and_write_nothing(sqlite_store_uri, modules, capsys, bad):
    store = mlstore.open(sqlite_store_uri)
    hub.publish(modules[0], "acme/emb", store=store)
    before = _counts(store)
    for argv in (["hub", "publish", str(modules[1]), "--handle", bad], ["hub", "show", bad],
                 ["hub", "consumers", bad]):
        code, out, err = _cli(capsys, *argv, "--store", sqlite_store_uri)
        assert code == 2, argv
        assert err.startswith("mlstore: bad") or "expected publisher/name" in err, err
        assert len(err.strip().splitlines()) == 1
    with pytest.raises(errors.InvalidArgument):
        hub.publish(modules[1], bad, store=store)
    assert _counts(mlstore.open(sqlite_store_uri)) == before


def test_unknown_modules_and_non_savedmodels_write_nothing(sqlite_store_uri, modules, tmp_path, capsys):
    store = mlstore.open(sqlite_store_uri)
    hub.publish(modules[0], "acme/emb", store=store)
    before = _counts(store)
    for argv in (["hub", "show", "acme/nope"], ["hub", "show", "acme/emb/2"], ["hub", "consumers", "other/emb"]):
        code, _, err = _cli(capsys, *argv, "--store", sqlite_store_uri)
        assert code == 2 and ("no module" in err or "no version 2" in err), err
    not_a_model = tmp_path / "plain"
    not_a_model.mkdir()
    (not_a_model / "weights.txt").write_text("1 2 3")
    code, _, err = _cli(capsys, "hub", "publish", str(not_a_model), "--handle", "acme/emb", "--store", sqlite_store_uri)
    assert code == 2 and "not a SavedModel" in err
    with pytest.raises(errors.NotFound):
        hub.resolve("acme/emb/9", store=store)
    with pytest.raises(errors.NotFound):
        hub.resolve(str(tmp_path / "missing"))
    assert _counts(mlstore.open(sqlite_store_uri)) == before


def test_local_path_handles_need_no_registry(modules):
    assert hub.resolve(str(modules[0])) == str(modules[0])
    layer = hub.load(f"file://{modules[0]}", signature="serving_default")
    assert layer(np.array(["DL", "unknown"])).numpy().tolist() == [[1.0] * 4, [0.0] * 4]
    assert os.environ["MLSTORE_HUB_CACHE"] and not Path(os.environ["MLSTORE_HUB_CACHE"]).exists()


def test_grpc_handles_and_consumers_through_the_server(sqlite_store_uri, modules, tmp_path, capsys, hub_cache):
    from tests.grpc_support import serve

    with mlstore.open(sqlite_store_uri) as store:
        module = hub.publish(modules[0], "acme/emb", store=store)
        model_file = tmp_path / "model.txt"
        model_file.write_text("model")
        with mlstore.run("flights", "Trainer", store=store) as run:
            hub.use(run, "acme/emb/1")
            run.log_artifact(model_file, "Model")
    with serve(sqlite_store_uri) as (_, target):
        path = hub.resolve(f"grpc://{target}/acme/emb/1")
        assert Path(path).parent == hub_cache and digest_of_tree(Path(path)) == module.digest
        remote = mlstore.open(f"grpc://{target}")
        assert [m.id for m in hub.consumers("acme/emb/1", store=remote)] == [run.outputs[0].id]
        assert hub.show("acme/emb/1", store=remote) == module
        code, out, err = _cli(capsys, "hub", "consumers", "acme/emb/1", "--server", target, "--json")
        assert (code, err) == (0, "")
        assert [m["id"] for m in json.loads(out)] == [str(run.outputs[0].node_id)]
        code, _, err = _cli(capsys, "hub", "show", "acme/emb/7", "--server", target)
        assert code == 2 and "no version 7" in err
