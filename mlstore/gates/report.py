"""Gate report: the typed result of a gate decision and its renderers.

Renderers: :func:`report_to_dict` (JSON-able), :func:`render_text` (terminal table) and
:func:`render_markdown` (a pull-request comment: PASS/FAIL header, failures first,
passing checks folded into ``<details>`` when there are many).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
#: Check kinds, in display order.
KINDS = ("present", "lower_bound", "upper_bound", "change_absolute", "change_relative",
         "data_present", "data_anomaly", "data_drift", "data_skew")


@dataclass(frozen=True)
class GateCheck:
    """One (metric, slice, threshold kind) check.

    Attributes:
        metric: metric name.
        slice_key: canonical slice key (or the selector text when no slice matched).
        kind: one of :data:`KINDS`; ``present`` reports a missing slice or metric; the
            ``data_*`` kinds are checks on the training data (``metric`` is the feature,
            ``slice_key`` the split, e.g. ``split=train``).
        threshold: the bound or allowed change (``None`` for ``present``).
        candidate: candidate metric value.
        baseline: baseline metric value (change checks only).
        delta: ``candidate - baseline`` (change checks only).
        status: ``pass``, ``fail`` or ``skipped``.
        reason: why it failed or was skipped ('' when it passed).
    """

    metric: str
    slice_key: str
    kind: str
    threshold: float | None
    candidate: float | None
    status: str
    baseline: float | None = None
    delta: float | None = None
    reason: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAIL


@dataclass(frozen=True)
class GateReport:
    """Outcome of :func:`mlstore.gates.decide`.

    Attributes:
        passed: no check failed.
        checks: failures first, then by slice (Overall first), metric and kind.
        spec_digest: ``sha256:...`` of the canonical gate spec.
        has_baseline: whether change thresholds could be applied.
        notes: human-readable remarks (no baseline, skipped slices, ...).
        skipped_slices: ``(slice_key, example_count)`` of slices under ``min_examples``.
    """

    passed: bool
    checks: tuple[GateCheck, ...]
    spec_digest: str
    has_baseline: bool
    notes: tuple[str, ...] = ()
    skipped_slices: tuple[tuple[str, int], ...] = ()

    def failures(self) -> list[GateCheck]:
        return [c for c in self.checks if c.failed]


def report_to_dict(report: GateReport) -> dict:
    """JSON-able form of a report (stable keys, for the CLI ``--json`` and the index)."""
    return {
        "passed": report.passed,
        "spec_digest": report.spec_digest,
        "has_baseline": report.has_baseline,
        "notes": list(report.notes),
        "skipped_slices": [{"slice": s, "example_count": n} for s, n in report.skipped_slices],
        "checks": [asdict(c) for c in report.checks],
    }


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _row(c: GateCheck) -> list[str]:
    return [c.status.upper(), c.slice_key, c.metric, c.kind, _num(c.threshold), _num(c.candidate),
            _num(c.baseline), _num(c.delta), c.reason]


_HEADER = ["status", "slice", "metric", "check", "threshold", "candidate", "baseline", "delta", "reason"]


def render_text(report: GateReport) -> str:
    """A plain-text table for the terminal, headed by PASS/FAIL and notes."""
    rows = [_HEADER] + [_row(c) for c in report.checks]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = [f"Gate {'PASSED' if report.passed else 'FAILED'}: {len(report.failures())} failed "
             f"of {len(report.checks)} checks  (spec {report.spec_digest[:19]})"]
    lines += [f"note: {n}" for n in report.notes]
    for i, r in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(checks: list[GateCheck]) -> list[str]:
    icons = {PASS: "✅", FAIL: "❌", SKIPPED: "⏭️"}
    out = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for c in checks:
        cells = _row(c)
        cells[0] = f"{icons[c.status]} {c.status}"
        cells[1] = f"`{cells[1]}`"
        out.append("| " + " | ".join(_md_escape(x) for x in cells) + " |")
    return out


def render_markdown(report: GateReport, collapse_over: int = 10) -> str:
    """Markdown for a pull-request comment.

    Args:
        report: the gate report.
        collapse_over: fold passing/skipped checks into ``<details>`` when there are
            more than this many of them.
    """
    failed = report.failures()
    others = [c for c in report.checks if not c.failed]
    verdict = "✅ PASS" if report.passed else "❌ FAIL"
    lines = [f"### Model gate: {verdict}", "",
             f"{len(failed)} failed, {len(others)} passed or skipped; spec `{report.spec_digest[:19]}`"]
    lines += [""] + [f"> {n}" for n in report.notes] if report.notes else []
    if failed:
        lines += ["", "**Failures**", ""] + _md_table(failed)
    if others:
        table = _md_table(others)
        if len(others) > collapse_over:
            lines += ["", f"<details><summary>{len(others)} passing/skipped checks</summary>", ""]
            lines += table + ["", "</details>"]
        else:
            lines += ["", "**Passing / skipped**", ""] + table
    return "\n".join(lines) + "\n"
