import pytest

from mlstore import schema
from mlstore.errors import InvalidArgument


def test_tfx_compatible_types_exist():
    for name in ("Examples", "TransformGraph", "Model", "ModelEvaluation", "ModelBlessing", "PushedModel", "HubModule"):
        props = schema.artifact_type(name).all_properties()
        assert {"digest", "size"} <= set(props)
    assert {"span", "version", "split_names"} <= set(schema.artifact_type("Examples").all_properties())
    assert {"blessed", "current_model_id", "baseline_model_id"} <= set(schema.artifact_type("ModelBlessing").properties)


def test_unknown_type_and_property():
    with pytest.raises(InvalidArgument, match="unknown artifact type 'Modle'"):
        schema.artifact_type("Modle")
    with pytest.raises(InvalidArgument, match="unknown property 'spam'"):
        schema.check_artifact_properties("Model", {"spam": 1})
    with pytest.raises(InvalidArgument, match="must be INT"):
        schema.check_artifact_properties("Examples", {"span": "yesterday"})
