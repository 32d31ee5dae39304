"""Controls that test where RFD's change of the ranking comes from (notebook 07).

RFD subtracts ``lambda * D_r`` (Eq. 8), ``D_r`` the cosine similarity of B-R features
(Eq. 7). If B-R's features encoded only resolution, then on ``lr_query`` (every gallery image
HR) each query would see the same ``D_r`` for every gallery image and the ranking could not
change; a gain there must come from something else in B-R's features. Each control replaces
B-R's features by something whose content is known, on the same splits and models:

* **resolution oracle**: one-hot resolution class (``D_r = 1`` for a pair sharing it, else 0):
  genuine resolution filtering and nothing else (on ``lr_query`` it changes nothing);
* **camera oracle**: one-hot camera: what filtering same-camera pairs alone would do;
* **untrained B-R** (random weights) and **B-R trained on shuffled resolution labels**: a
  network's image statistics without (correct) resolution supervision;
* **a second B-F** (another training seed) in place of B-R, subtracted (``lambda > 0``) and
  added (``lambda < 0``: a plain two-model ensemble, allowed for this control only);
* **B-F alone by cosine and by Euclidean distance** (Eq. 8's two readings at ``lambda = 0``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from reidlab.config import Profile, override
from reidlab.data.records import ImageRecord, ProtocolSplit, ReidDataset
from reidlab.study.compute import scoring, stats

__all__ = ["RESOLUTION_ORACLE", "CAMERA_ORACLE", "BF_COSINE", "BF_EUCLIDEAN", "RFD", "baseline_for", "one_hot", "with_oracles", "shuffled_resolution_labels",
           "Control", "controls", "control_rows", "control_models", "control_trials", "control_gains", "control_comparisons", "second_bf_profile",
           "controls_paragraph"]

RESOLUTION_ORACLE, CAMERA_ORACLE = "resolution_oracle", "camera_oracle"
BF_COSINE, BF_EUCLIDEAN, RFD = "B-F (cosine)", "B-F (Euclidean)", "B-F+RFD"


def one_hot(labels: Sequence[int]) -> torch.Tensor:
    """``(N, max+1)`` float32 one-hot rows: their cosine similarity is 1 for equal labels, else 0."""
    labels = torch.as_tensor(list(labels), dtype=torch.long)
    if len(labels) and int(labels.min()) < 0:
        raise ValueError(f"labels must be >= 0, got {int(labels.min())}")
    width = int(labels.max()) + 1 if len(labels) else 1
    return torch.nn.functional.one_hot(labels, width).float()


def _resolution_class(records: Sequence[ImageRecord]) -> list[int]:
    bad = [r.path for r in records if r.res_label < 0]
    if bad:
        raise ValueError(f"records without a resolution class (res_label), e.g. {bad[0]}: build the split "
                         "with build_protocol")
    return [r.res_label for r in records]


def with_oracles(feats: scoring.SplitFeatures) -> scoring.SplitFeatures:
    """``feats`` plus one-hot resolution-class and camera "features" for query and gallery."""
    q, g = feats.split.query, feats.split.gallery
    res = one_hot(_resolution_class(q) + _resolution_class(g))
    cam = one_hot([r.camid for r in q] + [r.camid for r in g])
    n = len(q)
    return dataclasses.replace(
        feats, query={**feats.query, RESOLUTION_ORACLE: res[:n], CAMERA_ORACLE: cam[:n]},
        gallery={**feats.gallery, RESOLUTION_ORACLE: res[n:], CAMERA_ORACLE: cam[n:]})


def shuffled_resolution_labels(split: ProtocolSplit, seed: int = 0) -> ProtocolSplit:
    """``split`` whose training records carry a seeded permutation of their resolution labels
    (the same class counts, no relation to the images): B-R's label-shuffling control."""
    labels = np.array([r.res_label for r in split.train])
    permuted = np.random.default_rng([seed, 13]).permutation(labels)
    train = tuple(dataclasses.replace(r, res_label=int(c)) for r, c in zip(split.train, permuted))
    return dataclasses.replace(split, train=train)


@dataclasses.dataclass(frozen=True)
class Control:
    """One row of the controls table: ``feature_model`` fused with ``resolution_model`` features
    at ``lam`` (``lam_sign`` times the study's lambda) under ``reading``."""

    name: str
    key: str                            # its name in metrics.json (control_gain_r1_<protocol>_<key>)
    resolution_model: str | None
    lam_sign: float = 1.0
    reading: str | None = None          # None: the study's reading
    feature_model: str = "bf"


