"""Cross-resolution evaluation protocols: one :class:`ProtocolSplit` per (dataset, trial, seed).

* :func:`lr_query_protocol` (RFD Tables 1-3): LR queries, HR gallery. Queries are
  down-sampled by a factor drawn from {2, 3, 4} per image (RFD Sec. 3.1), the gallery is HR.
* :func:`multi_res_gallery_protocol` (RFD Tables 4-5): as above, and every gallery image is
  down-sampled too, by a factor drawn from {1, 2, 3, 4}.
* :func:`caviar_protocol`: CAVIAR4REID (RFD Sec. 4.1 / 3.5 / 4.4): identities seen by one
  camera dropped, 25/25 random identity splits, real (not synthetic) resolutions. Single
  resolution: queries from the far camera, a single-shot gallery drawn at random from the
  near one. Multi-resolution: one gallery image per identity drawn from *all* its images,
  every other image a query (so near-camera, HR queries too), no same-camera exclusion.

Fixed-split datasets (Market-1501, DukeMTMC-reID, MSMT17, CUHK03 new protocol,
SynthPeople ``market``) keep their query/gallery split; trials differ by the factor draw.
Single-shot datasets take a random identity split per trial among the identities seen by
two cameras: VIPeR 316/316 (query camera a, gallery camera b), CUHK03 flat 100 test ids,
PRID 100/100 of the 200 two-camera ids (the camera-b-only people join the gallery as
distractors), GRID 125/125 of the 250 pairs (the 775 unpaired images join the gallery),
CAVIAR 25/25. A single-shot gallery holds one image per test identity (VIPeR and PRID
have one anyway; CUHK03 flat draws one of the camera-b images per identity and trial), so
every protocol is evaluated in the plain ``market`` mode.

Natively multi-resolution data (GRID, CAVIAR4REID, SynthPeople ``caviar``) are not
down-sampled: the query camera is the one whose images have the lower median pixel count
(over all two-camera identities); the gallery holds a randomly drawn image of each test
identity from the other camera (CAVIAR's ``multi_res_gallery``: from either camera). With more
than two cameras per dataset (GRID), "camera a" of an identity is the lower camera index among its
images and "camera b" the other. Identity splits record which view the queries come from
(``ProtocolSplit.query_view``).

Two constructions of the synthetic MLR benchmarks (``mlr``, :data:`~reidlab.choices.MLR_CONSTRUCTIONS`):
``per-image`` (the default, RFD Sec. 4.2's wording: each query image at its own random factor, the
gallery HR) and ``camera`` (SING's MLR benchmarks, which RFD and PS-HRNet follow: per test identity the
images of one camera view are down-sampled, each by a factor from {2, 3, 4}, and are its queries, the
images of its other views the HR gallery; per training identity the same, one view LR, and each HR
image of the other views also gets RFD's LR copies). On a fixed split (Market-1501, DukeMTMC-reID) the
test identities' query and gallery images are pooled and re-divided by view; the LR view is drawn per
identity and trial (per identity only, for training). On two-camera identity splits (VIPeR, CUHK03,
PRID) the LR view of a test identity is its query camera, so only the training set changes.

Training sets: on synthetic MLR data every training image appears at x1 (``res_label``
0) and once per factor (``res_label = FACTOR_TO_RES_CLASS[factor]``), ``n_res_classes=4``.
On native multi-resolution data training images are used as stored and ``res_label`` is
the RFD Sec. 3.5 pseudo-label of their pixel count (``n_res_classes = pseudo_bins``,
``res_bin_edges`` the training bin edges; queries and gallery are labelled with the same
edges). Query and gallery records of synthetic data carry the class of their factor.

Everything is a pure function of ``(dataset, trial, seed)`` and the parameters: identity
splits, single-shot picks and factor draws use ``np.random.default_rng([seed, trial,
stable_hash(dataset name + purpose)])``, the same in both protocols (so ``lr_query`` and
``multi_res_gallery`` of one trial share the identity split and the query factors).
``partition_trial`` fixes the identity split to that of another trial (one trained model
evaluated over several trials' factor draws and picks).
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from reidlab.choices import MLR_CONSTRUCTIONS, PROTOCOLS, check_choice
from reidlab.data.mlr import assign_factors, stable_hash
from reidlab.data.pseudo_labels import PSEUDO_STRATEGIES, apply_bins, pseudo_resolution_labels
from reidlab.data.records import FACTOR_TO_RES_CLASS, ImageRecord, ProtocolSplit, ReidDataset

__all__ = [
    "PROTOCOL_NAMES", "CAVIAR_NAMES", "relabel", "lr_query_protocol",
    "multi_res_gallery_protocol", "caviar_protocol", "build_protocol", "carve_validation",
    "multi_resolution_validation",
]

PROTOCOL_NAMES: tuple[str, ...] = PROTOCOLS   # reidlab.choices
#: Datasets in CAVIAR4REID layout, evaluated with :func:`caviar_protocol`.
CAVIAR_NAMES: tuple[str, ...] = ("caviar", "synth-caviar")
#: Test identities per trial where it is not half of the two-camera identities.
DEFAULT_N_TEST: dict[str, int] = {"cuhk03": 100}
#: Identity that marks gallery distractors in a single-shot dataset (official GRID).
_DISTRACTOR_PID: dict[str, int] = {"grid": 0}
#: Resolution classes of the synthetic MLR training set (HR, x2, x3, x4).
N_SYNTHETIC_RES_CLASSES = len(FACTOR_TO_RES_CLASS)


def relabel(pids: Iterable[int]) -> list[int]:
    """Map each pid to its rank among the sorted distinct pids (contiguous 0..C-1).

    Pids must be integers (``int`` or numpy integers); a string or float pid is refused
    with a ``TypeError`` naming its position, not a numpy error further on.
    """
    pids = list(pids)
    for i, pid in enumerate(pids):
        if isinstance(pid, (bool, np.bool_)) or not isinstance(pid, (int, np.integer)):
            raise TypeError(f"relabel: pid must be an int, got {type(pid).__name__} {pid!r} "
                            f"at position {i}; parse identity labels with int()")
    index = {pid: i for i, pid in enumerate(sorted(set(pids)))}
    return [index[pid] for pid in pids]


# ---------------------------------------------------------------------------- checks
def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_factors(factors: Sequence[int]) -> tuple[int, ...]:
    valid = sorted(f for f in FACTOR_TO_RES_CLASS if f > 1)
    out = tuple(int(f) for f in factors)
    if not out or len(set(out)) != len(out) or any(f not in valid for f in out):
        raise ValueError(f"factors must be distinct values among {valid} (the resolution "
                         f"classes of FACTOR_TO_RES_CLASS), got {tuple(factors)!r}")
    return out


def _check_pseudo(pseudo_bins: int, pseudo_strategy: str) -> None:
    _check_int("pseudo_bins", pseudo_bins, 1)
    if pseudo_strategy not in PSEUDO_STRATEGIES:
        raise ValueError(f"pseudo_strategy={pseudo_strategy!r} is not valid; choose one of: "
                         f"{', '.join(PSEUDO_STRATEGIES)}")


def _check_optional(n_test: int | None, partition_trial: int | None) -> None:
    if n_test is not None:
        _check_int("n_test", n_test, 1)
    if partition_trial is not None:
        _check_int("partition_trial", partition_trial, 0)


def _rng(seed: int, trial: int, purpose: str) -> np.random.Generator:
    return np.random.default_rng([seed, trial, stable_hash(purpose)])


# ----------------------------------------------------------------- record transforms
def _at(records: Iterable[ImageRecord], factor: int = 1) -> tuple[ImageRecord, ...]:
    """Records at one factor, labelled with its synthetic resolution class."""
    return tuple(dataclasses.replace(r, factor=factor, res_label=FACTOR_TO_RES_CLASS[factor])
                 for r in records)


def _draw(records: Sequence[ImageRecord], factors: Sequence[int], seed: int, trial: int,
          purpose: str) -> tuple[ImageRecord, ...]:
    """Each record at a factor drawn from ``factors`` (seeded by ``purpose``)."""
    drawn = assign_factors(len(records), factors, seed=seed, trial=trial, salt=purpose)
    return tuple(dataclasses.replace(r, factor=int(f), res_label=FACTOR_TO_RES_CLASS[int(f)])
                 for r, f in zip(records, drawn))


def _mlr_train(records: Sequence[ImageRecord], factors: Sequence[int], lr_copies: int, seed: int,
               name: str) -> tuple[ImageRecord, ...]:
    """The MLR training set (RFD Sec. 3.1): every training image at x1 and ``lr_copies`` LR
    copies of it, each at a different factor drawn from ``factors`` (the paper: one copy, so
    HR:LR = 1:1); ``lr_copies >= len(factors)``: one copy at every factor. The draw depends on
    the seed and the dataset only, so the trials of a fixed split train on the same records."""
    records = list(records)
    if lr_copies >= len(factors):
        chosen = [list(factors)] * len(records)
    else:
        rng = np.random.default_rng([seed, stable_hash(f"{name}:mlr-train")])
        chosen = [sorted(int(f) for f in rng.choice(factors, size=lr_copies, replace=False)) for _ in records]
    return tuple(rec for r, fs in zip(records, chosen) for rec in (*_at([r], 1), *(_at([r], f)[0] for f in fs)))


def _by_pid(records: Iterable[ImageRecord]) -> dict[int, list[ImageRecord]]:
    out: dict[int, list[ImageRecord]] = defaultdict(list)
    for r in records:
        out[r.pid].append(r)
    return dict(sorted(out.items()))


def _lr_views(by_pid: dict[int, list[ImageRecord]], seed: int, trial: int, purpose: str) -> dict[int, int]:
    """Per identity seen by >= 2 cameras, the camera whose images are down-sampled (seeded)."""
    rng = _rng(seed, trial, purpose)
    views = {}
    for pid, records in by_pid.items():
        cams = sorted({r.camid for r in records})
        if len(cams) >= 2:
            views[pid] = cams[int(rng.integers(len(cams)))]
    return views


def _camera_train(records: Sequence[ImageRecord], factors: Sequence[int], lr_copies: int, seed: int,
                  name: str, lr_view: dict[int, int] | None = None) -> tuple[ImageRecord, ...]:
    """The ``camera`` construction's training set: per identity the images of one camera view
    (``lr_view``, default drawn per identity with the seed only) at a factor drawn from ``factors``,
    LR only; every other image at x1 with RFD's ``lr_copies`` LR copies (:func:`_mlr_train`)."""
    records = list(records)
    views = lr_view if lr_view is not None else _lr_views(_by_pid(records), seed, 0, f"{name}:train-lr-view")
    lr = [r for r in records if views.get(r.pid) == r.camid]
    hr = [r for r in records if views.get(r.pid) != r.camid]
    return (*_draw(lr, factors, seed, 0, f"{name}:train-lr"), *_mlr_train(hr, factors, lr_copies, seed, name))


