"""Retention policy: what garbage collection must keep, from YAML and/or CLI flags.

A policy file looks like::

    keep_days: 7            # every artifact whose span is within the newest 7 of its pipeline
    keep_last: 3            # the 3 newest artifacts per (pipeline, type)
    keep_blessed: true      # blessed models and their blessings
    keep_pushed: true       # PushedModel artifacts and the models they came from
    keep_modules: true      # every HubModule version
    lineage_may_outlive_bytes: false   # true: do not keep upstream bytes of kept artifacts
    grace_minutes: 60       # a blob younger than this is never swept (concurrent writers)

Pinned artifacts are always kept; that cannot be switched off.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from mlstore.errors import InvalidArgument

DEFAULT_GRACE_MINUTES = 60.0

_BOOL_KEYS = ("keep_blessed", "keep_pushed", "keep_modules", "lineage_may_outlive_bytes")
_KNOWN_KEYS = ("keep_days", "keep_last", "grace_minutes", *_BOOL_KEYS)


@dataclass(frozen=True)
class RetentionPolicy:
    """What a garbage collection keeps. Build it with :func:`make_policy`."""

    keep_days: int | None = None
    keep_last: int | None = None
    keep_blessed: bool = True
    keep_pushed: bool = True
    keep_modules: bool = True
    lineage_may_outlive_bytes: bool = False
    grace_minutes: float = DEFAULT_GRACE_MINUTES

    @property
    def grace_ms(self) -> int:
        return int(self.grace_minutes * 60_000)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_policy(values: Mapping[str, Any]) -> RetentionPolicy:
    """Validates ``values`` (policy keys as in the module docstring) into a policy.

    Raises:
        InvalidArgument: unknown key, wrong value type or range, or neither
            ``keep_days`` nor ``keep_last`` given.
    """
    unknown = sorted(set(values) - set(_KNOWN_KEYS))
    if unknown:
        raise InvalidArgument(f"retention policy: unknown key(s) {unknown}; known: {', '.join(_KNOWN_KEYS)}")
    for key in ("keep_days", "keep_last"):
        value = values.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise InvalidArgument(f"retention policy: {key} must be an integer >= 1, got {value!r}")
    if values.get("keep_days") is None and values.get("keep_last") is None:
        # Why: a policy with no window would reclaim every artifact that is not blessed,
        # pushed or pinned -- almost never what someone who forgot a flag meant.
        raise InvalidArgument("retention policy: set keep_days and/or keep_last (e.g. --keep-days 7)")
    for key in _BOOL_KEYS:
        if key in values and not isinstance(values[key], bool):
            raise InvalidArgument(f"retention policy: {key} must be true or false, got {values[key]!r}")
    grace = values.get("grace_minutes", DEFAULT_GRACE_MINUTES)
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace < 0:
        raise InvalidArgument(f"retention policy: grace_minutes must be a number >= 0, got {grace!r}")
    fields = {k: v for k, v in values.items() if v is not None}
    fields["grace_minutes"] = float(grace)
    return RetentionPolicy(**fields)


def load_policy(path: str | Path | None, overrides: Mapping[str, Any] | None = None) -> RetentionPolicy:
    """Reads a YAML policy file (optional) and applies ``overrides`` (CLI flags) on top.

    Args:
        path: a YAML file holding a mapping of policy keys, or None.
        overrides: keys whose value is not None replace the file's values.

    Raises:
        InvalidArgument: the file is missing, not YAML, not a mapping, or invalid.
    """
    values: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except FileNotFoundError:
            raise InvalidArgument(f"retention policy file {path} does not exist") from None
        except yaml.YAMLError as e:
            raise InvalidArgument(f"retention policy file {path} is not valid YAML: {e}".splitlines()[0]) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise InvalidArgument(f"retention policy file {path} must hold a mapping of keys, not {type(loaded).__name__}")
        values.update(loaded or {})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return make_policy(values)
