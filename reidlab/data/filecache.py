"""Facts about files (content digest, decode check), cached while the file is unchanged.

A *fact* is a string computed from a file's bytes (:mod:`reidlab.data.fingerprint`'s
content digest, :func:`reidlab.data.images.verify_images`' decode check). Computing it
reads the whole file, so it is cached:

* in memory, per process, keyed by the absolute path;
* with a ``cache_dir``, on disk as well: one JSON file per image folder
  (``<cache_dir>/<folder name>-<hash of the folder path>.json``), written atomically.

A cached entry is used only while the file's ``(size, mtime_ns, ctime_ns)`` are those it
was computed for; any change (a file replaced under the same name, touched, rewritten in
place) recomputes every fact of that file. ``ctime`` cannot be set by a copy tool, so a
replacement that restores size and mtime (``cp -p``, ``rsync -a``) is still noticed.
A damaged or foreign cache file is ignored (and rewritten), never trusted.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from reidlab.progress import tqdm

from reidlab.paths import remove_stale_temporaries, temporary_name

__all__ = ["CACHE_VERSION", "StatKey", "stat_key", "cached_facts", "clear_memory_cache",
           "folder_cache_file"]

#: Bump when the on-disk format changes: older files are then ignored.
CACHE_VERSION = 1

StatKey = tuple[int, int, int]

#: absolute path -> (stat key, {fact name: value}), this process.
_MEMORY: dict[str, tuple[StatKey, dict[str, str]]] = {}


def stat_key(path: str | os.PathLike[str]) -> StatKey:
    """``(size, mtime_ns, ctime_ns)`` of ``path`` (follows symlinks; ``OSError`` if absent)."""
    st = os.stat(path)
    return (int(st.st_size), int(st.st_mtime_ns), int(st.st_ctime_ns))


def clear_memory_cache() -> None:
    """Forget this process's cached facts (the on-disk caches stay)."""
    _MEMORY.clear()


def folder_cache_file(cache_dir: str | os.PathLike[str], folder: str | os.PathLike[str]) -> Path:
    """The JSON file of ``cache_dir`` holding the facts of the files directly in ``folder``."""
    folder = os.path.abspath(os.fspath(folder))
    tag = hashlib.blake2b(folder.encode(), digest_size=8).hexdigest()
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in os.path.basename(folder))
    return Path(cache_dir) / f"{name or 'root'}-{tag}.json"


def _read_folder_cache(path: Path, folder: str) -> dict[str, dict[str, Any]]:
    """``{file name: {"stat": [...], "facts": {...}}}`` from ``path``; ``{}`` if unusable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION \
            or data.get("folder") != folder or not isinstance(data.get("files"), dict):
        return {}
    return {name: entry for name, entry in data["files"].items()
            if isinstance(entry, dict) and isinstance(entry.get("stat"), list)
            and isinstance(entry.get("facts"), dict)}


def _write_folder_cache(path: Path, folder: str, updates: dict[str, dict[str, Any]]) -> None:
    """Merge ``updates`` into the cache file at ``path`` (atomic replace, best effort)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent)
        files = _read_folder_cache(path, folder)      # another process may have added some
        files.update(updates)
        tmp = temporary_name(path)
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "folder": folder,
                                   "files": files}, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass    # a read-only or full cache folder only costs recomputation next time


def _entry_for(path: str, key: StatKey, disk: dict[str, dict[str, Any]] | None
               ) -> dict[str, str]:
    """The facts known for ``path`` at ``key`` (memory, then disk), registered in memory."""
    cached = _MEMORY.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    facts: dict[str, str] = {}
    if disk is not None:
        stored = disk.get(os.path.basename(path))
        if stored is not None and tuple(stored["stat"]) == key:
            facts = {str(k): str(v) for k, v in stored["facts"].items()}
    _MEMORY[path] = (key, facts)
    return facts


def cached_facts(paths: Iterable[str | os.PathLike[str]], fact: str,
                 compute: Callable[[Path], str], *,
                 cache_dir: str | os.PathLike[str] | None = None,
                 progress: bool = False, desc: str | None = None) -> list[str]:
    """``compute(path)`` for every path, in order, computed once per unchanged file.

    Args:
        paths: files (a path may repeat; each file is computed at most once).
        fact: the fact's name (a cache key: change it when ``compute`` changes meaning).
        compute: the fact from the file, a string (it must not depend on anything else).
        cache_dir: folder of the on-disk caches; ``None`` keeps them in memory only.
        progress: show a tqdm bar over the files that need computing.
        desc: the bar's label.

    A missing file raises ``FileNotFoundError`` (from ``os.stat``) naming it.
    """
    order = [os.path.abspath(os.fspath(p)) for p in paths]
    by_folder: dict[str, list[str]] = {}
    for path in dict.fromkeys(order):
        by_folder.setdefault(os.path.dirname(path), []).append(path)
    results: dict[str, str] = {}
    todo: list[tuple[str, StatKey, dict[str, str]]] = []
    disks: dict[str, tuple[Path, dict[str, dict[str, Any]]]] = {}
    for folder, members in by_folder.items():
        disk = None
        if cache_dir is not None:
            file = folder_cache_file(cache_dir, folder)
            disk = _read_folder_cache(file, folder)
            disks[folder] = (file, disk)
        for path in members:
            key = stat_key(path)
            facts = _entry_for(path, key, disk)
            if fact in facts:
                results[path] = facts[fact]
            else:
                todo.append((path, key, facts))
    for path, _, facts in tqdm(todo, desc=desc or fact, unit="file",
                               disable=not progress or not todo):
        facts[fact] = results[path] = compute(Path(path))
    for folder, (file, disk) in disks.items():
        updates = {}
        for path in by_folder[folder]:
            key, facts = _MEMORY[path]
            name = os.path.basename(path)
            stored = disk.get(name)
            if stored is None or tuple(stored["stat"]) != key or stored["facts"] != facts:
                updates[name] = {"stat": list(key), "facts": dict(facts)}
        if updates:
            _write_folder_cache(file, folder, updates)
    return [results[p] for p in order]
