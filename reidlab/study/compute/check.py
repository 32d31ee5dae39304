"""Do two runs of the study agree? ``metrics.json`` compared key by key within the study's own
uncertainty, and the claims' verdicts compared one by one.

Bit-identical numbers across processors and precisions (fp32 on an AVX2 CPU, bf16 on an AMX
one, a GPU) are not to be had: the trained weights differ in their last bits and the
differences grow through training. What must agree is what the study concludes, within the
spread it reports itself. Each ``metrics.json`` key falls under one rule (:func:`rule_of`):

``interval``
    a gain reported with a 95% interval over independent units (``X`` beside ``X_ci_low`` and
    ``X_ci_high``): the candidate's estimate must lie inside the reference's interval, and its
    interval must stand where the reference's stands against zero (above, below, or across
    it). The bounds themselves move with the estimate and are not compared separately.
``spread``
    a score of trained models (rank-1, mAP, accuracy, a control's gain): the candidate may
    differ by at most :data:`SPREAD_MULTIPLIER` x *s* (and never less than
    :data:`MIN_TOLERANCE`), where *s* is the key's own between-unit standard deviation when the
    reference stores one beside it (``<key>_unit_std``: PS-HRNet's rank-1 over its units, each
    control's gain over the units of notebook 07), else the one the reference reports for
    B-F's rank-1 (``bf_lr_to_hr_r1_unit_std``: 3 training seeds on Market-like, notebook 03; a
    key trained as one unit has no spread of its own); in references older than that key, the same number from
    notebook 03's summary table, else the one implied by the reference's RFD-gain interval
    (*s* = half-width x sqrt(n) / t(0.975, n-1), the spread of a paired difference: smaller). Two runs
    whose seeds differ in that way differ by sqrt(2) *s* in standard deviation, so 3 *s* is
    about a two-sided 97% band.
``absolute``
    an image-restoration error (``vdsr_mae``, ``interp_mae``, ``vdsr_warmup_mae``: percent of the
    intensity range; ``*_psnr``: dB; one PS-HRNet unit, so no spread is reported): within
    :data:`MAE_TOLERANCE` points (percent, or dB for a PSNR).
``exact``
    counts and chance levels, fixed by the data and the protocol: equal.
``choice``
    a setting chosen on validation identities (lambda, pseudo-label bins): an argmax over a
    noisy curve, reported when it differs but never a failure by itself (its consequences are
    judged by the keys above).
``ignored``
    ``reproduce_minutes`` (the machine's speed, not the study's result).

Claims (the rows of 04's and 07's claims tables) must keep their verdict's kind: "consistent
with the paper", "inconclusive", "not reproduced", ... A flipped verdict is a failure.

The regime (:data:`REGIME_INVARIANTS`): what the study's conclusions rest on is checked as a
claim of its own, whatever the tolerances above allow: an HR-only B-F loses at least
:data:`MIN_HR_ONLY_PENALTY` rank-1 points on LR queries; B-R names resolutions above chance on
the factor classes, and its balanced accuracy on pseudo-labels is above chance (both by more
than :data:`CHANCE_MARGIN` points); VDSR-CA restores better than interpolation; and the
multi-resolution training gain (MLR B-F minus HR-only B-F on LR queries) keeps the reference's
sign. An invariant whose numbers neither run reports (a dataset arm without pseudo-labels) is
not applicable; one the reference reports and the candidate does not fails; one the reference
itself breaks (a dataset arm whose B-F never learned enough to lose accuracy on LR queries) is
reported as such and cannot be lost. Each results README lists its regime (:func:`regime_lines`).
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reidlab.choices import PROTOCOLS
from reidlab.paths import read_json

__all__ = ["SPREAD_MULTIPLIER", "MIN_TOLERANCE", "MAE_TOLERANCE", "MIN_HR_ONLY_PENALTY", "CHANCE_MARGIN", "Check",
           "Invariant", "REGIME_INVARIANTS", "rule_of", "unit_spread", "nan_checks", "compare_metrics",
           "compare_claims", "check_invariants", "regime_lines", "check_results", "format_checks"]

SPREAD_MULTIPLIER = 3.0
#: the smallest tolerance of a ``spread`` key (rank-1 points): a key whose units all agreed
#: (std 0) still admits the granularity of a rank-1 over a few hundred queries
MIN_TOLERANCE = 1.0
MAE_TOLERANCE = 0.5
#: regime invariants (:data:`REGIME_INVARIANTS`)
MIN_HR_ONLY_PENALTY = 10.0
CHANCE_MARGIN = 2.0
UNIT_STD_SUFFIX = "_unit_std"
SPREAD_KEY = "bf_lr_to_hr_r1_unit_std"
_EXACT = ("_chance", "_units_", "camera_cue_")
_CHOICES = ("lambda_chosen", "pseudo_bins_chosen")
_ABSOLUTE = ("vdsr_mae", "interp_mae", "vdsr_warmup_mae", "vdsr_psnr", "interp_psnr", "vdsr_warmup_psnr")
_IGNORED = ("reproduce_minutes",)
_CLAIM_NOTEBOOKS = ("04_ablations", "07_controls")


@dataclass(frozen=True)
class Check:
    """One comparison: the key, its rule, both values, the allowed difference and the outcome."""

    key: str
    rule: str
    reference: Any
    candidate: Any
    tolerance: str
    ok: bool
    note: str = ""

    @property
    def failed(self) -> bool:
        return not self.ok


def rule_of(key: str, reference: Mapping[str, Any]) -> str:
    """The rule (see the module docstring) that ``key`` of a ``metrics.json`` is compared by."""
    if key in _IGNORED:
        return "ignored"
    if key.endswith(("_ci_low", "_ci_high", UNIT_STD_SUFFIX)) or key == SPREAD_KEY:
        return "bound"
    if key in _CHOICES:
        return "choice"
    if any(tag in key or key.endswith(tag.rstrip("_")) for tag in _EXACT):
        return "exact"
    if key in _ABSOLUTE:
        return "absolute"
    if f"{key}_ci_low" in reference and f"{key}_ci_high" in reference:
        return "interval"
    return "spread"


def _t975(dof: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, dof))


def unit_spread(reference: Mapping[str, Any]) -> tuple[float, str]:
    """*s*, the between-unit standard deviation of a trained model's rank-1 that the reference
    reports, and where it was read from."""
    value = reference.get(SPREAD_KEY)
    if _finite(value) and value > 0:
        return float(value), f"{SPREAD_KEY} of the reference"
    for name in PROTOCOLS:
        lo, hi = reference.get(f"rfd_gain_r1_{name}_ci_low"), reference.get(f"rfd_gain_r1_{name}_ci_high")
        n = reference.get(f"rfd_gain_units_{name}")
        if _finite(lo) and _finite(hi) and _finite(n) and n >= 2 and hi > lo:
            return ((hi - lo) / 2 * math.sqrt(n) / _t975(int(n) - 1),
                    f"the reference's rfd_gain_r1_{name} interval over {int(n)} units")
    raise ValueError("the reference reports no between-unit spread: neither "
                     f"{SPREAD_KEY} nor an rfd_gain_r1_* interval with its units")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _side(lo: Any, hi: Any) -> str:
    if not (_finite(lo) and _finite(hi)):
        return "not testable"
    return "above zero" if lo > 0 else "below zero" if hi < 0 else "across zero"


def _spread_from_summary(results: Path) -> float | None:
    """B-F's between-unit R1 standard deviation in notebook 03's summary (references written
    before ``bf_lr_to_hr_r1_unit_std`` was a headline key)."""
    from reidlab.study.methods import BF

    path = results / "03_rfd_eval.json"
    if not path.is_file():
        return None
    for row in read_json(path).get("data", {}).get("summary", []):
        if row.get("method") == BF and _finite(row.get("R1 std")):
            return float(row["R1 std"])
    return None


def _not_a_number(value: Any) -> bool:
    """A float NaN or infinity: never written by the pipeline (``metrics.json`` holds ``null`` for a
    missing number), but Python's json reads ``NaN`` and ``Infinity`` from a hand-edited or foreign file."""
    return isinstance(value, float) and not math.isfinite(value)


