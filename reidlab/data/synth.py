"""SynthPeople: a procedural, seeded pedestrian dataset written in real dataset layouts.

The embedded default dataset of the study. It is built to make *cross-resolution* re-id
genuinely hard rather than a toy:

* Identities have **coarse** attributes that survive low resolution (garment colours and
  styles, hair, skin tone, build, bag) and **fine** attributes that vanish below about a
  quarter of the HR size (a zero-mean luminance texture on the upper garment, a logo of a
  few pixels, shoe colour, a thin belt).
* Identities come in **confusable groups** of 2-4 that share every coarse attribute and
  differ only in fine ones, so a low-resolution query is ambiguous against an HR gallery.
* Colours come from small palettes with per-image jitter and per-camera colour casts, so
  colour alone does not identify a person.
* Cameras have their own background scene, illumination, colour cast, sensor noise and
  blur; every image has its own viewpoint (front/back/side, side views mirrored), walking
  pose, scale, shift and an occasional occluder.

Two variants:

``market``
    Market-1501 layout: ``bounding_box_train/``, ``bounding_box_test/``, ``query/`` with
    ``PPPP_cCs1_FFFFFF_00.jpg`` files, all at ``hr_size``. The first half of the pids
    train, the second half test; every identity is seen by >= 2 cameras. A test identity
    puts one image of every camera where it has >= 2 images into ``query`` and the rest
    into ``bounding_box_test``, so every query has a cross-camera gallery match.
    Distractors (``0000``) and junk (``-1``, bad detections) are added to the gallery.
``caviar``
    CAVIAR4REID layout: a flat folder of ``PPPPIII.jpg`` (images 001-010 camera 1,
    011-020 camera 2), with native multi-resolution crops whose heights vary over about
    4x; camera 2 is farther away on average; about 30% of identities are seen by camera 1
    only.

Everything is a pure function of the parameters: every image draws its randomness from a
``numpy`` generator keyed by ``(seed, stream, identity, camera, image)``, so the same seed
gives byte-identical files regardless of generation order.
"""
from __future__ import annotations

import abc
import functools
import json
import math
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from reidlab.paths import remove_stale_temporaries, temporary_name
from reidlab.progress import tqdm

__all__ = [
    "GENERATOR_VERSION", "MANIFEST_NAME", "VARIANTS", "COARSE_ATTRIBUTES", "FINE_ATTRIBUTES",
    "IdentitySpec", "CameraSpec", "Occluder", "ViewSpec", "SynthManifestMismatchError",
    "sample_identities", "sample_camera", "sample_view", "render_image",
    "synth_dataset_dirname", "make_synth_dataset", "remove_generation_leftovers",
]

#: Bump whenever the rendered pixels or the layout change: existing datasets then no
#: longer match their manifest and are refused instead of silently reused.
GENERATOR_VERSION = 1
MANIFEST_NAME = "synth_manifest.json"
VARIANTS: tuple[str, ...] = ("market", "caviar")

RGB = tuple[int, int, int]

# --------------------------------------------------------------------------- palettes

UPPER_COLORS: dict[str, RGB] = {
    "black": (38, 38, 42), "white": (218, 218, 212), "grey": (128, 128, 132),
    "navy": (38, 48, 98), "blue": (52, 98, 178), "red": (172, 42, 42),
    "green": (52, 122, 62), "yellow": (212, 182, 52), "brown": (112, 76, 46),
    "pink": (216, 132, 162), "purple": (102, 62, 132), "orange": (216, 116, 42),
}
LOWER_COLORS: dict[str, RGB] = {
    "black": (36, 36, 40), "darkgrey": (72, 72, 76), "denim": (62, 82, 124),
    "khaki": (172, 152, 112), "brown": (102, 72, 46), "white": (212, 212, 206),
    "navy": (36, 44, 86),
}
HAIR_COLORS: dict[str, RGB] = {
    "black": (28, 24, 22), "darkbrown": (62, 42, 30), "brown": (112, 78, 48),
    "blond": (202, 172, 112), "grey": (152, 152, 152),
}
SKIN_TONES: dict[str, RGB] = {
    "pale": (240, 206, 182), "light": (222, 182, 146), "tan": (192, 146, 110),
    "brown": (150, 106, 76), "dark": (100, 70, 50),
}
BAG_COLORS: dict[str, RGB] = {
    "black": (34, 34, 36), "brown": (116, 76, 44), "red": (160, 40, 44),
    "blue": (48, 80, 150), "grey": (118, 118, 122), "khaki": (168, 148, 104),
    "green": (58, 100, 58),
}
SHOE_COLORS: dict[str, RGB] = {
    "black": (28, 28, 30), "white": (232, 232, 228), "brown": (104, 64, 36),
    "red": (190, 40, 40), "blue": (50, 90, 190), "grey": (130, 130, 134),
}
ACCENT_COLORS: dict[str, RGB] = {   # logos
    "white": (240, 240, 236), "black": (20, 20, 22), "red": (214, 34, 34),
    "yellow": (236, 206, 40), "blue": (40, 90, 214), "green": (40, 170, 70),
}
BELT_COLORS: dict[str, RGB] = {
    "black": (24, 22, 22), "brown": (92, 58, 32), "tan": (176, 136, 90), "white": (226, 226, 222),
}

LOWER_STYLES: tuple[str, ...] = ("trousers", "shorts", "skirt")
SLEEVES: tuple[str, ...] = ("long", "short")
BAGS: tuple[str, ...] = ("none", "backpack", "shoulder", "handbag")
BUILD_WIDTHS: tuple[float, ...] = (0.88, 1.0, 1.12)
BUILD_HEIGHTS: tuple[float, ...] = (0.93, 1.0, 1.06)
PATTERNS: tuple[str, ...] = ("plain", "hstripes", "vstripes", "check", "dots", "diagonal")
LOGOS: tuple[str, ...] = ("none", "circle", "square", "triangle", "diamond", "cross", "ring")
VIEWS: tuple[str, ...] = ("front", "back", "side")
#: Order of the per-part colour jitter in :class:`ViewSpec`.
PARTS: tuple[str, ...] = ("upper", "lower", "hair", "skin", "bag", "shoe", "belt", "logo")

COARSE_ATTRIBUTES: tuple[str, ...] = (
    "upper_color", "lower_color", "lower_style", "sleeves", "hair_color", "hair_long",
    "skin", "build_width", "build_height", "bag", "bag_color",
)
FINE_ATTRIBUTES: tuple[str, ...] = (
    "pattern", "pattern_period", "pattern_phase", "pattern_contrast", "logo", "logo_color",
    "logo_position", "shoe_color", "belt_color",
)

_GROUP_SIZES = (2, 3, 4)
_GROUP_SIZE_P = (0.45, 0.35, 0.20)
_CAVIAR_MAX_PER_CAMERA = 10
_CAVIAR_SINGLE_CAMERA_FRACTION = 0.3
_MARKET_JPEG_QUALITY = 90
_MAX_IMAGES = 100_000

