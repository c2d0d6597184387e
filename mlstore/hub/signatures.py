"""What the registry reads from a SavedModel without running it: signatures and trainability.

Reading ``saved_model.pb`` as a protocol buffer is fast and loads no TensorFlow
runtime objects, so publishing a large module does not pay for restoring it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError

from mlstore.errors import InvalidArgument, NotFound


@dataclass(frozen=True)
class SavedModelSummary:
    """Signatures (``{name: {"inputs"|"outputs": {key: {"dtype", "shape"}}}}``) and trainability."""

    signatures: dict[str, dict[str, dict[str, dict[str, Any]]]]
    trainable: bool


def summarize(saved_model_dir: str | Path) -> SavedModelSummary:
    """Reads signatures and whether any variable is trainable from a TF2 SavedModel.

    Raises:
        NotFound: the directory does not exist.
        InvalidArgument: it is not a SavedModel (no or unreadable saved_model.pb).
    """
    from tensorflow.core.protobuf import saved_model_pb2  # noqa: PLC0415 - TF is heavy

    directory = Path(saved_model_dir)
    if not directory.exists():
        raise NotFound(f"path {directory} does not exist")
    pb_path = directory / "saved_model.pb"
    if not pb_path.is_file():
        raise InvalidArgument(f"{directory} is not a SavedModel (no saved_model.pb); export one with tf.saved_model.save")
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(pb_path.read_bytes())
    except DecodeError:
        raise InvalidArgument(f"{pb_path} is not a readable SavedModel protocol buffer") from None
    if not proto.meta_graphs:
        raise InvalidArgument(f"{pb_path} has no meta graph")
    graph = proto.meta_graphs[0]
    signatures = {name: {"inputs": _tensors(sig.inputs), "outputs": _tensors(sig.outputs)}
                  for name, sig in sorted(graph.signature_def.items()) if not name.startswith("__")}
    trainable = any(node.WhichOneof("kind") == "variable" and node.variable.trainable
                    for node in graph.object_graph_def.nodes)
    return SavedModelSummary(signatures, trainable)


def _tensors(infos) -> dict[str, dict[str, Any]]:
    import tensorflow as tf  # noqa: PLC0415 - already imported by summarize()

    out = {}
    for key, info in sorted(infos.items()):
        shape = None if info.tensor_shape.unknown_rank else [
            None if d.size < 0 else d.size for d in info.tensor_shape.dim]
        out[key] = {"dtype": tf.dtypes.as_dtype(info.dtype).name, "shape": shape}
    return out
