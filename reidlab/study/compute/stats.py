"""Statistics of paired comparisons over independent units: mean difference, Student-t interval,
t-test, verdicts ("not testable" with too few units or no variance).

With the few units a CPU study can afford (3 seeds, 5 splits) a bootstrap interval would be
far too narrow (3 units have 10 distinct resamples); the t interval is the honest one."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["MIN_UNITS", "PairedComparison", "paired_comparison", "gain_metrics", "verdict", "CLAIM_COLUMNS", "claim_row", "claim_verdict"]


#: Fewest independent units (separately trained models or identity splits) a test needs.
MIN_UNITS = 3


@dataclass(frozen=True)
class PairedComparison:
    """Statistics of ``a - b`` over independent units (paired by unit).

    A *unit* is one independently trained set of models (a training seed, or an identity
    split retrained): the trials of one unit re-draw query/gallery factors for the same
    models and are averaged inside it (``draws`` per unit), never counted as replicates.
    ``testable`` is false with fewer than :data:`MIN_UNITS` units or no variance between
    them; then no interval or p-value is claimed.
    """

    a: str
    b: str
    metric: str
    n: int                  # independent units
    mean_diff: float
    std_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    draws: int = 1          # trials (query/gallery draws) averaged inside each unit
    unit: str = "trained model"   # what one unit is: "training seed", "retrained identity split"

    @property
    def testable(self) -> bool:
        return self.n >= MIN_UNITS and self.std_diff > 0

    def replication(self) -> str:
        """``"n=3 training seeds, 4 query/gallery draws averaged in each"``."""
        text = f"n={self.n} {self.unit}{'' if self.n == 1 else 's'}"
        return text + (f", {self.draws} query/gallery draws averaged in each" if self.draws > 1 else "")

    def sentence(self, label: str | None = None) -> str:
        label = label or f"{self.a} vs {self.b}"
        if not self.testable:
            why = (f"fewer than {MIN_UNITS} independent units" if self.n < MIN_UNITS
                   else "no variance between units")
            return (f"{label} changes {self.metric} by {self.mean_diff:+.1f} points "
                    f"({self.replication()}; not testable: {why})")
        p = "n/a" if np.isnan(self.p_value) else f"{self.p_value:.3g}"
        return (f"{label} changes {self.metric} by {self.mean_diff:+.1f} ± {self.std_diff:.1f} points "
                f"(95% t interval [{self.ci_low:+.1f}, {self.ci_high:+.1f}], paired t-test p={p}, "
                f"{self.replication()})")

    @property
    def significant(self) -> bool:
        return bool(self.testable and (self.ci_low > 0 or self.ci_high < 0))


def paired_comparison(per_trial: pd.DataFrame, a: str, b: str, metric: str = "R1", *,
                      method_col: str = "method", trial_col: str = "trial", unit_col: str = "unit",
                      unit: str | None = None) -> PairedComparison:
    """Paired difference ``a - b`` of ``metric`` over independent units: mean, std, 95% Student-t
    interval, one-sample t-test. Trials are paired inside a unit and averaged there
    (``unit_col``; a frame without it counts every trial as its own unit). ``unit`` names what
    a unit is, for the sentences (default: the frame's ``unit_kind`` column, as
    :func:`reidlab.study.compute.rfd_trials.run_trials` writes it, else "trained model")."""
    if unit is None:
        kinds = per_trial["unit_kind"].dropna().unique() if "unit_kind" in per_trial.columns else []
        unit = kinds[0] if len(kinds) == 1 else "trained model"
    frame = per_trial if unit_col in per_trial.columns else per_trial.assign(**{unit_col: per_trial[trial_col]})
    wide = frame.pivot_table(index=[unit_col, trial_col], columns=method_col, values=metric)
    for m in (a, b):
        if m not in wide.columns:
            raise KeyError(f"method {m!r} not in results; have {list(wide.columns)}")
    paired = (wide[a] - wide[b]).dropna()
    by_unit = paired.groupby(level=0)
    diff = by_unit.mean().to_numpy(dtype=float)
    draws = int(by_unit.size().max()) if len(paired) else 0
    n = len(diff)
    lo = hi = p = float("nan")
    std = float(diff.std(ddof=1)) if n > 1 else 0.0
    if n >= MIN_UNITS and std > 0:
        half = float(stats.t.ppf(0.975, n - 1)) * std / np.sqrt(n)
        lo, hi = float(diff.mean()) - half, float(diff.mean()) + half
        p = float(stats.ttest_1samp(diff, 0.0).pvalue)
    return PairedComparison(a=a, b=b, metric=metric, n=n, mean_diff=float(diff.mean()) if n else float("nan"),
                            std_diff=std, ci_low=lo, ci_high=hi, p_value=p, draws=draws, unit=unit)


def gain_metrics(cmp: PairedComparison, name: str, what: str = "rfd") -> dict[str, float]:
    """A result's metrics for one gain: ``<what>_gain_r1_<name>`` (mean over units; ``what``: "rfd" for
    RFD's gain over B-F, "mlr" for multi-resolution training's over HR-only training),
    ``<what>_gain_units_<name>`` and, when testable, the interval bounds ``..._ci_low``/``_ci_high``."""
    out = {f"{what}_gain_r1_{name}": cmp.mean_diff, f"{what}_gain_units_{name}": float(cmp.n)}
    if cmp.testable:
        out.update({f"{what}_gain_r1_{name}_ci_low": cmp.ci_low, f"{what}_gain_r1_{name}_ci_high": cmp.ci_high})
    return out


def verdict(cmp: PairedComparison, claim: str, kind: str = "improvement", tolerance: float | None = None) -> str:
    """One honest line: does the paper's ``claim`` hold here?

    ``kind="improvement"``: ``a`` beats ``b`` (95% interval above 0). ``kind="comparable"``:
    ``a`` is within ``tolerance`` points of ``b`` (the 95% interval lies inside +-tolerance);
    the tolerance must be given: the paper's own effect size for the comparison, not an
    arbitrary threshold. With fewer than :data:`MIN_UNITS` independent units, or none
    differing, the verdict is "not testable".
    """
    if kind == "comparable" and (tolerance is None or not tolerance > 0):
        raise ValueError("a 'comparable' verdict needs tolerance > 0: the paper's own effect size (points)")
    if not cmp.testable:
        return f"{claim}: not testable. {cmp.sentence()}."
    if kind == "comparable":
        inside = -tolerance <= cmp.ci_low and cmp.ci_high <= tolerance
        status = ("reproduced" if inside else
                  f"not reproduced (the 95% interval leaves +-{tolerance:g} points)")
        return f"{claim}: {status}. {cmp.sentence()}."
    if kind != "improvement":
        raise ValueError(f"kind={kind!r} is not valid; choose one of: improvement, comparable")
    if cmp.significant and cmp.mean_diff > 0:
        status = "reproduced"
    elif cmp.significant and cmp.mean_diff < 0:
        status = "NOT reproduced (significantly worse)"
    else:
        status = "not reproduced (no significant difference)"
    return f"{claim}: {status}. {cmp.sentence()}."


#: Columns of the claims table, in order (results are stored as sorted JSON).
CLAIM_COLUMNS: tuple[str, ...] = ("claim", "data (ours)", "paper's effect (R1)", "our effect (R1)", "95% interval",
                                  "units", "verdict")


def claim_row(claim: str, dataset: str, paper_effect: float, cmp: PairedComparison) -> dict:
    """One row of the claims table: the paper's own effect, ours over independent units, and a
    verdict framed against the paper's effect (:func:`claim_verdict`)."""
    interval = (f"[{cmp.ci_low:+.1f}, {cmp.ci_high:+.1f}]" if cmp.testable else "not testable")
    return {"claim": claim, "data (ours)": dataset, "paper's effect (R1)": f"{paper_effect:+.1f}",
            "our effect (R1)": f"{cmp.mean_diff:+.1f}", "95% interval": interval,
            "units": f"{cmp.n} ({cmp.unit}{'' if cmp.n == 1 else 's'})",
            "verdict": claim_verdict(cmp, paper_effect)}