# Random streams: the first entries of every SeedSequence key after the seed.
_S_GROUPS, _S_COARSE, _S_FINE, _S_CAMERA, _S_ASSIGN, _S_VIEW = 1, 2, 3, 4, 5, 6
_S_DISTRACTOR, _S_JUNK, _S_CAVIAR, _S_POP_MAIN = 7, 8, 9, 10


def _rng(*key: int) -> np.random.Generator:
    """A generator keyed by integers in ``[0, 2**32)`` (order-independent seeding).

    The key's length is appended because ``SeedSequence`` zero-pads short entropy, which
    would otherwise make ``(a, b, c)`` and ``(a, b, c, 0)`` the same stream.
    """
    return np.random.default_rng(np.random.SeedSequence([*(int(k) for k in key), len(key)]))


# --------------------------------------------------------------------------- identities


@dataclass(frozen=True)
class IdentitySpec:
    """Appearance of one person. Coarse fields survive low resolution; fine ones do not.

    Colours are palette names (see the ``*_COLORS`` dictionaries). Positions and sizes
    are in units of the person's height. ``group`` is the confusable group: identities of
    one group share every coarse attribute.
    """

    pid: int
    group: int
    # coarse
    upper_color: str
    lower_color: str
    lower_style: str
    sleeves: str
    hair_color: str
    hair_long: bool
    skin: str
    build_width: float
    build_height: float
    bag: str
    bag_color: str | None
    # fine
    pattern: str
    pattern_period: float
    pattern_phase: tuple[float, float]
    pattern_contrast: float
    logo: str
    logo_color: str
    logo_position: tuple[float, float]
    shoe_color: str
    belt_color: str | None

    def coarse(self) -> tuple[Any, ...]:
        """The coarse attributes, in :data:`COARSE_ATTRIBUTES` order."""
        return tuple(getattr(self, name) for name in COARSE_ATTRIBUTES)

    def fine(self) -> tuple[Any, ...]:
        """The fine attributes, in :data:`FINE_ATTRIBUTES` order."""
        return tuple(getattr(self, name) for name in FINE_ATTRIBUTES)


def _luma(rgb: RGB) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _pick(rng: np.random.Generator, names: Sequence[str], p: Sequence[float] | None = None) -> str:
    return str(names[int(rng.choice(len(names), p=p))])


def _partition(n: int, rng: np.random.Generator) -> list[int]:
    """Split ``n`` identities into confusable groups of 2-4 (1 only when ``n == 1``)."""
    sizes: list[int] = []
    remaining = n
    while remaining > 0:
        size = min(int(rng.choice(_GROUP_SIZES, p=_GROUP_SIZE_P)), remaining)
        if remaining - size == 1:       # never leave a singleton behind
            size = size + 1 if size < max(_GROUP_SIZES) else size - 1
        sizes.append(size)
        remaining -= size
    return sizes


def _sample_coarse(rng: np.random.Generator) -> dict[str, Any]:
    bag = _pick(rng, BAGS, p=(0.4, 0.25, 0.2, 0.15))
    return {
        "upper_color": _pick(rng, list(UPPER_COLORS)),
        "lower_color": _pick(rng, list(LOWER_COLORS)),
        "lower_style": _pick(rng, LOWER_STYLES, p=(0.65, 0.2, 0.15)),
        "sleeves": _pick(rng, SLEEVES, p=(0.6, 0.4)),
        "hair_color": _pick(rng, list(HAIR_COLORS), p=(0.35, 0.25, 0.15, 0.15, 0.1)),
        "hair_long": bool(rng.random() < 0.35),
        "skin": _pick(rng, list(SKIN_TONES)),
        "build_width": float(BUILD_WIDTHS[int(rng.integers(len(BUILD_WIDTHS)))]),
        "build_height": float(BUILD_HEIGHTS[int(rng.integers(len(BUILD_HEIGHTS)))]),
        "bag": bag,
        "bag_color": None if bag == "none" else _pick(rng, list(BAG_COLORS)),
    }


def _sample_fine(rng: np.random.Generator, upper_color: str, count: int) -> list[dict[str, Any]]:
    """Fine attributes for ``count`` group members: patterns and logos pairwise distinct."""
    patterns = rng.choice(len(PATTERNS), size=count, replace=False)
    logos = rng.choice(len(LOGOS), size=count, replace=False)
    upper_luma = _luma(UPPER_COLORS[upper_color])
    contrasting = [n for n, c in ACCENT_COLORS.items() if abs(_luma(c) - upper_luma) > 60]
    members = []
    for i in range(count):
        members.append({
            "pattern": PATTERNS[int(patterns[i])],
            "pattern_period": round(float(rng.uniform(0.026, 0.048)), 4),
            "pattern_phase": (round(float(rng.random()), 3), round(float(rng.random()), 3)),
            "pattern_contrast": round(float(rng.uniform(70.0, 110.0)), 1),
            "logo": LOGOS[int(logos[i])],
            "logo_color": _pick(rng, contrasting),
            "logo_position": (round(float(rng.uniform(-0.055, 0.055)), 3),
                              round(float(rng.uniform(0.21, 0.30)), 3)),
            "shoe_color": _pick(rng, list(SHOE_COLORS)),
            "belt_color": _pick(rng, list(BELT_COLORS)) if rng.random() < 0.5 else None,
        })
    return members


def _sample_population(n: int, seed: int, stream: int, split_at: int | None = None) -> list[IdentitySpec]:
    """``n`` identities (pids 1..n) in confusable groups; groups never straddle ``split_at``."""
    if n <= 0:
        return []
    halves = [n] if not split_at or split_at >= n else [split_at, n - split_at]
    sizes: list[int] = []
    for h, half in enumerate(halves):
        sizes += _partition(half, _rng(seed, stream, _S_GROUPS, h))
    people: list[IdentitySpec] = []
    for group, size in enumerate(sizes):
        coarse = _sample_coarse(_rng(seed, stream, _S_COARSE, group))
        fine = _sample_fine(_rng(seed, stream, _S_FINE, group), coarse["upper_color"], size)
        for member in fine:
            people.append(IdentitySpec(pid=len(people) + 1, group=group, **coarse, **member))
    return people


