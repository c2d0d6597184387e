"""Generated code of the mlstore v1 gRPC API (from proto/mlstore/v1; do not edit).

Regenerate with ``proto/generate.sh`` (see proto/README.md).
"""
