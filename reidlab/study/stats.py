"""Statistics of paired comparisons: mean difference, bootstrap interval, t-test, verdicts."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["PairedComparison", "paired_comparison", "verdict"]


@dataclass(frozen=True)
class PairedComparison:
    """Statistics of ``a - b`` over paired trials."""

    a: str
    b: str
    metric: str
    n: int
    mean_diff: float
    std_diff: float
    ci_low: float
    ci_high: float
    p_value: float

    def sentence(self, label: str | None = None) -> str:
        label = label or f"{self.a} vs {self.b}"
        p = "n/a" if np.isnan(self.p_value) else f"{self.p_value:.3g}"
        return (f"{label} changes {self.metric} by {self.mean_diff:+.1f} ± {self.std_diff:.1f} points "
                f"(95% bootstrap CI [{self.ci_low:+.1f}, {self.ci_high:+.1f}], paired t-test p={p}, "
                f"n={self.n} trials)")

    @property
    def significant(self) -> bool:
        return bool(self.ci_low > 0 or self.ci_high < 0)


def paired_comparison(per_trial: pd.DataFrame, a: str, b: str, metric: str = "R1", *,
                      method_col: str = "method", trial_col: str = "trial", n_boot: int = 10_000,
                      seed: int = 0) -> PairedComparison:
    """Paired difference ``a - b`` of ``metric`` over trials: mean, std, bootstrap CI, t-test."""
    wide = per_trial.pivot_table(index=trial_col, columns=method_col, values=metric)
    for m in (a, b):
        if m not in wide.columns:
            raise KeyError(f"method {m!r} not in results; have {list(wide.columns)}")
    diff = (wide[a] - wide[b]).dropna().to_numpy(dtype=float)
    n = len(diff)
    rng = np.random.default_rng(seed)
    if n > 1:
        boots = diff[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
        lo, hi = np.percentile(boots, [2.5, 97.5])
        # a constant difference has no variance: the t-test is undefined (reported as n/a)
        p = float(stats.ttest_1samp(diff, 0.0).pvalue) \
            if np.any(diff != diff[0]) else (float("nan") if diff[0] != 0 else 1.0)
        std = float(diff.std(ddof=1))
    else:
        lo = hi = float(diff.mean()) if n else float("nan")
        p, std = float("nan"), 0.0
    return PairedComparison(a=a, b=b, metric=metric, n=n, mean_diff=float(diff.mean()) if n else float("nan"),
                            std_diff=std, ci_low=float(lo), ci_high=float(hi), p_value=p)


def verdict(cmp: PairedComparison, claim: str, kind: str = "improvement", tolerance: float = 1.0) -> str:
    """One honest line: does the paper's ``claim`` hold here?

    ``kind="improvement"``: ``a`` beats ``b`` (bootstrap CI above 0). ``kind="comparable"``:
    ``a`` is within ``tolerance`` points of ``b`` (the CI lies inside +-tolerance).
    """
    if kind == "comparable":
        inside = -tolerance <= cmp.ci_low and cmp.ci_high <= tolerance
        status = ("reproduced" if inside else
                  f"not reproduced (the 95% CI leaves +-{tolerance:g} points)")
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