def sample_identities(n_ids: int, seed: int) -> list[IdentitySpec]:
    """The ``n_ids`` identities of a SynthPeople dataset (pids ``1..n_ids``), pure in its inputs.

    Identities come in confusable groups of 2-4 consecutive pids sharing every coarse
    attribute, with pairwise different upper-garment patterns and logos. Groups never
    straddle ``n_ids // 2`` (the market train/test boundary), so every test group is whole.
    """
    if not isinstance(n_ids, int) or n_ids < 1:
        raise ValueError(f"n_ids must be a positive integer, got {n_ids!r}")
    if not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    return _sample_population(n_ids, seed, _S_POP_MAIN, split_at=n_ids // 2)


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


def sample_camera(seed: int, index: int, variant: str = "market") -> CameraSpec:
    """Camera ``index`` (0-based) of a dataset; caviar camera 1 (0-based) is the farther one."""
    rng = _rng(seed, _S_CAMERA, VARIANTS.index(variant), index)
    views = rng.dirichlet((3.0, 3.0, 2.0))
    if variant == "caviar":
        distance = (0.42, 1.0) if index == 0 else (0.25, 0.78)
        quality = (60, 93)
        blur = float(rng.uniform(0.2, 0.8))
    else:
        distance = (1.0, 1.0)
        quality = (_MARKET_JPEG_QUALITY, _MARKET_JPEG_QUALITY + 1)
        blur = float(rng.uniform(0.0, 0.7))
    return CameraSpec(
        index=index,
        scene_seed=int(rng.integers(2**32)),
        wall_top=_color(rng, 70, 200), wall_bottom=_color(rng, 60, 190),
        floor_far=_color(rng, 70, 170), floor_near=_color(rng, 60, 160),
        wall_texture=_pick(rng, ("bricks", "tiles", "panels", "blotches")),
        texture_scale=float(rng.uniform(0.05, 0.12)),
        horizon=float(rng.uniform(0.55, 0.75)),
        gain=float(rng.uniform(0.7, 1.2)),
        cast=tuple(float(c) for c in 1.0 + rng.uniform(-0.12, 0.12, size=3)),  # type: ignore[arg-type]
        gamma=float(rng.uniform(0.85, 1.15)),
        noise=float(rng.uniform(1.5, 7.0)),
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
    canvas fractions; ``bg_offset`` where in the camera scene the crop lies (0-1);
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


def sample_view(rng: np.random.Generator, camera: CameraSpec, *, junk: bool = False) -> ViewSpec:
    """One image's viewpoint, pose, framing, lighting jitter and occluder.

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
        bg_offset=float(rng.random()),
        brightness=float(rng.uniform(0.88, 1.12)),
        jitter=jitter,  # type: ignore[arg-type]
        occluder=_sample_occluder(rng) if rng.random() < 0.12 else None,
        noise_seed=int(rng.integers(2**32)),
    )


# --------------------------------------------------------------------------- scene


@functools.lru_cache(maxsize=8)
def _camera_scene(camera: CameraSpec, height: int, width: int) -> np.ndarray:
    """The camera's wide background scene (read-only ``uint8`` H x W x 3)."""
    rng = _rng(camera.scene_seed)
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    horizon = camera.horizon * height
    t_wall = np.clip(ys / horizon, 0.0, 1.0)[..., None]
    scene = (1 - t_wall) * np.float32(camera.wall_top) + t_wall * np.float32(camera.wall_bottom)
    scene = np.broadcast_to(scene, (height, width, 3)).copy()

    period = max(camera.texture_scale * height, 4.0)
    if camera.wall_texture == "bricks":
        row = np.floor(ys / (0.5 * period))
        mortar = ((ys / (0.5 * period)) % 1.0 < 0.1) | (((xs + row * 0.5 * period) / period) % 1.0 < 0.05)
        shade = np.where(mortar, 0.72, 1.0)
    elif camera.wall_texture == "tiles":
        shade = np.where(((ys / period) % 1.0 < 0.06) | ((xs / period) % 1.0 < 0.06), 0.8, 1.0)
    elif camera.wall_texture == "panels":
        shade = np.where(np.floor(xs / (2.5 * period)) % 2 == 0, 0.9, 1.06) * np.ones_like(ys)
    else:  # blotches: low-frequency noise
        coarse = rng.normal(0.0, 1.0, size=(height // 12 + 2, width // 12 + 2)).astype(np.float32)
        smooth = Image.fromarray(coarse, mode="F").resize((width, height), Image.Resampling.BICUBIC)
        shade = 1.0 + 0.1 * np.asarray(smooth)
    wall_rows = ys < horizon
    scene *= np.where(wall_rows, shade, 1.0)[..., None]

    # floor with perspective bands
    t_floor = np.clip((ys - horizon) / max(height - horizon, 1.0), 0.0, 1.0)
    t3 = t_floor[..., None]
    floor = (1 - t3) * np.float32(camera.floor_far) + t3 * np.float32(camera.floor_near)
    depth = 1.0 / (t_floor + 0.08)
    bands = np.where((depth * 0.9) % 1.0 < 0.12, 0.86, 1.0)
    floor = floor * bands[..., None]
    scene = np.where((ys >= horizon)[..., None], floor, scene)

    image = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 8))):        # windows, doors, signs, poles
        w = rng.uniform(0.06, 0.35) * height
        h = rng.uniform(0.08, 0.5) * height
        x0 = rng.uniform(0, width - w)
        y0 = rng.uniform(0.02, 0.95) * horizon - 0.5 * h
        draw.rectangle([x0, y0, x0 + w, y0 + h], fill=_color(rng, 30, 230))
    for _ in range(int(rng.integers(0, 3))):
        x0 = rng.uniform(0, width)
        draw.rectangle([x0, 0, x0 + rng.uniform(0.015, 0.04) * height, horizon + 0.1 * height],
                       fill=_color(rng, 40, 160))
    grain = rng.normal(0.0, 4.0, size=(height, width, 3))
    out = np.clip(np.asarray(image, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


def _background(camera: CameraSpec, view: ViewSpec, size: tuple[int, int]) -> Image.Image:
    width, height = size
    scene = _camera_scene(camera, height, 3 * height)
    x0 = int(round(view.bg_offset * (scene.shape[1] - width)))
    return Image.fromarray(scene[:, x0:x0 + width])


# --------------------------------------------------------------------------- drawing

Point = tuple[float, float]
Texture = Callable[[float], Image.Image]   # brightness factor -> upper-garment fill


class _Shapes(abc.ABC):
    """Body-unit drawing primitives: x right from the body axis, y down from the head top,
    both in units of the person height ``hp``."""

    def __init__(self, size: tuple[int, int], cx: float, top: float, hp: float) -> None:
        self.size, self.cx, self.top, self.hp = size, cx, top, hp

    @abc.abstractmethod
    def _targets(self, color: RGB) -> list[tuple[ImageDraw.ImageDraw, Any]]:
        """The (draw, fill) pairs a shape of ``color`` is drawn with."""

    def _p(self, x: float, y: float) -> Point:
        return (self.cx + x * self.hp, self.top + y * self.hp)

    def _w(self, w: float) -> int:
        return max(1, int(round(w * self.hp)))

    def ellipse(self, x: float, y: float, rx: float, ry: float, color: RGB) -> None:
        box = [self._p(x - rx, y - ry), self._p(x + rx, y + ry)]
        for draw, fill in self._targets(color):
            draw.ellipse(box, fill=fill)

    def ring(self, x: float, y: float, r: float, width: float, color: RGB) -> None:
        box = [self._p(x - r, y - r), self._p(x + r, y + r)]
        for draw, fill in self._targets(color):
            draw.ellipse(box, outline=fill, width=self._w(width))

    def polygon(self, points: Sequence[Point], color: RGB) -> None:
        pts = [self._p(x, y) for x, y in points]
        for draw, fill in self._targets(color):
            draw.polygon(pts, fill=fill)

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: RGB, radius: float = 0.0) -> None:
        box = [self._p(x0, y0), self._p(x1, y1)]
        for draw, fill in self._targets(color):
            draw.rounded_rectangle(box, radius=radius * self.hp, fill=fill)

    def limb(self, a: Point, b: Point, width: float, color: RGB) -> None:
        """A segment with round ends (arms, legs, straps)."""
        pa, pb = self._p(*a), self._p(*b)
        w = self._w(width)
        r = 0.5 * w
        for draw, fill in self._targets(color):
            draw.line([pa, pb], fill=fill, width=w)
            for px, py in (pa, pb):
                draw.ellipse([px - r, py - r, px + r, py + r], fill=fill)


class _Region(_Shapes):
    """Collects shapes into a coverage mask (to fill with a texture in one paste)."""

    def __init__(self, size: tuple[int, int], cx: float, top: float, hp: float) -> None:
        super().__init__(size, cx, top, hp)
        self.mask = Image.new("L", size)
        self._draw = ImageDraw.Draw(self.mask)

    def _targets(self, color: RGB) -> list[tuple[ImageDraw.ImageDraw, Any]]:
        return [(self._draw, 255)]


class _Painter(_Shapes):
    """Draws onto the person layer (RGB) and its alpha mask at once."""

    def __init__(self, size: tuple[int, int], cx: float, top: float, hp: float) -> None:
        super().__init__(size, cx, top, hp)
        self.rgb = Image.new("RGB", size)
        self.mask = Image.new("L", size)
        self._draws = (ImageDraw.Draw(self.rgb), ImageDraw.Draw(self.mask))

    def _targets(self, color: RGB) -> list[tuple[ImageDraw.ImageDraw, Any]]:
        return [(self._draws[0], color), (self._draws[1], 255)]

    def region(self) -> _Region:
        return _Region(self.size, self.cx, self.top, self.hp)

    def fill(self, region: _Region, texture: Image.Image) -> None:
        self.rgb.paste(texture, (0, 0), region.mask)
        self.mask.paste(255, (0, 0), region.mask)

    def shadow(self, x: float, y: float, rx: float, ry: float, alpha: int) -> None:
        """A soft-edged ground shadow: dark with partial alpha (drawn before the body)."""
        box = [self._p(x - rx, y - ry), self._p(x + rx, y + ry)]
        self._draws[1].ellipse(box, fill=alpha)


@dataclass(frozen=True)
class _Colors:
    upper: RGB
    lower: RGB
    hair: RGB
    skin: RGB
    bag: RGB
    shoe: RGB
    belt: RGB
    logo: RGB


def _scale_rgb(rgb: Sequence[float], factors: Sequence[float]) -> RGB:
    return tuple(min(255, max(0, int(round(float(c) * f)))) for c, f in zip(rgb, factors, strict=True))  # type: ignore[return-value]


def _dim(rgb: RGB, factor: float) -> RGB:
    return _scale_rgb(rgb, (factor, factor, factor))


def _part_colors(person: IdentitySpec, view: ViewSpec) -> _Colors:
    base = {
        "upper": UPPER_COLORS[person.upper_color], "lower": LOWER_COLORS[person.lower_color],
        "hair": HAIR_COLORS[person.hair_color], "skin": SKIN_TONES[person.skin],
        "bag": BAG_COLORS[person.bag_color] if person.bag_color else (0, 0, 0),
        "shoe": SHOE_COLORS[person.shoe_color],
        "belt": BELT_COLORS[person.belt_color] if person.belt_color else (0, 0, 0),
        "logo": ACCENT_COLORS[person.logo_color],
    }
    return _Colors(**{part: _scale_rgb(base[part], view.jitter[i]) for i, part in enumerate(PARTS)})


def _garment_texture(person: IdentitySpec, color: RGB, size: tuple[int, int], cx: float,
                     top: float, hp: float, factor: float = 1.0) -> Image.Image:
    """The upper-garment fill: ``color`` plus a zero-mean luminance pattern.

    The pattern's mean is exactly the base colour, so once the period falls below a pixel
    (about 4x down-sampling) it averages away and the garment looks plain.
    """
    base = np.float32(color) * np.float32(factor)
    if person.pattern == "plain":
        return Image.new("RGB", size, _scale_rgb(base, (1, 1, 1)))
    width, height = size
    period = person.pattern_period * hp
    u = ((np.arange(width, dtype=np.float32) - cx) / period + person.pattern_phase[0])[None, :]
    v = ((np.arange(height, dtype=np.float32) - top) / period + person.pattern_phase[1])[:, None]
    if person.pattern == "hstripes":
        on, duty = (v % 1.0 < 0.5) | np.zeros_like(u, dtype=bool), 0.5
    elif person.pattern == "vstripes":
        on, duty = (u % 1.0 < 0.5) | np.zeros_like(v, dtype=bool), 0.5
    elif person.pattern == "check":
        on, duty = (u % 1.0 < 0.5) ^ (v % 1.0 < 0.5), 0.5
    elif person.pattern == "dots":
        radius = 0.28
        on = (u % 1.0 - 0.5) ** 2 + (v % 1.0 - 0.5) ** 2 < radius**2
        duty = math.pi * radius**2
    elif person.pattern == "diagonal":
        on, duty = ((u + v) * 0.7071 % 1.0 < 0.5), 0.5
    else:
        raise ValueError(f"unknown pattern {person.pattern!r}; choose one of: {', '.join(PATTERNS)}")
    # largest amplitude that keeps every channel inside [0, 255] (so the mean is exact)
    room_down = float(base.min()) / duty
    room_up = float(255.0 - base.max()) / (1.0 - duty)
    amp = min(person.pattern_contrast, room_down, room_up)
    mod = (on.astype(np.float32) - np.float32(duty)) * np.float32(amp)
    out = np.clip(base[None, None, :] + mod[..., None], 0, 255).astype(np.uint8)
    return Image.fromarray(out)


def _draw_logo(p: _Painter, person: IdentitySpec, color: RGB) -> None:
    x, y = person.logo_position
    x *= person.build_width
    s = 0.018  # half size: a glyph of about 4 pixels at 128-pixel HR
    kind = person.logo
    if kind == "circle":
        p.ellipse(x, y, s, s, color)
    elif kind == "square":
        p.rect(x - s, y - s, x + s, y + s, color)
    elif kind == "triangle":
        p.polygon([(x, y - s), (x + s, y + s), (x - s, y + s)], color)
    elif kind == "diamond":
        p.polygon([(x, y - 1.2 * s), (x + s, y), (x, y + 1.2 * s), (x - s, y)], color)
    elif kind == "cross":
        t = 0.35 * s
        p.rect(x - s, y - t, x + s, y + t, color)
        p.rect(x - t, y - s, x + t, y + s, color)
    elif kind == "ring":
        p.ring(x, y, s, 0.4 * s, color)
    elif kind != "none":
        raise ValueError(f"unknown logo {kind!r}; choose one of: {', '.join(LOGOS)}")


def _along(a: Point, angle: float, length: float) -> Point:
    """The point ``length`` away from ``a`` at ``angle`` from straight down (+ towards +x)."""
    return (a[0] + length * math.sin(angle), a[1] + length * math.cos(angle))


def _lerp(a: Point, b: Point, t: float) -> Point:
    return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))


