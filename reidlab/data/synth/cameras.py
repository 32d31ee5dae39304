"""SynthPeople cameras and views: scene photometry, viewpoint, pose, framing, occluders."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reidlab.data.synth._common import RGB, VARIANTS, _S_CAMERA, _rng
from reidlab.data.synth.identities import PARTS, VIEWS, _MARKET_JPEG_QUALITY, _pick

# --------------------------------------------------------------------------- cameras and views


@dataclass(frozen=True)
class CameraSpec:
    """One camera: its scene, photometry and viewing statistics.

    ``gain``/``cast``/``gamma`` shape illumination and colour; ``noise`` is the sensor
    noise std (0-255 scale); ``blur`` the Gaussian blur radius in output pixels;
    ``view_probs`` the probabilities of front/back/side views; ``distance`` the range of
    crop heights as fractions of the HR height (caviar); ``jpeg_quality`` a half-open range.
    """

    index: int
    scene_seed: int
    wall_top: RGB
    wall_bottom: RGB
    floor_far: RGB
    floor_near: RGB
    wall_texture: str
    texture_scale: float
    horizon: float
    gain: float
    cast: tuple[float, float, float]
    gamma: float
    noise: float
    blur: float
    view_probs: tuple[float, float, float]
    distance: tuple[float, float]
    jpeg_quality: tuple[int, int]


def _color(rng: np.random.Generator, lo: int, hi: int) -> RGB:
    base = rng.uniform(lo, hi)
    tint = rng.normal(0.0, 14.0, size=3)
    return tuple(int(np.clip(base + t, 0, 255)) for t in tint)  # type: ignore[return-value]


#: Market-like: the probability that an image's background is its own camera's scene; otherwise
#: it is the scene of a camera drawn uniformly from all of the dataset's (people walk past the
#: same kinds of place in every view), so the background alone does not name the camera
MARKET_OWN_SCENE = 0.0


def sample_camera(seed: int, index: int, variant: str = "market") -> CameraSpec:
    """Camera ``index`` (0-based) of a dataset; caviar camera 1 (0-based) is the farther one."""
    rng = _rng(seed, _S_CAMERA, VARIANTS.index(variant), index)
    views = rng.dirichlet((3.0, 3.0, 2.0))
    if variant == "caviar":
        # CAVIAR4REID's crops are about 39-150 px high: a near camera (index 0) and a far one
        # (index 1), as fractions of the largest crop height (overlapping, like the real views)
        distance = (0.45, 1.0) if index == 0 else (0.26, 0.55)
        quality = (60, 93)
        blur = float(rng.uniform(0.2, 0.8))
    else:
        distance = (1.0, 1.0)
        quality = (_MARKET_JPEG_QUALITY, _MARKET_JPEG_QUALITY + 1)
        blur = float(rng.uniform(0.15, 0.45))
    # Market-like cameras differ in photometry by about as much as one camera's lighting varies
    # from image to image (ViewSpec.brightness), so that, with the scenes they share
    # (MARKET_OWN_SCENE), the camera is about as weak a cue as in real Market-1501 (issue 22)
    spread = 1.0 if variant == "caviar" else 0.2
    return CameraSpec(
        index=index,
        scene_seed=int(rng.integers(2**32)),
        wall_top=_color(rng, 70, 200), wall_bottom=_color(rng, 60, 190),
        floor_far=_color(rng, 70, 170), floor_near=_color(rng, 60, 160),
        wall_texture=_pick(rng, ("bricks", "tiles", "panels", "blotches")),
        texture_scale=float(rng.uniform(0.05, 0.12)),
        horizon=float(rng.uniform(0.55, 0.75)),
        gain=float(0.95 + spread * rng.uniform(-0.25, 0.25)),
        cast=tuple(float(c) for c in 1.0 + spread * rng.uniform(-0.12, 0.12, size=3)),  # type: ignore[arg-type]
        gamma=float(1.0 + spread * rng.uniform(-0.15, 0.15)),
        noise=float(4.25 + spread * rng.uniform(-2.75, 2.75)),
        blur=blur,
        view_probs=tuple(float(v) for v in views),  # type: ignore[arg-type]
        distance=distance,
        jpeg_quality=quality,
    )


@dataclass(frozen=True)
class Occluder:
    """A box (``kind="box"``, from the bottom) or a pole in front of the person.

    Geometry in fractions of the canvas: ``x``, ``y`` top-left, ``w``, ``h`` size.
    """

    kind: str
    x: float
    y: float
    w: float
    h: float
    color: RGB


@dataclass(frozen=True)
class ViewSpec:
    """Everything that changes from one image of a person to the next.

    ``stride`` and ``arm_spread`` are angles in radians; ``scale`` is the person height
    as a fraction of the canvas height; ``shift`` the (x, y) offset of the person in
    canvas fractions; ``scene`` the index of the camera whose scene is the background
    (:data:`MARKET_OWN_SCENE`); ``bg_offset`` where in that scene the crop lies (0-1);
    ``jitter`` per-part RGB multipliers in :data:`PARTS` order; ``noise_seed`` seeds
    the sensor noise.
    """

    view: str
    mirrored: bool
    phase: float
    stride: float
    arm_spread: float
    scale: float
    shift: tuple[float, float]
    scene: int
    bg_offset: float
    brightness: float
    jitter: tuple[tuple[float, float, float], ...]
    occluder: Occluder | None
    noise_seed: int


def _sample_occluder(rng: np.random.Generator) -> Occluder:
    color = _color(rng, 40, 200)
    if rng.random() < 0.5:
        w = float(rng.uniform(0.35, 0.9))
        h = float(rng.uniform(0.15, 0.42))
        x = float(rng.choice([-0.1, 1.1 - w]) + rng.uniform(-0.1, 0.1))
        return Occluder("box", x, 1.0 - h, w, h + 0.01, color)
    w = float(rng.uniform(0.08, 0.18))
    return Occluder("pole", float(rng.uniform(0.0, 1.0 - w)), 0.0, w, 1.0, color)


def sample_view(rng: np.random.Generator, camera: CameraSpec, *, junk: bool = False,
                n_scenes: int = 1) -> ViewSpec:
    """One image's viewpoint, pose, framing, background scene, lighting jitter and occluder.

    ``n_scenes`` > 1 (Market-like: the dataset's cameras) lets the background be another
    camera's scene (:data:`MARKET_OWN_SCENE`); 1 keeps every image in its own camera's scene.

    ``junk=True`` frames a bad detection: the person is zoomed in and shifted so that only
    a fragment is visible (Market-1501's ``-1`` images).
    """
    view = VIEWS[int(rng.choice(len(VIEWS), p=camera.view_probs))]
    mirrored = view == "side" and bool(rng.random() < 0.5)
    if junk:
        scale = float(rng.uniform(1.5, 2.6))
        shift = (float(rng.uniform(-0.35, 0.35)), float(rng.uniform(-0.45, 0.2)))
    else:
        scale = float(rng.uniform(0.80, 0.93))
        shift = (float(np.clip(rng.normal(0.0, 0.04), -0.12, 0.12)),
                 float(np.clip(rng.normal(0.0, 0.015), -0.04, 0.04)))
    jitter = tuple(
        tuple(float(v) for v in (1.0 + rng.normal(0.0, 0.045, size=3)) * rng.uniform(0.9, 1.1))
        for _ in PARTS)
    return ViewSpec(
        view=view, mirrored=mirrored,
        phase=float(rng.uniform(0.0, 2.0 * math.pi)),
        stride=float(rng.uniform(0.16, 0.42)),
        arm_spread=float(rng.uniform(0.10, 0.24)),
        scale=scale, shift=shift,
        scene=(camera.index if n_scenes <= 1 or rng.random() < MARKET_OWN_SCENE
               else int(rng.integers(n_scenes))),
        bg_offset=float(rng.random()),
        brightness=float(rng.uniform(0.88, 1.12)),
        jitter=jitter,  # type: ignore[arg-type]
        occluder=_sample_occluder(rng) if rng.random() < 0.12 else None,
        noise_seed=int(rng.integers(2**32)),
    )