def nan_checks(reference: Mapping[str, Any], candidate: Mapping[str, Any]) -> list[Check]:
    """One failed :class:`Check` per key whose value is a NaN (or infinity) in either
    ``metrics.json``, whatever its rule (bounds, choices and ignored keys included): such a value
    compares as neither equal nor different, so it would otherwise pass silently."""
    checks = []
    for key in sorted({*reference, *candidate}):
        ref, new = reference.get(key), candidate.get(key)
        found = [f"{run}'s metrics.json holds {value!r}" for run, value in (("the reference", ref), ("this run", new))
                 if _not_a_number(value)]
        if found:
            checks.append(Check(key, rule_of(key, reference), ref, new, "a number or null", False,
                                f"{' and '.join(found)}, not a finite number (a missing number is written null)"))
    return checks


def compare_metrics(reference: Mapping[str, Any], candidate: Mapping[str, Any]) -> list[Check]:
    """One :class:`Check` per key of ``reference`` (a key missing from ``candidate`` fails); a key
    holding a NaN in either fails (:func:`nan_checks`)."""
    checks: list[Check] = nan_checks(reference, candidate)
    unusable = {c.key for c in checks}
    try:
        s, source = unit_spread(reference)
    except ValueError:
        if checks:          # e.g. the spread itself is NaN: fail naming the NaN keys
            return checks
        raise
    spread_tol = SPREAD_MULTIPLIER * s
    for key in sorted(reference):
        ref, new = reference[key], candidate.get(key)
        rule = rule_of(key, reference)
        if rule == "bound" or key in unusable:
            continue
        if key not in candidate:
            checks.append(Check(key, rule, ref, None, "-", False, "missing from the candidate"))
            continue
        if rule == "ignored":
            checks.append(Check(key, rule, ref, new, "-", True, "not a result of the study"))
        elif ref is None or new is None:
            checks.append(Check(key, rule, ref, new, "-", ref is None and new is None,
                                "" if ref is None and new is None else "reported by only one run"))
        elif rule == "exact":
            checks.append(Check(key, rule, ref, new, "equal", ref == new))
        elif rule == "choice":
            checks.append(Check(key, rule, ref, new, "-", True,
                                "" if ref == new else "chosen differently on validation (informative)"))
        elif rule == "absolute":
            checks.append(Check(key, rule, ref, new, f"+-{MAE_TOLERANCE:g}", abs(new - ref) <= MAE_TOLERANCE))
        elif rule == "interval" and not (_finite(reference[f"{key}_ci_low"]) and _finite(reference[f"{key}_ci_high"])):
            # the reference found it not testable (fewer than 3 units): a spread check, and the
            # candidate must not claim an interval either
            side_new = _side(candidate.get(f"{key}_ci_low"), candidate.get(f"{key}_ci_high"))
            ok = abs(new - ref) <= spread_tol and side_new == "not testable"
            checks.append(Check(key, "spread", ref, new, f"+-{spread_tol:.1f}, not testable", ok,
                                "" if ok else f"differs by {new - ref:+.1f} or is testable ({side_new})"))
        elif rule == "interval":
            lo, hi = reference[f"{key}_ci_low"], reference[f"{key}_ci_high"]
            inside = lo <= new <= hi
            side_ref = _side(lo, hi)
            side_new = _side(candidate.get(f"{key}_ci_low"), candidate.get(f"{key}_ci_high"))
            same_side = side_ref == side_new
            note = "" if inside and same_side else "; ".join(
                part for part in (
                    "" if inside else f"outside the reference's interval [{lo:.1f}, {hi:.1f}]",
                    "" if same_side else f"interval {side_new}, the reference's {side_ref}") if part)
            checks.append(Check(key, rule, ref, new, f"in [{lo:.1f}, {hi:.1f}], {side_ref}",
                                inside and same_side, note))
        elif not (_finite(new) and _finite(ref)):
            checks.append(Check(key, rule, ref, new, "a number", False, "not a finite number"))
        else:
            own = reference.get(f"{key}{UNIT_STD_SUFFIX}")
            key_s, key_source = ((float(own), f"{key}{UNIT_STD_SUFFIX} of the reference") if _finite(own)
                                 else (s, source))
            tol = max(SPREAD_MULTIPLIER * key_s, MIN_TOLERANCE)
            checks.append(Check(key, rule, ref, new, f"+-{tol:.1f}", abs(new - ref) <= tol,
                                "" if abs(new - ref) <= tol
                                else f"differs by {new - ref:+.1f}, more than {SPREAD_MULTIPLIER:g} x {key_s:.2f} "
                                     f"({key_source})"))
    return checks