def _pseudo_labelled(train: Sequence[ImageRecord], query: Sequence[ImageRecord],
                     gallery: Sequence[ImageRecord], bins: int, strategy: str
                     ) -> tuple[tuple[ImageRecord, ...], tuple[ImageRecord, ...],
                                tuple[ImageRecord, ...], tuple[float, ...]]:
    """Label train (and, with the training edges, query/gallery) by pixel count (Sec. 3.5)."""
    _, edges = pseudo_resolution_labels([r.pixel_count for r in train], bins, strategy,
                                        names=[r.path for r in train])

    def label(records: Sequence[ImageRecord]) -> tuple[ImageRecord, ...]:
        if not records:
            return ()
        labels = apply_bins([r.pixel_count for r in records], edges)
        return tuple(dataclasses.replace(r, factor=1, res_label=int(lab))
                     for r, lab in zip(records, labels))

    return label(train), label(query), label(gallery), tuple(float(e) for e in edges)


# ---------------------------------------------------------------------- fixed splits
def _fixed_split(protocol: str, dataset: ReidDataset, trial: int, seed: int,
                 factors: tuple[int, ...], lr_copies: int, mlr: str = "per-image") -> ProtocolSplit:
    if not (dataset.train and dataset.query and dataset.gallery):
        raise ValueError(f"{dataset.name}: a fixed-split dataset needs train, query and "
                         "gallery images")
    check_disjoint_identities(dataset)
    name = dataset.name
    if mlr == "camera":
        return _fixed_split_by_camera(protocol, dataset, trial, seed, factors, lr_copies)
    query = _draw(dataset.query, factors, seed, trial, f"{name}:query")
    if protocol == "multi_res_gallery":
        gallery = _draw(dataset.gallery, (1, *factors), seed, trial, f"{name}:gallery")
    else:
        gallery = _at(dataset.gallery, 1)
    return ProtocolSplit(protocol=protocol, dataset=name, trial=trial,
                         train=_mlr_train(dataset.train, factors, lr_copies, seed, name), query=query,
                         gallery=gallery, n_res_classes=N_SYNTHETIC_RES_CLASSES)


