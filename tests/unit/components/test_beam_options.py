"""Which runner a Beam step runs on: the default runner and DirectRunner in batch run on Beam's
FnApiRunner directly (no PrismRunner attempt first), with DirectOptions honoured; any other
runner is kept as the user chose it."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, SetupOptions
from apache_beam.runners.portability import prism_runner
from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner
from google.protobuf import json_format

from mlstore.components.beam_options import (collect, pipeline_options, read_staged, resolve_runner,
                                             run_pipeline, stage_value, staging_dir)
from mlstore.errors import InvalidArgument

DIRECT = [[], ["--runner=DirectRunner"], ["--runner", "direct"],
          ["--runner=apache_beam.runners.direct.direct_runner.DirectRunner"],
          ["--runner=DirectRunner", "--direct_num_workers=2", "--direct_running_mode=multi_threading"]]


@pytest.mark.parametrize("options", DIRECT, ids=lambda o: " ".join(o) or "default")
def test_default_and_direct_runner_resolve_to_fn_api_runner(options):
    runner = resolve_runner(pipeline_options(options))
    assert type(runner) is FnApiRunner


def test_fn_api_runner_is_provisioned_with_the_options():
    # what its workers (multi_processing: other processes) read their options from
    runner = resolve_runner(pipeline_options(["--direct_num_workers=2", "--direct_running_mode=multi_processing",
                                              "--pickle_library=cloudpickle"]))
    provisioned = json_format.MessageToDict(runner._provision_info.provision_info.pipeline_options)
    seen = PipelineOptions.from_dictionary({k.removeprefix("beam:option:").removesuffix(":v1"): v
                                            for k, v in provisioned.items()})  # as sdk_worker_main reads them
    assert seen.view_as(DirectOptions).direct_num_workers == 2
    assert seen.view_as(DirectOptions).direct_running_mode == "multi_processing"
    assert seen.view_as(SetupOptions).pickle_library == "cloudpickle"


@pytest.mark.parametrize("options", [
    ["--runner=PrismRunner"], ["--runner=DaskRunner"], ["--runner=PortableRunner"],
    ["--runner=BundleBasedDirectRunner"], ["--runner=DirectRunner", "--streaming"], ["--streaming"],
], ids=" ".join)
def test_explicit_other_runner_or_streaming_is_kept(options):
    assert resolve_runner(pipeline_options(options)) is None  # Beam creates --runner itself


def test_unknown_runner_is_invalid_argument():
    with pytest.raises(InvalidArgument, match="--runner=NoSuchRunner"):
        resolve_runner(pipeline_options(["--runner=NoSuchRunner"]))


@pytest.mark.parametrize("options", [[], ["--direct_num_workers=2", "--direct_running_mode=multi_threading"]],
                         ids=["one worker", "two threads"])
def test_run_pipeline_runs_on_fn_api_runner_without_trying_prism(options, monkeypatch, tmp_path):
    prism_attempts = []
    monkeypatch.setattr(prism_runner.PrismRunner, "run_pipeline",
                        lambda self, *args: prism_attempts.append(args) or pytest.fail("PrismRunner tried"))
    runners = []
    opts = pipeline_options(options)

    def build(p):
        runners.append(p.runner)
        stage_value(collect(p | beam.Create(range(100)) | beam.Map(lambda x: x * x)), path)

    with staging_dir(opts, str(tmp_path)) as staged:
        path = f"{staged}/squares"
        run_pipeline(opts, build)
        squares = read_staged(path)
    assert [type(r) for r in runners] == [FnApiRunner] and prism_attempts == []
    assert sorted(squares) == [x * x for x in range(100)]