@dataclass(frozen=True)
class Invariant:
    """A claim about the regime that must hold in any faithful run: ``value(metrics)`` computes
    its quantity (``None`` when a number it needs is missing), ``holds(value, reference_value)``
    judges it, ``allowed`` says in words what must hold."""

    name: str
    keys: tuple[str, ...]
    value: Callable[[Mapping[str, Any]], float]
    holds: Callable[[float, float | None], bool]
    allowed: str


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


REGIME_INVARIANTS: tuple[Invariant, ...] = (
    Invariant("regime: HR-only B-F loses rank-1 on LR queries", ("hr_only_bf_hr_to_hr_r1", "hr_only_bf_lr_to_hr_r1"),
              lambda m: m["hr_only_bf_hr_to_hr_r1"] - m["hr_only_bf_lr_to_hr_r1"],
              lambda v, _ref: v >= MIN_HR_ONLY_PENALTY, f"HR minus LR queries >= {MIN_HR_ONLY_PENALTY:g} points"),
    Invariant("regime: B-R above chance on the factor classes", ("br_accuracy", "br_chance"),
              lambda m: m["br_accuracy"] - m["br_chance"],
              lambda v, _ref: v > CHANCE_MARGIN, f"accuracy minus chance > {CHANCE_MARGIN:g} points"),
    Invariant("regime: pseudo-label B-R balanced above chance", ("br_pseudo_balanced_accuracy", "br_pseudo_chance"),
              lambda m: m["br_pseudo_balanced_accuracy"] - m["br_pseudo_chance"],
              lambda v, _ref: v > CHANCE_MARGIN, f"balanced accuracy minus chance > {CHANCE_MARGIN:g} points"),
    Invariant("regime: VDSR-CA restores better than interpolation", ("vdsr_mae", "interp_mae"),
              lambda m: m["interp_mae"] - m["vdsr_mae"],
              lambda v, _ref: v > 0, "interpolation's error minus VDSR-CA's > 0"),
    Invariant("regime: sign of the multi-resolution training gain", ("bf_lr_to_hr_r1", "hr_only_bf_lr_to_hr_r1"),
              lambda m: m["bf_lr_to_hr_r1"] - m["hr_only_bf_lr_to_hr_r1"],
              lambda v, ref: ref is None or _sign(v) == _sign(ref), "MLR minus HR-only B-F on LR queries: "
                                                                     "the reference's sign"),
)


