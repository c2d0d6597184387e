"""Export the serving SavedModel: raw features -> transform graph -> Keras model.

Signature ``serving_default`` (shared contract with the evaluator):

* inputs: the raw columns of the transform spec as named 1-D tensors,
  float32 for float/int columns and tf.string for string columns;
* outputs: ``probabilities`` float32 [batch] = P(label = 1), and ``logits``
  float32 [batch].

The transform graph's ``assets.extra/`` (analyzers.json, feature spec) is copied
into the serving directory's ``assets.extra/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

import keras
import tensorflow as tf

from mlstore.components.transform.graph import TransformGraph, raw_tensor_specs

SERVING_SIGNATURE = "serving_default"


class _ServingModule(tf.Module):
    def __init__(self, graph: TransformGraph, model: keras.Model, input_names: Sequence[str],
                 raw_input_names: Sequence[str]):
        super().__init__(name="serving")
        self.transform = graph.module  # tracked: its tables and vocabulary assets are re-saved
        self.model = model  # tracked: hub module layers bring their tables and variables along
        self._input_names = list(input_names)
        self._raw_input_names = list(raw_input_names)
        self.serve = tf.function(self._serve, input_signature=[raw_tensor_specs(graph.spec)])

    def _serve(self, features):
        transformed = self.transform.transform_features(features)
        model_inputs = {n: transformed[n] for n in self._input_names}
        model_inputs.update({n: features[n] for n in self._raw_input_names})  # module-embedded columns
        logits = self.model(model_inputs, training=False)
        logits = tf.reshape(tf.cast(logits, tf.float32), [-1])
        return {"probabilities": tf.sigmoid(logits), "logits": logits}


def export_serving(graph: TransformGraph, model: keras.Model, input_names: Sequence[str],
                   export_dir: str, raw_input_names: Sequence[str] = ()) -> str:
    """Save the serving SavedModel to ``export_dir`` and return it.

    ``input_names`` are transformed features fed to the model; ``raw_input_names`` are raw
    columns fed to it as they arrive (the string columns that hub modules embed).
    """
    module = _ServingModule(graph, model, input_names, raw_input_names)
    tf.saved_model.save(module, export_dir, signatures={SERVING_SIGNATURE: module.serve})
    shutil.copytree(os.path.join(graph.path, "assets.extra"), os.path.join(export_dir, "assets.extra"),
                    dirs_exist_ok=True)
    return export_dir
