"""Trainer component: Keras wide-and-deep classifier over transform outputs, serving export, digests.

Importing this package registers the custom layers needed to load ``model.keras``.
"""

from mlstore.components.trainer.data import LabelSpec
from mlstore.components.trainer.digest import VariableDiff, diff_variables, read_variables, semantic_digest
from mlstore.components.trainer.export import SERVING_SIGNATURE, export_serving
from mlstore.components.trainer.model import Hyperparams, build_model, model_features
from mlstore.components.trainer.modules import ModuleEmbedding
from mlstore.components.trainer.train import TrainResult, WarmStart, load_keras_model, train

__all__ = [
    "SERVING_SIGNATURE", "Hyperparams", "LabelSpec", "ModuleEmbedding", "TrainResult", "VariableDiff", "WarmStart",
    "build_model", "diff_variables", "export_serving", "load_keras_model", "model_features",
    "read_variables", "semantic_digest", "train",
]