def _invariant_value(inv: Invariant, metrics: Mapping[str, Any]) -> float | None:
    return float(inv.value(metrics)) if all(_finite(metrics.get(k)) for k in inv.keys) else None


def check_invariants(reference: Mapping[str, Any], candidate: Mapping[str, Any]) -> list[Check]:
    """One :class:`Check` per :data:`REGIME_INVARIANTS` entry that applies (its numbers are in
    the reference or the candidate)."""
    checks = []
    for inv in REGIME_INVARIANTS:
        ref, new = _invariant_value(inv, reference), _invariant_value(inv, candidate)
        if ref is None and new is None:
            continue
        if new is None:
            checks.append(Check(inv.name, "invariant", ref, None, inv.allowed, False,
                                f"not reported by this run ({', '.join(inv.keys)})"))
            continue
        ok = bool(inv.holds(new, ref))
        if not ok and ref is not None and not inv.holds(ref, ref):
            # the reference never reached this part of the regime: nothing to lose, said so
            checks.append(Check(inv.name, "invariant", ref, new, inv.allowed, True,
                                "not held by the reference either: this study's regime lacks it"))
            continue
        checks.append(Check(inv.name, "invariant", ref, new, inv.allowed, ok, "" if ok else "the regime is lost"))
    return checks


def regime_lines(metrics: Mapping[str, Any]) -> list[str]:
    """One Markdown line per :data:`REGIME_INVARIANTS` entry that applies to ``metrics``: its
    value and whether it holds (the results README's regime section)."""
    lines = []
    for inv in REGIME_INVARIANTS:
        value = _invariant_value(inv, metrics)
        if value is not None:
            holds = inv.holds(value, value)
            lines.append(f"- {inv.name.removeprefix('regime: ')}: {value:+.1f} ({inv.allowed}): "
                         f"{'holds' if holds else '**does not hold**'}")
    return lines


