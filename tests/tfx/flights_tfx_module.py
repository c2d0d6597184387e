"""The TFX user module of the flights_tfx pipeline: Transform's preprocessing_fn and
Trainer's run_fn (a tiny Keras model). Runs inside the TFX venv only.

Raw features (CSV columns): carrier, origin (strings), hour, distance, dep_delay
(integers) and the label ``late`` (1 when arr_delay > 15 minutes, else 0).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFX 1.16 trains with Keras 2 (tf_keras)

import tensorflow as tf
import tf_keras as keras
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

LABEL = "late"
CATEGORICAL = ("carrier", "origin")
NUMERIC = ("hour", "distance", "dep_delay")


def preprocessing_fn(inputs):
    """z-scores the numeric features, vocabularies for the strings, label passed through."""
    out = {}
    for name in NUMERIC:
        out[name] = tft.scale_to_z_score(tf.cast(inputs[name], tf.float32))
    for name in CATEGORICAL:
        out[name] = tft.compute_and_apply_vocabulary(inputs[name], top_k=32, num_oov_buckets=1,
                                                     vocab_filename=name)
    out[LABEL] = tf.cast(inputs[LABEL], tf.int64)
    return out


def _build_model(tf_transform_output) -> keras.Model:
    inputs, parts = {}, []
    for name in NUMERIC:
        inputs[name] = keras.layers.Input(shape=(1,), name=name, dtype=tf.float32)
        parts.append(inputs[name])
    for name in CATEGORICAL:
        size = tf_transform_output.vocabulary_size_by_name(name) + 1
        inputs[name] = keras.layers.Input(shape=(1,), name=name, dtype=tf.int64)
        embedded = keras.layers.Embedding(size, 4, name=f"{name}_embedding")(inputs[name])
        parts.append(keras.layers.Flatten()(embedded))
    x = keras.layers.concatenate(parts)
    x = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    output = keras.layers.Dense(1, activation="sigmoid", name="late_probability")(x)
    model = keras.Model(inputs=inputs, outputs=output)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy",
                  metrics=[keras.metrics.BinaryAccuracy()])
    return model


def _serve_fn(model, tf_transform_output):
    model.tft_layer = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples(serialized):
        spec = tf_transform_output.raw_feature_spec()
        spec.pop(LABEL)
        parsed = tf.io.parse_example(serialized, spec)
        transformed = model.tft_layer(parsed)
        return {"late_probability": model(transformed)}

    return serve_tf_examples


def _dataset(fn_args, files, tf_transform_output, batch_size: int):
    return fn_args.data_accessor.tf_dataset_factory(
        files, tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=LABEL),
        tf_transform_output.transformed_metadata.schema)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Trains a few steps and exports the serving SavedModel to fn_args.serving_model_dir."""
    tf.random.set_seed(int(fn_args.custom_config.get("seed", 7)) if fn_args.custom_config else 7)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train = _dataset(fn_args, fn_args.train_files, tf_transform_output, 32)
    evaluation = _dataset(fn_args, fn_args.eval_files, tf_transform_output, 32)
    model = _build_model(tf_transform_output)
    model.fit(train, steps_per_epoch=fn_args.train_steps, validation_data=evaluation,
              validation_steps=fn_args.eval_steps, verbose=0)
    signatures = {"serving_default": _serve_fn(model, tf_transform_output)}
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
