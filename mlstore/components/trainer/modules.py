"""Hub modules as feature embeddings: a raw string column → a (fine-tunable) SavedModel module.

A :class:`ModuleEmbedding` says "embed raw column ``carrier`` with the module at
``path``". The trainer copies the module into the Model artifact
(``keras/modules/module_<column>/``) and builds a :class:`ModuleLayer` from that copy,
so the Model is self-contained: ``load_keras_model`` rebinds the layer to the copy
inside whichever directory the Model now lives in (a store blob, a rerun's workdir).
The source directory (a published module's blob) is only read, never written.

Layer name contract (warm start matches by name): ``module_<column>``. It replaces the
deep embedding ``embedding_<feature>`` of the categorical features computed from that
column; their wide one-hots and crosses stay.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlstore.errors import InvalidArgument, NotFound
from mlstore.hub.keras_layer import KerasLayer

MODULES_DIR = os.path.join("keras", "modules")


@dataclass(frozen=True)
class ModuleEmbedding:
    """Embed raw string column ``column`` with the SavedModel module at ``path``.

    The module maps a ``[batch]`` string tensor to ``[batch, dim]`` float embeddings
    (see :func:`mlstore.hub.export_embedding_module`). ``trainable``: fine-tune its
    variables with the model (the files at ``path`` never change).
    """

    column: str
    path: str
    trainable: bool = True

    @property
    def layer_name(self) -> str:
        return f"module_{self.column}"


def check_modules(modules: Sequence[ModuleEmbedding], spec, model_feature_names: Sequence[str]) -> None:
    """Validates module embeddings against the transform spec.

    Raises:
        InvalidArgument: the column is not a raw string column, is embedded twice, or
            clashes with a transformed feature's name.
        NotFound: the module directory has no saved_model.pb.
    """
    seen = set()
    for m in modules:
        raw = spec.raw(m.column)
        if raw is None or raw.dtype != "string":
            strings = sorted(c.name for c in spec.raw_columns if c.dtype == "string")
            raise InvalidArgument(f"module column {m.column!r} is not a raw string column of the transform "
                                  f"spec; choose one of: {', '.join(strings) or 'none'}")
        if m.column in seen:
            raise InvalidArgument(f"raw column {m.column!r} has two module embeddings; give it one")
        if m.column in model_feature_names:
            raise InvalidArgument(f"raw column {m.column!r} has the name of a transformed feature; rename one")
        seen.add(m.column)
        if not os.path.isfile(os.path.join(m.path, "saved_model.pb")):
            raise NotFound(f"module {m.path!r} is not a SavedModel directory (no saved_model.pb)")


def replaced_embeddings(modules: Sequence[ModuleEmbedding], spec, model_feature_names: Sequence[str]) -> set[str]:
    """Model features whose deep embedding a module replaces: vocabularies of a module's column."""
    columns = {m.column for m in modules}
    out = set()
    for name in model_feature_names:
        feature = spec.feature(name)
        if feature is not None and feature.op == "vocabulary" and feature.input in columns:
            out.add(name)
    return out


def build_module_layers(modules: Sequence[ModuleEmbedding], output_dir: str) -> dict[str, "ModuleLayer"]:
    """Copies each module into ``<output_dir>/keras/modules/`` and returns its layer by column."""
    layers = {}
    for m in modules:
        target = os.path.join(output_dir, MODULES_DIR, m.layer_name)
        # copyfile, not copy2: the store keeps blobs read-only and the copy must stay writable.
        shutil.copytree(m.path, target, copy_function=shutil.copyfile)
        layers[m.column] = ModuleLayer(m.layer_name, os.path.join(output_dir, MODULES_DIR),
                                       trainable=m.trainable, name=m.layer_name)
    return layers


def custom_objects(train_output_dir: str) -> Mapping[str, type]:
    """Keras ``custom_objects`` that rebind module layers to the copies in ``train_output_dir``."""
    root = os.path.join(train_output_dir, MODULES_DIR)
    return {"ModuleLayer": type("ModuleLayer", (ModuleLayer,), {"default_root": root})}


class ModuleLayer(KerasLayer):
    """A hub KerasLayer whose config names its module copy relative to the Model.

    ``get_config`` stores ``module_dir`` (a folder under ``keras/modules/``), never an
    absolute path, because the Model directory moves into the store after training.
    """

    default_root: str | None = None  # set by custom_objects() when loading

    def __init__(self, module_dir: str, modules_root: str | None = None, **kwargs):
        root = modules_root or self.default_root
        if root is None:
            raise InvalidArgument("load a model with hub module layers with "
                                  "mlstore.components.trainer.load_keras_model(train_output_dir)")
        super().__init__(os.path.join(root, module_dir), **kwargs)
        self.module_dir = module_dir

    def get_config(self):
        config = super().get_config()
        config.pop("module_path", None)
        return {**config, "module_dir": self.module_dir}