def _verdict_kind(verdict: str) -> str:
    """``"not testable (3 units ...)"`` -> ``"not testable"``: the verdict without its numbers."""
    return verdict.split(":")[0].split("(")[0].strip()


def _claims(results: Path) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for notebook in _CLAIM_NOTEBOOKS:
        path = results / f"{notebook}.json"
        if path.is_file():
            for row in read_json(path).get("data", {}).get("claims", []):
                out[(str(row.get("claim")), str(row.get("data (ours)")))] = str(row.get("verdict", ""))
    return out


def compare_claims(reference: Path, candidate: Path) -> list[Check]:
    """One :class:`Check` per claim of the reference's claims tables: the verdict's kind must stay."""
    ref, new = _claims(Path(reference)), _claims(Path(candidate))
    checks = []
    for key in sorted(ref):
        name = f"claim: {key[0]} ({key[1]})"
        if key not in new:
            checks.append(Check(name, "verdict", _verdict_kind(ref[key]), None, "same verdict", False,
                                "missing from the candidate"))
            continue
        a, b = _verdict_kind(ref[key]), _verdict_kind(new[key])
        checks.append(Check(name, "verdict", a, b, "same verdict", a == b, "" if a == b else "verdict flipped"))
    return checks


def check_results(reference: str | os.PathLike[str], candidate: str | os.PathLike[str]) -> list[Check]:
    """Compare two results folders (each with ``metrics.json``; claims from their 04/07 results)."""
    reference, candidate = Path(reference), Path(candidate)
    for folder in (reference, candidate):
        if not (folder / "metrics.json").is_file():
            raise FileNotFoundError(f"{folder / 'metrics.json'} does not exist: a results folder written by "
                                    "`make reproduce` (or the pipeline's reproduce with --results-dir) holds it")
    ref_metrics = read_json(reference / "metrics.json")
    if (not _finite(ref_metrics.get(SPREAD_KEY)) and not _not_a_number(ref_metrics.get(SPREAD_KEY))
            and (spread := _spread_from_summary(reference)) is not None):
        ref_metrics = {**ref_metrics, SPREAD_KEY: spread}   # in the reference's 03 table (older metrics.json)
    new_metrics = read_json(candidate / "metrics.json")
    return (compare_metrics(ref_metrics, new_metrics) + check_invariants(ref_metrics, new_metrics)
            + compare_claims(reference, candidate))


def format_checks(checks: list[Check]) -> str:
    """A Markdown table of the checks, failures first, and a closing count."""
    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v)

    rows = sorted(checks, key=lambda c: (c.ok, c.key))
    lines = ["| key | rule | reference | this run | allowed | outcome |", "|---|---|---|---|---|---|"]
    lines += [f"| {c.key} | {c.rule} | {fmt(c.reference)} | {fmt(c.candidate)} | {c.tolerance} | "
              f"{'ok' if c.ok else 'FAIL'}{': ' + c.note if c.note else ''} |" for c in rows]
    failed = sum(c.failed for c in checks)
    lines.append(f"\n{len(checks) - failed} agree, {failed} disagree")
    return "\n".join(lines)
