"""Figures of the study: data samples, training curves, Fig. 4 rankings, Fig. 5 per split, lambda sweep."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from reidlab.data import degrade, load_image  # noqa: E402
from reidlab.data.mlr import check_interpolation  # noqa: E402
from reidlab.data.records import ImageRecord  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")


def record_image(record: ImageRecord, interpolation: str = "bicubic", native: bool = False,
                 upsampling: str = "bilinear") -> Image.Image:
    """The image as a model sees it: stored file degraded by ``record.factor`` (down-sampled
    with ``interpolation``, up-sampled back with ``upsampling``).

    ``native=True`` returns the low-resolution image itself (down-sampled, not re-upsampled),
    to show how few pixels an LR query really has.
    """
    img = load_image(record.path)
    if record.factor > 1:
        if native:
            w, h = img.size
            return img.resize((max(1, w // record.factor), max(1, h // record.factor)),
                              check_interpolation(interpolation))
        img = degrade(img, record.factor, interpolation=interpolation, upsampling=upsampling)
    return img


def sample_grid(records: Sequence[ImageRecord], *, n_ids: int = 6, factors: Sequence[int] = (1, 2, 3, 4),
                interpolation: str = "bicubic", upsampling: str = "bilinear", seed: int = 0):
    """One row per identity, one column per degradation factor (x1 = HR)."""
    by_pid: dict[int, ImageRecord] = {}
    for r in records:
        if r.pid > 0 and r.factor == 1:
            by_pid.setdefault(r.pid, r)
    pids = sorted(by_pid)
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(pids, size=min(n_ids, len(pids)), replace=False).tolist())
    fig, axes = plt.subplots(len(factors), len(chosen), figsize=(1.3 * len(chosen), 2.4 * len(factors)),
                             squeeze=False)
    for col, pid in enumerate(chosen):
        for row, f in enumerate(factors):
            rec = ImageRecord(**{**by_pid[pid].__dict__, "factor": f})
            ax = axes[row, col]
            ax.imshow(record_image(rec, interpolation, upsampling=upsampling))
            ax.set_xticks([]); ax.set_yticks([])
            if col == 0:
                ax.set_ylabel("HR" if f == 1 else f"x{f}")
            if row == 0:
                ax.set_title(f"id {pid}", fontsize=9)
    fig.suptitle(f"Sample identities at every resolution ({interpolation} down, {upsampling} up)")
    fig.tight_layout()
    return fig


def native_size_grid(records: Sequence[ImageRecord], *, n: int = 12, seed: int = 0):
    """Images of a natively multi-resolution dataset drawn at their own pixel size."""
    rng = np.random.default_rng(seed)
    idx = sorted(rng.choice(len(records), size=min(n, len(records)), replace=False).tolist())
    canvas = compose_row([load_image(records[i].path) for i in idx], frames=None)
    fig, ax = plt.subplots(figsize=(canvas.width / 60, canvas.height / 60 + 0.6))
    ax.imshow(canvas); ax.axis("off")
    ax.set_title("Images at native resolution (pixel-true scale)")
    return fig


def size_histogram(pixel_counts: Sequence[float], edges: Sequence[float] | None = None, *, title: str = ""):
    """Histogram of image pixel counts with the pseudo-label bin edges (RFD Sec. 3.5)."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(np.asarray(pixel_counts, dtype=float), bins=40, color="#4c72b0", alpha=0.85)
    if edges is not None:
        for e in edges:
            ax.axvline(e, color="#c44e52", ls="--", lw=1)
    ax.set_xlabel("pixels per image (w x h)")
    ax.set_ylabel("images")
    ax.set_title(title or "Image sizes and pseudo-resolution bin edges")
    fig.tight_layout()
    return fig


def training_curves(metrics: Mapping[str, pd.DataFrame], *, columns: Sequence[str] = ("loss", "acc"),
                    smooth: int = 10):
    """Loss and accuracy against iteration for one or more runs (``metrics.csv`` frames)."""
    cols = [c for c in columns if any(c in df.columns for df in metrics.values())]
    fig, axes = plt.subplots(1, len(cols), figsize=(5.5 * len(cols), 3.2), squeeze=False)
    for ax, col in zip(axes[0], cols):
        for name, df in metrics.items():
            if col in df.columns:
                y = df[col].rolling(smooth, min_periods=1).mean()
                ax.plot(df["iteration"], y, label=name)
        ax.set_xlabel("iteration"); ax.set_ylabel(col); ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def run_logs(runs: Mapping[str, Path], name: str = "metrics.csv") -> dict[str, pd.DataFrame]:
    """Each run's training log (``<run>/metrics.csv``) by the run's label; runs without one are left out."""
    return {label: pd.read_csv(Path(d) / name) for label, d in runs.items() if (Path(d) / name).is_file()}