def _draw_leg(p: _Painter, person: IdentitySpec, hip: Point, knee: Point, foot: Point,
              col: _Colors, dim: float, shoe_dx: float) -> None:
    bw = person.build_width
    lower, skin = _dim(col.lower, dim), _dim(col.skin, dim)
    if person.lower_style == "trousers":
        p.limb(hip, knee, 0.072 * bw, lower)
        p.limb(knee, foot, 0.058 * bw, lower)
    else:
        p.limb(hip, knee, 0.062 * bw, skin)
        p.limb(knee, foot, 0.05 * bw, skin)
        if person.lower_style == "shorts":
            p.limb(hip, _lerp(hip, knee, 0.8), 0.08 * bw, lower)
    p.ellipse(foot[0] + shoe_dx, foot[1] + 0.014, 0.034 * bw, 0.019, _dim(col.shoe, dim))


def _draw_arm(p: _Painter, person: IdentitySpec, shoulder: Point, elbow: Point, hand: Point,
              col: _Colors, texture: Image.Image) -> None:
    """Skin arm, then the sleeve (textured) over it, then the hand."""
    bw = person.build_width
    p.limb(shoulder, elbow, 0.048 * bw, col.skin)
    p.limb(elbow, hand, 0.042 * bw, col.skin)
    sleeve = p.region()
    if person.sleeves == "long":
        sleeve.limb(shoulder, elbow, 0.056 * bw, col.upper)
        sleeve.limb(elbow, _lerp(elbow, hand, 0.85), 0.05 * bw, col.upper)
    else:
        sleeve.limb(shoulder, _lerp(shoulder, elbow, 0.7), 0.06 * bw, col.upper)
    p.fill(sleeve, texture)
    p.ellipse(hand[0], hand[1] + 0.012, 0.022, 0.026, col.skin)


