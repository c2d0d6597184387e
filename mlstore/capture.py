"""What a run records without being asked: code version, command, environment, host.

Git and package lookups are cached per process: a pipeline process logs many runs and
its code does not change under it (if it does, the dirty-diff digest of the first run
still tells that the tree was dirty).

Two records are blobs, referenced from the execution by digest (content-addressed, so
runs in one environment share one blob):

* ``packages_blob``: the full package list (``packages.txt``, pip-freeze lines), next
  to the :data:`KEY_PACKAGES` versions kept inline in ``packages``;
* ``code_blob``: the source files a built-in step's code digest covers (the pipeline
  executor records it), so a diff can name the files that changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Mapping

#: The file holding the full package list inside a ``packages_blob``.
PACKAGES_FILE = "packages.txt"

#: Packages whose versions every execution records inline (the full list is the ``packages_blob``).
KEY_PACKAGES = (
    "mlstore", "ml-metadata", "tensorflow-cpu", "tensorflow", "keras", "apache-beam",
    "numpy", "pandas", "pyarrow", "protobuf", "scikit-learn",
)


@dataclass(frozen=True)
class GitState:
    commit: str  # "" when not in a git work tree
    dirty: bool
    diff_digest: str  # sha256 of `git diff HEAD` (tracked changes), "" when clean


@dataclass(frozen=True)
class Environment:
    python_version: str
    platform: str
    host: str
    packages: dict[str, str]  # key packages only

    def to_properties(self) -> dict[str, str]:
        return {
            "python_version": self.python_version,
            "host": self.host,
            "packages": json.dumps(self.packages, sort_keys=True),
        }


@functools.lru_cache(maxsize=8)
def git_state(directory: str | None = None) -> GitState:
    """The git commit of ``directory`` (default: the working directory) and its diff digest."""
    cwd = directory or str(Path.cwd())

    def git(*args: str) -> str:
        return subprocess.run(("git", *args), cwd=cwd, capture_output=True, text=True, check=True,
                              timeout=30).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
    except (OSError, subprocess.SubprocessError):
        return GitState("", False, "")
    diff = git("diff", "HEAD", "--binary")
    untracked = git("ls-files", "--others", "--exclude-standard")
    dirty = bool(diff or untracked)
    digest = "sha256:" + hashlib.sha256((diff + untracked).encode()).hexdigest() if dirty else ""
    return GitState(commit, dirty, digest)


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    """Python version, platform, host and the versions of :data:`KEY_PACKAGES`."""
    packages = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return Environment(platform.python_version(), platform.platform(), socket.gethostname(), packages)


@functools.lru_cache(maxsize=1)
def installed_packages() -> str:
    """Every installed distribution as sorted ``name==version`` lines (pip-freeze style)."""
    lines = set()
    for distribution in importlib_metadata.distributions():
        name, version = _name_and_version(distribution)
        if name:
            lines.add(f"{name}=={version}")
    return "\n".join(sorted(lines, key=str.lower)) + "\n"


def _name_and_version(distribution: importlib_metadata.Distribution) -> tuple[str | None, str | None]:
    """The ``Name`` and ``Version`` headers of a distribution's metadata (the first of each).

    Why not ``distribution.metadata``: it parses the whole file (the long description
    too) with the email parser, ~3 ms a distribution, ~0.5 s for a TFX environment on the
    first run of every process; the headers come first and end at the first blank line.
    """
    text = (distribution.read_text("METADATA") or distribution.read_text("PKG-INFO")
            or distribution.read_text("") or "")
    name = version = None
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if not sep or key[:1].isspace():
            continue
        key = key.strip().lower()
        if key == "name" and name is None:
            name = value.strip()
        elif key == "version" and version is None:
            version = value.strip()
    return name, version


@functools.lru_cache(maxsize=1)
def environment_digest() -> str:
    """sha256 of :func:`installed_packages` (``environment_digest`` of every execution)."""
    return "sha256:" + hashlib.sha256(installed_packages().encode()).hexdigest()


_published_lists: dict[str, str] = {}


def publish_package_list(blobs) -> str:
    """Stores :func:`installed_packages` as a blob (once per process and blob root); returns its digest."""
    key = str(blobs.root)
    if key not in _published_lists or not blobs.exists(_published_lists[key]):  # (gc may have swept it)
        with tempfile.TemporaryDirectory(prefix="mlstore-packages-") as tmp:
            path = Path(tmp) / PACKAGES_FILE
            path.write_text(installed_packages(), encoding="utf-8")
            _published_lists[key] = blobs.publish(path).digest
    return _published_lists[key]


def publish_code(blobs, files: Mapping[str, Path]) -> str:
    """Stores source files (``{relative path: file}``) as one blob; returns its digest."""
    with tempfile.TemporaryDirectory(prefix="mlstore-code-") as tmp:
        for relative, source in files.items():
            target = Path(tmp) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(Path(source).read_bytes())
        return blobs.publish(tmp).digest


def read_package_list(blobs, digest: str) -> dict[str, str]:
    """``{name: version}`` of the package list stored as blob ``digest`` (verified).

    Raises:
        NotFound: the blob is gone. IntegrityError: it is corrupt.
    """
    directory = Path(blobs.local_path(digest))
    return parse_package_list((directory / PACKAGES_FILE).read_text(encoding="utf-8"))


def parse_package_list(text: str) -> dict[str, str]:
    """``{name: version}`` of pip-freeze lines (``name==version``)."""
    packages = {}
    for line in text.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name:
            packages[name] = version
    return packages


def command_line() -> str:
    return " ".join([Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]])


def capture_properties(code_dir: str | None = None, blobs=None) -> dict[str, object]:
    """Execution properties describing code, command and environment.

    With ``blobs`` (the store's BlobStore), the full package list is stored there and
    its digest recorded as ``packages_blob``.
    """
    git = git_state(code_dir)
    env = environment()
    stored = {"packages_blob": publish_package_list(blobs)} if blobs is not None else {}
    return {
        "git_commit": git.commit,
        "git_dirty": int(git.dirty),
        "git_diff_digest": git.diff_digest,
        "command": command_line(),
        "environment_digest": environment_digest(),
        **env.to_properties(),
        **stored,
    }
