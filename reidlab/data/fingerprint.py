"""Content fingerprints of image files and record lists (keys of content-keyed caches).

:func:`file_digest` is a digest of a file's *bytes*; :func:`records_fingerprint` combines,
for every record, its path, ``pid``, ``camid``, ``factor``, ``res_label`` and its file's
digest. Replacing an image under the same name therefore changes the fingerprint, while
unchanged data gives the same one in every process.

Hashing reads every file once; the digests are cached by :mod:`reidlab.data.filecache`
(in memory per process, and on disk with a ``cache_dir``) while a file's size, mtime and
ctime are unchanged, so repeated fingerprints of an unchanged dataset only ``stat`` files.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from reidlab.data.filecache import cached_facts
from reidlab.data.records import ImageRecord

__all__ = ["DIGEST_FACT", "RECORD_FIELDS", "content_hash", "file_digest", "file_digests", "records_fingerprint"]

#: Name of the content digest in the file-facts cache.
DIGEST_FACT = "blake2b-128"
_CHUNK = 1 << 20


def content_hash(path: str | os.PathLike[str]) -> str:
    """blake2b (128-bit, hex) of the file's bytes, read in full (no cache)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _hash(path: Path) -> str:
    return content_hash(path)          # looked up at call time (tests count the calls)


def file_digests(paths: Iterable[str | os.PathLike[str]], *,
                 cache_dir: str | os.PathLike[str] | None = None,
                 progress: bool = False) -> list[str]:
    """:func:`file_digest` of every path, in order (each file hashed at most once)."""
    return cached_facts(paths, DIGEST_FACT, _hash, cache_dir=cache_dir, progress=progress,
                        desc="hashing images")


def file_digest(path: str | os.PathLike[str], *,
                cache_dir: str | os.PathLike[str] | None = None) -> str:
    """Content digest of ``path`` (hex), re-hashed only when its size/mtime/ctime change.

    A missing file raises ``FileNotFoundError`` naming it.
    """
    return file_digests([path], cache_dir=cache_dir)[0]


#: The record fields :func:`records_fingerprint` covers by default: all that a model can learn from.
RECORD_FIELDS: tuple[str, ...] = ("path", "pid", "camid", "factor", "res_label")


def records_fingerprint(records: Iterable[ImageRecord], *, fields: Sequence[str] = RECORD_FIELDS,
                        cache_dir: str | os.PathLike[str] | None = None,
                        progress: bool = False) -> str:
    """Digest (hex, 32 characters) of records *and the content of their files*: the one home of
    every identity built from records (trained runs, PS-HRNet runs, cached features).

    Covers, in order, each record's ``fields`` (default :data:`RECORD_FIELDS`; a run that
    never reads a field leaves it out, so changing it does not retrain) and its
    :func:`file_digest`. Order matters (a different order is a different list).
    """
    records = tuple(records)
    unknown = [f for f in fields if f not in RECORD_FIELDS]
    if unknown:
        raise ValueError(f"fields {unknown} are not record fields; choose from: {', '.join(RECORD_FIELDS)}")
    digests = file_digests([r.path for r in records], cache_dir=cache_dir, progress=progress)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"records-v2 {len(records)} {','.join(fields)}\n".encode())
    for r, digest in zip(records, digests):
        h.update(("\t".join(str(getattr(r, f)) for f in fields) + f"\t{digest}\n").encode())
    return h.hexdigest()
