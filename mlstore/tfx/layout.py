"""Where TFX keeps bytes inside an artifact's directory.

A Model's serving SavedModel is ``<uri>/Format-Serving`` (TFX 0.29 and newer, the
``tfx_version`` custom property tells), ``<uri>/serving_model_dir`` before; mlstore's
own Models of earlier releases kept it in ``<uri>/serving`` or at the root. A
ModelBlessing directory holds an empty ``BLESSED`` or ``NOT_BLESSED`` file.
"""

from __future__ import annotations

from pathlib import Path

from mlstore import errors

#: The serving SavedModel's directory inside a Model artifact, as TFX 1.16 lays it out.
SERVING_DIR = "Format-Serving"
_SERVING_DIRS = (SERVING_DIR, "serving_model_dir", "serving", "")


def serving_model_path(model_dir: str | Path) -> Path:
    """The serving SavedModel inside a Model artifact's directory.

    Raises:
        NotFound: none of the known layouts holds a ``saved_model.pb``.
    """
    model_dir = Path(model_dir)
    for sub in _SERVING_DIRS:
        candidate = model_dir / sub if sub else model_dir
        if (candidate / "saved_model.pb").is_file():
            return candidate
        export = candidate / "export"  # TFX's estimator layout: export/<name>/<timestamp>/
        if sub and export.is_dir():
            found = sorted(export.glob("*/*/saved_model.pb"))
            if found:
                return found[-1].parent
    raise errors.NotFound(f"no serving SavedModel in {model_dir} (looked for {', '.join(s or '.' for s in _SERVING_DIRS)})")
