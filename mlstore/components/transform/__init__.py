"""Transform component: preprocessing spec, Beam analyze phase, transform SavedModel.

Typical use::

    spec = load_spec("transform.yaml")
    results = analyze(spec, ["day.csv"], pipeline_options=["--direct_num_workers=1"])
    export_transform_graph(results, "out/transform")
    graph = load_transform_graph("out/transform")
    outputs = graph.transform({"distance": [...], "carrier": [...], ...})

The graph names (TensorFlow) load on first use: Beam workers that only analyze (they
unpickle functions of this package) never import TensorFlow.
"""

from typing import Any

from mlstore.components.transform.analyze import analyze
from mlstore.components.transform.rawio import MalformedRow, read_batches
from mlstore.components.transform.results import (AnalyzerResults, QuantileResult, VocabularyResult,
                                                  ZScoreStats, read_results_json)
from mlstore.components.transform.spec import Feature, RawColumn, TransformSpec, load_spec, parse_spec

__all__ = [
    "SIGNATURE", "AnalyzerResults", "Feature", "MalformedRow", "QuantileResult", "RawColumn",
    "TransformGraph", "TransformSpec", "TransformedFeature", "VocabularyResult", "ZScoreStats",
    "analyze", "export_transform_graph", "load_spec", "load_transform_graph", "parse_spec",
    "raw_input_signature", "raw_tensor_specs", "read_batches", "read_results_json", "to_raw_tensors",
    "transformed_feature_spec",
]

#: Names from :mod:`mlstore.components.transform.graph`, imported on first access.
_GRAPH_NAMES = frozenset({"SIGNATURE", "TransformedFeature", "TransformGraph", "export_transform_graph",
                          "load_transform_graph", "raw_input_signature", "raw_tensor_specs", "to_raw_tensors",
                          "transformed_feature_spec"})


def __getattr__(name: str) -> Any:
    if name in _GRAPH_NAMES:
        from mlstore.components.transform import graph  # noqa: PLC0415 - TensorFlow

        return getattr(graph, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