def validation_curves(runs: Mapping[str, Path], *, columns: Sequence[str] = ("R1", "mAP"), chance: float | None = None,
                      title: str = "held-out (validation) identities"):
    """Held-out metrics against iteration (each run's ``validation.csv``), with chance as a
    dotted line; runs without a validation log are named in the title."""
    frames = {name: pd.read_csv(Path(d) / "validation.csv") for name, d in runs.items()
              if (Path(d) / "validation.csv").is_file()}
    missing = [name for name in runs if name not in frames]
    cols = [c for c in columns if any(c in df.columns for df in frames.values())] or list(columns[:1])
    fig, axes = plt.subplots(1, len(cols), figsize=(5.5 * len(cols), 3.2), squeeze=False)
    for ax, col in zip(axes[0], cols):
        for name, df in frames.items():
            if col in df.columns:
                ax.plot(df["iteration"], df[col], marker="o", ms=3, label=name)
        if chance is not None:
            ax.axhline(chance, ls=":", c="grey", label="chance")
        ax.set_xlabel("iteration"); ax.set_ylabel(f"{col} (%)"); ax.set_ylim(0, 100); ax.legend(fontsize=8)
    fig.suptitle(title + (f" (no validation log: {', '.join(missing)})" if missing else ""), fontsize=10)
    fig.tight_layout()
    return fig


def confusion_matrix_plot(cm: np.ndarray, labels: Sequence[str], *, title: str = "B-R resolution confusion"):
    cm = np.asarray(cm, dtype=float)
    norm = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
    fig, ax = plt.subplots(figsize=(1.1 * len(labels) + 2, 1.0 * len(labels) + 1.5))
    sns.heatmap(norm, annot=cm.astype(int), fmt="d", cmap="Blues", vmin=0, vmax=1, ax=ax,
                xticklabels=labels, yticklabels=labels, cbar_kws={"label": "row-normalised"})
    ax.set_xlabel("predicted"); ax.set_ylabel("true"); ax.set_title(title)
    fig.tight_layout()
    return fig


def per_split_plot(per_trial: pd.DataFrame, *, methods: Sequence[str], metric: str = "R1",
                   title: str = "Fig. 5: rank-1 per random split"):
    """Fig. 5 of RFD: one line per method, identity splits (units: the mean over their trials,
    each trial a dot) on the x-axis."""
    frame = per_trial if "unit" in per_trial.columns else per_trial.assign(unit=per_trial["trial"])
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for m, marker in zip(methods, "osD^v"):
        d = frame[frame["method"] == m]
        mean = d.groupby("unit")[metric].mean()
        line, = ax.plot(mean.index + 1, mean.values, marker=marker, label=m)
        ax.scatter(d["unit"] + 1, d[metric], s=10, alpha=0.4, color=line.get_color())
    ax.set_xlabel("identity split (each retrained)"); ax.set_ylabel(f"{metric} (%)")
    ax.set_xticks(sorted(frame["unit"].unique() + 1))
    ax.set_title(title); ax.legend()
    fig.tight_layout()
    return fig