def claim_verdict(cmp: PairedComparison, paper_effect: float) -> str:
    """Our effect judged against the paper's own effect size, not an arbitrary threshold.

    * fewer than :data:`MIN_UNITS` units or no variance: "not testable" (the point estimate is
      shown beside the paper's, nothing is claimed);
    * the 95% interval contains both the paper's effect and zero: "inconclusive" (the data
      cannot tell a reproduced effect from none);
    * the 95% interval contains the paper's effect and excludes zero: "consistent with the paper";
    * otherwise whether the interval lies above or below the paper's effect, and whether it
      excludes zero (an effect of the opposite sign, none detected, or a smaller one).
    """
    if not cmp.testable:
        return (f"not testable ({cmp.replication()}); point estimate {cmp.mean_diff:+.1f} "
                f"against the paper's {paper_effect:+.1f}")
    if cmp.ci_low <= paper_effect <= cmp.ci_high:
        if cmp.ci_low <= 0 <= cmp.ci_high:
            return "inconclusive: our interval contains both zero and the paper's effect"
        return "consistent with the paper (its effect lies inside our interval, zero does not)"
    if cmp.ci_low > paper_effect:
        return "larger than the paper's effect"
    if cmp.ci_high < 0:
        return "opposite sign: significantly worse, where the paper reports a gain"
    if cmp.ci_low <= 0:
        return "not reproduced: no effect detected, and the paper's effect lies above our interval"
    return "smaller than the paper's effect (but above zero)"
