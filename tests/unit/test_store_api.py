"""One store interface: the local and the remote store implement every StoreAPI method alike."""

import ast
import inspect
import tomllib
from pathlib import Path

import pytest

import mlstore
from mlstore import errors, gc
from mlstore.client import RemoteStore
from mlstore.store import Store
from mlstore.store_api import StoreAPI

ROOT = Path(mlstore.__file__).parent
IMPLEMENTATIONS = (Store, RemoteStore)


def _interface_members() -> list[str]:
    return sorted(name for name, value in vars(StoreAPI).items()
                  if (callable(value) or isinstance(value, property)) and (not name.startswith("_") or name in (
                      "__enter__", "__exit__")))


def _parameters(function) -> list[tuple]:
    """Names, kinds and defaults of a method's parameters (annotations may be spelled differently)."""
    if isinstance(function, property):
        function = function.fget
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_the_interface_declares_the_calls_feature_modules_use():
    members = set(_interface_members())
    assert {"artifact", "artifacts", "lineage", "log_execution", "check_bytes", "verify", "select_warm_start",
            "requirement_of_model", "set_custom_properties", "collect_garbage", "push", "diff", "uri", "index_revision",
            "artifact_named", "cached_execution_ids"} <= members
    assert len(members) >= 35


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_implementation_defines_every_method_with_the_same_parameters(implementation):
    assert issubclass(implementation, StoreAPI)
    assert not implementation.__abstractmethods__
    for name in _interface_members():
        declared = vars(StoreAPI)[name]
        if getattr(declared, "__isabstractmethod__", False):
            assert name in vars(implementation), f"{implementation.__name__} inherits abstract {name}"
        implemented = inspect.getattr_static(implementation, name)
        assert _parameters(implemented) == _parameters(declared), f"{implementation.__name__}.{name}"


def test_verify_is_written_once():
    assert "verify" not in vars(Store) and "verify" not in vars(RemoteStore)


def test_open_returns_the_interface_for_a_directory(tmp_path):
    assert inspect.signature(mlstore.open).return_annotation in (StoreAPI, "StoreAPI")
    with mlstore.open(str(tmp_path / "s")) as store:
        assert isinstance(store, Store) and isinstance(store, StoreAPI)
        assert store.verify() == {} and store.check_bytes().hashed == 0


def test_remote_store_names_what_to_run_where_the_server_has_no_call():
    remote = RemoteStore("127.0.0.1:1", timeout=1)  # no server: these fail before any RPC
    try:
        with pytest.raises(errors.Unimplemented, match="--store DATABASE_URI"):
            remote.set_custom_properties(1, {"pinned": 1})
        # gc and pins do go through the server (AdminService; tests/integration/test_grpc_admin.py)
        with pytest.raises(errors.Unimplemented, match="pipeline cache"):
            remote.cached_execution_ids("sha256:" + "0" * 64)
        with pytest.raises(errors.Unimplemented, match="reused outputs"):
            remote.log_execution("Trainer", "p", reused_outputs=[(1, "model")])
    finally:
        remote.close()


def _module_imports(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_no_import_circle_between_the_two_stores():
    assert "mlstore.client" not in _module_imports(ROOT / "store.py")
    assert "mlstore.store" not in _module_imports(ROOT / "client.py")
    assert not {"mlstore.store", "mlstore.client"} & _module_imports(ROOT / "store_api.py")


def test_no_caller_branches_on_the_store_kind():
    offenders = []
    for path in [*ROOT.rglob("*.py"), *(ROOT.parent / "dashboard").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr"
                    and len(node.args) == 2 and isinstance(node.args[1], ast.Constant)
                    and node.args[1].value in ("engine", "check_bytes", "log_execution", "follow")):
                offenders.append(f"{path}:{node.lineno}")
    assert offenders == []


def test_py_typed_is_shipped():
    assert (ROOT / "py.typed").exists()
    pyproject = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["*"]