def controls(*, second_bf: bool, untrained_br: bool, shuffled_br: bool) -> tuple[Control, ...]:
    """The controls to score, B-F and B-F+RFD first (the rows they are compared with)."""
    rows = [Control(BF_COSINE, "cosine", None, 0.0, "similarity"),
            Control(BF_EUCLIDEAN, "euclidean", None, 0.0, "distance"),
            Control(RFD, "rfd", "br"),
            Control("B-F + resolution oracle", "resolution_oracle", RESOLUTION_ORACLE),
            Control("B-F + camera oracle", "camera_oracle", CAMERA_ORACLE)]
    if untrained_br:
        rows.append(Control("B-F + untrained B-R", "untrained_br", "br_untrained"))
    if shuffled_br:
        rows.append(Control("B-F + B-R on shuffled labels", "shuffled_br", "br_shuffled"))
    if second_bf:
        rows += [Control("B-F - second B-F (lambda > 0)", "second_bf_subtracted", "bf_seed2"),
                 Control("B-F + second B-F (lambda < 0, ensemble)", "second_bf_ensemble", "bf_seed2", -1.0)]
    return tuple(rows)


def baseline_for(reading: str) -> str:
    """The B-F-alone row RFD is compared with under ``reading`` (cosine or Euclidean ranking)."""
    return BF_COSINE if reading == "similarity" else BF_EUCLIDEAN


def control_rows(feats: scoring.SplitFeatures, rows: Sequence[Control], *, lam: float, reading: str,
                 max_rank: int = 50) -> list[dict]:
    """Metrics of every control on one split (``feats`` must hold the models the rows name;
    the oracles are added here)."""
    feats = with_oracles(feats)
    out = []
    for row in rows:
        out.append({"method": row.name, "lam": row.lam_sign * lam,
                    **scoring.score(feats, feature_model=row.feature_model, resolution_model=row.resolution_model,
                                    lam=row.lam_sign * lam, reading=row.reading or reading, max_rank=max_rank,
                                    ensemble=row.lam_sign < 0)})
    return out


def second_bf_profile(prof: Profile, ds: ReidDataset, unit: int, units: int) -> Profile:
    """The profile of unit ``unit``'s "second B-F": on fixed-split data with several training
    seeds, the next unit's B-F (seed of unit ``(unit + 1) % units``, trained anyway); otherwise
    a B-F of the next training seed on the same training set."""
    from reidlab.study.compute.rfd_trials import unit_profile

    if ds.fixed_split and units > 1:
        return unit_profile(prof, ds, (unit + 1) % units)
    base = unit_profile(prof, ds, unit)
    return override(base, bf={"seed": base.bf.seed + max(1, units)})


def control_models(prof: Profile, ds: ReidDataset, runs_dir, *, second_bf: bool, shuffled_br: bool) -> dict:
    """The control networks per unit, as :data:`~reidlab.study.compute.rfd_trials.ModelFactory` by name: an
    untrained B-R (``br_untrained``), a B-R trained on shuffled resolution labels (``br_shuffled``)
    and the second B-F (``bf_seed2``, :func:`second_bf_profile`), each built from that unit's
    profile and training set."""
    from reidlab.study.compute import model_store
    from reidlab.study.compute.rfd_trials import replication_units

    units = replication_units(prof, ds)
    factories = {"br_untrained": lambda uprof, sp, unit: model_store.untrained_br_model(uprof, sp, runs_dir)}
    if shuffled_br:
        factories["br_shuffled"] = lambda uprof, sp, unit: model_store.br_model(
            uprof, shuffled_resolution_labels(sp, prof.data.seed), runs_dir)[0]
    if second_bf:  # on Market-like: the next seed's B-F, trained anyway as another unit
        factories["bf_seed2"] = lambda uprof, sp, unit: model_store.bf_model(
            second_bf_profile(prof, ds, unit, units), sp, runs_dir)[0]
    return factories


def control_trials(prof: Profile, ds: ReidDataset, protocols: Sequence[str], rows: Sequence[Control], *,
                   runs_dir, lam: float, reading: str, second_bf: bool, shuffled_br: bool) -> pd.DataFrame:
    """Every control row on every trial of each protocol (:func:`control_rows`), with the trial's
    unit: one frame, one row per protocol, trial and control."""
    from reidlab.study.compute import rfd_trials as trial_eval

    extra = control_models(prof, ds, runs_dir, second_bf=second_bf, shuffled_br=shuffled_br)
    frames = []
    for protocol in protocols:
        res = trial_eval.run_trials(prof, ds, protocol, trials=prof.eval.trials, runs_dir=runs_dir, lam=lam,
                                    reading=reading, include_baseline="no", extra_models=extra)
        unit = res.per_trial.drop_duplicates("trial").set_index("trial")["unit"]
        for trial, feats in enumerate(res.features):
            frames.append(pd.DataFrame(control_rows(feats, rows, lam=lam, reading=reading, max_rank=prof.eval.max_rank))
                          .assign(protocol=protocol, trial=trial, unit=int(unit[trial]),
                                  unit_kind=trial_eval.unit_kind(ds)))
    return pd.concat(frames, ignore_index=True)