def _draw_frontal(p: _Painter, person: IdentitySpec, view: ViewSpec, col: _Colors,
                  tex: Texture) -> None:
    """Front or back view; ``tex(factor)`` gives the upper-garment texture."""
    back = view.view == "back"
    bw = person.build_width
    sw, ww = 0.125 * bw, 0.102 * bw
    s = math.sin(view.phase)
    bag_side = 1.0 if back else -1.0       # the bag hangs on the person's right

    if person.hair_long and not back:
        p.polygon([(-0.058, 0.07), (0.058, 0.07), (0.072, 0.27), (-0.072, 0.27)], col.hair)

    hip_y = 0.53
    for sign, lift in ((-1.0, max(0.0, s)), (1.0, max(0.0, -s))):
        hip = (sign * 0.05 * bw, hip_y)
        foot = (sign * (0.052 + 0.02 * abs(s)) * bw, 0.955 - 0.035 * lift)
        knee = _lerp(hip, foot, 0.5)
        _draw_leg(p, person, hip, knee, foot, col, 1.0, 0.0)
    if person.lower_style == "skirt":
        p.polygon([(-ww, 0.47), (ww, 0.47), (ww + 0.065, 0.72), (-ww - 0.065, 0.72)], col.lower)
    else:
        p.polygon([(-ww, 0.47), (ww, 0.47), (ww + 0.008, 0.57), (-ww - 0.008, 0.57)], col.lower)
    p.rect(-0.022, 0.115, 0.022, 0.17, col.skin)                       # neck

    hands: list[Point] = []
    for sign in (-1.0, 1.0):
        swing = 1.0 - 0.12 * abs(s)
        shoulder = (sign * (sw - 0.028), 0.19)
        a = view.arm_spread
        elbow = _along(shoulder, sign * a, 0.155 * swing)
        hand = _along(elbow, sign * 0.5 * a, 0.15 * swing)
        hands.append(hand)
        _draw_arm(p, person, shoulder, elbow, hand, col, tex(0.88))

    torso = p.region()
    torso.polygon([(-sw + 0.028, 0.15), (sw - 0.028, 0.15), (sw, 0.19), (ww + 0.006, 0.35),
                   (ww, 0.505), (-ww, 0.505), (-ww - 0.006, 0.35), (-sw, 0.19)], col.upper)
    p.fill(torso, tex(1.0))

    if person.belt_color is not None:
        p.rect(-ww - 0.004, 0.486, ww + 0.004, 0.5, col.belt)
    if not back:
        _draw_logo(p, person, col.logo)

    if person.bag == "backpack":
        if back:
            p.rect(-0.8 * sw, 0.19, 0.8 * sw, 0.43, col.bag, radius=0.025)
            p.rect(-0.6 * sw, 0.34, 0.6 * sw, 0.42, _dim(col.bag, 0.8), radius=0.015)
        else:
            for sign in (-1.0, 1.0):
                p.limb((sign * (sw - 0.045), 0.155), (sign * (sw - 0.035), 0.34), 0.02, col.bag)
    elif person.bag == "shoulder":
        p.limb((-bag_side * (sw - 0.04), 0.155), (bag_side * (ww + 0.01), 0.44), 0.016, col.bag)
        x0, x1 = sorted((bag_side * (ww - 0.02), bag_side * (ww + 0.075)))
        p.rect(x0, 0.40, x1, 0.53, col.bag, radius=0.01)
    elif person.bag == "handbag":
        hx, hy = hands[1] if back else hands[0]
        p.limb((hx, hy), (hx, hy + 0.03), 0.01, col.bag)
        p.rect(hx - 0.04, hy + 0.03, hx + 0.04, hy + 0.11, col.bag, radius=0.01)

    if back:
        p.ellipse(0.0, 0.075, 0.053, 0.066, col.hair)
        if person.hair_long:
            p.polygon([(-0.056, 0.075), (0.056, 0.075), (0.068, 0.27), (-0.068, 0.27)], col.hair)
    else:
        p.ellipse(0.0, 0.06, 0.056, 0.052, col.hair)
        p.ellipse(0.0, 0.085, 0.046, 0.056, col.skin)


