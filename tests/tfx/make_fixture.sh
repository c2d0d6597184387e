#!/usr/bin/env bash
# Regenerates tests/fixtures/tfx_flights: three daily runs of tests/tfx/flights_tfx_pipeline.py
#   run 1 (span 1): blessed, no baseline (TFX rubber-stamps the change threshold)
#   run 2 (span 2): blessed against run 1's model
#   run 3 (span 3, --min-gain 0.5): NOT blessed against run 2's model
# The runs write to a scratch directory; its absolute path is recorded in ORIGIN so
# tests/tfx_fixture.py can rewrite the artifact uris of a copy. Needs the TFX venv
# (.ci/tfx_venv.sh). Takes about 5-8 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${MLSTORE_TFX_VENV:-$HOME/.cache/mlstore/tfx-1.16.0-venv}"
SCRATCH="${1:-/tmp/mlstore-tfx-fixture}"
TARGET=tests/fixtures/tfx_flights
rm -rf "$SCRATCH"
"$VENV/bin/python" tests/tfx/flights_tfx_pipeline.py --out "$SCRATCH" --span 1
"$VENV/bin/python" tests/tfx/flights_tfx_pipeline.py --out "$SCRATCH" --span 2
"$VENV/bin/python" tests/tfx/flights_tfx_pipeline.py --out "$SCRATCH" --span 3 --min-gain 0.5
rm -rf "$TARGET"
mkdir -p "$TARGET"
cp -a "$SCRATCH"/metadata.sqlite "$SCRATCH"/pipeline_root "$SCRATCH"/serving "$SCRATCH"/data "$TARGET"/
# The Trainer's user-code wheels are build by-products no reader needs.
rm -rf "$TARGET"/pipeline_root/_wheels
printf '%s\n' "$SCRATCH" > "$TARGET"/ORIGIN
du -sh "$TARGET"