def _fixed_split_by_camera(protocol: str, dataset: ReidDataset, trial: int, seed: int,
                           factors: tuple[int, ...], lr_copies: int) -> ProtocolSplit:
    """The ``camera`` construction on a fixed split: the test identities' query and gallery images
    pooled; per identity seen by >= 2 cameras one view (drawn per trial) is its LR queries, the
    others its HR gallery; identities seen by one camera, distractors and junk stay in the gallery."""
    name = dataset.name
    ignored = {-1, _DISTRACTOR_PID.get(name, 0)}
    test = [*dataset.query, *dataset.gallery]
    people = _by_pid(r for r in test if r.pid not in ignored)
    views = _lr_views(people, seed, trial, f"{name}:test-lr-view")
    query = [r for r in test if views.get(r.pid) == r.camid]
    rest = [r for r in test if views.get(r.pid) != r.camid]
    query_d = _draw(query, factors, seed, trial, f"{name}:query")
    gallery = (_draw(rest, (1, *factors), seed, trial, f"{name}:gallery") if protocol == "multi_res_gallery"
               else _at(rest, 1))
    return ProtocolSplit(protocol=protocol, dataset=name, trial=trial,
                         train=_camera_train(dataset.train, factors, lr_copies, seed, name), query=query_d,
                         gallery=gallery, n_res_classes=N_SYNTHETIC_RES_CLASSES)


