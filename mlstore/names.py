"""Rules every name mlstore stores must follow: printable text of bounded length.

Names become MLMD type, context and property values and index keys. A NUL is cut off by
MLMD's C++ layer (``"fu\\x00zz"`` was stored as ``"fu"``, silently merging two
pipelines), and other control characters break the one-line CLI output and logs, so
they are refused everywhere a name enters: the SDK, the Store (and so gRPC), the CLI
and hub handles.
"""

from __future__ import annotations

import unicodedata

from mlstore.errors import InvalidArgument

#: Longest accepted value per kind of name (MLMD and index columns hold 255 characters;
#: a run's context name is ``pipeline/run_id``, and types and roles are index keys of 64).
MAX_LENGTH = {"pipeline": 255, "run_id": 128, "step": 64, "role": 64, "type": 64, "artifact name": 255,
              "handle": 1024}


def bad_character(text: str) -> str | None:
    """The first control, format-separator or surrogate character of ``text`` (None when clean)."""
    for c in text:
        if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp"):
            return c
    return None


def check_name(kind: str, value: object) -> str:
    """Returns ``value`` when it is a valid name of ``kind`` (a key of :data:`MAX_LENGTH`).

    Raises:
        InvalidArgument: not a string, empty, too long, or holding a control character.
    """
    if not isinstance(value, str):
        raise InvalidArgument(f"{kind} must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidArgument(f"{kind} must not be empty")
    limit = MAX_LENGTH[kind]
    if len(value) > limit:
        raise InvalidArgument(f"{kind} is {len(value)} characters long; at most {limit} are allowed")
    bad = bad_character(value)
    if bad is not None:
        raise InvalidArgument(f"{kind} {value[:80]!r} contains the control character U+{ord(bad):04X}; "
                              "names must be printable text")
    return value
