"""Executions and artifacts of a store as OpenLineage RunEvents (the mapping, nothing sent).

One execution is one OpenLineage run of the job ``<pipeline>.<step>`` (TFX's node id
when it has one), in the store's namespace:

- a START event (its inputs) and a COMPLETE event (COMPLETE or CACHED executions), FAIL
  (FAILED, with the recorded error) or ABORT (CANCELED), carrying inputs and outputs;
  an execution still RUNNING has its START only;
- run id: a UUID5 of the namespace, the execution id and its create time, so the same
  execution exported twice is the same run; the pipeline run (``run_id``) is the parent
  run, ``<pipeline>`` its job;
- datasets: an artifact is the dataset ``<type>/<id>`` (or its MLMD name) in the same
  namespace, its content digest as the dataset version, where its bytes are as a
  symlink; standard facets where they apply (version, dataSource, symlinks, schema of
  Schema artifacts and of a Model's input signature, lifecycleStateChange CREATE on
  outputs) and mlstore's (:mod:`mlstore.openlineage.facets`);
- job facets: jobType, and sourceCodeLocation where the store knows where the code is:
  the source files of a built-in step (``code_blob``, stored in the store's blobs; the
  code digest as version) or a TFX component's user-code wheel (``module_path``);
- run facets: parent, nominalTime (for a span that is a date, YYYYMMDD), errorMessage,
  executionParameters (the params), processing_engine (the mlstore version that
  recorded it), mlstore_execution, mlstore_warmStart (a ``base_model`` input).

Only the store's public API is read, so this works on a local store and through a server.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import uuid
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator
from urllib.parse import urlparse

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (datasource_dataset, dataset_version_dataset, error_message_run,
                                         execution_parameters_run, job_type_job, lifecycle_state_change_dataset,
                                         nominal_time_run, parent_run, processing_engine_run, schema_dataset,
                                         source_code_location_job, symlinks_dataset)

from mlstore import errors
from mlstore._uri import parse_store_uri
from mlstore.openlineage import facets as ml
from mlstore.types import Artifact, Blessing, EventRecord, Execution, decoded_property

PROJECT_URL = "https://mlstore.dev"
INTEGRATION = "MLSTORE"
# Execution properties that say where a run belongs, not how it was parameterised (TFX's exec properties).
_NOT_PARAMETERS = {"mlmd_type", "node_id", "run_id", "pipeline"}
_END_STATE = {"COMPLETE": RunState.COMPLETE, "CACHED": RunState.COMPLETE, "FAILED": RunState.FAIL,
              "CANCELED": RunState.ABORT}


def producer() -> str:
    """The ``producer`` of mlstore's events: the project and the version that exported them."""
    from importlib.metadata import version  # noqa: PLC0415

    return f"{PROJECT_URL}/mlstore/{version('mlstore')}"


def store_namespace(store) -> str:
    """The OpenLineage namespace of a store's jobs and datasets, from its URI (never a password).

    ``mlstore://HOST/ABS/PATH`` for a directory or an attached MLMD file,
    ``mlstore+mysql://HOST:PORT/DB`` / ``mlstore+postgresql://...`` for a database,
    ``mlstore+grpc://HOST:PORT`` through a server.
    """
    location = parse_store_uri(store.uri)
    if location.server is not None:
        return f"mlstore+grpc://{location.server}"
    if location.database is not None:
        db = location.database
        return f"mlstore+{db.dialect}://{db.host}:{db.port}/{db.database}"
    path = location.mlmd_file if location.attached else location.directory
    return f"mlstore://{socket.gethostname()}{path.resolve()}"


def iso_time(ms: float) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds (``2013-01-02T10:00:00.123Z``)."""
    moment = dt.datetime.fromtimestamp(float(ms) / 1000, dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_uuid(namespace: str, execution: Execution) -> str:
    """The run id of an execution: stable across exports of the same store."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}#execution:{execution.id}@{execution.create_time_ms}"))


def pipeline_run_uuid(namespace: str, pipeline: str, run_id: str) -> str:
    """The run id of a pipeline run (the parent of its executions' runs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}#pipeline_run:{pipeline}/{run_id}"))


def job_name(execution: Execution) -> str:
    """``<pipeline>.<step>``: TFX's node id when recorded (two Resolvers are two jobs), else the step type."""
    step = execution.properties.get("node_id") or execution.type
    return f"{execution.pipeline}.{step}" if execution.pipeline else str(step)


def dataset_name(artifact: Artifact) -> str:
    """``<type>/<id>``, or the artifact's MLMD name when it has one."""
    return artifact.name or f"{artifact.type}/{artifact.id}"