def check_disjoint_identities(dataset: ReidDataset) -> None:
    """Refuse a fixed split whose training identities reappear among its test images (query or
    gallery): the test would score identities the model was trained on. Junk (-1) and the
    dataset's distractor label are not identities."""
    ignored = {-1, _DISTRACTOR_PID.get(dataset.name)}
    train_pids = {r.pid for r in dataset.train} - ignored
    leaked = sorted({r.pid for r in (*dataset.query, *dataset.gallery)} & train_pids)
    if not leaked:
        return
    pid = leaked[0]
    train_files = sorted(r.path for r in dataset.train if r.pid == pid)[:3]
    test_files = sorted(r.path for r in (*dataset.query, *dataset.gallery) if r.pid == pid)[:3]
    raise ValueError(
        f"{dataset.name}: {len(leaked)} identit{'y is' if len(leaked) == 1 else 'ies are'} in both the training "
        f"and the test images ({', '.join(map(str, leaked[:10]))}{' ...' if len(leaked) > 10 else ''}): "
        f"identity {pid} in training ({', '.join(train_files)}) and in test ({', '.join(test_files)}); "
        "test identities must not be trained on: remove or rename those files")


# ------------------------------------------------------------ identity-split datasets
@dataclasses.dataclass(frozen=True)
class _Identities:
    """Images grouped for an identity split.

    ``views[pid] = (camera-a images, camera-b images)`` for identities seen by at least
    two cameras (camera a = the lowest camera index of the identity); ``singles`` holds
    the images of identities seen by one camera and of distractor pids.
    """

    paired: tuple[int, ...]
    views: dict[int, tuple[tuple[ImageRecord, ...], tuple[ImageRecord, ...]]]
    singles: tuple[ImageRecord, ...]


