"""SynthPeople drawing: camera scenes, the person in every view, occluders, sensor effects."""
from __future__ import annotations

import abc
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from reidlab.data.synth._common import RGB, _rng
from reidlab.data.synth.identities import (
    ACCENT_COLORS, BAG_COLORS, BELT_COLORS, HAIR_COLORS, IdentitySpec, LOGOS, LOWER_COLORS,
    PARTS, PATTERNS, SHOE_COLORS, SKIN_TONES, UPPER_COLORS,
)
from reidlab.data.synth.cameras import CameraSpec, Occluder, ViewSpec, _color

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

    The pattern's mean is exactly the base colour, so once the period falls below two pixels it
    averages away and the garment looks plain: with periods of 4-7% of the person's height (about
    4.4-7.7 px at 128-pixel HR, 3.3-5.8 px at B-F's 96x48 working size) that happens at x3-x4.
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
    s = 0.024  # half size: a glyph of about 5 pixels at 128-pixel HR
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
                 out_size: tuple[int, int], *, render_size: tuple[int, int] | None = None,
                 scene: CameraSpec | None = None) -> Image.Image:
    """Render one captured image (pure in its inputs).

    The scene is drawn at twice ``render_size`` (default ``out_size``; width, height),
    downscaled with Lanczos antialiasing to ``out_size``, then blurred, lit, colour-cast and
    given sensor noise by ``camera`` (noise seeded by ``view.noise_seed``). ``person=None``
    renders the background only (junk detections). ``scene`` is the camera whose scene is the
    background (``view.scene``; default ``camera``'s own).
    """
    rw, rh = render_size or out_size
    canvas_size = (2 * rw, 2 * rh)
    canvas = _background(scene or camera, view, canvas_size)
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