def span_date(span: int | None) -> dt.date | None:
    """The day a span stands for when it is a date written YYYYMMDD (20130102), else None."""
    if span is None or not 19000101 <= span <= 99991231:
        return None
    try:
        return dt.date(span // 10000, span // 100 % 100, span % 100)
    except ValueError:
        return None


@dataclass
class _Catalogue:
    """Artifacts, blessings and dataset facets read once per export."""

    store: Any
    namespace: str
    artifacts: dict[int, Artifact] = field(default_factory=dict)
    dataset_facets: dict[int, dict[str, Any]] = field(default_factory=dict)
    blessings: dict[int, Blessing] | None = None

    def artifact(self, artifact_id: int) -> Artifact:
        if artifact_id not in self.artifacts:
            self.artifacts[artifact_id] = self.store.artifact(artifact_id)
        return self.artifacts[artifact_id]

    def blessing(self, artifact_id: int) -> Blessing | None:
        if self.blessings is None:
            self.blessings = {b.id: b for b in self.store.blessings()}
        return self.blessings.get(artifact_id)

    def facets(self, artifact: Artifact) -> dict[str, Any]:
        if artifact.id not in self.dataset_facets:
            self.dataset_facets[artifact.id] = self._facets(artifact)
        return self.dataset_facets[artifact.id]

    def _facets(self, artifact: Artifact) -> dict[str, Any]:
        digest = self.store.content_digest(artifact)
        found: dict[str, Any] = {
            "dataSource": datasource_dataset.DatasourceDatasetFacet(name=self.namespace, uri=self.namespace),
            "symlinks": symlinks_dataset.SymlinksDatasetFacet(identifiers=[_location_identifier(artifact.uri)]),
            "mlstore_artifact": ml.MlstoreArtifactDatasetFacet(
                artifact=str(artifact.node_id), type=artifact.type, uri=artifact.uri, state=artifact.state,
                digest=digest, size=artifact.size, span=artifact.span, pipeline=artifact.pipeline,
                createTime=iso_time(artifact.create_time_ms)),
        }
        if digest:
            found["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=digest)
        schema = self._schema(artifact)
        if schema:
            found["schema"] = schema
        if artifact.type == "Model":
            found["mlstore_model"] = _model_facet(artifact, digest)
        elif artifact.type == "ModelEvaluation":
            metrics = self.store.evaluation_metrics(artifact)
            if metrics:
                found["mlstore_evaluation"] = ml.MlstoreEvaluationDatasetFacet(metrics=metrics)
        elif artifact.type == "ModelBlessing":
            found["mlstore_blessing"] = self._blessing_facet(artifact)
        return found

    def _schema(self, artifact: Artifact) -> schema_dataset.SchemaDatasetFacet | None:
        """The fields of a Schema artifact (its features), or of a Model's raw input signature."""
        fields: list[tuple[str, str | None]] = []
        if artifact.type == "Schema" and artifact.state == "LIVE":
            try:
                summary = self.store.schema_summary(artifact)
            except errors.NotFound:  # the bytes were collected: the record says nothing of the features
                return None
            fields = [(f["feature"], f.get("type")) for f in summary.get("features", [])]
        elif artifact.type == "Model":
            signature = _signature(artifact)
            fields = sorted(signature.items()) if signature else []
        if not fields:
            return None
        return schema_dataset.SchemaDatasetFacet(fields=[
            schema_dataset.SchemaDatasetFacetFields(name=name, type=type_, ordinal_position=i)
            for i, (name, type_) in enumerate(fields, start=1)])

    def _blessing_facet(self, artifact: Artifact) -> ml.MlstoreBlessingDatasetFacet:
        decision = self.blessing(artifact.id)
        spec = artifact.properties.get("gate_spec_digest") or None
        if decision is None:  # not (yet) a decision the index knows: the artifact's own flag
            return ml.MlstoreBlessingDatasetFacet(blessed=_truthy(artifact.properties.get("blessed")),
                                                  gateSpecDigest=spec)
        return ml.MlstoreBlessingDatasetFacet(
            blessed=decision.blessed, model=f"artifact:{decision.model_id}",
            baselineModel=f"artifact:{decision.baseline_id}" if decision.baseline_id else None,
            evaluation=f"artifact:{decision.evaluation_id}" if decision.evaluation_id else None,
            gateSpecDigest=spec)

    def dataset(self, artifact: Artifact) -> tuple[str, str]:
        return self.namespace, dataset_name(artifact)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true")


def _signature(artifact: Artifact) -> dict[str, str] | None:
    signature = decoded_property(artifact.properties.get("input_signature"))
    return {str(k): str(v) for k, v in signature.items()} if isinstance(signature, dict) and signature else None


def _model_facet(artifact: Artifact, digest: str | None) -> ml.MlstoreModelDatasetFacet:
    props = artifact.properties
    return ml.MlstoreModelDatasetFacet(
        format="SavedModel", digest=digest, servingDigest=props.get("serving_digest") or None,
        semanticDigest=props.get("semantic_digest") or None, transformSpecDigest=props.get("spec_digest") or None,
        inputSignature=_signature(artifact), tfxVersion=props.get("tfx_version") or None)


def _location_identifier(uri: str) -> symlinks_dataset.Identifier:
    """Where the bytes are, named as OpenLineage names files (``file`` + path, ``s3://bucket`` + key)."""
    parts = urlparse(uri)
    if not parts.scheme or parts.scheme == "file":
        return symlinks_dataset.Identifier(namespace="file", name=parts.path or uri, type="DIRECTORY")
    return symlinks_dataset.Identifier(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/"),
                                       type="DIRECTORY")


def source_code_location(execution: Execution,
                         namespace: str) -> source_code_location_job.SourceCodeLocationJobFacet | None:
    """Where an execution's code is, when the store recorded it (None otherwise).

    * a built-in step's sources (``code_blob``: the files its ``code_digest`` covers, one
      blob of the store): type ``mlstore``, url ``<namespace>#blob=<digest>``, version the
      code digest;
    * a TFX component's user module (``module_path``, ``module@/path/to/user_code.whl``):
      type ``wheel`` (or ``file``), url the file's ``file://`` URI, path the module.

    A git commit alone locates nothing without the repository (mlstore records the
    commit, not the remote): it is in ``mlstore_execution.gitCommit``.
    """
    props = execution.properties
    blob = props.get("code_blob")
    if blob:
        return source_code_location_job.SourceCodeLocationJobFacet(
            type="mlstore", url=f"{namespace}#blob={blob}", version=props.get("code_digest") or None)
    module, sep, path = str(props.get("module_path") or "").partition("@")
    if sep and path.startswith("/"):
        return source_code_location_job.SourceCodeLocationJobFacet(
            type="wheel" if path.endswith(".whl") else "file", url=Path(path).as_uri(), path=module or None)
    return None


def _parameters(execution: Execution) -> list[execution_parameters_run.ExecutionParameter]:
    """mlstore's recorded params, or (TFX) the exec properties: values as JSON text."""
    props = execution.properties
    if "params" in props:
        params = decoded_property(props["params"])
        items = params.items() if isinstance(params, dict) else [("params", params)]
    else:
        items = [(k, decoded_property(v)) for k, v in props.items() if k not in _NOT_PARAMETERS]
    return [execution_parameters_run.ExecutionParameter(
                key=str(k), value=v if isinstance(v, str) else json.dumps(v, sort_keys=True))
            for k, v in sorted(items, key=lambda kv: str(kv[0]))]


def _engine(execution: Execution) -> processing_engine_run.ProcessingEngineRunFacet | None:
    """The mlstore version that recorded the execution (None for other writers', e.g. TFX's)."""
    packages = decoded_property(execution.properties.get("packages"))
    if not isinstance(packages, dict) or "mlstore" not in packages:
        return None
    from importlib.metadata import version  # noqa: PLC0415

    return processing_engine_run.ProcessingEngineRunFacet(
        version=str(packages["mlstore"]), name="mlstore", openlineageAdapterVersion=version("openlineage-python"))


class EventBuilder:
    """Builds the RunEvents of executions of one store (see the module docstring)."""

    def __init__(self, store, namespace: str | None = None):
        self.store = store
        self.namespace = namespace or store_namespace(store)
        self._catalogue = _Catalogue(store, self.namespace)
        self._producer = producer()

    def events(self, executions: Iterable[Execution]) -> Iterator[RunEvent]:
        """START then COMPLETE / FAIL / ABORT of each execution, in the order given."""
        for execution in executions:
            yield from self.execution_events(execution)

    def execution_events(self, execution: Execution) -> list[RunEvent]:
        records = self.store.events(execution)
        inputs = [(self._catalogue.artifact(e.artifact_id), e) for e in records if not e.is_output]
        outputs = [(self._catalogue.artifact(e.artifact_id), e) for e in records if e.is_output]
        span = max((a.span for a, _ in inputs + outputs if a.span is not None), default=None)
        run_facets = self._run_facets(execution, inputs, span)
        job_facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration=INTEGRATION,
                                                    jobType=execution.type, producer=self._producer)}
        location = source_code_location(execution, self.namespace)
        if location is not None:
            job_facets["sourceCodeLocation"] = location
        job = Job(namespace=self.namespace, name=job_name(execution), facets=job_facets)
        self._own(job.facets)
        props = execution.properties
        started = props.get("start_time_ms") or execution.create_time_ms
        ended = props.get("end_time_ms") or execution.create_time_ms
        input_datasets = [self._input(a, e) for a, e in inputs]
        events = [RunEvent(eventType=RunState.START, eventTime=iso_time(started), producer=self._producer,
                           run=Run(runId=run_uuid(self.namespace, execution), facets=dict(run_facets)),
                           job=job, inputs=input_datasets)]
        end_state = _END_STATE.get(execution.state)
        if end_state is not None:
            end_facets = dict(run_facets)
            if end_state is RunState.FAIL:
                end_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                    message=str(props.get("error") or f"{execution.node_id} FAILED (no error message recorded)"),
                    programmingLanguage="python", producer=self._producer)
            events.append(RunEvent(eventType=end_state, eventTime=iso_time(max(ended, started)),
                                   producer=self._producer,
                                   run=Run(runId=run_uuid(self.namespace, execution), facets=end_facets),
                                   job=job, inputs=input_datasets,
                                   outputs=[self._output(a, e) for a, e in outputs]))
        return events

    def _run_facets(self, execution: Execution, inputs: list[tuple[Artifact, EventRecord]],
                    span: int | None) -> dict[str, Any]:
        props = execution.properties
        run_id = props.get("run_id") or None
        seeds = decoded_property(props.get("seeds"))
        found: dict[str, Any] = {
            "mlstore_execution": ml.MlstoreExecutionRunFacet(
                execution=str(execution.node_id), step=execution.type, state=execution.state,
                pipeline=execution.pipeline, pipelineRun=run_id, node=props.get("node_id") or None,
                mlmdType=props.get("mlmd_type") or None, span=span,
                seeds=seeds if isinstance(seeds, dict) and seeds else None,
                gitCommit=props.get("git_commit") or None,
                gitDirty=bool(props["git_dirty"]) if props.get("git_dirty") not in (None, "") else None,
                codeDigest=props.get("code_digest") or None,
                environmentDigest=props.get("environment_digest") or None),
        }
        parameters = _parameters(execution)
        if parameters:
            found["executionParameters"] = execution_parameters_run.ExecutionParametersRunFacet(parameters=parameters)
        if run_id and execution.pipeline:
            found["parent"] = parent_run.ParentRunFacet.create(
                pipeline_run_uuid(self.namespace, execution.pipeline, str(run_id)), self.namespace,
                execution.pipeline)
        day = span_date(span)
        if day is not None:
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
            found["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
                nominalStartTime=iso_time(start.timestamp() * 1000),
                nominalEndTime=iso_time((start + dt.timedelta(days=1)).timestamp() * 1000))
        engine = _engine(execution)
        if engine is not None:
            found["processing_engine"] = engine
        base = next((a for a, e in inputs if e.role == "base_model"), None)
        if base is not None:
            namespace, name = self._catalogue.dataset(base)
            found["mlstore_warmStart"] = ml.MlstoreWarmStartRunFacet(baseModel=ml.WarmStartBase(
                artifact=str(base.node_id), namespace=namespace, name=name,
                digest=self.store.content_digest(base)))
        return self._own(found)

    def _input(self, artifact: Artifact, event: EventRecord) -> InputDataset:
        namespace, name = self._catalogue.dataset(artifact)
        return InputDataset(namespace=namespace, name=name, facets=self._own(dict(self._catalogue.facets(artifact))),
                            inputFacets=self._own({"mlstore_role": ml.MlstoreRoleInputDatasetFacet(role=event.role)}))

    def _output(self, artifact: Artifact, event: EventRecord) -> OutputDataset:
        namespace, name = self._catalogue.dataset(artifact)
        dataset_facets = dict(self._catalogue.facets(artifact))
        dataset_facets["lifecycleStateChange"] = lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet(
            lifecycleStateChange=lifecycle_state_change_dataset.LifecycleStateChange.CREATE)
        return OutputDataset(namespace=namespace, name=name, facets=self._own(dataset_facets),
                             outputFacets=self._own({"mlstore_role": ml.MlstoreRoleOutputDatasetFacet(role=event.role)}))

    def _own(self, found: dict[str, Any]) -> dict[str, Any]:
        """Facets with mlstore as their ``_producer`` (the client's default names the client)."""
        for facet in found.values():
            facet._producer = self._producer
        return found
