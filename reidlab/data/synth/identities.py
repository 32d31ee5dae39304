"""SynthPeople identities: palettes, coarse and fine attributes, confusable groups."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reidlab.data.synth._common import RGB, _S_COARSE, _S_FINE, _S_GROUPS, _S_POP_MAIN, _rng

# --------------------------------------------------------------------------- palettes

UPPER_COLORS: dict[str, RGB] = {
    "black": (38, 38, 42), "white": (218, 218, 212), "grey": (128, 128, 132), "navy": (38, 48, 98),
    "blue": (52, 98, 178), "red": (172, 42, 42), "green": (52, 122, 62), "yellow": (212, 182, 52),
    "brown": (112, 76, 46), "pink": (216, 132, 162), "purple": (102, 62, 132), "orange": (216, 116, 42),
}
LOWER_COLORS: dict[str, RGB] = {
    "black": (36, 36, 40), "darkgrey": (72, 72, 76), "denim": (62, 82, 124), "khaki": (172, 152, 112),
    "brown": (102, 72, 46), "white": (212, 212, 206), "navy": (36, 44, 86),
}
HAIR_COLORS: dict[str, RGB] = {
    "black": (28, 24, 22), "darkbrown": (62, 42, 30), "brown": (112, 78, 48), "blond": (202, 172, 112),
    "grey": (152, 152, 152),
}
SKIN_TONES: dict[str, RGB] = {
    "pale": (240, 206, 182), "light": (222, 182, 146), "tan": (192, 146, 110), "brown": (150, 106, 76),
    "dark": (100, 70, 50),
}
BAG_COLORS: dict[str, RGB] = {
    "black": (34, 34, 36), "brown": (116, 76, 44), "red": (160, 40, 44), "blue": (48, 80, 150),
    "grey": (118, 118, 122), "khaki": (168, 148, 104), "green": (58, 100, 58),
}
SHOE_COLORS: dict[str, RGB] = {
    "black": (28, 28, 30), "white": (232, 232, 228), "brown": (104, 64, 36), "red": (190, 40, 40),
    "blue": (50, 90, 190), "grey": (130, 130, 134),
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
#: CAVIAR4REID: 72 identities, 22 of them seen by one camera only (50 by both)
CAVIAR4REID_IDS, CAVIAR4REID_ONE_CAMERA_IDS = 72, 22
_CAVIAR_SINGLE_CAMERA_FRACTION = CAVIAR4REID_ONE_CAMERA_IDS / CAVIAR4REID_IDS
_MARKET_JPEG_QUALITY = 90
_MAX_IMAGES = 100_000

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
            "pattern_period": round(float(rng.uniform(0.040, 0.070)), 4),
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


