"""Shared by the SynthPeople modules: the generator version, variants and keyed random streams."""
from __future__ import annotations



import numpy as np

#: Bump whenever the rendered pixels or the layout change: existing datasets then no
#: longer match their manifest and are refused instead of silently reused.
GENERATOR_VERSION = 4   # 2: CAVIAR4REID shape (22/72 one-camera ids, far camera 26-55% of the height);
#                         3: garment patterns and logos resolvable at the B-F working size (96x48);
#                         4: Market-like cameras share scenes and differ less in photometry (issue 22)
MANIFEST_NAME = "synth_manifest.json"
VARIANTS: tuple[str, ...] = ("market", "caviar")

RGB = tuple[int, int, int]


# Random streams: the first entries of every SeedSequence key after the seed.
_S_GROUPS, _S_COARSE, _S_FINE, _S_CAMERA, _S_ASSIGN, _S_VIEW = 1, 2, 3, 4, 5, 6
_S_DISTRACTOR, _S_JUNK, _S_CAVIAR, _S_POP_MAIN = 7, 8, 9, 10


def _rng(*key: int) -> np.random.Generator:
    """A generator keyed by integers in ``[0, 2**32)`` (order-independent seeding).

    The key's length is appended because ``SeedSequence`` zero-pads short entropy, which
    would otherwise make ``(a, b, c)`` and ``(a, b, c, 0)`` the same stream.
    """
    return np.random.default_rng(np.random.SeedSequence([*(int(k) for k in key), len(key)]))