def _draw_side(p: _Painter, person: IdentitySpec, view: ViewSpec, col: _Colors, tex: Texture) -> None:
    """Side view facing +x (mirroring flips the finished layer)."""
    bw = person.build_width
    s = math.sin(view.phase)
    leg_angle = view.stride * s
    arm_angle = 0.7 * view.stride * s

    shoulder = (-0.005, 0.19)
    hip = (0.0, 0.53)

    def arm(angle: float) -> tuple[Point, Point, Point]:
        elbow = _along(shoulder, angle, 0.155)
        hand = _along(elbow, angle + 0.25 + 0.3 * max(0.0, angle), 0.15)
        return shoulder, elbow, hand

    def leg(angle: float) -> tuple[Point, Point, Point]:
        knee = _along(hip, angle, 0.215)
        bend = 0.05 + 0.9 * max(0.0, -angle)
        return hip, knee, _along(knee, angle - bend, 0.215)

    if person.hair_long:
        p.polygon([(-0.062, 0.07), (-0.01, 0.07), (-0.016, 0.255), (-0.074, 0.245)], col.hair)
    far_shoulder, far_elbow, far_hand = arm(arm_angle)
    p.limb(far_shoulder, far_elbow, 0.048 * bw, _dim(col.skin, 0.75))
    p.limb(far_elbow, far_hand, 0.042 * bw, _dim(col.skin, 0.75))
    sleeve = p.region()
    end = far_elbow if person.sleeves == "long" else _lerp(far_shoulder, far_elbow, 0.7)
    sleeve.limb(far_shoulder, end, 0.056 * bw, col.upper)
    if person.sleeves == "long":
        sleeve.limb(far_elbow, _lerp(far_elbow, far_hand, 0.85), 0.05 * bw, col.upper)
    p.fill(sleeve, tex(0.72))

    _draw_leg(p, person, *leg(-leg_angle), col, 0.78, 0.018)
    _draw_leg(p, person, *leg(leg_angle), col, 1.0, 0.018)
    if person.lower_style == "skirt":
        p.polygon([(-0.066, 0.47), (0.06, 0.47), (0.1, 0.72), (-0.105, 0.72)], col.lower)
    else:
        p.polygon([(-0.064, 0.47), (0.058, 0.47), (0.062, 0.57), (-0.066, 0.57)], col.lower)
    if person.bag == "backpack":
        p.rect(-0.072 * bw - 0.075, 0.19, -0.072 * bw + 0.02, 0.43, col.bag, radius=0.02)
    p.rect(-0.018, 0.115, 0.024, 0.17, col.skin)                        # neck

    torso = p.region()
    torso.polygon([(-0.055 * bw, 0.15), (0.045 * bw, 0.15), (0.068 * bw, 0.2), (0.062 * bw, 0.36),
                   (0.058 * bw, 0.505), (-0.062 * bw, 0.505), (-0.07 * bw, 0.32),
                   (-0.072 * bw, 0.2)], col.upper)
    p.fill(torso, tex(1.0))
    if person.belt_color is not None:
        p.rect(-0.066 * bw, 0.486, 0.062 * bw, 0.5, col.belt)
    if person.bag == "backpack":
        p.limb((0.0, 0.16), (-0.012, 0.36), 0.02, col.bag)
    elif person.bag == "shoulder":
        p.limb((0.02, 0.16), (0.0, 0.42), 0.016, col.bag)
        p.rect(-0.045, 0.41, 0.045, 0.53, col.bag, radius=0.01)

    near = arm(-arm_angle)
    _draw_arm(p, person, *near, col, tex(0.86))
    if person.bag == "handbag":
        hx, hy = near[2]
        p.limb((hx, hy), (hx, hy + 0.03), 0.01, col.bag)
        p.rect(hx - 0.04, hy + 0.03, hx + 0.04, hy + 0.11, col.bag, radius=0.01)

    p.ellipse(0.012, 0.08, 0.048, 0.063, col.skin)
    p.ellipse(-0.012, 0.064, 0.048, 0.05, col.hair)


