"""Module handles: what names a hub module, and the rules a handle must follow.

Three forms are accepted:

- ``publisher/name`` or ``publisher/name/version``: a module in the store's registry.
  Each part matches ``[a-z0-9][a-z0-9_.-]*`` (at most 64 characters); the version is a
  positive integer without leading zeros. ``publisher/name`` means the newest version
  when consuming and "the next version" when publishing.
- ``grpc://host:port/publisher/name[/version]``: the same, through an ``mlstore serve``
  server.
- an absolute local path (``/path/to/saved_model`` or ``file:///path``): a plain
  SavedModel directory, outside any registry. Relative paths are refused on purpose:
  ``../x`` must not silently mean "a directory next to the current one".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from mlstore.errors import InvalidArgument
from mlstore.names import check_name

PART_PATTERN = r"[a-z0-9][a-z0-9_.-]{0,63}"
_PART = re.compile(rf"^{PART_PATTERN}$")
_VERSION = re.compile(r"^[1-9][0-9]{0,9}$")
_SERVER = re.compile(r"^[A-Za-z0-9.\-]+:[0-9]{1,5}$|^\[[0-9a-fA-F:]+\]:[0-9]{1,5}$")
#: MLMD stores INT properties as 32-bit integers on MySQL.
MAX_VERSION = 2**31 - 1


@dataclass(frozen=True)
class Handle:
    """A parsed module handle.

    Registry handles have ``publisher`` and ``name`` (and ``version`` when pinned);
    ``server`` is set for ``grpc://`` handles; ``path`` is set (and nothing else) for a
    plain local SavedModel directory.
    """

    publisher: str = ""
    name: str = ""
    version: int | None = None
    server: str | None = None
    path: str | None = None

    @property
    def is_local(self) -> bool:
        return self.path is not None

    @property
    def module(self) -> str:
        """``publisher/name`` (no version, no server)."""
        return f"{self.publisher}/{self.name}"

    def with_version(self, version: int) -> "Handle":
        return replace(self, version=version)

    def __str__(self) -> str:
        if self.path is not None:
            return self.path
        text = self.module if self.version is None else f"{self.module}/{self.version}"
        return f"grpc://{self.server}/{text}" if self.server else text

    @classmethod
    def parse(cls, text: "str | Handle") -> "Handle":
        """Parses a handle (see the module docstring for the accepted forms).

        Raises:
            InvalidArgument: the handle is malformed; the message says which part and why.
        """
        return text if isinstance(text, Handle) else parse_handle(text)


def parse_handle(text: str) -> Handle:
    """Parses ``text`` into a :class:`Handle`.

    Raises:
        InvalidArgument: malformed handle.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument("empty module handle; expected publisher/name[/version]")
    check_name("handle", text)
    text = text.strip()
    if text.startswith("file://"):
        return _local(text[len("file://"):], text)
    if text.startswith("/"):
        return _local(text, text)
    server = None
    if text.startswith("grpc://"):
        server, _, text = text[len("grpc://"):].partition("/")
        if not _SERVER.fullmatch(server):
            raise InvalidArgument(f"bad server {server!r} in grpc handle; expected grpc://host:port/publisher/name")
    return _registry(text, server)


def _local(path: str, original: str) -> Handle:
    if not path.startswith("/"):
        raise InvalidArgument(f"local module path {original!r} must be absolute (file:///abs/path)")
    return Handle(path=str(Path(path)))


def _registry(text: str, server: str | None) -> Handle:
    parts = text.split("/")
    if len(parts) not in (2, 3):
        raise InvalidArgument(
            f"bad module handle {text!r}: expected publisher/name[/version] "
            "(local SavedModel directories must be given as absolute paths)"
        )
    for label, part in zip(("publisher", "name"), parts):
        check_part(label, part)
    version = parse_version(parts[2]) if len(parts) == 3 else None
    return Handle(parts[0], parts[1], version, server)


def check_part(label: str, part: str) -> None:
    """Raises InvalidArgument unless ``part`` matches ``[a-z0-9][a-z0-9_.-]*`` (<= 64 chars)."""
    if not part:
        raise InvalidArgument(f"empty {label} in module handle; expected publisher/name[/version]")
    if not _PART.fullmatch(part):
        raise InvalidArgument(
            f"bad {label} {part!r}: use 1-64 characters from a-z 0-9 _ . - starting with a letter or digit"
        )


def parse_version(text: str) -> int:
    """Parses a module version: a positive integer without leading zeros.

    Raises:
        InvalidArgument: empty, non-numeric, zero, leading zeros or too large.
    """
    if not _VERSION.fullmatch(text) or int(text) > MAX_VERSION:
        raise InvalidArgument(f"bad module version {text!r}: versions are integers 1, 2, 3, ...")
    return int(text)