def lambda_sweep_plot(sweep: pd.DataFrame, *, metric: str = "R1", title: str = "RFD lambda sweep"):
    """Mean over trials with a +-1 std band, one line per Eq. 8 reading."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    sns.lineplot(data=sweep, x="lam", y=metric, hue="reading", errorbar="sd", marker="o", ax=ax)
    ax.set_xlabel("lambda (Eq. 8)"); ax.set_ylabel(f"{metric} (%)"); ax.set_title(title)
    fig.tight_layout()
    return fig


def compose_row(images: Sequence[Image.Image], frames: Sequence[str | None] | None, *, pad: int = 4,
                gap_after_first: int = 14) -> Image.Image:
    """Images side by side at their own pixel size, bottom-aligned, with optional coloured frames."""
    heights = [im.height for im in images]
    width = sum(im.width + 2 * pad for im in images) + gap_after_first
    canvas = Image.new("RGB", (width, max(heights) + 2 * pad), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for i, im in enumerate(images):
        y = canvas.height - pad - im.height
        canvas.paste(im, (x + pad, y))
        colour = frames[i] if frames else None
        if colour:
            draw.rectangle([x + pad - 3, y - 3, x + pad + im.width + 2, y + im.height + 2], outline=colour, width=3)
        x += im.width + 2 * pad + (gap_after_first if i == 0 else 0)
    return canvas


def displayed_ranking(distances: np.ndarray, q_pid: int, q_cam: int, g_pids: np.ndarray, g_cams: np.ndarray,
                      topk: int) -> list[int]:
    """The first ``topk`` gallery indices of one query, ranked as the scored protocol ranks them
    (:func:`reidlab.metrics.evaluate_rank`'s rule: ascending distance, stable, a gallery image of
    the query's identity *and* camera discarded; pass the cameras as scored, e.g.
    :meth:`~reidlab.study.scoring.SplitFeatures.ids`, which puts every query and gallery image of a
    protocol without the camera rule on different cameras)."""
    order = np.argsort(np.asarray(distances), kind="stable")
    return [int(j) for j in order if not (g_pids[j] == q_pid and g_cams[j] == q_cam)][:topk]


def ranking_figure(query: Sequence[ImageRecord], gallery: Sequence[ImageRecord], distmat: np.ndarray, *,
                   query_indices: Sequence[int], topk: int = 10, interpolation: str = "bicubic",
                   cameras: tuple[np.ndarray, np.ndarray] | None = None,
                   title: str = "Fig. 4: top-10 matches (true match framed green)"):
    """Fig. 4 of RFD: each query (blue frame) with its top-k gallery matches at native resolution,
    ranked by :func:`displayed_ranking` (``cameras``: query and gallery cameras as scored; default
    the records' own)."""
    distmat = np.asarray(distmat)
    g_pids = np.array([r.pid for r in gallery])
    q_cams, g_cams = cameras if cameras is not None else (np.array([r.camid for r in query]),
                                                          np.array([r.camid for r in gallery]))
    rows = []
    for qi in query_indices:
        q = query[qi]
        keep = displayed_ranking(distmat[qi], q.pid, q_cams[qi], g_pids, g_cams, topk)
        imgs = [record_image(q, interpolation, native=True)] + \
               [record_image(gallery[j], interpolation, native=True) for j in keep]
        frames = ["#1f77b4"] + ["#2ca02c" if gallery[j].pid == q.pid else "#d62728" for j in keep]
        rows.append(compose_row(imgs, frames))
    width = max(r.width for r in rows)
    canvas = Image.new("RGB", (width, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        canvas.paste(r, (0, y)); y += r.height
    scale = 2.0
    fig, ax = plt.subplots(figsize=(canvas.width * scale / 100, canvas.height * scale / 100 + 0.5))
    ax.imshow(canvas, interpolation="nearest"); ax.axis("off"); ax.set_title(title)
    fig.tight_layout()
    return fig


def ranking_figure_for(feats, *, lam: float, reading: str, n_queries: int = 5, topk: int = 10, seed: int = 0,
                       interpolation: str = "bicubic", feature_model: str = "bf", resolution_model: str = "br",
                       title: str = "Fig. 4: top-10 matches (true match framed green)"):
    """:func:`ranking_figure` for ``n_queries`` queries drawn with ``seed`` from one split's
    features (:class:`~reidlab.study.scoring.SplitFeatures`), ranked by Eq. 8 with ``lam`` and
    with the split's own camera rule, exactly as it is scored."""
    from reidlab.metrics import fused_distance

    q, g = feats.split.query, feats.split.gallery
    dist = fused_distance(feats.query[feature_model], feats.gallery[feature_model], feats.query[resolution_model],
                          feats.gallery[resolution_model], lam=lam, reading=reading).cpu().numpy()
    _, _, q_cams, g_cams = feats.ids()
    chosen = sorted(np.random.default_rng(seed).choice(len(q), size=min(n_queries, len(q)), replace=False).tolist())
    return ranking_figure(q, g, dist, query_indices=chosen, topk=min(topk, len(g)), interpolation=interpolation,
                          cameras=(q_cams, g_cams), title=title)


def fig4_rankings(feats, *, lam: float, reading: str, n_queries: int = 5, topk: int = 10, seed: int = 0,
                  interpolation: str = "bicubic") -> dict[str, object]:
    """Fig. 4 for B-F + RFD (``fig4_rankings_rfd``, Eq. 8 with ``lam``) and for B-F alone
    (``fig4_rankings_bf``, lambda 0) on the same queries of one split (:func:`ranking_figure_for`)."""
    return {f"fig4_rankings_{name}": ranking_figure_for(
                feats, lam=lam_, reading=reading, n_queries=n_queries, topk=topk, seed=seed, interpolation=interpolation,
                title=f"Fig. 4 ({label}): query (blue) and top-{topk}; true match green, others red")
            for name, lam_, label in (("rfd", lam, "B-F + RFD"), ("bf", 0.0, "B-F alone"))}


def br_confusion_figures(confusions) -> dict[str, object]:
    """One confusion-matrix figure per :class:`~reidlab.study.inspection.HeldOutConfusion` (by kind:
    ``02_br_confusion`` for the factor classes, ``02_br_confusion_pseudo`` for pseudo-labels)."""
    return {f"02_br_confusion{'' if kind == 'factor classes' else '_pseudo'}": confusion_matrix_plot(
                c.matrix, c.names, title=f"B-R ({kind}, {c.dataset}), held-out images: accuracy {c.accuracy:.1f}%")
            for kind, c in confusions.items()}


def people_figures_folder(results: str | Path, dataset: str, runs: str | Path) -> Path:
    """Where a figure that shows people goes: ``<results>/figures`` for SynthPeople (drawn by the
    project itself); for real re-identification images, whose licences forbid republishing them,
    ``<runs>/people_figures/<dataset>/`` (git-ignored, on this machine only), never a results folder."""
    return Path(results) / "figures" if dataset.startswith("synth-") else Path(runs) / "people_figures" / dataset


def savefigs(figures: Mapping[str, object], folder: str | Path, *, show: bool = True) -> list[Path]:
    """:func:`savefig` each figure as ``<folder>/<stem>`` (stem: its key)."""
    return [path for stem, fig in figures.items() for path in savefig(fig, Path(folder) / stem, show=show)]


def close(fig) -> None:
    plt.close(fig)


def savefig(fig, stem: str | Path, *, show: bool = True) -> list[Path]:
    """Save ``fig`` as ``<stem>.png`` and ``.svg`` (atomically), show the PNG in the notebook
    that made it (:func:`show_png`: the very bytes of the file) and close the figure (so that
    Lab's inline backend does not show it twice). A figure of real people written for a
    ``make reproduce`` run is saved but not shown (:func:`may_show`)."""
    from reidlab.study.io import save_figure

    paths = save_figure(fig, stem)
    if show and may_show(stem):
        show_png(paths[0])
    close(fig)
    return paths


def may_show(stem: str | Path) -> bool:
    """Whether a figure saved at ``stem`` may appear in its notebook's outputs: always, except a
    figure of a real dataset's people (:func:`people_figures_folder`) in a run of ``make
    reproduce``, whose executed notebook is committed under ``results/`` (their licences
    forbid republishing the images)."""
    from reidlab.study.contract import REPRODUCE_ENV
    import os

    return not ("people_figures" in Path(stem).parts and os.environ.get(REPRODUCE_ENV) == "1")


def show_png(path: str | Path) -> bool:
    """Display the PNG file ``path`` as an image output of the running notebook (Jupyter
    kernel only; elsewhere nothing happens). Returns whether it was displayed."""
    try:
        from IPython import get_ipython
        from IPython.display import Image as IPyImage, display
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return False
    display(IPyImage(data=Path(path).read_bytes(), format="png"))
    return True


def restoration_grid(lr: np.ndarray, restored: np.ndarray, hr: np.ndarray, *, factors: Sequence[int] = (),
                     title: str = "VDSR-CA: LR input, restored, HR original"):
    """Columns of (LR input, restored, HR) triplets, one per example."""
    n = len(lr)
    fig, axes = plt.subplots(3, n, figsize=(1.3 * n, 6.6), squeeze=False)
    for i in range(n):
        for row, (img, name) in enumerate(((lr, "LR input"), (restored, "restored"), (hr, "HR original"))):
            ax = axes[row, i]
            ax.imshow(img[i]); ax.set_xticks([]); ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(name)
        if factors:
            axes[0, i].set_title(f"x{factors[i]}", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def control_gains_plot(gains: pd.DataFrame, *, title: str = "Controls: rank-1 change against B-F alone"):
    """Horizontal bars: each control's mean rank-1 change (rows) per protocol (columns)."""
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(gains) + 1.6))
    gains.iloc[::-1].plot.barh(ax=ax)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("rank-1 change against B-F alone (points, mean over units)")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