def _group(dataset: ReidDataset) -> _Identities:
    distractor = _DISTRACTOR_PID.get(dataset.name)
    singles = [r for r in dataset.images if r.pid == distractor]
    views = {}
    for pid, records in _by_pid(r for r in dataset.images if r.pid not in (-1, distractor)).items():
        cam_a = min(r.camid for r in records)
        a = tuple(r for r in records if r.camid == cam_a)
        b = tuple(r for r in records if r.camid != cam_a)
        if b:
            views[pid] = (a, b)
        else:
            singles.extend(records)
    return _Identities(paired=tuple(views), views=views, singles=tuple(singles))


def _query_view(ids: _Identities, native: bool) -> int:
    """0 (camera a) unless native and camera b has the lower median pixel count."""
    if not native:
        return 0
    medians = [np.median([r.pixel_count for pid in ids.paired for r in ids.views[pid][v]])
               for v in (0, 1)]
    return 0 if medians[0] <= medians[1] else 1


#: Fewest identities seen by two cameras a random identity split needs (1 train + 1 test).
MIN_SPLIT_IDENTITIES = 2


def _split_ids(name: str, root: str, paired: tuple[int, ...], n_test: int | None, seed: int,
               trial: int) -> tuple[list[int], list[int]]:
    if len(paired) < MIN_SPLIT_IDENTITIES:
        raise ValueError(
            f"{name}: {len(paired)} identit{'y' if len(paired) == 1 else 'ies'} seen by two "
            f"cameras in {root}; a random identity split needs at least "
            f"{MIN_SPLIT_IDENTITIES} (1 train + 1 test)")
    n = DEFAULT_N_TEST.get(name, len(paired) // 2) if n_test is None else n_test
    if not 1 <= n < len(paired):
        raise ValueError(
            f"{name}: {n} test identities need more than {n} identities seen by two "
            f"cameras, found {len(paired)}" + ("" if n_test is not None else
                                               "; pass n_test= for a smaller dataset"))
    order = _rng(seed, trial, f"{name}:split").permutation(len(paired))
    test = sorted(paired[i] for i in order[:n])
    train = sorted(paired[i] for i in order[n:])
    return train, test


def _identity_split(protocol: str, dataset: ReidDataset, trial: int, seed: int,
                    factors: tuple[int, ...], pseudo_bins: int, pseudo_strategy: str,
                    n_test: int | None, partition_trial: int | None,
                    drop_singles: bool, lr_copies: int = 1, all_camera_queries: bool = False,
                    mlr: str = "per-image") -> ProtocolSplit:
    """``all_camera_queries``: the gallery image of each test identity is drawn from all its
    images and every other image is a query (RFD's multi-resolution CAVIAR setting), ranked
    without the same-camera exclusion."""
    name, native = dataset.name, dataset.multi_resolution
    ids = _group(dataset)
    split_trial = trial if partition_trial is None else partition_trial
    train_ids, test_ids = _split_ids(name, dataset.root, ids.paired, n_test, seed, split_trial)
    qv = _query_view(ids, native)
    pick_rng = _rng(seed, trial, f"{name}:gallery-pick")
    query, gallery = [], []
    for pid in test_ids:
        if all_camera_queries:
            candidates = (*ids.views[pid][0], *ids.views[pid][1])
            pick = int(pick_rng.integers(len(candidates)))
            gallery.append(candidates[pick])
            query += [r for i, r in enumerate(candidates) if i != pick]
        else:
            candidates = ids.views[pid][1 - qv]
            gallery.append(candidates[int(pick_rng.integers(len(candidates)))])
            query += ids.views[pid][qv]
    if not drop_singles:
        # Native data: every unpaired image; camera-based sets: those of camera b (PRID).
        gallery += [r for r in ids.singles if native or r.camid == 1]
    train = [r for pid in train_ids for view in ids.views[pid] for r in view]

    if native:
        train_l, query_l, gallery_l, edges = _pseudo_labelled(
            train, query, gallery, pseudo_bins, pseudo_strategy)
        return ProtocolSplit(protocol=protocol, dataset=name, trial=trial, train=train_l,
                             query=query_l, gallery=gallery_l, n_res_classes=pseudo_bins,
                             res_bin_edges=edges, cross_camera=not all_camera_queries, query_view=qv)
    query_d = _draw(query, factors, seed, trial, f"{name}:query")
    if protocol == "multi_res_gallery":
        gallery_d = _draw(gallery, (1, *factors), seed, trial, f"{name}:gallery")
    else:
        gallery_d = _at(gallery, 1)
    if mlr == "camera":   # each training identity's query-camera view is its LR one, as for the test identities
        query_cam = {pid: ids.views[pid][qv][0].camid for pid in train_ids}
        train_records = _camera_train(train, factors, lr_copies, seed, name, lr_view=query_cam)
    else:
        train_records = _mlr_train(train, factors, lr_copies, seed, name)
    return ProtocolSplit(protocol=protocol, dataset=name, trial=trial,
                         train=train_records, query=query_d, gallery=gallery_d,
                         n_res_classes=N_SYNTHETIC_RES_CLASSES, query_view=qv)


# -------------------------------------------------------------------------- public API
def caviar_protocol(dataset: ReidDataset, trial: int = 0, seed: int = 0,
                    multi_res: bool = False, *, pseudo_bins: int = 5,
                    pseudo_strategy: str = "equal-width", n_test: int | None = None,
                    partition_trial: int | None = None) -> ProtocolSplit:
    """CAVIAR4REID protocol: two-camera identities only (50 of 72 on the real set), a
    random half (25) for testing per identity split (``partition_trial``, default ``trial``).
    Single resolution: queries from the lower-resolution (far) camera, a single-shot gallery
    image per identity drawn at random from the other camera (per ``trial``). ``multi_res``
    (RFD Sec. 4.4): the gallery image is drawn from all the identity's images ("from all the
    resolutions"), every other image is a query, HR ones included, and a query may match a
    gallery image of its own camera. Training images carry pseudo-resolution labels (Sec. 3.5).
    """
    if dataset.name not in CAVIAR_NAMES:
        raise ValueError(f"caviar_protocol needs a CAVIAR4REID-layout dataset "
                         f"({', '.join(CAVIAR_NAMES)}), got {dataset.name!r}")
    trial, seed = _check_int("trial", trial, 0), _check_int("seed", seed, 0)
    _check_pseudo(pseudo_bins, pseudo_strategy)
    _check_optional(n_test, partition_trial)
    protocol = "multi_res_gallery" if multi_res else "lr_query"
    native = dataclasses.replace(dataset, multi_resolution=True)
    return _identity_split(protocol, native, trial, seed, (2, 3, 4), pseudo_bins,
                           pseudo_strategy, n_test, partition_trial, drop_singles=True,
                           all_camera_queries=multi_res)


def _run(protocol: str, dataset: ReidDataset, trial: int, seed: int, factors: Sequence[int],
         pseudo_bins: int, pseudo_strategy: str, n_test: int | None,
         partition_trial: int | None, lr_copies: int = 1, mlr: str = "per-image") -> ProtocolSplit:
    check_choice("mlr", mlr, MLR_CONSTRUCTIONS)
    trial, seed = _check_int("trial", trial, 0), _check_int("seed", seed, 0)
    factors = _check_factors(factors)
    _check_pseudo(pseudo_bins, pseudo_strategy)
    _check_optional(n_test, partition_trial)
    lr_copies = _check_int("lr_copies", lr_copies, 1)
    if dataset.name in CAVIAR_NAMES:
        return caviar_protocol(dataset, trial, seed, protocol == "multi_res_gallery",
                               pseudo_bins=pseudo_bins, pseudo_strategy=pseudo_strategy,
                               n_test=n_test, partition_trial=partition_trial)
    if dataset.fixed_split:
        return _fixed_split(protocol, dataset, trial, seed, factors, lr_copies, mlr)
    return _identity_split(protocol, dataset, trial, seed, factors, pseudo_bins,
                           pseudo_strategy, n_test, partition_trial, drop_singles=False, lr_copies=lr_copies,
                           mlr=mlr)


def lr_query_protocol(dataset: ReidDataset, trial: int = 0, seed: int = 0,
                      factors: Sequence[int] = (2, 3, 4), *, pseudo_bins: int = 5,
                      pseudo_strategy: str = "equal-width", n_test: int | None = None,
                      partition_trial: int | None = None, lr_copies: int = 1,
                      mlr: str = "per-image") -> ProtocolSplit:
    """LR queries (factor drawn from ``factors`` per image), HR gallery (RFD Tables 1-3).

    Single-shot datasets only: ``n_test`` overrides the number of test identities
    (default: half of the two-camera identities, 100 for CUHK03 flat), and
    ``partition_trial`` takes the identity split of that trial while the factor draws and
    single-shot picks still follow ``trial`` (to evaluate one trained model over several
    trials). ``pseudo_*`` apply to native multi-resolution data, where ``factors`` are
    not used. ``lr_copies``: LR copies of each training image in the MLR training set, each
    at another factor (RFD Sec. 3.1: 1, HR:LR = 1:1; ``len(factors)``: one at every factor).
    ``mlr``: ``"per-image"`` or ``"camera"`` (one view per identity down-sampled; module docstring).
    Natively multi-resolution data are never down-sampled, whatever ``mlr`` says.
    """
    return _run("lr_query", dataset, trial, seed, factors, pseudo_bins, pseudo_strategy,
                n_test, partition_trial, lr_copies, mlr)


def multi_res_gallery_protocol(dataset: ReidDataset, trial: int = 0, seed: int = 0,
                               factors: Sequence[int] = (2, 3, 4), *, pseudo_bins: int = 5,
                               pseudo_strategy: str = "equal-width",
                               n_test: int | None = None,
                               partition_trial: int | None = None, lr_copies: int = 1,
                               mlr: str = "per-image") -> ProtocolSplit:
    """LR queries and a multi-resolution gallery, factors from {1} + ``factors`` (Tables 4-5).

    Parameters as in :func:`lr_query_protocol`.
    """
    return _run("multi_res_gallery", dataset, trial, seed, factors, pseudo_bins,
                pseudo_strategy, n_test, partition_trial, lr_copies, mlr)


def build_protocol(name: str, dataset: ReidDataset, trial: int = 0, seed: int = 0, *,
                   factors: Sequence[int] = (2, 3, 4), pseudo_bins: int = 5,
                   pseudo_strategy: str = "equal-width", n_test: int | None = None,
                   partition_trial: int | None = None, lr_copies: int = 1,
                   mlr: str = "per-image") -> ProtocolSplit:
    """Protocol ``name`` (one of :data:`PROTOCOL_NAMES`) for one trial of ``dataset``.

    Parameters as in :func:`lr_query_protocol`.
    """
    if name not in PROTOCOL_NAMES:
        raise ValueError(f"unknown protocol {name!r}; choose one of: {', '.join(PROTOCOL_NAMES)}")
    return _run(name, dataset, trial, seed, factors, pseudo_bins, pseudo_strategy, n_test,
                partition_trial, lr_copies, mlr)


def carve_validation(split: ProtocolSplit, n_ids: int, seed: int = 0,
                     factors: Sequence[int] = (2, 3, 4)) -> tuple[ProtocolSplit, ProtocolSplit]:
    """Hold out ``n_ids`` *training* identities for validation: ``(train, validation)``.

    The validation identities are drawn (seeded) among the training identities seen by at
    least two cameras, at most a fifth of those (at least 2), so a small training set
    (CAVIAR's 25 identities: 5 held out) keeps most of its identities; every training
    record of the held-out identities leaves the training set. The
    validation split mirrors ``lr_query`` on them: the gallery holds each of their images
    at full resolution, the query the same images down-sampled by a factor drawn from
    ``factors`` (natively multi-resolution training images, whose factor is always 1, are
    queried as stored). Under ``mlr="camera"``, whose training set holds one view per identity
    at its LR factor only, the query is that LR view and the gallery the other views' HR images.
    Market-style evaluation then ignores an image's own HR copy (same identity and camera), so
    every query is matched against the other camera's images.
    Learning curves and hyper-parameters (lambda, pseudo-label bins) are chosen on it,
    never on test identities.
    """
    _check_int("n_ids", n_ids, 1)
    stored = [r for r in split.train if r.factor == 1 and r.pid >= 0]
    cameras: dict[int, set[int]] = defaultdict(set)
    for r in split.train:   # the camera construction's LR view is in the training set at its factor only
        if r.pid >= 0:
            cameras[r.pid].add(r.camid)
    eligible = sorted(pid for pid, cams in cameras.items() if len(cams) >= 2)
    n_train_ids = len({r.pid for r in stored})
    n_ids = min(n_ids, max(2, len(eligible) // 5))
    if n_ids >= len(eligible) or n_train_ids - n_ids < 2:
        raise ValueError(
            f"{split.dataset}: cannot hold out {n_ids} validation identities: the training set has "
            f"{n_train_ids} identities, {len(eligible)} of them seen by two cameras (at least 2 must "
            "stay for training); lower val_ids")
    # independent of the trial: trials that train on the same records share one validation set
    rng = _rng(seed, 0, f"{split.dataset}:validation")
    held = set(int(p) for p in rng.choice(eligible, size=n_ids, replace=False))
    train = tuple(r for r in split.train if r.pid not in held)
    gallery = tuple(dataclasses.replace(r, res_label=-1) for r in stored if r.pid in held)
    hr_views = {(r.pid, r.camid) for r in gallery}
    lr_only = tuple(dataclasses.replace(r, res_label=-1) for r in split.train
                    if r.pid in held and r.factor > 1 and (r.pid, r.camid) not in hr_views)
    synthetic = any(r.factor > 1 for r in split.train)
    if lr_only:   # mlr="camera": the held-out identities' LR views query their HR views, as on test identities
        query = lr_only
    else:
        query = _draw(gallery, _check_factors(factors), seed, 0, f"{split.dataset}:validation-query") \
            if synthetic else gallery
    validation = dataclasses.replace(split, protocol="validation", train=(), query=query, gallery=gallery)
    return dataclasses.replace(split, train=train), validation


def multi_resolution_validation(validation: ProtocolSplit, factors: Sequence[int] = (2, 3, 4),
                                seed: int = 0) -> ProtocolSplit:
    """The validation split of :func:`carve_validation` with its gallery drawn at factors
    {1} + ``factors`` (seeded, independent of the trial), mirroring ``multi_res_gallery`` on the
    validation identities."""
    gallery = _draw(validation.gallery, (1, *_check_factors(factors)), seed, 0,
                    f"{validation.dataset}:validation-gallery")
    return dataclasses.replace(validation, gallery=gallery)
