"""What a run records without being asked: code version, command, environment, host.

Git and package lookups are cached per process: a pipeline process logs many runs and
its code does not change under it (if it does, the dirty-diff digest of the first run
still tells that the tree was dirty).
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path

#: Packages whose versions every execution records (the full list is a separate blob).
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
    lines = {f"{d.metadata['Name']}=={d.version}" for d in importlib_metadata.distributions()
             if d.metadata["Name"]}
    return "\n".join(sorted(lines, key=str.lower)) + "\n"


def command_line() -> str:
    return " ".join([Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]])


def capture_properties(code_dir: str | None = None) -> dict[str, object]:
    """Execution properties describing code, command and environment."""
    git = git_state(code_dir)
    env = environment()
    return {
        "git_commit": git.commit,
        "git_dirty": int(git.dirty),
        "git_diff_digest": git.diff_digest,
        "command": command_line(),
        "environment_digest": "sha256:" + hashlib.sha256(installed_packages().encode()).hexdigest(),
        **env.to_properties(),
    }
