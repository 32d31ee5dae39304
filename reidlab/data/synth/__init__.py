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
    CAVIAR4REID layout and shape: a flat folder of ``PPPPIII.jpg`` (images 001-010 camera 1,
    011-020 camera 2), with native multi-resolution crops whose heights vary over about
    4x (CAVIAR4REID: about 39-150 px): camera 1 is near (45-100% of the largest height),
    camera 2 far (26-55%); 22 of every 72 identities are seen by camera 1 only (50 of 72
    by both). ``prepare_dataset`` writes ``synth-caviar`` with CAVIAR4REID's own counts:
    72 identities, 10 images per identity and camera.

Everything is a pure function of the parameters: every image draws its randomness from a
``numpy`` generator keyed by ``(seed, stream, identity, camera, image)``, so the same seed
gives byte-identical files regardless of generation order.
"""
from __future__ import annotations

from reidlab.data.synth._common import GENERATOR_VERSION, MANIFEST_NAME, VARIANTS
from reidlab.data.synth.identities import (
    COARSE_ATTRIBUTES, FINE_ATTRIBUTES, IdentitySpec, sample_identities,
)
from reidlab.data.synth.cameras import CameraSpec, Occluder, ViewSpec, sample_camera, sample_view
from reidlab.data.synth.drawing import render_image
from reidlab.data.synth.writer import (
    SynthManifestMismatchError, make_synth_dataset, remove_generation_leftovers,
    synth_dataset_dirname,
)

__all__ = [
    "GENERATOR_VERSION", "MANIFEST_NAME", "VARIANTS", "COARSE_ATTRIBUTES", "FINE_ATTRIBUTES",
    "IdentitySpec", "CameraSpec", "Occluder", "ViewSpec", "SynthManifestMismatchError",
    "sample_identities", "sample_camera", "sample_view", "render_image",
    "synth_dataset_dirname", "make_synth_dataset", "remove_generation_leftovers",
]