def _draw_person(person: IdentitySpec, view: ViewSpec,
                 size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
    """The person layer (RGB) and its alpha mask (ground shadow included) on a canvas."""
    width, height = size
    hp = view.scale * person.build_height * height
    top = 0.5 * (height - hp) + view.shift[1] * height
    cx = 0.5 * width + view.shift[0] * width
    col = _part_colors(person, view)
    p = _Painter(size, cx, top, hp)
    p.shadow(0.0, 0.985, 0.17 * person.build_width, 0.022, 110)

    cache: dict[float, Image.Image] = {}

    def tex(factor: float) -> Image.Image:
        if factor not in cache:
            cache[factor] = _garment_texture(person, col.upper, size, cx, top, hp, factor)
        return cache[factor]

    if view.view == "side":
        _draw_side(p, person, view, col, tex)
    else:
        _draw_frontal(p, person, view, col, tex)

    # cylinder shading across the body and light from above
    arr = np.asarray(p.rgb, dtype=np.float32)
    dx = (np.arange(width, dtype=np.float32) - cx) / (0.16 * hp * person.build_width)
    dy = (np.arange(height, dtype=np.float32) - top) / hp
    shade = np.clip(1.0 - 0.22 * dx * dx, 0.7, 1.0)[None, :] * (1.06 - 0.12 * np.clip(dy, 0, 1))[:, None]
    rgb = Image.fromarray(np.clip(arr * shade[..., None], 0, 255).astype(np.uint8))
    mask = p.mask
    if view.mirrored:
        rgb = rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        mask = mask.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return rgb, mask


def _draw_occluder(canvas: Image.Image, occ: Occluder) -> None:
    width, height = canvas.size
    box = [occ.x * width, occ.y * height, (occ.x + occ.w) * width, (occ.y + occ.h) * height]
    draw = ImageDraw.Draw(canvas)
    draw.rectangle(box, fill=occ.color)
    edge = _dim(occ.color, 0.7)
    if occ.kind == "box":   # a lid line and a darker base: reads as an object, not a wall
        draw.rectangle([box[0], box[1], box[2], box[1] + 0.04 * occ.h * height], fill=edge)
    else:
        draw.rectangle([box[0], box[1], box[0] + 0.25 * (box[2] - box[0]), box[3]], fill=edge)


def render_image(person: IdentitySpec | None, camera: CameraSpec, view: ViewSpec,
                 out_size: tuple[int, int], *, render_size: tuple[int, int] | None = None) -> Image.Image:
    """Render one captured image (pure in its inputs).

    The scene is drawn at twice ``render_size`` (default ``out_size``; width, height),
    downscaled with Lanczos antialiasing to ``out_size``, then blurred, lit, colour-cast and
    given sensor noise by ``camera`` (noise seeded by ``view.noise_seed``). ``person=None``
    renders the background only (junk detections).
    """
    rw, rh = render_size or out_size
    canvas_size = (2 * rw, 2 * rh)
    canvas = _background(camera, view, canvas_size)
    if person is not None:
        layer, mask = _draw_person(person, view, canvas_size)
        canvas.paste(layer, (0, 0), mask)
    if view.occluder is not None:
        _draw_occluder(canvas, view.occluder)
    image = canvas.resize(out_size, Image.Resampling.LANCZOS)
    if camera.blur > 0.05:
        image = image.filter(ImageFilter.GaussianBlur(camera.blur))
    arr = np.asarray(image, dtype=np.float32) / 255.0
    gain = np.float32(camera.gain * view.brightness) * np.float32(camera.cast)
    arr = np.power(arr, np.float32(camera.gamma)) * gain * 255.0
    if camera.noise > 0:
        noise = np.random.default_rng(view.noise_seed).standard_normal(arr.shape, dtype=np.float32)
        arr += np.float32(camera.noise) * noise
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class _Job:
    """One file to write: who, where, seen by which camera, at which size."""

    relpath: str
    person: IdentitySpec | None
    camera: int
    view_key: tuple[int, ...]
    out_size: tuple[int, int]
    render_size: tuple[int, int]
    jpeg_quality: int
    junk: bool = False


def _assign_cameras(rng: np.random.Generator, k: int, n_cameras: int) -> list[int]:
    """Cameras of ``k`` images: at least two cameras, at least one seen twice (``k >= 3``)."""
    m = int(rng.integers(2, min(n_cameras, k - 1) + 1))
    chosen = rng.choice(n_cameras, size=m, replace=False)
    cams = list(chosen) + list(rng.choice(chosen, size=k - m))
    rng.shuffle(cams)
    return [int(c) for c in cams]


def _market_name(pid: int, cam: int, frame: int) -> str:
    pid_text = "-1" if pid < 0 else f"{pid:04d}"
    return f"{pid_text}_c{cam + 1}s1_{frame:06d}_00.jpg"


def _plan_market(n_ids: int, k: int, n_cameras: int, hr_size: tuple[int, int],
                 seed: int) -> tuple[list[_Job], dict[str, int]]:
    people = sample_identities(n_ids, seed)
    n_train = n_ids // 2
    frames: Counter[int] = Counter()  # per camera: increasing frame numbers, unique file names

    def frame(cam: int) -> int:
        frames[cam] += 1
        return 6 * frames[cam] + 1

    jobs: list[_Job] = []

    def add(folder: str, pid: int, person: IdentitySpec | None, cam: int,
            key: tuple[int, ...], junk: bool = False) -> None:
        jobs.append(_Job(f"{folder}/{_market_name(pid, cam, frame(cam))}", person, cam,
                         (seed, *key), hr_size, hr_size, _MARKET_JPEG_QUALITY, junk))

    for person in people:
        rng = _rng(seed, _S_ASSIGN, person.pid)
        cams = _assign_cameras(rng, k, n_cameras)
        if person.pid <= n_train:
            for i, cam in enumerate(cams):
                add("bounding_box_train", person.pid, person, cam, (_S_VIEW, person.pid, cam, i))
            continue
        query = set()
        for cam in sorted(set(cams)):
            shots = [i for i, c in enumerate(cams) if c == cam]
            if len(shots) >= 2:      # keep >= 1 gallery image in this camera too
                query.add(int(rng.choice(shots)))
        for i, cam in enumerate(cams):
            folder = "query" if i in query else "bounding_box_test"
            add(folder, person.pid, person, cam, (_S_VIEW, person.pid, cam, i))

    n_extra = max(2, n_ids // 10)
    for i, person in enumerate(_sample_population(n_extra, seed, _S_DISTRACTOR)):
        cam = int(_rng(seed, _S_DISTRACTOR, _S_ASSIGN, i).integers(n_cameras))
        add("bounding_box_test", 0, person, cam, (_S_DISTRACTOR, _S_VIEW, i))
    for i, person in enumerate(_sample_population(n_extra, seed, _S_JUNK)):
        rng = _rng(seed, _S_JUNK, _S_ASSIGN, i)
        cam = int(rng.integers(n_cameras))
        fragment = person if rng.random() < 0.6 else None   # else background only
        add("bounding_box_test", -1, fragment, cam, (_S_JUNK, _S_VIEW, i), junk=True)

    folders = Counter(job.relpath.split("/")[0] for job in jobs)
    counts = {
        "images": len(jobs), "train": folders["bounding_box_train"], "query": folders["query"],
        "gallery": folders["bounding_box_test"], "distractors": n_extra, "junk": n_extra,
        "train_ids": n_train, "test_ids": n_ids - n_train,
    }
    return jobs, counts


def _plan_caviar(n_ids: int, k: int, hr_size: tuple[int, int], seed: int,
                 cameras: Sequence[CameraSpec]) -> tuple[list[_Job], dict[str, Any]]:
    people = sample_identities(n_ids, seed)
    n_single = min(int(round(_CAVIAR_SINGLE_CAMERA_FRACTION * n_ids)), n_ids - 1)
    single = {int(i) + 1 for i in _rng(seed, _S_CAVIAR, _S_ASSIGN).choice(n_ids, n_single, replace=False)}
    hr_w, hr_h = hr_size
    jobs: list[_Job] = []
    for person in people:
        for cam in ((0,) if person.pid in single else (0, 1)):
            lo, hi = cameras[cam].distance
            for i in range(k):
                rng = _rng(seed, _S_CAVIAR, person.pid, cam, i)
                height_frac = math.exp(rng.uniform(math.log(lo), math.log(hi)))
                aspect = (hr_w / hr_h) * rng.uniform(0.82, 1.14)
                height = max(16, int(round(hr_h * height_frac)))
                width = max(8, int(round(height * aspect)))
                render_size = (max(8, int(round(hr_h * aspect))), hr_h)
                quality = int(rng.integers(*cameras[cam].jpeg_quality))
                name = f"{person.pid:04d}{cam * _CAVIAR_MAX_PER_CAMERA + i + 1:03d}.jpg"
                jobs.append(_Job(name, person, cam, (seed, _S_VIEW, person.pid, cam, i),
                                 (width, height), render_size, quality))
    heights = [job.out_size[1] for job in jobs]
    counts = {
        "images": len(jobs), "ids": n_ids, "ids_single_camera": n_single,
        "camera_images": [sum(job.camera == c for job in jobs) for c in (0, 1)],
        "min_height": min(heights), "max_height": max(heights),
    }
    return jobs, counts


# --------------------------------------------------------------------------- public entry points


class SynthManifestMismatchError(FileExistsError):
    """The target folder exists but holds something other than the requested dataset."""


def _validate(variant: str, n_ids: int, images_per_id: int, n_cameras: int,
              hr_size: Sequence[int], seed: int) -> dict[str, Any]:
    """Check the parameters; return them normalised (caviar always has 2 cameras)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r} is not valid; choose one of: {', '.join(VARIANTS)}")

    def integer(name: str, value: Any, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
            raise ValueError(f"{name} must be an integer in [{lo}, {hi}] for variant "
                             f"{variant!r}, got {value!r}")
        return int(value)

    n_ids = integer("n_ids", n_ids, 2, 9999)
    if variant == "market":
        images_per_id = integer("images_per_id", images_per_id, 3, 1000)
        n_cameras = integer("n_cameras", n_cameras, 2, 9)
    else:
        images_per_id = integer("images_per_id", images_per_id, 1, _CAVIAR_MAX_PER_CAMERA)
        n_cameras = 2
    seed = integer("seed", seed, 0, 2**32 - 1)
    if (isinstance(hr_size, (str, bytes)) or not isinstance(hr_size, Sequence) or len(hr_size) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in hr_size)):
        raise ValueError(f"hr_size must be a (width, height) pair of integers, got {hr_size!r}")
    width, height = int(hr_size[0]), int(hr_size[1])
    if width < 16 or height < 32 or width > height or height > 1024:
        raise ValueError(f"hr_size=(width, height) needs 16 <= width <= height and "
                         f"32 <= height <= 1024, got {(width, height)}")
    total = n_ids * images_per_id * (2 if variant == "caviar" else 1)
    if total > _MAX_IMAGES:
        raise ValueError(f"n_ids * images_per_id asks for {total} images; at most {_MAX_IMAGES} "
                         f"are supported")
    return {"n_ids": n_ids, "images_per_id": images_per_id, "n_cameras": n_cameras,
            "hr_size": [width, height], "seed": seed}


def synth_dataset_dirname(variant: str, n_ids: int, images_per_id: int, n_cameras: int,
                          hr_size: Sequence[int], seed: int) -> str:
    """Canonical folder name of a SynthPeople dataset under a data root.

    >>> synth_dataset_dirname("market", 200, 8, 4, (64, 128), 0)
    'synth-market_n200_k8_c4_64x128_s0'

    The caviar variant always has 2 cameras, whatever ``n_cameras`` says.
    """
    p = _validate(variant, n_ids, images_per_id, n_cameras, hr_size, seed)
    w, h = p["hr_size"]
    return f"synth-{variant}_n{p['n_ids']}_k{p['images_per_id']}_c{p['n_cameras']}_{w}x{h}_s{p['seed']}"


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None


def _identity_of(manifest: dict[str, Any]) -> dict[str, Any]:
    return {key: manifest.get(key) for key in ("generator", "version", "variant", "params")}


def _existing(root: Path, wanted: dict[str, Any]) -> bool:
    """True when ``root`` already holds the wanted dataset; raise when it holds another."""
    if not root.exists():
        return False
    if root.is_dir() and not any(root.iterdir()):
        return False            # an empty folder is replaced
    found = _read_manifest(root) if root.is_dir() else None
    if found is not None and _identity_of(found) == _identity_of(wanted):
        return True
    what = ("a SynthPeople dataset with different parameters "
            f"({json.dumps(_identity_of(found), sort_keys=True)})" if found is not None
            else f"something without a readable {MANIFEST_NAME}")
    raise SynthManifestMismatchError(
        f"{root} already exists and holds {what}, not the requested "
        f"{json.dumps(_identity_of(wanted), sort_keys=True)}; use a different root "
        f"(see synth_dataset_dirname) or delete {root}")


#: Temporary folders of generator versions before pid-named temporaries
#: (``tempfile.mkdtemp(prefix=".<dirname>.tmp-")``): no pid, so always leftovers.
_OLD_TEMPORARY = re.compile(r"^\.synth-(?:market|caviar)_.+\.tmp-[A-Za-z0-9_]+$")


def remove_generation_leftovers(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete what aborted generations left in ``folder`` (a data root); return it.

    Temporary folders are named with :func:`reidlab.paths.temporary_name` (they carry the
    writer's pid): those of dead processes are removed, those of a live generator (another
    process at work) kept. Temporaries of older generator versions (``.synth-*.tmp-*``,
    no pid) are always removed. A temporary folder is never read as a dataset: only a
    folder renamed into place with its manifest counts.
    """
    folder = Path(folder)
    removed = remove_stale_temporaries(folder)
    if folder.is_dir():
        for entry in folder.iterdir():
            if _OLD_TEMPORARY.match(entry.name) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed


def _render_jobs(jobs: Sequence[_Job], cameras: Sequence[CameraSpec], folder: Path,
                 progress: bool, desc: str) -> None:
    for sub in sorted({Path(job.relpath).parent for job in jobs}):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for job in tqdm(jobs, desc=desc, unit="img", disable=not progress):
        camera = cameras[job.camera]
        view = sample_view(_rng(*job.view_key), camera, junk=job.junk)
        image = render_image(job.person, camera, view, job.out_size, render_size=job.render_size)
        image.save(folder / job.relpath, format="JPEG", quality=job.jpeg_quality)


def make_synth_dataset(root: str | os.PathLike[str], variant: str = "market", n_ids: int = 200,
                       images_per_id: int = 8, n_cameras: int = 4,
                       hr_size: tuple[int, int] = (64, 128), seed: int = 0,
                       progress: bool = True) -> Path:
    """Write a SynthPeople dataset into the folder ``root`` and return it (absolute).

    Args:
        root: the dataset folder itself (typically ``data_root / synth_dataset_dirname(...)``).
        variant: ``"market"`` (Market-1501 layout) or ``"caviar"`` (CAVIAR4REID layout).
        n_ids: identities (market: first half train, second half test).
        images_per_id: market: images per identity over all cameras (>= 3);
            caviar: images per identity *per camera* (1-10).
        n_cameras: market cameras (2-9); caviar always uses 2.
        hr_size: (width, height) of the HR images (market: every image; caviar: the
            largest crops, with heights down to about a quarter of it).
        seed: in ``[0, 2**32)``; every file is a pure function of the parameters and it.
        progress: show a tqdm progress bar.

    The dataset is written into a temporary sibling folder (named with the pid, see
    :func:`remove_generation_leftovers`, which runs first and deletes the leftovers of
    killed generations) and moved into place at the end, with a ``synth_manifest.json``.
    If ``root`` already holds a dataset with the same manifest it is returned as is; if it
    holds anything else, :class:`SynthManifestMismatchError` (a ``FileExistsError``) is
    raised.
    """
    params = _validate(variant, n_ids, images_per_id, n_cameras, hr_size, seed)
    root = Path(root).absolute()
    remove_generation_leftovers(root.parent)
    manifest: dict[str, Any] = {"generator": "SynthPeople", "version": GENERATOR_VERSION,
                                "variant": variant, "params": params}
    if _existing(root, manifest):
        return root

    size = (params["hr_size"][0], params["hr_size"][1])
    cameras = [sample_camera(params["seed"], c, variant) for c in range(params["n_cameras"])]
    if variant == "market":
        jobs, counts = _plan_market(params["n_ids"], params["images_per_id"], params["n_cameras"],
                                    size, params["seed"])
    else:
        jobs, counts = _plan_caviar(params["n_ids"], params["images_per_id"], size,
                                    params["seed"], cameras)
    manifest["counts"] = counts

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(root)
    tmp.mkdir()
    try:
        os.chmod(tmp, 0o755)                # a normal folder once renamed, whatever the umask
        _render_jobs(jobs, cameras, tmp, progress, f"SynthPeople {variant}")
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        try:
            os.replace(tmp, root)
        except OSError:
            # another process finished the same dataset first: keep theirs if it matches
            if _existing(root, manifest):
                shutil.rmtree(tmp, ignore_errors=True)
                return root
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
