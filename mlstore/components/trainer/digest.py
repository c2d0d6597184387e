"""Semantic digest and variable diff of SavedModels, independent of generated names.

Two exports of the same function (same variables, signatures and assets) get
the same :func:`semantic_digest` even when ``saved_model.pb`` bytes differ
(traced function names carry counters). Digest input, as canonical JSON:

* ``variables``: checkpoint key -> sha256 of (dtype, shape, raw bytes), read
  with ``tf.train.load_checkpoint`` (the object-graph entry is skipped);
* ``signatures``: signature key -> inputs/outputs by name with dtype and shape
  (tensor names such as ``serving_default_x:0`` are ignored);
* ``assets``: relative path under ``assets/`` and ``assets.extra/`` -> sha256 of content.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from mlstore.errors import NotFound

_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


@dataclass(frozen=True)
class VariableDiff:
    """Result of :func:`diff_variables`; ``differing`` maps name -> max abs difference."""

    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]
    shape_mismatch: tuple[str, ...]
    differing: dict[str, float]

    @property
    def identical(self) -> bool:
        return not (self.only_in_a or self.only_in_b or self.shape_mismatch or self.differing)


def read_variables(saved_model_dir: str) -> dict[str, np.ndarray]:
    """All checkpointed variables of a SavedModel by checkpoint key.

    Raises:
        NotFound: no ``variables/variables.index`` in the directory.
    """
    prefix = os.path.join(saved_model_dir, "variables", "variables")
    if not os.path.exists(prefix + ".index"):
        raise NotFound(f"{saved_model_dir!r} has no SavedModel variables")
    reader = tf.train.load_checkpoint(prefix)
    return {k: np.asarray(reader.get_tensor(k)) for k in sorted(reader.get_variable_to_shape_map())
            if k != _OBJECT_GRAPH_KEY}


def _signatures(saved_model_dir: str) -> dict:
    path = os.path.join(saved_model_dir, "saved_model.pb")
    if not os.path.exists(path):
        raise NotFound(f"{saved_model_dir!r} has no saved_model.pb")
    proto = saved_model_pb2.SavedModel()
    with open(path, "rb") as fh:
        proto.ParseFromString(fh.read())
    out = {}
    for meta in proto.meta_graphs:
        for key, sig in meta.signature_def.items():
            out[key] = {"method": sig.method_name,
                        "inputs": {n: _tensor_info(t) for n, t in sig.inputs.items()},
                        "outputs": {n: _tensor_info(t) for n, t in sig.outputs.items()}}
    return out


def _tensor_info(info) -> dict:
    shape = None if info.tensor_shape.unknown_rank else [d.size for d in info.tensor_shape.dim]
    return {"dtype": types_pb2.DataType.Name(info.dtype), "shape": shape}


def _assets(saved_model_dir: str) -> dict[str, str]:
    out = {}
    for sub in ("assets", "assets.extra"):
        root = os.path.join(saved_model_dir, sub)
        for dirpath, _, files in os.walk(root):
            for name in files:
                full = os.path.join(dirpath, name)
                with open(full, "rb") as fh:
                    out[os.path.relpath(full, saved_model_dir)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def _array_digest(a: np.ndarray) -> str:
    h = hashlib.sha256(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(a.tobytes() if a.dtype != object else repr(a.tolist()).encode())
    return h.hexdigest()


def semantic_digest(saved_model_dir: str) -> str:
    """sha256 hex over variables, signatures and assets (see module docstring).

    Raises:
        NotFound: not a SavedModel directory.
    """
    content = {"variables": {k: _array_digest(v) for k, v in read_variables(saved_model_dir).items()},
               "signatures": _signatures(saved_model_dir),
               "assets": _assets(saved_model_dir)}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def diff_variables(a_dir: str, b_dir: str) -> VariableDiff:
    """Compare the checkpointed variables of two SavedModels by name and value."""
    a, b = read_variables(a_dir), read_variables(b_dir)
    shape_mismatch, differing = [], {}
    for name in sorted(set(a) & set(b)):
        va, vb = a[name], b[name]
        if va.shape != vb.shape or va.dtype != vb.dtype:
            shape_mismatch.append(name)
        elif va.dtype == object or not np.issubdtype(va.dtype, np.number):
            if not np.array_equal(va, vb):
                differing[name] = float("nan")
        elif not np.array_equal(va, vb):
            differing[name] = float(np.max(np.abs(va.astype(np.float64) - vb.astype(np.float64))))
    return VariableDiff(only_in_a=tuple(sorted(set(a) - set(b))), only_in_b=tuple(sorted(set(b) - set(a))),
                        shape_mismatch=tuple(shape_mismatch), differing=differing)
