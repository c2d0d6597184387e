"""Beam pipeline options for every Beam step (Transform analyze, StatisticsGen, Evaluator).

One place for: turning option strings into ``PipelineOptions``; the options that only
choose *where and how* a pipeline runs (runner, parallelism, environment, endpoints —
recorded, but no part of a cache key); the ``MLSTORE_BEAM_OPTIONS`` environment variable
and the ``beam_options`` of the config file ``MLSTORE_CONFIG`` names;
checking that a runner can start before anything is computed; running a batch pipeline
meant for DirectRunner on Beam's FnApiRunner directly (:func:`resolve_runner`); and the
staging protocol that keeps steps runner-independent: a pipeline ends in
:func:`stage_value` (its one result) or in a ParDo calling :func:`write_staged` (one value
per key, at :func:`stage_path`), which write through Beam's filesystems into a staging
directory under ``--temp_location`` (or the step's own directory), and the driver reads
them back with :func:`read_staged` after the pipeline has finished and publishes the
outputs itself. Workers never write a step's outputs.

This module imports Apache Beam only inside functions: the executor uses
:func:`result_options` to compute cache keys without loading Beam.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pickle
import shlex
import socket
import uuid
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlparse

from mlstore.errors import InvalidArgument, RunnerUnavailable

#: The environment variable holding extra Beam options for every Beam step
#: (shell-quoted, e.g. ``--runner=DaskRunner --dask_client_address=tcp://10.0.0.5:8786``).
ENV_VAR = "MLSTORE_BEAM_OPTIONS"

#: The environment variable naming an mlstore config file (YAML) whose ``beam_options``
#: apply to every Beam step, before ``MLSTORE_BEAM_OPTIONS``.
CONFIG_VAR = "MLSTORE_CONFIG"

#: Options that choose where and how a pipeline runs, never what it computes. They are
#: recorded with a step's params but left out of its cache key, so a step computed on
#: one runner is a cache hit (and a rerun a reproduction) on another.
EXECUTION_OPTIONS = frozenset({
    "runner", "streaming", "temp_location", "staging_location", "job_name", "job_endpoint",
    "artifact_endpoint", "job_server_timeout", "environment_type", "environment_config",
    "environment_options", "environment_cache_millis", "sdk_worker_parallelism", "sdk_location",
    "direct_num_workers", "direct_running_mode", "direct_embed_docker_python", "max_num_workers",
    "num_workers", "worker_machine_type", "machine_type", "disk_size_gb", "region", "project",
    "service_account_email", "network", "subnetwork", "flink_master", "flink_version", "parallelism",
    "spark_master_url", "spark_rest_url", "spark_version", "prism_location", "prism_beam_version_override",
    "setup_file", "requirements_file", "sdk_container_image", "sdk_harness_container_image_overrides",
    "extra_package", "extra_packages", "save_main_session",
    "pickle_library", "experiments", "experiment", "labels", "dataflow_service_options",
    "dask_client_address", "dask_connection_timeout", "dask_scheduler_file", "dask_client_name",
    "dask_connection_limit", "dask_npartitions", "dask_partition_size",
})

#: Short runner names Beam itself does not resolve.
RUNNER_ALIASES = {"DaskRunner": "apache_beam.runners.dask.dask_runner.DaskRunner"}

#: Seconds to wait for a scheduler or job endpoint before reporting it unreachable.
CONNECT_TIMEOUT = 5.0


def option_name(option: str) -> str:
    """``"--runner=DaskRunner"`` -> ``"runner"``."""
    return option.lstrip("-").partition("=")[0].replace("-", "_")


def result_options(options: Sequence[str]) -> list[str]:
    """The options that may change results: everything but :data:`EXECUTION_OPTIONS`.

    A flag's value may be the next list item (``["--runner", "DaskRunner"]``); it goes
    with its flag.
    """
    kept: list[str] = []
    skip_value = False
    for option in options:
        if skip_value and not option.startswith("--"):
            skip_value = False
            continue
        skip_value = False
        if option.startswith("-") and option_name(option) in EXECUTION_OPTIONS:
            skip_value = "=" not in option
            continue
        kept.append(option)
    return kept


def env_options() -> list[str]:
    """The options of the config file in ``MLSTORE_CONFIG`` (:func:`config_options`), then those
    in ``MLSTORE_BEAM_OPTIONS`` (empty when neither is set).

    Raises:
        InvalidArgument: the variable is not valid shell quoting, or the config file is bad.
    """
    path = os.environ.get(CONFIG_VAR)
    from_file = config_options(path) if path else []
    try:
        return from_file + shlex.split(os.environ.get(ENV_VAR, ""))
    except ValueError as e:
        raise InvalidArgument(f"{ENV_VAR} is not valid shell quoting: {e}") from None


def config_options(path: str) -> list[str]:
    """The ``beam_options`` of an mlstore config file, as option strings.

    The file is YAML with one key, ``beam_options``: a list of option strings
    (``["--runner=DaskRunner", ...]``) or a mapping of option name to value
    (``{runner: DaskRunner, dask_client_address: "tcp://10.0.0.5:8786"}``; ``true`` is a
    bare flag, a list repeats the option).

    Raises:
        InvalidArgument: the file cannot be read, is not YAML of that shape.
    """
    import yaml  # noqa: PLC0415

    where = f"{CONFIG_VAR}={path}"
    try:
        with open(path, encoding="utf-8") as fh:
            config = yaml.safe_load(fh)
    except OSError as e:
        raise InvalidArgument(f"{where}: cannot read the config file ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise InvalidArgument(f"{where}: not valid YAML ({str(e).splitlines()[0]})") from None
    if config is None:
        return []
    if not isinstance(config, dict) or set(config) - {"beam_options"}:
        raise InvalidArgument(f"{where}: expected a mapping with the one key beam_options")
    given = config.get("beam_options") or []
    if isinstance(given, list) and all(isinstance(o, str) for o in given):
        return list(given)
    if isinstance(given, dict):
        options = []
        for name, value in given.items():
            flag = "--" + str(name).lstrip("-")
            for item in value if isinstance(value, list) else [value]:
                if item is True:
                    options.append(flag)
                elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
                    options.append(f"{flag}={item}")
                else:
                    raise InvalidArgument(f"{where}: beam_options.{name}: expected a string, number, "
                                          f"true or a list of them, not {item!r}")
        return options
    raise InvalidArgument(f"{where}: beam_options must be a list of option strings or a mapping "
                          "of option name to value")


def step_options(params: dict[str, Any] | Any) -> list[str]:
    """A step's Beam options: its ``beam_options`` param, then the config file's, then
    ``MLSTORE_BEAM_OPTIONS`` (later wins)."""
    given = params.get("beam_options", []) if params else []
    if isinstance(given, str):
        raise InvalidArgument("param beam_options must be a list of strings, not one string")
    return [str(o) for o in given] + env_options()


def pipeline_options(options, defaults: Sequence[str] = ()):
    """``PipelineOptions`` from a list of strings (``defaults`` first, then ``options``) or as given.

    Raises:
        InvalidArgument: one string instead of a list, or an option Beam rejects.
    """
    from apache_beam.options.pipeline_options import PipelineOptions  # noqa: PLC0415

    if isinstance(options, PipelineOptions):
        return options
    if isinstance(options, str):
        raise InvalidArgument("pipeline options must be a list of strings, not one string")
    return PipelineOptions([_alias(o) for o in list(defaults) + list(options or [])])


def _alias(option: str) -> str:
    name, sep, value = option.partition("=")
    if sep and option_name(name) == "runner" and value in RUNNER_ALIASES:
        return f"{name}={RUNNER_ALIASES[value]}"
    return RUNNER_ALIASES.get(option, option)


def run_pipeline(options, build, *, parallelism: int | None = None) -> None:
    """Checks the runner (:func:`check_runner`), builds the pipeline with ``build(pipeline)``, runs it
    to the end and releases the runner's client (a Dask client is closed).

    ``parallelism`` is how many elements the pipeline's first ``Create`` has that are worth
    spreading over the workers (its files). Beam's DaskRunner puts up to 128 created elements
    in one Dask partition, i.e. on one worker, and treats ``Reshuffle`` as a no-op; unless
    ``--dask_npartitions`` or ``--dask_partition_size`` is given, it gets
    ``--dask_npartitions=parallelism`` (an execution option: results do not change).

    Raises:
        RunnerUnavailable, InvalidArgument: see :func:`check_runner`.
        the pipeline's own error when it fails.
    """
    import apache_beam as beam  # noqa: PLC0415
    from apache_beam.runners.runner import PipelineState  # noqa: PLC0415

    check_runner(options)
    options = _with_dask_partitions(options, parallelism)
    pipeline = beam.Pipeline(runner=resolve_runner(options), options=options)
    build(pipeline)
    result = pipeline.run()
    try:
        state = result.wait_until_finish()
    finally:
        client = getattr(result, "client", None)
        if client is not None:
            client.close()
    if state not in (None, PipelineState.DONE):
        raise RunnerUnavailable(f"the Beam pipeline ended {state}, not DONE")


def resolve_runner(options):
    """The runner object a pipeline with ``options`` runs on, or ``None`` to let Beam create ``--runner``.

    The default runner or DirectRunner (any spelling Beam accepts, not a subclass) in
    batch: Beam's FnApiRunner, built as DirectRunner builds it for a batch pipeline (the
    options provisioned to its workers; ``--direct_num_workers``, ``--direct_running_mode``
    and the other DirectOptions honoured), minus DirectRunner's first attempt at PrismRunner,
    which cannot get its binary here and costs about half of a run's fixed cost. Any other
    runner (PrismRunner, DaskRunner, PortableRunner, ``--streaming``, a runner object) is
    kept as given. DirectRunner would also fall back to its bundle-based runner for what
    FnApiRunner lacks (TestStream, Pub/Sub, real-time timers, a CombineFn with deferred
    side inputs); mlstore's pipelines use none of them.

    Raises:
        InvalidArgument: an unknown runner.
    """
    from apache_beam.options.pipeline_options import StandardOptions  # noqa: PLC0415
    from apache_beam.runners.direct.direct_runner import SwitchingDirectRunner  # noqa: PLC0415
    from apache_beam.runners.runner import create_runner  # noqa: PLC0415

    standard = options.view_as(StandardOptions)
    runner = standard.runner or StandardOptions.DEFAULT_RUNNER
    if not isinstance(runner, str) or standard.streaming:
        return None
    try:
        if type(create_runner(runner)) is not SwitchingDirectRunner:
            return None
    except (ValueError, ImportError) as e:
        raise InvalidArgument(f"--runner={runner}: {str(e).splitlines()[0]}") from None
    return _batch_direct_runner(options)


def _batch_direct_runner(options):
    """What ``SwitchingDirectRunner.run_pipeline`` (Beam 2.77) runs a batch pipeline on after Prism."""
    from apache_beam.portability.api import beam_provision_api_pb2  # noqa: PLC0415
    from apache_beam.runners.portability.fn_api_runner import fn_runner  # noqa: PLC0415
    from apache_beam.runners.portability.portable_runner import JobServiceHandle  # noqa: PLC0415

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)))


def _with_dask_partitions(options, parallelism: int | None):
    """``options`` with ``--dask_npartitions=parallelism`` on the DaskRunner when no partitioning
    is given (a copy; the caller's options are left alone)."""
    from apache_beam.options.pipeline_options import PipelineOptions  # noqa: PLC0415

    values = options.get_all_options(drop_default=True, retain_unknown_options=True)
    runner = values.get("runner")
    if (not parallelism or parallelism < 2 or not isinstance(runner, str)
            or not runner.rsplit(".", 1)[-1].lower().startswith("dask")):
        return options
    if any(values.get(k) for k in ("npartitions", "partition_size", "dask_npartitions", "dask_partition_size")):
        return options
    return PipelineOptions([], **{**values, "npartitions": int(parallelism)})


def _all_options(options) -> dict[str, Any]:
    return options.get_all_options(drop_default=False, retain_unknown_options=True)


def check_runner(options) -> None:
    """Fails fast, naming the option to fix, when the chosen runner cannot start.

    Checks that a Dask scheduler (``--dask_client_address``) or a job service
    (``--job_endpoint``) accepts connections, and that PrismRunner has its binary
    (``--prism_location``; it would otherwise be downloaded).

    Raises:
        RunnerUnavailable: the runner cannot start.
        InvalidArgument: an unknown runner.
    """
    from apache_beam.options.pipeline_options import StandardOptions  # noqa: PLC0415
    from apache_beam.runners.runner import create_runner  # noqa: PLC0415

    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    if not isinstance(runner, str):
        return  # a runner object: the caller's responsibility
    try:
        create_runner(runner)  # imports the runner's module, which registers its options
    except (ValueError, ImportError) as e:
        raise InvalidArgument(f"--runner={runner}: {str(e).splitlines()[0]}") from None
    name = runner.rsplit(".", 1)[-1].lower().removesuffix("runner")
    if name not in ("dask", "portable", "flink", "spark", "prism"):
        return  # nothing to reach (every option parse costs a few ms: they are per run)
    values = _all_options(options)
    if name == "dask":
        _check_dask(values)
    elif name in ("portable", "flink", "spark") and values.get("job_endpoint"):
        _check_reachable(values["job_endpoint"], "--job_endpoint", "job service")
    elif name == "portable":
        raise RunnerUnavailable("--runner=PortableRunner needs --job_endpoint=HOST:PORT (a Beam job service)")
    elif name == "prism":
        _check_prism(values)


def _check_dask(values: dict[str, Any]) -> None:
    try:
        import dask.distributed  # noqa: F401, PLC0415
    except ImportError:
        raise RunnerUnavailable("--runner=DaskRunner needs dask[distributed] installed "
                                "(pip install 'mlstore[dask]')") from None
    # DaskOptions stores --dask_client_address as `address` (unknown-option form before it registers).
    address = values.get("address") or values.get("dask_client_address")
    if address:
        _check_reachable(address, "--dask_client_address", "Dask scheduler")


def _check_reachable(endpoint: str, option: str, what: str) -> None:
    parsed = urlparse(endpoint if "://" in endpoint else f"tcp://{endpoint}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise RunnerUnavailable(f"{option}={endpoint}: expected HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as e:
        raise RunnerUnavailable(f"{option}={endpoint}: cannot reach the {what} ({e.strerror or e})") from None


def _check_prism(values: dict[str, Any]) -> None:
    location = values.get("prism_location")
    if location and "://" not in location:
        if not os.path.isfile(location):
            raise RunnerUnavailable(f"--prism_location={location}: no such file")
        return
    cache = os.path.expanduser("~/.apache_beam/cache/prism/bin")  # Beam's PrismJobServer.BIN_CACHE
    if not location and os.path.isdir(cache) and any(os.scandir(cache)):
        return
    raise RunnerUnavailable("--runner=PrismRunner needs its binary: pass --prism_location=PATH to a local "
                            "prism executable (it cannot be downloaded here)")


@contextlib.contextmanager
def staging_dir(options, fallback: str) -> Iterator[str]:
    """A fresh staging directory under ``--temp_location`` (else under ``fallback``), removed on exit.

    For a distributed runner, ``--temp_location`` must be storage every worker and the
    driver can reach (a shared directory, ``gs://``, ``s3://``, ``hdfs://``).
    """
    from apache_beam.io.filesystems import FileSystems  # noqa: PLC0415

    from apache_beam.options.pipeline_options import GoogleCloudOptions  # noqa: PLC0415

    base = options.view_as(GoogleCloudOptions).temp_location or fallback
    path = FileSystems.join(base, f"mlstore-staging-{uuid.uuid4().hex}")
    FileSystems.mkdirs(path)
    try:
        yield path
    finally:
        with contextlib.suppress(Exception):
            FileSystems.delete([path])


def collect(pcoll, label: str = "Collect"):
    """All elements of ``pcoll`` as one list element (no element when ``pcoll`` is empty).

    A GroupByKey on one key rather than ``ToList``/``CombineGlobally``, whose default-value
    side input makes Beam's DaskRunner recompute the whole pipeline inside a worker.
    """
    import apache_beam as beam  # noqa: PLC0415

    return (pcoll | f"{label}Key" >> beam.Map(lambda v: (None, v))
            | f"{label}Group" >> beam.GroupByKey()
            | f"{label}List" >> beam.MapTuple(lambda _, values: list(values)))


def stage_value(pcoll, path: str, label: str = "Stage"):
    """Writes the single element of ``pcoll`` (any picklable value) to ``path`` through Beam's filesystems.

    A plain ParDo, not ``WriteToText``: its side inputs would make Beam's DaskRunner
    recompute the whole pipeline inside a worker.
    """
    import apache_beam as beam  # noqa: PLC0415

    return pcoll | label >> beam.Map(write_staged, path)


def stage_path(staging: str, name: str) -> str:
    """The path of the value staged as ``name`` in the staging directory ``staging``."""
    from apache_beam.io.filesystems import FileSystems  # noqa: PLC0415

    return FileSystems.join(staging, name)


def write_staged(value: Any, path: str) -> str:
    """Writes ``value`` (picklable) to ``path`` through Beam's filesystems, on a worker, for
    :func:`read_staged` on the driver; returns ``path``. :func:`stage_value` for a
    PCollection's single element; a step staging one value per key calls it from its own ParDo."""
    from apache_beam.io.filesystems import FileSystems  # noqa: PLC0415

    with FileSystems.create(path) as fh:
        fh.write(base64.b64encode(pickle.dumps(value)) + b"\n")
    return path


def read_staged(path: str, default: Any = None) -> Any:
    """The value :func:`stage_value` wrote to ``path``, read on the driver; ``default``
    when nothing was written (the staged PCollection was empty)."""
    from apache_beam.io.filesystems import FileSystems  # noqa: PLC0415

    if not FileSystems.exists(path):
        return default
    with FileSystems.open(path) as fh:
        return pickle.loads(base64.b64decode(fh.read().strip()))