def control_gains(per_trial: pd.DataFrame, baseline: str = BF_COSINE, metric: str = "R1") -> pd.DataFrame:
    """Per protocol and control: the change of ``metric`` against ``baseline`` (B-F alone),
    averaged inside each unit (``unit`` column; else each trial is one) and then over units."""
    frame = per_trial if "unit" in per_trial.columns else per_trial.assign(unit=per_trial["trial"])
    wide = frame.pivot_table(index=["protocol", "unit", "trial"], columns="method", values=metric)
    gains = wide.sub(wide[baseline], axis=0).groupby(level=["protocol", "unit"]).mean().groupby(level="protocol").mean()
    return gains.drop(columns=[baseline]).T


def control_comparisons(per_trial: pd.DataFrame, baseline: str = BF_COSINE, metric: str = "R1") -> pd.DataFrame:
    """Every control against ``baseline`` per protocol, over independent units
    (:func:`reidlab.study.compute.stats.paired_comparison`): mean change, 95% interval, units, verdict."""
    rows = []
    for protocol, d in per_trial.groupby("protocol", sort=False):
        for method in d["method"].drop_duplicates():
            if method == baseline:
                continue
            cmp = stats.paired_comparison(d, method, baseline, metric)
            rows.append({"protocol": protocol, "control": method, f"{metric} change": round(cmp.mean_diff, 2),
                         "95% interval": (f"[{cmp.ci_low:+.1f}, {cmp.ci_high:+.1f}]" if cmp.testable
                                          else "not testable"),
                         "units": cmp.n,
                         "reading": ("above zero" if cmp.significant and cmp.mean_diff > 0 else
                                     "below zero" if cmp.significant else
                                     "no change detected" if cmp.testable else "not testable")})
    return pd.DataFrame(rows)


def controls_paragraph(gains: pd.DataFrame, *, rfd: str = RFD, tolerance: float = 0.5,
                       comparisons: pd.DataFrame | None = None) -> str:
    """A short computed reading of the controls: what they imply about the source of RFD's change.

    ``gains``: rows = controls, columns = protocols, values = mean R1 change against B-F alone.
    ``tolerance``: mean changes within it are described as "no change".
    ``comparisons`` (:func:`control_comparisons`): each protocol's sentence then ends with which
    changes the intervals over independent units tell from zero, and which they do not.
    """
    def fmt(v: float) -> str:
        return f"{v:+.1f}"

    parts = []
    for protocol in gains.columns:
        col = gains[protocol]
        rfd_gain = col.get(rfd, float("nan"))
        text = f"On {protocol}, RFD changes rank-1 by {fmt(rfd_gain)} points"
        oracle = col.get("B-F + resolution oracle", float("nan"))
        text += f"; the resolution oracle by {fmt(oracle)}"
        if protocol == "lr_query":
            text += " (it cannot change an HR-only gallery's ranking)"
        similar = []
        for name in ("B-F + untrained B-R", "B-F + B-R on shuffled labels", "B-F - second B-F (lambda > 0)",
                     "B-F + second B-F (lambda < 0, ensemble)", "B-F + camera oracle"):
            if name in col.index and abs(col[name] - rfd_gain) <= max(tolerance, abs(rfd_gain) / 2) and \
                    np.sign(col[name]) == np.sign(rfd_gain) and abs(col[name]) > tolerance:
                similar.append(f"{name} ({fmt(col[name])})")
        if abs(rfd_gain) <= tolerance:
            text += f"; RFD's change is within {tolerance:g} points (no change)"
        elif similar:
            text += ("; controls without resolution supervision change it about as much: " + ", ".join(similar)
                     + ", so the change need not come from resolution filtering")
        elif abs(oracle) > tolerance and np.sign(oracle) == np.sign(rfd_gain):
            text += "; only resolution-aware features (B-R, the oracle) move it in RFD's direction"
        else:
            text += "; no control reproduces it"
        if comparisons is not None:
            text += _interval_reading(comparisons[comparisons["protocol"] == protocol])
        parts.append(text + ".")
    return " ".join(parts)


def _interval_reading(rows: pd.DataFrame) -> str:
    """Which controls' changes the paired intervals over units tell from zero (rows of
    :func:`control_comparisons` for one protocol)."""
    if rows.empty or (rows["reading"] == "not testable").all():
        return "; over the independent units no change is testable (fewer than 3 units or no variance)"
    units = int(rows["units"].max())
    change = next(c for c in rows.columns if c.endswith(" change"))
    records = rows.to_dict("records")
    apart = [f"{r['control']} ({r[change]:+.1f}, {r['95% interval']})" for r in records
             if r["reading"] in ("above zero", "below zero")]
    within = [r["control"] for r in records if r["reading"] == "no change detected"]
    text = f". Over {units} independent units, the 95% intervals tell from zero: " + (", ".join(apart) or "none")
    if within:
        text += "; they do not for " + ", ".join(within)
    return text
