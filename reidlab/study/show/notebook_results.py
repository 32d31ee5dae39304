"""Each notebook's result, built and written in one function: tables, conclusions, metrics.

A notebook computes (training, trials, scoring), displays, and ends with one call here that
writes its tables under ``<results>/tables/`` and its typed :class:`~reidlab.study.show.contract.NotebookResult`
(``<results>/<notebook>.json``), and returns that result. Metric names are the ones
:data:`reidlab.study.show.contract.HEADLINE_METRICS` reads; they are never renamed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from pathlib import Path

import pandas as pd

from reidlab.config import Profile
from reidlab.data import ReidDataset
from reidlab.study import methods, published
from reidlab.study.compute import ablations, controls, inspection, model_store, rfd_trials as trial_eval, scoring, stats, summaries
from reidlab.study.show import contract
from reidlab.study.show.figures import write_table

__all__ = ["data_synthesis_result", "bf_training_result", "br_training_result", "rfd_eval_result",
           "ablations_result", "per_split_result", "ps_hrnet_result", "controls_result"]


def _written(results: Path, figures: list[contract.FigureRef]) -> list[contract.FigureRef]:
    """The figures that are in ``results``: one showing people of a real dataset is kept out of it
    (:func:`~reidlab.study.show.plots.people_figures_folder`)."""
    return [f for f in figures if (results / f.file).is_file()]


def data_synthesis_result(results: Path, prof: Profile, ds: ReidDataset, mr: ReidDataset | None,
                          tables: Mapping[str, pd.DataFrame], confound: pd.DataFrame | None,
                          edges: Sequence[float] | None, camera_cue: pd.DataFrame | None = None
                          ) -> contract.NotebookResult:
    """Notebook 00: split counts per protocol, the camera/resolution confound, dataset counts and
    how strongly the camera shows in the pixels (``camera_cue``, :func:`~reidlab.study.compute.summaries.camera_cue_table`)."""
    figures = [contract.FigureRef("figures/00_samples_every_resolution.png", "Identities at HR, x2, x3, x4")]
    if mr is not None:
        figures += [contract.FigureRef("figures/00_size_histogram.png", "Image sizes and pseudo-resolution bin edges"),
                    contract.FigureRef("figures/00_native_resolution_samples.png",
                                       "Natively multi-resolution images at their own size")]
    figures = _written(results, figures)
    tables = dict(tables)
    table_refs, conclusions = [], []
    if mr is not None:
        tables["camera_resolution"] = confound
        conclusions.append(summaries.confound_sentence(confound, mr.name))
    for name, t in tables.items():
        write_table(t, results / "tables" / f"00_counts_{name}")
        title = (f"{mr.name}: images per camera and pseudo-resolution bin" if name == "camera_resolution"
                 else f"Split counts: {name} (trial 0)")
        table_refs.append(contract.TableRef(f"tables/00_counts_{name}.md", title))
    metrics: dict[str, float] = {"images": len(ds.images), "identities": ds.num_ids}
    if camera_cue is not None:
        write_table(camera_cue, results / "tables" / "00_camera_cue", floatfmt=".2f")
        table_refs.append(contract.TableRef("tables/00_camera_cue.md",
                                            "How well the camera can be told from the pixels (identity-disjoint, Cohen's kappa)"))
        ours = camera_cue.iloc[0]
        metrics.update(camera_cue_kappa=float(ours["kappa (all)"]),
                       camera_cue_kappa_matched=float(ours[summaries.CAMERA_CUE_MATCHED]))
        conclusions.append(summaries.camera_cue_sentence(camera_cue))
    return _write(results, contract.NotebookResult(
        notebook="00_data_synthesis", title="00 · Data",
        parameters={"profile": prof.name, "dataset": ds.name, "seed": prof.data.seed,
                    "multires_dataset": mr.name if mr is not None else None},
        tables=table_refs, figures=figures, conclusions=conclusions,
        metrics=metrics,
        counts={"skipped files": dict(ds.skipped),
                **({f"skipped files ({mr.name})": dict(mr.skipped)} if mr is not None else {})},
        data={"counts": summaries.dataset_counts(ds).to_dict(orient="records"),
              "protocols": {k: v.to_dict(orient="records") for k, v in tables.items()},
              "pseudo_bin_edges": [float(e) for e in edges] if edges is not None else None}))


def bf_training_result(results: Path, prof: Profile, ds: ReidDataset, split, *, protocol: str,
                       sanity: pd.DataFrame, runs: Mapping[str, Path], bf_dir: Path,
                       pretraining: pd.DataFrame | None, mlr_trials: pd.DataFrame,
                       hr_units: pd.DataFrame) -> contract.NotebookResult:
    """Notebook 01: B-F and the HR-only B-F on HR and LR queries, validation and pre-training curves, and the
    multi-resolution training gain over independent units on LR queries (``mlr_trials``:
    :func:`~reidlab.study.compute.rfd_trials.mlr_training_trials`'s per-trial metrics) and on HR queries
    (``hr_units``: :func:`~reidlab.study.compute.rfd_trials.hr_query_units`)."""
    r1 = sanity.set_index("setting")["R1"]
    hr_r1, lr_r1 = r1["B-F: HR query -> HR gallery"], r1["B-F: LR query -> HR gallery"]
    hr_only_hr = r1["B-F trained on HR only: HR query -> HR gallery"]
    hr_only_lr = r1["B-F trained on HR only: LR query -> HR gallery"]
    chance = sanity["chance R1"].iloc[0]
    if prof.name == "quick":  # the quick profile must clearly learn
        assert lr_r1 > 3 * chance, sanity
    val = pd.read_csv(bf_dir / "validation.csv") if (bf_dir / "validation.csv").is_file() else None
    write_table(sanity, results / "tables" / "01_bf_sanity")
    gap, closed = hr_only_hr - hr_only_lr, lr_r1 - hr_only_lr
    mlr_gain = stats.paired_comparison(mlr_trials, methods.BF, methods.HR_ONLY_BF)
    mlr_summary, hr_summary = scoring.summarise(mlr_trials), scoring.summarise(hr_units)
    write_table(scoring.mean_pm_std(mlr_summary), results / "tables" / "01_mlr_training_gain")
    mlr_summary = mlr_summary.set_index("method")
    hr_cost = stats.paired_comparison(hr_units, methods.BF, methods.HR_ONLY_BF)
    hr_mean = hr_summary.set_index("method")["R1 mean"]
    write_table(scoring.mean_pm_std(hr_summary), results / "tables" / "01_hr_queries")
    return _write(results, contract.NotebookResult(
        notebook="01_train_bf", title="01 · B-F training",
        parameters={"start": model_store.start_label(prof), "profile": prof.name, "dataset": ds.name, "protocol": protocol,
                    "iterations": model_store.trained_iterations(prof, split, "bf"), "backbone": prof.model.backbone,
                    "val_ids": prof.data.val_ids},
        tables=[contract.TableRef("tables/01_bf_sanity.md", "B-F and HR-only B-F on HR and LR queries (trial 0)"),
                contract.TableRef("tables/01_mlr_training_gain.md",
                                  f"B-F and HR-only B-F on {protocol} over every trial and unit"),
                contract.TableRef("tables/01_hr_queries.md",
                                  "B-F and HR-only B-F on HR queries (each unit's first split; mean ± std over units)")],
        figures=([contract.FigureRef("figures/01_pretraining_curves.png",
                                     "Pre-training stand-in for ImageNet (training batches)")]
                 if pretraining is not None else [])
        + [contract.FigureRef("figures/01_bf_training_curves.png", "B-F training curves"),
           contract.FigureRef("figures/01_bf_validation_curves.png", "B-F rank-1 on validation identities")],
        conclusions=[f"B-F ({model_store.start_label(prof)}) reaches rank-1 {hr_r1:.1f}% HR->HR and {lr_r1:.1f}% LR->HR "
                     f"on trial 0 (chance {chance:.1f}%); LR queries cost {hr_r1 - lr_r1:.1f} points.",
                     f"Trained on HR images only, B-F reaches {hr_only_hr:.1f}% HR->HR and {hr_only_lr:.1f}% LR->HR: "
                     f"LR queries cost it {gap:.1f} points, and MLR training changes LR->HR rank-1 by "
                     f"{closed:+.1f} points.",
                     mlr_gain.sentence(f"Over {mlr_gain.n} independently trained pairs, multi-resolution training "
                                       f"(B-F against the HR-only B-F, {protocol})") + ".",
                     hr_cost.sentence(f"On HR queries (B-F {hr_mean[methods.BF]:.1f}%, HR-only B-F "
                                      f"{hr_mean[methods.HR_ONLY_BF]:.1f}% rank-1, mean over {hr_cost.n} units), "
                                      "multi-resolution training") + "."]
        + ([f"On the {prof.data.val_ids} validation identities B-F's rank-1 goes from {val.R1.iloc[0]:.1f}% "
            f"(iteration {int(val.iteration.iloc[0])}) to {val.R1.iloc[-1]:.1f}% "
            f"(iteration {int(val.iteration.iloc[-1])})."]
           if val is not None else [])
        + ([f"Pre-training ({len(pretraining)} logged iterations): identity accuracy on its training batches "
            f"{100 * pretraining.acc.tail(5).mean():.0f}%, attribute accuracy "
            f"{100 * pretraining.attr_acc.tail(5).mean():.0f}% (last five logged iterations)."]
           if pretraining is not None else []),
        metrics={"bf_hr_to_hr_r1": hr_r1, "bf_lr_to_hr_r1": lr_r1, "chance_r1": chance,
                 "hr_only_bf_hr_to_hr_r1": hr_only_hr, "hr_only_bf_lr_to_hr_r1": hr_only_lr,
                 "bf_lr_to_hr_r1_mean": float(mlr_summary.loc[methods.BF, "R1 mean"]),
                 "hr_only_bf_lr_to_hr_r1_mean": float(mlr_summary.loc[methods.HR_ONLY_BF, "R1 mean"]),
                 **stats.gain_metrics(mlr_gain, protocol, what="mlr"),
                 "bf_hr_to_hr_r1_mean": float(hr_mean[methods.BF]),
                 "hr_only_bf_hr_to_hr_r1_mean": float(hr_mean[methods.HR_ONLY_BF]),
                 **stats.gain_metrics(hr_cost, "hr_query", what="mlr"),
                 "bf_hr_to_hr_map": sanity.set_index("setting")["mAP"]["B-F: HR query -> HR gallery"],
                 "bf_lr_to_hr_map": sanity.set_index("setting")["mAP"]["B-F: LR query -> HR gallery"],
                 **({"bf_val_r1": float(val.R1.iloc[-1])} if val is not None else {}),
                 **({"pretrain_identity_acc": 100 * float(pretraining.acc.tail(5).mean()),
                     "pretrain_attribute_acc": 100 * float(pretraining.attr_acc.tail(5).mean())}
                    if pretraining is not None else {})},
        counts=scoring.query_summary(sanity.iloc[1:2]),
        data={"runs": {k: str(v) for k, v in runs.items()}, "sanity": sanity.to_dict(orient="records"),
              "mlr_trials": mlr_trials.to_dict(orient="records"), "hr_units": hr_units.to_dict(orient="records")}))


def br_training_result(results: Path, prof: Profile, ds: ReidDataset, split, *, mr: ReidDataset | None,
                       confusions: Mapping[str, inspection.HeldOutConfusion],
                       runs: Mapping[str, Path]) -> contract.NotebookResult:
    """Notebook 02: B-R's held-out confusion matrices (factor classes; pseudo-labels on native data)."""
    tables, figures, conclusions, metrics, counts = [], [], [], {}, {}
    for kind, c in confusions.items():
        suffix = "" if kind == "factor classes" else "_pseudo"
        table = pd.DataFrame(c.matrix, index=[f"true {n}" for n in c.names],
                             columns=[f"pred {n}" for n in c.names]).reset_index()
        write_table(table.rename(columns={"index": "class"}), results / "tables" / f"02_br_confusion{suffix}")
        tables.append(contract.TableRef(f"tables/02_br_confusion{suffix}.md",
                                        f"B-R confusion matrix, {kind} ({c.dataset}, held-out images)"))
        figures.append(contract.FigureRef(f"figures/02_br_confusion{suffix}.png",
                                          f"B-R resolution confusion, {kind} ({c.dataset})"))
        conclusions.append(f"B-R classifies the resolution ({kind}, {c.dataset}) of held-out images with "
                           f"{c.accuracy:.1f}% accuracy (chance {c.chance:.1f}%, {c.accuracy / c.chance:.1f}x chance; "
                           f"always naming the most frequent held-out class would score {c.majority:.1f}%) on "
                           f"{int(c.matrix.sum())} images; balanced accuracy (mean recall over the "
                           f"{int((c.matrix.sum(1) > 0).sum())} classes present) "
                           f"{inspection.balanced_accuracy(c.matrix):.1f}%.")
        key = "br" if kind == "factor classes" else "br_pseudo"
        metrics.update({f"{key}_accuracy": c.accuracy, f"{key}_chance": c.chance,
                        f"{key}_balanced_accuracy": inspection.balanced_accuracy(c.matrix),
                        f"{key}_majority": c.majority})
        counts[f"held-out images ({kind})"] = int(c.matrix.sum())
    return _write(results, contract.NotebookResult(
        notebook="02_train_br", title="02 · B-R training",
        parameters={"start": model_store.start_label(prof), "profile": prof.name, "dataset": ds.name,
                    "iterations": model_store.trained_iterations(prof, split, "br"), "n_res_classes": split.n_res_classes,
                    "pseudo_dataset": mr.name if mr is not None else None},
        tables=tables,
        figures=[contract.FigureRef("figures/02_br_training_curves.png", "B-R training curves"),
                 contract.FigureRef("figures/02_br_validation_curves.png", "B-R accuracy on validation identities"),
                 *figures],
        conclusions=conclusions, metrics=metrics, counts=counts,
        data={"runs": {k: str(v) for k, v in runs.items()},
              "confusion": {k: v.matrix.tolist() for k, v in confusions.items()}}))


def rfd_eval_result(results: Path, prof: Profile, ds: ReidDataset, *, protocol: str, per_trial: pd.DataFrame,
                    summary: pd.DataFrame, table: pd.DataFrame, runs: Mapping[str, str]) -> contract.NotebookResult:
    """Notebook 03: RFD against B-F over units and trials (RFD Tables 1-3), paired over units; the
    attention-free baseline against B-F where it was evaluated."""
    cmp = stats.paired_comparison(per_trial, methods.BF_RFD, methods.BF, "R1")
    cmp_map = stats.paired_comparison(per_trial, methods.BF_RFD, methods.BF, "mAP")
    conclusions = [stats.verdict(cmp, f"RFD (lambda={prof.eval.lam}, {prof.eval.rfd_reading} reading) improves "
                                      f"rank-1 over B-F on {ds.name} / {protocol}"),
                   cmp_map.sentence("RFD vs B-F")]
    if methods.BASELINE in set(per_trial["method"]):
        att = stats.paired_comparison(per_trial, methods.BF, methods.BASELINE, "R1")
        conclusions.append(stats.verdict(att, "Channel attention (B-F) improves rank-1 over the attention-free baseline"))
    stem = f"03_rfd_{ds.name}_{protocol}"
    write_table(table, results / "tables" / stem)
    write_table(per_trial, results / "tables" / f"{stem}_per_trial", floatfmt=".2f")
    mean = summary.set_index("method")
    return _write(results, contract.NotebookResult(
        notebook="03_rfd_eval", title=f"03 · RFD evaluation ({ds.name}, {protocol}; RFD Tables 1-3)",
        parameters={"start": model_store.start_label(prof), "lam": prof.eval.lam, "reading": prof.eval.rfd_reading,
                    "trials": prof.eval.trials, "protocol": protocol, "dataset": ds.name, "profile": prof.name},
        tables=[contract.TableRef(f"tables/{stem}.md", f"{ds.name}, {protocol}: mean ± std over "
                                  f"{int(summary['units'].max())} {trial_eval.unit_kind(ds)}s ({prof.eval.trials} trials)",
                                  "Rows with source *published* are the paper's numbers on the real dataset, for "
                                  "reference only; ours are on the data named in the source column.")],
        conclusions=list(conclusions),
        metrics={"bf_r1": mean.loc[methods.BF, "R1 mean"], "bf_map": mean.loc[methods.BF, "mAP mean"],
                 "bf_r1_std": mean.loc[methods.BF, "R1 std"],  # between units: check-results' tolerance
                 "rfd_r1": mean.loc[methods.BF_RFD, "R1 mean"], "rfd_map": mean.loc[methods.BF_RFD, "mAP mean"],
                 "rfd_gain_r1": cmp.mean_diff, "rfd_gain_r1_ci_low": cmp.ci_low, "rfd_gain_r1_ci_high": cmp.ci_high},
        counts={**scoring.query_summary(per_trial), "trials": int(per_trial["trial"].nunique()),
                "units": int(per_trial["unit"].nunique())},
        data={"summary": summary.to_dict(orient="records"), "paired_R1": cmp.__dict__, "paired_mAP": cmp_map.__dict__,
              "runs": dict(runs)}))


def ablations_result(results: Path, base: Profile, *, set_names: Sequence[str], caviar_name: str,
                     lambdas: Sequence[float], per4: pd.DataFrame, per5: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
                     sweep: pd.DataFrame, val_sweep: pd.DataFrame, chosen: Mapping[str, float],
                     pseudo_choice: tuple[str, int], conclusions: Sequence[str]) -> contract.NotebookResult:
    """Notebook 04: Tables 4 and 5, the lambda sweeps, the pseudo-label settings, the CAVIAR breakdown.

    ``tables``: ``table4``, ``table5``, ``sweep``, ``pseudo``, ``breakdown`` and ``pseudo_br``
    (:func:`~reidlab.study.compute.ablations.pseudo_br_units`) as the notebook shows them.
    """
    lam, reading, trials = base.eval.lam, base.eval.rfd_reading, base.eval.trials
    write_table(tables["table4"], results / "tables" / "table4_synthetic_mlr")
    write_table(tables["table5"], results / "tables" / "table5_multires")
    write_table(tables["sweep"], results / "tables" / "04_lambda_sweep", floatfmt=".2f")
    write_table(ablations.sweep_table(val_sweep), results / "tables" / "04_lambda_validation", floatfmt=".2f")
    write_table(tables["pseudo"], results / "tables" / "04_pseudo_labels", floatfmt=".2f")
    write_table(tables["breakdown"], results / "tables" / "04_caviar_query_breakdown")
    write_table(tables["pseudo_br"], results / "tables" / "04_pseudo_br_units")
    all_trials = pd.concat([per4, per5], ignore_index=True)
    write_table(all_trials, results / "tables" / "04_per_trial", floatfmt=".2f")
    sweep_mean = sweep.groupby(["reading", "lam"])["R1"].mean()
    return _write(results, contract.NotebookResult(
        notebook="04_ablations", title="04 · Ablations (RFD Tables 4 and 5, lambda sweep, pseudo-labels)",
        parameters={"start": model_store.start_label(base), "lam": lam, "reading": reading, "trials": trials,
                    "lambdas": list(lambdas), "profile": base.name, "pseudo_strategy (chosen)": pseudo_choice[0],
                    "pseudo_bins (chosen)": pseudo_choice[1]},
        tables=[contract.TableRef("tables/table4_synthetic_mlr.md",
                                  "Table 4: synthetic MLR data (mean ± std over training seeds)"),
                contract.TableRef("tables/table5_multires.md",
                                  f"Table 5: {caviar_name} (mean ± std over retrained identity splits)"),
                contract.TableRef("tables/04_lambda_sweep.md", "Lambda sweep (Market-like, multi-resolution gallery)"),
                contract.TableRef("tables/04_lambda_validation.md",
                                  "Lambda sweep on the validation identities (where lambda is chosen)"),
                contract.TableRef("tables/04_pseudo_labels.md", "B-R pseudo-label settings on the validation "
                                  "identities (mean over units; where they are chosen)"),
                contract.TableRef("tables/04_caviar_query_breakdown.md", f"{caviar_name} multi-resolution setting "
                                  "by kind of query (share: percent of the queries)"),
                contract.TableRef("tables/04_pseudo_br_units.md", f"Pseudo-label B-R of each retrained {caviar_name} "
                                  "identity split on its held-out images, and pooled (percent)")],
        figures=[contract.FigureRef("figures/04_lambda_sweep.png", "Rank-1 against lambda, both Eq. 8 readings")],
        conclusions=list(conclusions),
        metrics={**{f"sweep_{r}_best_lam": float(d.idxmax()[1]) for r, d in sweep_mean.groupby(level=0)},
                 **{f"lambda_chosen_{r}": lam_ for r, lam_ in chosen.items()},
                 "lambda_chosen": chosen[reading], "pseudo_bins_chosen": float(pseudo_choice[1]),
                 **stats.gain_metrics(ablations.table5_comparison(per5, "Single-Reso"), "caviar_lr_query"),
                 **stats.gain_metrics(ablations.table5_comparison(per5, "Multi-Reso"), "caviar_multi_res_gallery"),
                 **ablations.pseudo_br_metrics(tables["pseudo_br"])},
        counts={**scoring.query_summary(all_trials), "trials": trials,
                "units (Market-like seeds)": int(per4["unit"].nunique()),
                "units (CAVIAR-like identity splits)": int(per5["unit"].nunique())},
        data={"sweep_r1": [{"reading": r, "lam": l_, "R1": v} for (r, l_), v in sweep_mean.items()],
              "claims": ablations.claims(per4, per5, list(set_names), caviar_name)}))


def per_split_result(results: Path, prof: Profile, ds: ReidDataset, *, per_trial: pd.DataFrame,
                     summary: pd.DataFrame) -> contract.NotebookResult:
    """Notebook 05: Fig. 5 (rank-1 per retrained split, RFD against B-F paired over splits, wins)
    and the Fig. 4 rankings."""
    comparison = stats.paired_comparison(per_trial, methods.BF_RFD, methods.BF, "R1")
    wins = trial_eval.wins(per_trial, methods.BF_RFD, methods.BF, "R1")
    units = per_trial["unit"].nunique()
    conclusions = [stats.verdict(comparison, f"RFD improves rank-1 per split on {ds.name}"),
                   f"RFD beats B-F on {wins} of {units} retrained identity splits (each the mean of its "
                   f"{prof.eval.trials // units} gallery draws; the paper's Fig. 5 shows it ahead on most of 10 "
                   "CAVIAR splits)."]
    mean = summary.set_index("method")
    write_table(per_trial, results / "tables" / "05_fig5_per_split", floatfmt=".2f")
    return _write(results, contract.NotebookResult(
        notebook="05_per_split_plot", title=f"05 · Fig. 5 per split and Fig. 4 rankings ({ds.name})",
        parameters={"start": model_store.start_label(prof), "profile": prof.name, "dataset": ds.name, "lam": prof.eval.lam,
                    "reading": prof.eval.rfd_reading, "trials": prof.eval.trials, "pseudo_bins": prof.data.pseudo_bins},
        tables=[contract.TableRef("tables/05_fig5_per_split.md", "Rank-1 per split (Fig. 5 data)")],
        figures=_written(results, [
            contract.FigureRef("figures/fig5_per_split.png", "Fig. 5: rank-1 of B-F and B-F+RFD per split"),
            contract.FigureRef("figures/fig4_rankings_rfd.png", "Fig. 4: top-10 rankings, B-F + RFD"),
            contract.FigureRef("figures/fig4_rankings_bf.png", "Fig. 4 (for comparison): top-10 rankings, B-F alone")]),
        conclusions=list(conclusions),
        metrics={"bf_r1": mean.loc[methods.BF, "R1 mean"], "rfd_r1": mean.loc[methods.BF_RFD, "R1 mean"],
                 "rfd_gain_r1": comparison.mean_diff, "rfd_wins": wins},
        counts={**scoring.query_summary(per_trial), "trials": int(per_trial["trial"].nunique()),
                "units": int(per_trial["unit"].nunique())},
        data={"summary": summary.to_dict(orient="records"), "paired_R1": comparison.__dict__}))


def _ps_hrnet_lengths(prof: Profile, ds: ReidDataset, protocol: str) -> str:
    """How long B-F and PS-HRNet train on the first unit: a verdict between them compares networks
    trained for the lengths the profile gives them, not each trained to convergence."""
    split = trial_eval.make_split(prof, ds, protocol, 0)   # unit 0 trains with the profile itself
    bf, teacher, student = (model_store.trained_iterations(prof, split, task) for task in ("bf", "teacher", "student"))
    warmup = (f", after {prof.ps.vdsr_warmup_iterations} restoration-only iterations of VDSR-CA"
              if prof.ps.vdsr_warmup_iterations > 0 else "")
    batches = sorted({prof.ps.teacher.p * prof.ps.teacher.k, prof.ps.student.p * prof.ps.student.k})
    return (f"Training lengths ({protocol}, first unit): B-F {bf} iterations of {prof.bf.p * prof.bf.k} images; "
            f"PS-HRNet's teacher {teacher} and student {student} iterations of {' and '.join(map(str, batches))} "
            f"images{warmup}. The verdicts above compare the two at these lengths, not each trained to convergence.")


def ps_hrnet_result(results: Path, prof: Profile, ds: ReidDataset, *, protocols: Sequence[str], per_trial: pd.DataFrame,
                    summary: pd.DataFrame, table: pd.DataFrame, restoration: Mapping[str, float],
                    restoration_table: pd.DataFrame, ps_runs: Mapping[str, str], units: int, trials: int,
                    pretraining_figure: bool, curves_figure: bool) -> contract.NotebookResult:
    """Notebook 06: B-F, RFD and PS-HRNet on the same draws (paired per protocol); VDSR-CA's
    restoration error on held-out images (``restoration``: ``vdsr_mae``, ``interp_mae``, their PSNR
    and, with a warm-up, ``vdsr_warmup_*``: :func:`~reidlab.study.compute.inspection.restoration_table`)."""
    conclusions = []
    for protocol in protocols:
        d = per_trial[per_trial.protocol == protocol]
        ps_vs_bf = stats.paired_comparison(d, methods.PS_HRNET, methods.BF, "R1")
        conclusions.append(f"{protocol}: " + stats.verdict(ps_vs_bf, "PS-HRNet beats B-F (the paper's strongest comparator)"))
        rfd_ps = stats.paired_comparison(d, methods.with_rfd(methods.PS_HRNET), methods.PS_HRNET, "R1")
        conclusions.append(f"{protocol}: " + rfd_ps.sentence("RFD on PS-HRNet features"))
    conclusions.append(_ps_hrnet_lengths(prof, ds, protocols[0]))
    l1_out, l1_in = restoration["vdsr_mae"], restoration["interp_mae"]
    n_images = int(restoration_table["held-out images"].iloc[0])
    made_by = (f" (LR made by: {restoration_table['LR made by'].iloc[0]})"
               if "LR made by" in restoration_table else "")
    conclusions.append(
        f"VDSR-CA restoration on {n_images} held-out LR images{made_by}: mean absolute error to HR {100 * l1_out:.2f}% "
        f"(PSNR {restoration['vdsr_psnr']:.2f} dB) vs {100 * l1_in:.2f}% ({restoration['interp_psnr']:.2f} dB) for the "
        f"interpolated LR input: {'better' if l1_out < l1_in else 'not better'} than interpolation"
        + (f"; after its restoration-only warm-up, before the student's training, {100 * restoration['vdsr_warmup_mae']:.2f}% "
           f"({restoration['vdsr_warmup_psnr']:.2f} dB)" if "vdsr_warmup_mae" in restoration else "") + ".")
    write_table(table, results / "tables" / "06_rfd_vs_ps_hrnet")
    write_table(restoration_table, results / "tables" / "06_restoration", floatfmt=".2f")
    write_table(per_trial, results / "tables" / "06_per_trial", floatfmt=".2f")
    mean = summary.set_index(["protocol", "method"])["R1 mean"]
    spread = summary.set_index(["protocol", "method"])["R1 std"].astype(float)
    return _write(results, contract.NotebookResult(
        notebook="06_ps_hrnet", title=f"06 · PS-HRNet beside RFD ({ds.name})",
        parameters={"start": model_store.start_label(prof), "PS-HRNet start": model_store.ps_start_label(prof),
                    "profile": prof.name, "dataset": ds.name, "protocols": list(protocols), "trials": trials,
                    "units": units, "lam": prof.eval.lam, "hrnet": prof.ps.hrnet},
        tables=[contract.TableRef("tables/06_rfd_vs_ps_hrnet.md",
                                  f"B-F, B-F+RFD, PS-HRNet, PS-HRNet+RFD ({units} trained unit"
                                  f"{'' if units == 1 else 's'}, mean over {trials} trials)",
                                  f"Published PS-HRNet rows are the paper's rank-1 on the real "
                                  f"{published.paper_dataset_for(ds.name) or 'dataset'} with ImageNet pre-training, "
                                  "for reference only."),
                contract.TableRef("tables/06_restoration.md",
                                  "VDSR-CA's restoration error on held-out LR images (mean absolute error in percent "
                                  "of the intensity range, PSNR)")],
        figures=([contract.FigureRef("figures/06_pretraining_curves.png",
                                     f"Pre-training stand-in for ImageNet ({prof.ps.hrnet})")]
                 if pretraining_figure else [])
        + ([contract.FigureRef("figures/06_ps_hrnet_training_curves.png", "PS-HRNet training curves: teacher, VDSR-CA warm-up (where the profile has one) and student")]
           if curves_figure else [])
        + _written(results, [contract.FigureRef("figures/06_restored_images.png", "VDSR-CA: LR input, restored, HR original")]),
        conclusions=list(conclusions),
        metrics={**{f"ps_hrnet_{p}_r1": mean[(p, methods.PS_HRNET)] for p in protocols},
                 # between units (NaN from one unit): check-results' tolerance for the key
                 **{f"ps_hrnet_{p}_r1_unit_std": spread[(p, methods.PS_HRNET)] for p in protocols},
                 **{f"bf_{p}_r1": mean[(p, methods.BF)] for p in protocols},
                 **{k: v for k, v in restoration.items()}},
        counts={**scoring.query_summary(per_trial), "trials": int(per_trial["trial"].nunique())},
        data={"runs": dict(ps_runs), "summary": summary.to_dict(orient="records")}))


def controls_result(results: Path, prof: Profile, ds: ReidDataset, *, protocols: Sequence[str], units: int,
                    per_trial: pd.DataFrame, table: pd.DataFrame, gains: pd.DataFrame, comparisons: pd.DataFrame,
                    rows: Sequence[controls.Control], baseline: str) -> contract.NotebookResult:
    """Notebook 07: every control of RFD's mechanism, its rank-1 change against B-F, paired over
    units, and RFD against ``baseline`` per protocol."""
    rfd_vs_bf = {p: stats.paired_comparison(per_trial[per_trial.protocol == p], controls.RFD, baseline, "R1")
                 for p in protocols}
    conclusions = [f"{p}: " + stats.verdict(c, f"RFD (lambda={prof.eval.lam}) improves rank-1 over B-F")
                   for p, c in rfd_vs_bf.items()]
    conclusions.append(controls.controls_paragraph(gains, comparisons=comparisons))
    write_table(table, results / "tables" / "07_controls")
    write_table(comparisons, results / "tables" / "07_control_gains", floatfmt=".2f")
    write_table(per_trial, results / "tables" / "07_per_trial", floatfmt=".2f")
    metrics = {}
    for p, c in rfd_vs_bf.items():
        metrics.update(stats.gain_metrics(c, p))
        for row in rows:
            if row.name != baseline:
                metrics[f"control_gain_r1_{p}_{row.key}"] = float(gains.loc[row.name, p])
                # its spread over independent units (check-results' tolerance for this key); none from one unit
                cmp = stats.paired_comparison(per_trial[per_trial.protocol == p], row.name, baseline, "R1")
                metrics[f"control_gain_r1_{p}_{row.key}_unit_std"] = cmp.std_diff if cmp.n >= 2 else float("nan")
    paper_dataset = published.paper_dataset_for(ds.name)
    return _write(results, contract.NotebookResult(
        notebook="07_controls", title=f"07 · Controls of RFD's mechanism ({ds.name})",
        parameters={"start": model_store.start_label(prof), "profile": prof.name, "dataset": ds.name,
                    "protocols": list(protocols), "trials": prof.eval.trials, "lam": prof.eval.lam,
                    "reading": prof.eval.rfd_reading, "baseline": baseline},
        tables=[contract.TableRef("tables/07_controls.md",
                                  f"Every control, mean ± std over {units} {trial_eval.unit_kind(ds)}s",
                                  "Each unit trains its own B-F and B-R (and control networks); its trials re-draw "
                                  "query/gallery factors and are averaged inside it."),
                contract.TableRef("tables/07_control_gains.md", f"Rank-1 change against {baseline}, paired over units "
                                  "(95% Student-t interval)")],
        figures=[contract.FigureRef("figures/07_control_gains.png", "Rank-1 change of each control against B-F alone")],
        conclusions=list(conclusions), metrics=metrics,
        counts={**scoring.query_summary(per_trial), "trials": int(per_trial["trial"].nunique()),
                "units": int(per_trial["unit"].nunique())},
        data={"gains_r1": {p: gains[p].to_dict() for p in gains.columns},
              "claims": [stats.claim_row(published.RFD_OVER_BF, f"{ds.name}, lr_query",
                                         published.paper_effect(published.RFD_OVER_BF, paper_dataset),
                                         rfd_vs_bf["lr_query"])] if "lr_query" in rfd_vs_bf and paper_dataset else []}))


def length_sweep_result(results: Path, prof: Profile, ds: ReidDataset, *, lengths: Sequence[int],
                        per_trial: pd.DataFrame, summary: pd.DataFrame, paper_effect: float) -> contract.NotebookResult:
    """Notebook 09: RFD's gain, the multi-resolution training gain and the oracles at each training length,
    against B-F's LR-query rank-1 (:mod:`reidlab.study.compute.length_sweep`)."""
    from reidlab.study.compute import length_sweep

    write_table(summary, results / "tables" / "09_length_sweep", floatfmt=".2f")
    write_table(per_trial, results / "tables" / "09_per_trial", floatfmt=".2f")
    longest = summary[summary.epochs == summary.epochs.max()].set_index("quantity")
    metrics = {"sweep_lengths": float(len(lengths)), "sweep_bf_lr_to_hr_r1_longest":
               float(longest["B-F LR rank-1"].iloc[0]) if len(longest) else float("nan")}
    for name, key in (("RFD gain, LR queries", "rfd_gain_r1_lr_query"),
                      ("multi-resolution training gain", "mlr_gain_r1_lr_query")):
        if name in longest.index:
            metrics[f"sweep_{key}_longest"] = float(longest.loc[name, "change"])
            metrics[f"sweep_{key}_longest_ci_low"] = float(longest.loc[name, "ci_low"])
            metrics[f"sweep_{key}_longest_ci_high"] = float(longest.loc[name, "ci_high"])
    return _write(results, contract.NotebookResult(
        notebook="09_training_length_sweep", title=f"09 · The verdicts against the baselines' strength ({ds.name})",
        parameters={"start": model_store.start_label(prof), "profile": prof.name, "dataset": ds.name,
                    "lengths (epochs)": list(lengths), "trials": prof.eval.trials, "lam": prof.eval.lam,
                    "reading": prof.eval.rfd_reading},
        tables=[contract.TableRef("tables/09_length_sweep.md",
                                  "Each effect at each training length, over independently trained units "
                                  "(95% Student-t interval)",
                                  "B-R and the pre-training stand-in train the same fraction of their own lengths.")],
        figures=[contract.FigureRef("figures/09_length_sweep.png",
                                    "Each effect against B-F's LR-query rank-1 at each training length")],
        conclusions=length_sweep.sweep_conclusions(summary, paper_effect), metrics=metrics,
        counts={"lengths": len(lengths), "trials": int(per_trial["trial"].nunique()),
                "units": int(per_trial["unit"].nunique())},
        data={"summary": summary.to_dict(orient="records")}))


def _write(results: Path, result: contract.NotebookResult) -> contract.NotebookResult:
    contract.write_result(results, result)
    return result


def explorer_result(results: Path, prof: Profile, *, sources: Sequence[str], missing: Mapping[str, str],
                    selection: Mapping[str, Any], ranks: pd.DataFrame, rank1: pd.DataFrame,
                    figure: str | None) -> contract.NotebookResult:
    """Notebook 08: the default selection's ranking at lambda 0 and at the study's lambda, and
    each source's trial rank-1 recomputed from the explorer's stored distances (they must equal
    notebooks 03's and 05's)."""
    write_table(ranks, results / "tables" / "08_selected_query_ranks", floatfmt=".2f")
    write_table(rank1, results / "tables" / "08_rank1_from_stored_distances", floatfmt=".2f")
    first = ranks.set_index("method")["rank of the true match"]
    lam = float(selection["lambda"])
    conclusions = [f"{selection['source']}, trial {selection['trial']}, query {selection['query']}: the true match is at "
                   f"rank {first.iloc[0]} for B-F alone and {first.iloc[1]} for B-F + RFD at lambda {lam:g}."]
    conclusions += [f"no explorer data for {name}: {why}" for name, why in missing.items()]
    figures = [] if figure is None else _written(results, [contract.FigureRef(
        f"figures/{figure}.png", "Fig. 4 row of the selected query at the study's lambda")])
    metrics = {"selected_bf_rank": float(first.iloc[0]) if pd.notna(first.iloc[0]) else float("nan"),
               "selected_rfd_rank": float(first.iloc[1]) if pd.notna(first.iloc[1]) else float("nan")}
    for _, row in rank1.iterrows():
        if row["trial"] == 0:
            metrics[f"rank1_lam0_{row['protocol']}_trial0"] = float(row["R1 at lambda 0"])
            metrics[f"rank1_lam_{row['protocol']}_trial0"] = float(row["R1 at the study's lambda"])
    return _write(results, contract.NotebookResult(
        notebook="08_ranking_explorer", title="08 · Ranking explorer: how lambda changes one query's ranking",
        parameters={"profile": prof.name, "sources": list(sources), **selection},
        tables=[contract.TableRef("tables/08_selected_query_ranks.md", "Rank of the true match of the selected query"),
                contract.TableRef("tables/08_rank1_from_stored_distances.md",
                                  "Rank-1 per trial from the explorer's stored distances (equal to notebooks 03 and 05)")],
        figures=figures, conclusions=conclusions, metrics=metrics))
