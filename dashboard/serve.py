"""Runs the dashboard's Streamlit server with mlstore imported and the store opened first.

``python -m mlstore._dashboard.serve run APP [streamlit options] [-- --store URI]`` is
``streamlit run`` (same arguments) in a process that has already imported mlstore and
the dashboard's data layer (~3 s) and opened the store (its ``st.cache_resource`` entry,
which every session shares). Why: otherwise the first page view pays both before it draws
anything, and the browser shows only skeletons for those seconds.
"""

from __future__ import annotations

import sys


def store_uri(argv: list[str]) -> str | None:
    """The ``--store URI`` given to the app after ``--`` (else $MLSTORE_URI, as the app reads it)."""
    from mlstore._dashboard import data  # noqa: PLC0415

    script_args = argv[argv.index("--") + 1:] if "--" in argv else []
    if "--store" in script_args and script_args.index("--store") + 1 < len(script_args):
        return script_args[script_args.index("--store") + 1]
    import os  # noqa: PLC0415

    return os.environ.get(data.STORE_ENV) or None


def main(argv: list[str]) -> None:
    from streamlit.web import cli  # noqa: PLC0415

    from mlstore import errors  # noqa: PLC0415
    from mlstore._dashboard import components, data  # noqa: F401, PLC0415  (imported once, here)

    try:
        data._open(store_uri(argv))  # the store every session uses (st.cache_resource)
    except errors.MlstoreError:
        pass  # the page shows the error (components.guard)
    cli.main(args=argv, prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
