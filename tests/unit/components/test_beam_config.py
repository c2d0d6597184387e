"""Beam options from an mlstore config file (``MLSTORE_CONFIG``), and Dask partitioning."""

from __future__ import annotations

import pytest

from mlstore.components.beam_options import (CONFIG_VAR, ENV_VAR, config_options, env_options,
                                             pipeline_options, step_options)
from mlstore.errors import InvalidArgument
from mlstore.pipeline.executor import keyed_params


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv(CONFIG_VAR, raising=False)
    monkeypatch.delenv(ENV_VAR, raising=False)


def test_list_and_mapping_forms(tmp_path):
    listed = tmp_path / "list.yaml"
    listed.write_text("beam_options:\n  - --runner=DaskRunner\n  - --dask_client_address=tcp://h:1\n")
    assert config_options(str(listed)) == ["--runner=DaskRunner", "--dask_client_address=tcp://h:1"]
    mapped = tmp_path / "map.yaml"
    mapped.write_text("beam_options:\n  runner: DaskRunner\n  direct_num_workers: 2\n  save_main_session: true\n"
                      "  experiments: [a, b]\n")
    assert config_options(str(mapped)) == ["--runner=DaskRunner", "--direct_num_workers=2", "--save_main_session",
                                           "--experiments=a", "--experiments=b"]
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert config_options(str(empty)) == []


def test_order_is_param_then_file_then_environment(tmp_path, monkeypatch):
    config = tmp_path / "mlstore.yaml"
    config.write_text("beam_options: {runner: DaskRunner}\n")
    monkeypatch.setenv(CONFIG_VAR, str(config))
    monkeypatch.setenv(ENV_VAR, "--runner=DirectRunner --direct_num_workers=1")
    assert env_options() == ["--runner=DaskRunner", "--runner=DirectRunner", "--direct_num_workers=1"]
    assert step_options({"beam_options": ["--job_name=x"]}) == ["--job_name=x", "--runner=DaskRunner",
                                                                "--runner=DirectRunner", "--direct_num_workers=1"]
    monkeypatch.delenv(ENV_VAR)
    assert pipeline_options(step_options({})).get_all_options()["runner"].endswith("DaskRunner")


def test_execution_options_from_the_file_are_not_keyed(tmp_path, monkeypatch):
    params = {"spec": "x", "beam_options": ["--direct_num_workers=1"]}
    plain = keyed_params(params)
    config = tmp_path / "mlstore.yaml"
    config.write_text("beam_options: {runner: DaskRunner, dask_client_address: 'tcp://h:1'}\n")
    monkeypatch.setenv(CONFIG_VAR, str(config))
    assert keyed_params(params) == plain == {"spec": "x"}
    config.write_text("beam_options: ['--some_result_option=3']\n")
    assert keyed_params(params) == {"spec": "x", "beam_options": ["--some_result_option=3"]}


@pytest.mark.parametrize("text, message", [
    (None, "cannot read the config file"),
    ("beam_options: [--a\n", "not valid YAML"),
    ("beam_option: [--runner=DaskRunner]\n", "the one key beam_options"),
    ("- --runner=DaskRunner\n", "the one key beam_options"),
    ("beam_options: --runner=DaskRunner\n", "list of option strings or a mapping"),
    ("beam_options: {runner: {x: 1}}\n", "beam_options.runner: expected"),
    ("beam_options: {save_main_session: false}\n", "beam_options.save_main_session: expected"),
])
def test_bad_config_files_are_invalid_arguments_naming_the_variable(tmp_path, monkeypatch, text, message):
    config = tmp_path / "mlstore.yaml"
    if text is not None:
        config.write_text(text)
    monkeypatch.setenv(CONFIG_VAR, str(config))
    with pytest.raises(InvalidArgument, match=f"{CONFIG_VAR}=.*{message}") as e:
        env_options()
    assert "\n" not in str(e.value)


def test_dask_gets_a_partition_per_file_unless_partitioning_is_given():
    import apache_beam.runners.dask.dask_runner  # noqa: F401 - registers DaskOptions, as check_runner does

    from mlstore.components.beam_options import _with_dask_partitions

    dask = pipeline_options(["--runner=DaskRunner", "--dask_client_address=tcp://h:1"])
    spread = _with_dask_partitions(dask, 8)
    assert spread is not dask and spread.get_all_options(retain_unknown_options=True)["npartitions"] == 8
    assert spread.get_all_options(retain_unknown_options=True)["address"] == "tcp://h:1"
    assert "npartitions" not in dask.get_all_options(drop_default=True, retain_unknown_options=True)
    given = pipeline_options(["--runner=DaskRunner", "--dask_partition_size=2"])
    assert _with_dask_partitions(given, 8) is given
    direct = pipeline_options(["--runner=DirectRunner"])
    assert _with_dask_partitions(direct, 8) is direct
    assert _with_dask_partitions(dask, 1) is dask
