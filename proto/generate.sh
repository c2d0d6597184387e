#!/bin/sh
# Regenerates the Python code of the mlstore v1 API from proto/ (run from anywhere).
#   proto/generate.sh [OUT_DIR]      default OUT_DIR: the repository root
# The modules land in OUT_DIR/mlstore/v1/ and import each other as mlstore.v1.*_pb2.
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$ROOT}"
PYTHON="${PYTHON:-python}"
cd "$ROOT"
"$PYTHON" -m grpc_tools.protoc -Iproto --python_out="$OUT" --pyi_out="$OUT" --grpc_python_out="$OUT" \
  proto/mlstore/v1/*.proto
