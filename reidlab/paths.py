"""Where things are: the repository root, path parameters, and stale temporaries.

Every path parameter of the project (``data_root``, ``runs_dir``, ``results_dir``, CLI
``--out``...) goes through :func:`resolve`: an absolute path is kept, a relative one is
taken relative to the repository root, never to the current working directory (a Jupyter
kernel runs in ``notebooks/``, papermill and the CLI wherever they were started).

Writers of large files and folders write to a temporary sibling first and rename it into
place. A process killed before the rename leaves the temporary behind; such names carry
the writer's pid (:func:`temporary_name`) so :func:`remove_stale_temporaries` can delete
those of dead processes on the next start, and never those of a live writer.
"""
from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["repo_root", "resolve", "temporary_name", "pid_alive", "remove_stale_temporaries",
           "atomic_write", "atomic_write_bytes", "atomic_write_text", "strict_json", "write_json", "read_json"]


def repo_root() -> Path:
    """The repository root (the folder holding ``reidlab/``), wherever the process runs."""
    return Path(__file__).resolve().parents[1]


def resolve(path: str | os.PathLike[str], *, name: str = "path") -> Path:
    """``path`` as given when absolute, else relative to the repository root.

    ``name`` is the parameter's name, used in the error for a value that is not a path
    (``data_root=5`` -> "data_root must be a path (str or os.PathLike), got int 5").
    """
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got "
                        f"{type(path).__name__} {path!r}")
    if isinstance(path, str) and not path.strip():
        raise ValueError(f"{name} must not be empty")
    p = Path(path).expanduser()
    return p if p.is_absolute() else repo_root() / p


def temporary_name(final: str | os.PathLike[str], suffix: str = ".tmp") -> Path:
    """A hidden sibling of ``final`` for an atomic write: ``.<name>.<pid>.<random><suffix>``."""
    final = Path(final)
    return final.parent / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}{suffix}"


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


_TEMP_RE = re.compile(r"^\.(?P<final>.+)\.(?P<pid>\d+)\.[0-9a-f]{12}(?P<suffix>\.tmp[^/]*)$")


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the :func:`temporary_name` files/folders in ``folder`` whose writer is dead.

    Returns what was removed. Temporaries of live processes (another writer at work) are kept.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TEMP_RE.match(entry.name)
        if match is None or pid_alive(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` atomically: ``write(handle)`` fills a :func:`temporary_name` sibling, which is
    fsync'ed and moved into place with :func:`os.replace`; a reader sees the old file or the
    new one, never a torn one. A failed write leaves the old file and no temporary, and says
    why in plain words (disk full, interrupted)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_name = str(temporary_name(path))
    # os.open (not mkstemp) so the file gets the usual umask-based permissions
    fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        # explained before the temporary is deleted: deleting it frees the space a full disk lacked
        explained = _explain_write_error(exc, path)
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        if explained is exc:
            raise
        raise explained from exc
    _fsync_dir(path.parent)
    return path


def _disk_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < 1 << 20
    except OSError:  # pragma: no cover
        return False


def _explain_write_error(exc: BaseException, path: Path) -> BaseException:
    """The error to raise when writing ``path`` failed (the previous file is intact)."""
    chain, cause = [], exc
    while cause is not None and cause not in chain:      # torch.save wraps the OSError of a full disk
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in chain) or \
            (isinstance(exc, (OSError, RuntimeError)) and _disk_full(path)):
        return OSError(errno.ENOSPC, f"no space left on device while writing {path}; the previous "
                                     "version of the file is intact: free some space and run again")
    if isinstance(exc, KeyboardInterrupt):
        return KeyboardInterrupt(f"interrupted while writing {path}; the previous version of the "
                                 "file is intact")
    if isinstance(exc, RuntimeError) and "unexpected pos" in str(exc):
        # torch.save's writer reports a failed or interrupted write this way
        return OSError(errno.EIO, f"interrupted while writing {path} (the write failed part-way); the "
                                  "previous version of the file is intact: run again to resume")
    return exc


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def strict_json(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays and paths made plain, and every NaN or infinity
    replaced by ``None``, so that the result is strict JSON (RFC 8259 has no NaN)."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return strict_json(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """``obj`` as strict, indented, key-sorted JSON (NaN and infinities become ``null``), atomically:
    the one JSON writer of the project (run folders, results)."""
    text = json.dumps(strict_json(obj), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def read_json(path: str | os.PathLike[str], *, missing_ok: bool = False) -> Any:
    """The JSON content of ``path``: the one JSON reader of the project.

    ``missing_ok=False``: a missing file is a ``FileNotFoundError`` and an unreadable one a
    ``ValueError``, both naming it. ``missing_ok=True`` (run folders, where a file that is
    absent, torn or foreign means "not written yet"): ``None`` in both cases.
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing_ok:
            return None
        raise FileNotFoundError(f"{path} does not exist") from None
    except (OSError, ValueError) as exc:
        if missing_ok:
            return None
        raise ValueError(f"{path} is not readable JSON ({exc})") from exc


def append_json_line(path: str | os.PathLike[str] | None, entry: Any) -> None:
    """Append ``entry`` as one JSON line to ``path`` (nothing when ``path`` is empty or ``None``).

    For logs another process reads afterwards (a notebook's kernel reporting to the pipeline):
    informative only, so an unwritable file is ignored rather than failing the work it describes.
    """
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
    except OSError:
        pass


def read_json_lines(path: str | os.PathLike[str]) -> list[Any]:
    """The entries of an :func:`append_json_line` file (none for a missing file; a line cut short
    by a killed writer is skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries
