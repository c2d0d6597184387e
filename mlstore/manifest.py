"""Blob manifests: the sorted file list whose hash is a blob's digest.

**v1** (every blob whose file names are plain text)::

    mlstore-manifest v1
    <size>\\t<sha256 hex>\\t<relative/posix/path>     (one line per file, sorted by path)

**v2** (written only when a name could not survive v1: a control character, a line or
paragraph separator, or bytes that are not UTF-8)::

    mlstore-manifest v2
    <size>\\t<sha256 hex>\\t<path as a JSON string, ASCII only>

A v2 line is pure ASCII, so no name can split it. Blobs with plain names keep their v1
manifest and digest (identical content published before and after v2 is still stored
once); both versions are read.

``digest = "sha256:" + sha256(manifest bytes)``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from mlstore.errors import IntegrityError

MANIFEST_HEADER = "mlstore-manifest v1"
MANIFEST_HEADER_V2 = "mlstore-manifest v2"

#: Characters some line splitter (``str.splitlines``, editors, JSON tools) treats as a
#: line break, besides the C0 controls: names holding one are written in v2.
_SEPARATORS = frozenset("\x85\u2028\u2029")


#: One search per name instead of a Python loop per character (a first attach checks ~10^5 names).
_V2_CHARACTERS = re.compile("[\x00-\x1f\x7f" + "".join(sorted(_SEPARATORS)) + "\ud800-\udfff]")


def needs_v2(path: str) -> bool:
    """True when ``path`` cannot be written verbatim on a v1 line: a C0 control, DEL, one
    of :data:`_SEPARATORS` or a surrogate escape (bytes that are not UTF-8)."""
    return _V2_CHARACTERS.search(path) is not None


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative POSIX path (non-UTF-8 bytes as surrogate escapes, as os.fsdecode gives them)
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """The sorted file list of a blob; :attr:`digest` identifies the blob."""

    entries: tuple[ManifestEntry, ...]

    @property
    def version(self) -> int:
        return 2 if any(needs_v2(e.path) for e in self.entries) else 1

    def text(self) -> str:
        if self.version == 1:
            lines = [MANIFEST_HEADER] + [f"{e.size}\t{e.sha256}\t{e.path}" for e in self.entries]
        else:
            lines = [MANIFEST_HEADER_V2] + [f"{e.size}\t{e.sha256}\t{json.dumps(e.path, ensure_ascii=True)}"
                                            for e in self.entries]
        return "\n".join(lines) + "\n"

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.text().encode("utf-8")).hexdigest()

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    def paths(self) -> frozenset[str]:
        return frozenset(e.path for e in self.entries)

    @classmethod
    def parse(cls, text: str) -> "Manifest":
        """Reads a v1 or v2 manifest.

        Raises:
            IntegrityError: not a manifest, or a malformed line (it was altered).
        """
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        header = lines[0] if lines else ""
        if header not in (MANIFEST_HEADER, MANIFEST_HEADER_V2):
            raise IntegrityError(f"not an mlstore manifest v1/v2 (header {header[:40]!r})")
        entries = []
        for number, line in enumerate(lines[1:], start=2):
            try:
                size, sha, path = line.split("\t", 2)
                if header == MANIFEST_HEADER_V2:
                    path = json.loads(path)
                    if not isinstance(path, str):
                        raise ValueError("path is not a string")
                entries.append(ManifestEntry(path, int(size), sha))
            except ValueError as e:
                raise IntegrityError(f"manifest line {number} is malformed ({e})") from None
        return cls(tuple(entries))
