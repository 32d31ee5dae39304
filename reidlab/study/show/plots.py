"""Figures of the study: data samples, training curves, Fig. 4 rankings, Fig. 5 per split, lambda sweep.

Each public figure function returns a :class:`~reidlab.study.show.figures.FigureSource` (the numbers or
pictures the figure shows, and which renderer draws them); :func:`savefig` stores it, renders it
and shows it in the notebook, and ``make figures`` renders the stored sources again
(:mod:`reidlab.study.show.figures`). The ``_draw_*`` functions, registered as renderers, are the only
code that draws.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

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
from reidlab.study.show.figures import COLUMN_WIDTH, TEXT_WIDTH, FigureSource, publish  # noqa: E402

#: renderer name -> the function drawing a :class:`FigureSource` of that name (each ``_draw_*`` below);
#: what :func:`savefig`, ``make figures`` and the explorer render with
RENDERERS: dict[str, Callable[[FigureSource], Any]] = {}


def renderer(name: str) -> Callable[[Callable[[FigureSource], Any]], Callable[[FigureSource], Any]]:
    """Register a drawing function under ``name`` in :data:`RENDERERS` (decorator)."""
    def register(fn: Callable[[FigureSource], Any]) -> Callable[[FigureSource], Any]:
        RENDERERS[name] = fn
        return fn
    return register


def _uint8(images) -> np.ndarray:
    """Images as uint8 (floats in [0, 1] scaled), as they are stored and drawn. A nested list of
    images of different sizes (a natively multi-resolution dataset: GRID, CAVIAR4REID) is first
    laid on one common canvas size (:func:`common_canvas`), so it stacks into one array."""
    if isinstance(images, (list, tuple)):
        images = common_canvas(images)
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    return arr


def _image_leaves(images) -> list[np.ndarray]:
    """The (H, W, C) images of a nested list of images, in order."""
    if isinstance(images, (list, tuple)):
        return [leaf for item in images for leaf in _image_leaves(item)]
    return [np.asarray(images)]


def common_canvas(images, *, fill: float | int | None = None):
    """A nested list of (H, W, C) images with every image laid, at its own pixel size, bottom-
    aligned and centred, on a canvas of the largest height and width among them (``fill``: the
    background, white by default: 255 for uint8, 1.0 for floats). Images that already share one
    size are returned as given; nothing is resized, so a small image stays visibly small."""
    leaves = _image_leaves(images)
    if not leaves or len({leaf.shape for leaf in leaves}) == 1:
        return images
    if any(leaf.ndim != 3 for leaf in leaves) or len({leaf.shape[2] for leaf in leaves}) != 1:
        raise ValueError(f"images to lay on one canvas must be (H, W, C) with one channel count; got shapes "
                         f"{sorted({leaf.shape for leaf in leaves})[:4]}")
    height = max(leaf.shape[0] for leaf in leaves)
    width = max(leaf.shape[1] for leaf in leaves)

    def lay(item):
        if isinstance(item, (list, tuple)):
            return [lay(x) for x in item]
        item = np.asarray(item)
        white = fill if fill is not None else (255 if item.dtype == np.uint8 else 1.0)
        canvas = np.full((height, width, item.shape[2]), white, dtype=item.dtype)
        left = (width - item.shape[1]) // 2
        canvas[height - item.shape[0]:, left:left + item.shape[1]] = item
        return canvas

    return lay(images)


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
                interpolation: str = "bicubic", upsampling: str = "bilinear", seed: int = 0) -> FigureSource:
    """One row per degradation factor (x1 = HR), one column per identity."""
    by_pid: dict[int, ImageRecord] = {}
    for r in records:
        if r.pid > 0 and r.factor == 1:
            by_pid.setdefault(r.pid, r)
    pids = sorted(by_pid)
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(pids, size=min(n_ids, len(pids)), replace=False).tolist())
    images = [[np.asarray(record_image(ImageRecord(**{**by_pid[pid].__dict__, "factor": f}), interpolation,
                                       upsampling=upsampling).convert("RGB")) for pid in chosen] for f in factors]
    return FigureSource("image_grid", arrays={"images": _uint8(images)}, options={
        "row_labels": ["HR" if f == 1 else f"x{f}" for f in factors], "col_titles": [f"id {pid}" for pid in chosen],
        "title": f"Sample identities at every resolution ({interpolation} down, {upsampling} up)"})


@renderer("image_grid")
def _draw_image_grid(src: FigureSource):
    images = src.arrays["images"]
    rows, cols = images.shape[:2]
    opt = src.options
    fig, axes = plt.subplots(rows, cols, figsize=(min(TEXT_WIDTH, 0.9 * cols), 1.7 * rows), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(images[r, c]); ax.set_xticks([]); ax.set_yticks([]); ax.grid(False)
            if c == 0 and opt.get("row_labels"):
                ax.set_ylabel(opt["row_labels"][r])
            if r == 0 and opt.get("col_titles"):
                ax.set_title(opt["col_titles"][c])
    fig.suptitle(opt.get("title", ""))
    fig.tight_layout()
    return fig


def native_size_grid(records: Sequence[ImageRecord], *, n: int = 12, seed: int = 0) -> FigureSource:
    """Images of a natively multi-resolution dataset drawn at their own pixel size."""
    rng = np.random.default_rng(seed)
    idx = sorted(rng.choice(len(records), size=min(n, len(records)), replace=False).tolist())
    canvas = compose_row([load_image(records[i].path) for i in idx], frames=None)
    return FigureSource("canvas", arrays={"canvas": _uint8(np.asarray(canvas))},
                        options={"title": "Images at native resolution (pixel-true scale)", "pixels_per_inch": 60})


@renderer("canvas")
def _draw_canvas(src: FigureSource):
    """One composed picture (rows of images at their pixel size) at ``pixels_per_inch``."""
    canvas = src.arrays["canvas"]
    ppi = float(src.options.get("pixels_per_inch", 60))
    fig, ax = plt.subplots(figsize=(canvas.shape[1] / ppi, canvas.shape[0] / ppi + 0.5))
    ax.imshow(canvas, interpolation="nearest"); ax.axis("off")
    ax.set_title(src.options.get("title", ""))
    fig.tight_layout()
    return fig


def size_histogram(pixel_counts: Sequence[float], edges: Sequence[float] | None = None, *,
                   title: str = "") -> FigureSource:
    """Histogram of image pixel counts with the pseudo-label bin edges (RFD Sec. 3.5)."""
    return FigureSource("size_histogram", frames={"sizes": pd.DataFrame({"pixels": np.asarray(pixel_counts, float)})},
                        options={"edges": None if edges is None else [float(e) for e in edges],
                                 "title": title or "Image sizes and pseudo-resolution bin edges"})


@renderer("size_histogram")
def _draw_size_histogram(src: FigureSource):
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 2.6))
    ax.hist(src.frames["sizes"]["pixels"].to_numpy(float), bins=40, color="#4c72b0", alpha=0.85)
    for e in src.options.get("edges") or ():
        ax.axvline(e, color="#c44e52", ls="--", lw=1)
    ax.set_xlabel("pixels per image (w x h)")
    ax.set_ylabel("images")
    ax.set_title(src.options["title"])
    fig.tight_layout()
    return fig


def training_curves(metrics: Mapping[str, pd.DataFrame], *, columns: Sequence[str] = ("loss", "acc"),
                    smooth: int = 10) -> FigureSource:
    """Loss and accuracy against iteration for one or more runs (``metrics.csv`` frames, by label)."""
    names = list(metrics)
    return FigureSource("training_curves", frames={f"run{i}": metrics[n] for i, n in enumerate(names)},
                        options={"labels": names, "columns": list(columns), "smooth": int(smooth)})


@renderer("training_curves")
def _draw_training_curves(src: FigureSource):
    metrics = dict(zip(src.options["labels"], src.frames.values()))
    smooth = src.options["smooth"]
    cols = [c for c in src.options["columns"] if any(c in df.columns for df in metrics.values())]
    fig, axes = plt.subplots(1, len(cols), figsize=(TEXT_WIDTH, 2.5), squeeze=False)
    for ax, col in zip(axes[0], cols):
        for name, df in metrics.items():
            if col in df.columns:
                y = df[col].rolling(smooth, min_periods=1).mean()
                ax.plot(df["iteration"], y, label=name)
        ax.set_xlabel("iteration"); ax.set_ylabel(col); ax.legend()
    fig.tight_layout()
    return fig


def run_logs(runs: Mapping[str, Path], name: str = "metrics.csv") -> dict[str, pd.DataFrame]:
    """Each run's training log (``<run>/metrics.csv``) by the run's label; runs without one are left out."""
    return {label: pd.read_csv(Path(d) / name) for label, d in runs.items() if (Path(d) / name).is_file()}


def validation_curves(runs: Mapping[str, Path], *, columns: Sequence[str] = ("R1", "mAP"), chance: float | None = None,
                      title: str = "held-out (validation) identities") -> FigureSource:
    """Held-out metrics against iteration (each run's ``validation.csv``), with chance as a
    dotted line; runs without a validation log are named in the title."""
    frames = {name: pd.read_csv(Path(d) / "validation.csv") for name, d in runs.items()
              if (Path(d) / "validation.csv").is_file()}
    missing = [name for name in runs if name not in frames]
    names = list(frames)
    return FigureSource("validation_curves", frames={f"run{i}": frames[n] for i, n in enumerate(names)},
                        options={"labels": names, "columns": list(columns), "chance": chance,
                                 "title": title + (f" (no validation log: {', '.join(missing)})" if missing else "")})


@renderer("validation_curves")
def _draw_validation_curves(src: FigureSource):
    frames = dict(zip(src.options["labels"], src.frames.values()))
    columns, chance = src.options["columns"], src.options.get("chance")
    cols = [c for c in columns if any(c in df.columns for df in frames.values())] or list(columns[:1])
    fig, axes = plt.subplots(1, len(cols), figsize=(TEXT_WIDTH, 2.5), squeeze=False)
    for ax, col in zip(axes[0], cols):
        for name, df in frames.items():
            if col in df.columns:
                ax.plot(df["iteration"], df[col], marker="o", label=name)
        if chance is not None:
            ax.axhline(chance, ls=":", c="grey", label="chance")
        ax.set_xlabel("iteration"); ax.set_ylabel(f"{col} (%)"); ax.set_ylim(0, 100); ax.legend()
    fig.suptitle(src.options["title"])
    fig.tight_layout()
    return fig


def confusion_matrix_plot(cm: np.ndarray, labels: Sequence[str], *,
                          title: str = "B-R resolution confusion") -> FigureSource:
    """Counts of true (rows) against predicted (columns) classes, shaded row-normalised."""
    return FigureSource("confusion", frames={"counts": pd.DataFrame(np.asarray(cm, dtype=np.int64))},
                        options={"labels": [str(x) for x in labels], "title": title})


@renderer("confusion")
def _draw_confusion(src: FigureSource):
    cm = src.frames["counts"].to_numpy(dtype=float)
    labels = src.options["labels"]
    norm = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
    fig, ax = plt.subplots(figsize=(max(COLUMN_WIDTH, 0.75 * len(labels) + 1.6), 0.6 * len(labels) + 1.3))
    sns.heatmap(norm, annot=cm.astype(int), fmt="d", cmap="Blues", vmin=0, vmax=1, ax=ax,
                xticklabels=labels, yticklabels=labels, cbar_kws={"label": "row-normalised"})
    ax.set_xlabel("predicted"); ax.set_ylabel("true"); ax.set_title(src.options["title"])
    fig.tight_layout()
    return fig


def per_split_plot(per_trial: pd.DataFrame, *, methods: Sequence[str], metric: str = "R1",
                   title: str = "Fig. 5: rank-1 per random split") -> FigureSource:
    """Fig. 5 of RFD: one line per method, identity splits (units: the mean over their trials,
    each trial a dot) on the x-axis."""
    frame = per_trial if "unit" in per_trial.columns else per_trial.assign(unit=per_trial["trial"])
    return FigureSource("per_split", frames={"per_trial": frame[["trial", "unit", "method", metric]]},
                        options={"methods": list(methods), "metric": metric, "title": title})


@renderer("per_split")
def _draw_per_split(src: FigureSource):
    frame, metric = src.frames["per_trial"], src.options["metric"]
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 2.8))
    for m, marker in zip(src.options["methods"], "osD^v"):
        d = frame[frame["method"] == m]
        mean = d.groupby("unit")[metric].mean()
        line, = ax.plot(mean.index + 1, mean.values, marker=marker, label=m)
        ax.scatter(d["unit"] + 1, d[metric], s=8, alpha=0.4, color=line.get_color())
    ax.set_xlabel("identity split (each retrained)"); ax.set_ylabel(f"{metric} (%)")
    ax.set_xticks(sorted(frame["unit"].unique() + 1))
    ax.set_title(src.options["title"]); ax.legend()
    fig.tight_layout()
    return fig


def lambda_sweep_plot(sweep: pd.DataFrame, *, metric: str = "R1", title: str = "RFD lambda sweep") -> FigureSource:
    """Mean over trials with a +-1 std band, one line per Eq. 8 reading."""
    return FigureSource("lambda_sweep", frames={"sweep": sweep[["trial", "reading", "lam", metric]]},
                        options={"metric": metric, "title": title})


@renderer("lambda_sweep")
def _draw_lambda_sweep(src: FigureSource):
    metric = src.options["metric"]
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 2.8))
    sns.lineplot(data=src.frames["sweep"], x="lam", y=metric, hue="reading", errorbar="sd", marker="o", ax=ax)
    ax.set_xlabel("lambda (Eq. 8)"); ax.set_ylabel(f"{metric} (%)"); ax.set_title(src.options["title"])
    fig.tight_layout()
    return fig


def length_sweep_plot(summary: pd.DataFrame, *, paper_effect: float,
                      title: str = "What each effect does as B-F gets stronger") -> FigureSource:
    """Each sweep quantity's change (mean over units, 95% interval as error bars) against B-F's LR-query
    rank-1 at each training length (:func:`reidlab.study.compute.length_sweep.sweep_summary`), the paper's own RFD
    effect dashed."""
    return FigureSource("length_sweep", frames={"summary": summary}, options={"paper_effect": paper_effect,
                                                                             "title": title})


@renderer("length_sweep")
def _draw_length_sweep(src: FigureSource):
    summary = src.frames["summary"]
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 3.2))
    for name, rows in summary.groupby("quantity", sort=False):
        rows = rows.sort_values("B-F LR rank-1")
        x, y = rows["B-F LR rank-1"].to_numpy(), rows["change"].to_numpy()
        low, high = rows["ci_low"].to_numpy(), rows["ci_high"].to_numpy()
        err = np.vstack([np.where(np.isnan(low), 0, y - low), np.where(np.isnan(high), 0, high - y)])
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name)
        for xi, yi, epochs in zip(x, y, rows["epochs"]):
            ax.annotate(f"{int(epochs)} ep", (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=6)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.axhline(src.options["paper_effect"], color="grey", linestyle="--", linewidth=0.8,
               label=f"RFD's own gain (paper, {src.options['paper_effect']:+.1f})")
    ax.set_xlabel("B-F rank-1 on LR queries (%)"); ax.set_ylabel("rank-1 change (points)")
    ax.set_title(src.options["title"]); ax.legend(fontsize=6, loc="best")
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
    :meth:`~reidlab.study.compute.scoring.SplitFeatures.ids`, which puts every query and gallery image of a
    protocol without the camera rule on different cameras)."""
    order = np.argsort(np.asarray(distances), kind="stable")
    return [int(j) for j in order if not (g_pids[j] == q_pid and g_cams[j] == q_cam)][:topk]


def ranking_figure(query: Sequence[ImageRecord], gallery: Sequence[ImageRecord], distmat: np.ndarray, *,
                   query_indices: Sequence[int], topk: int = 10, interpolation: str = "bicubic",
                   cameras: tuple[np.ndarray, np.ndarray] | None = None,
                   title: str = "Fig. 4: top-10 matches (true match framed green)") -> FigureSource:
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
    return FigureSource("canvas", arrays={"canvas": _uint8(np.asarray(canvas))},
                        options={"title": title, "pixels_per_inch": 50})


def ranking_figure_for(feats, *, lam: float, reading: str, n_queries: int = 5, topk: int = 10, seed: int = 0,
                       interpolation: str = "bicubic", feature_model: str = "bf", resolution_model: str = "br",
                       title: str = "Fig. 4: top-10 matches (true match framed green)"):
    """:func:`ranking_figure` for ``n_queries`` queries drawn with ``seed`` from one split's
    features (:class:`~reidlab.study.compute.scoring.SplitFeatures`), ranked by Eq. 8 with ``lam`` and
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
    """One confusion-matrix figure per :class:`~reidlab.study.compute.inspection.HeldOutConfusion` (by kind:
    ``02_br_confusion`` for the factor classes, ``02_br_confusion_pseudo`` for pseudo-labels)."""
    return {f"02_br_confusion{'' if kind == 'factor classes' else '_pseudo'}": confusion_matrix_plot(
                c.matrix, c.names, title=f"B-R ({kind}, {c.dataset}), held-out images: accuracy {c.accuracy:.1f}%")
            for kind, c in confusions.items()}


def people_figures_folder(results: str | Path, dataset: str, runs: str | Path) -> Path:
    """Where a figure that shows people goes: ``<results>/figures`` for SynthPeople (drawn by the
    project itself); for real re-identification images, whose licences forbid republishing them,
    ``<runs>/people_figures/<dataset>/`` (git-ignored, on this machine only), never a results folder."""
    return Path(results) / "figures" if dataset.startswith("synth-") else Path(runs) / "people_figures" / dataset


def savefigs(figures: Mapping[str, FigureSource], folder: str | Path, *, show: bool = True) -> list[Path]:
    """:func:`savefig` each figure as ``<folder>/<stem>`` (stem: its key)."""
    return [path for stem, fig in figures.items() for path in savefig(fig, Path(folder) / stem, show=show)]


def savefig(source: FigureSource, stem: str | Path, *, show: bool = True) -> list[Path]:
    """Store the figure's data (``<folder>/data/<name>/``), render it under the project's style and
    write ``<stem>.png`` and ``.pdf`` (:func:`reidlab.study.show.figures.publish`), then show the PNG
    in the notebook that made it (:func:`show_png`: the very bytes of the file). A figure of real
    people written for a ``make reproduce`` run is saved but not shown (:func:`may_show`)."""
    paths = publish(source, stem, RENDERERS)
    if show and may_show(stem):
        show_png(paths[0])
    return paths


def may_show(stem: str | Path) -> bool:
    """Whether a figure saved at ``stem`` may appear in its notebook's outputs: always, except a
    figure of a real dataset's people (:func:`people_figures_folder`) in a run of ``make
    reproduce``, whose executed notebook is committed under ``results/`` (their licences
    forbid republishing the images)."""
    from reidlab.study.show.contract import REPRODUCE_ENV
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
                     title: str = "VDSR-CA: LR input, restored, HR original") -> FigureSource:
    """Columns of (LR input, restored, HR) triplets, one per example."""
    return FigureSource("restoration", arrays={"lr": _uint8(lr), "restored": _uint8(restored), "hr": _uint8(hr)},
                        options={"factors": [int(f) for f in factors], "title": title})


@renderer("restoration")
def _draw_restoration(src: FigureSource):
    lr, restored, hr = (src.arrays[k] for k in ("lr", "restored", "hr"))
    factors = src.options.get("factors") or []
    n = len(lr)
    fig, axes = plt.subplots(3, n, figsize=(min(TEXT_WIDTH, 0.9 * n), 5.0), squeeze=False)
    for i in range(n):
        for row, (img, name) in enumerate(((lr, "LR input"), (restored, "restored"), (hr, "HR original"))):
            ax = axes[row, i]
            ax.imshow(img[i]); ax.set_xticks([]); ax.set_yticks([]); ax.grid(False)
            if i == 0:
                ax.set_ylabel(name)
        if factors:
            axes[0, i].set_title(f"x{factors[i]}")
    fig.suptitle(src.options["title"])
    fig.tight_layout()
    return fig


def control_gains_plot(gains: pd.DataFrame, *, title: str = "Controls: rank-1 change against B-F alone") -> FigureSource:
    """Horizontal bars: each control's mean rank-1 change (rows) per protocol (columns)."""
    return FigureSource("control_gains", frames={"gains": gains.rename_axis("control").reset_index()},
                        options={"title": title})


@renderer("control_gains")
def _draw_control_gains(src: FigureSource):
    gains = src.frames["gains"].set_index("control")
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 0.35 * len(gains) + 1.3))
    gains.iloc[::-1].plot.barh(ax=ax)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("rank-1 change against B-F alone (points, mean over units)")
    ax.set_ylabel("")
    ax.set_title(src.options["title"])
    ax.legend()
    fig.tight_layout()
    return fig
