"""Atomic outputs and the cache location, shared by every stage that writes to disk.

Every artefact kgpeft writes (adapters, caches, reports) goes through these helpers, so
a crash or a bad input never leaves a half-written file or folder that later loads.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import glob
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from kgpeft.errors import KGPeftError, OutputError
from kgpeft.types import StrPath

# kgpeft's own JSON outputs are small; a bigger file at an output path is not one of them.
_JSON_PEEK = 16 * 1024 * 1024


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cache_dir(*parts: str) -> Path:
    """``$KGPEFT_CACHE`` (default ``~/.cache/kgpeft``) joined with ``parts``, created if needed.

    A cache that cannot be written is a one-line error naming the variable and the folder,
    before any cache entry is computed.
    """
    from kgpeft.errors import KGPeftError

    variable = os.environ.get("KGPEFT_CACHE")
    root = Path(variable) if variable else Path.home() / ".cache" / "kgpeft"
    where = f"KGPEFT_CACHE={variable}" if variable else f"the cache folder {root}"
    path = root.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
        problem = None if os.access(path, os.W_OK | os.X_OK) else "not writable"
    except OSError as err:
        problem = err.strerror or str(err)
    if problem is not None:
        blocking = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            problem = f"{blocking} is a file, not a folder"
        raise KGPeftError(
            f"{where}: cannot use {path} as kgpeft's cache ({problem}); set KGPEFT_CACHE to a writable folder"
        )
    return path


@contextlib.contextmanager
def atomic_file(path: StrPath, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary file beside ``path``; it replaces ``path`` only if the block succeeds.

    >>> with atomic_file("out.json") as f:
    ...     f.write("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; outputs get the usual permissions
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: StrPath, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_file(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")


@contextlib.contextmanager
def atomic_dir(path: StrPath) -> Iterator[Path]:
    """Yield a temporary folder beside ``path`` that replaces ``path`` only if the block succeeds.

    A folder already at ``path`` is replaced as a whole, so readers see either the old
    complete folder or the new complete one, and an interruption at any point leaves one
    of them at ``path`` (see :func:`_install`). What may be replaced is the caller's
    decision: commands check it first with :func:`check_output_dir`. A symbolic link at
    ``path`` keeps pointing where it did; the folder it points to is the one replaced.

    >>> with atomic_dir("adapters/countries") as tmp:  # doctest: +SKIP
    ...     (tmp / "kgpeft.json").write_text("{}")
    """
    path = _real_path(Path(path))
    restore_interrupted(path)
    created = _missing_parents(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as err:
        _remove_empty(created)
        raise OutputError(
            f"{path}: cannot create a folder in {path.parent} ({err.strerror or err}); choose another location"
        ) from None
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; outputs get the usual permissions
    try:
        yield tmp
        _install(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(created)  # a failed write leaves no trace, not even the parents it made
        raise


# The name of the old folder inside its hidden ``.NAME.*.old`` parking folder (fallback path only).
_PARKED = "parked"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@functools.cache
def _renameat2() -> Any:
    """libc's ``renameat2`` (Linux, glibc >= 2.28), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _exchange(a: Path, b: Path) -> bool:
    """Swap the entries ``a`` and ``b`` in one atomic step; False where the system or filesystem cannot."""
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # an old kernel or a filesystem without RENAME_EXCHANGE: the fallback below
    raise OSError(code, os.strerror(code), str(b))


def _install(tmp: Path, path: Path) -> None:
    """Put the finished folder ``tmp`` at ``path``, replacing what is there, with no moment where neither is.

    Linux swaps the two in one step (``RENAME_EXCHANGE``), after which ``tmp`` holds the old
    folder. Elsewhere the old folder is parked in a hidden ``.NAME.*.old`` folder for the
    moment between two renames; a failure there puts it back, and a process killed there
    leaves it for :func:`restore_interrupted` to put back on the next call.
    """
    if not os.path.lexists(path):
        os.replace(tmp, path)
        return
    if _exchange(tmp, path):
        shutil.rmtree(tmp, ignore_errors=True)  # the old folder now
        return
    parking = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    parked = parking / _PARKED
    try:
        os.replace(path, parked)
        os.replace(tmp, path)
    except BaseException:
        # Judged by what is on disk, not by which step raised: an interruption can land anywhere.
        if parked.exists() and not os.path.lexists(path):
            os.replace(parked, path)
        if os.path.lexists(path):  # parking now holds nothing, or the old folder after the new one went in
            shutil.rmtree(parking, ignore_errors=True)
        raise
    shutil.rmtree(parking, ignore_errors=True)


def restore_interrupted(path: StrPath) -> bool:
    """Put back a folder that a killed replacement left parked in ``.NAME.*.old``, if ``path`` is missing.

    Returns True when one was restored (the most recent, if several).
    """
    path = Path(path)
    if os.path.lexists(path) or not path.parent.is_dir():
        return False
    parkings = [p for p in path.parent.glob(f".{glob.escape(path.name)}.*.old") if (p / _PARKED).is_dir()]
    if not parkings:
        return False
    latest = max(parkings, key=lambda p: p.stat().st_mtime)
    os.replace(latest / _PARKED, path)
    latest.rmdir()
    return True


def _real_path(path: Path) -> Path:
    """``path`` with a symbolic link at its end followed, so the link survives the replacement."""
    if path.is_symlink():
        if not path.exists():
            raise OutputError(f"{path}: is a broken symbolic link; remove it or choose another output path")
        return path.resolve()
    return path


def _missing_parents(path: Path) -> list[Path]:
    """The ancestors of ``path`` that do not exist yet, deepest first."""
    return [parent for parent in path.parents if not os.path.lexists(parent)]


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        with contextlib.suppress(OSError):
            folder.rmdir()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_dir(
    path: StrPath,
    *,
    marker: str,
    what: str,
    overwrite: bool = False,
    inputs: Iterable[StrPath | None] = (),
) -> Path:
    """Refuse, before any work, an output folder whose replacement would lose what the user did not ask to lose.

    Allowed: a path that does not exist (under a writable folder), an empty folder, and,
    with ``overwrite``, a folder holding ``marker`` (one that kgpeft wrote, of this kind).
    Refused with an :class:`OutputError`: a folder of anything else (even with
    ``overwrite``: kgpeft never deletes what it did not write), one of this kind without
    ``overwrite``, a file, a folder that cannot be written, and a path that is, holds or
    lies inside one of ``inputs``. Returns ``path``.

    >>> check_output_dir("adapters/countries", marker="kgpeft.json", what="adapter folder")  # doctest: +SKIP
    PosixPath('adapters/countries')
    """
    path = Path(path)
    real = _real_path(path).resolve()
    for source in inputs:
        if source is None or not os.path.exists(source):
            continue  # hub ids and other names that are not paths
        source = Path(source).resolve()
        if _inside(real, source) or _inside(source, real):
            relation = "is" if real == source else "lies inside" if _inside(real, source) else "holds"
            raise OutputError(f"{path}: the output {relation} the input {source}; choose another output folder")
    restore_interrupted(real)
    if os.path.lexists(real):
        if not real.is_dir():
            raise OutputError(f"{path}: exists and is a file, not a folder; choose another output folder")
        try:
            empty = next(real.iterdir(), None) is None
        except OSError as err:
            raise OutputError(
                f"{path}: cannot read this folder ({err.strerror}); choose another output folder"
            ) from None
        if not empty:
            if not (real / marker).is_file():
                raise OutputError(
                    f"{path}: exists and is not a {what} (no {marker}); kgpeft replaces only its own outputs, "
                    "even with --overwrite: choose another output folder"
                )
            if not overwrite:
                raise OutputError(f"{path}: a {what} exists here; pass --overwrite to replace it")
    _check_writable(path, real)
    return path


def check_output_file(path: StrPath, *, key: str, what: str, flag: str = "") -> Path:
    """Refuse, before any work, to replace a file that is not ``what`` written by kgpeft (a JSON object with ``key``).

    ``flag`` (e.g. ``"--json"``) leads the message, to say which option to change.

    >>> check_output_file("metrics.json", key="systems", what="kgpeft eval result")  # doctest: +SKIP
    PosixPath('metrics.json')
    """
    path = Path(path)
    shown = f"{flag} {path}".lstrip()
    if os.path.lexists(path):
        if path.is_dir():
            raise OutputError(f"{shown}: is a folder, not a file; choose another file name")
        # is_file first: reading a FIFO or a device to find out would block or never end
        if not (path.is_file() and is_kgpeft_json(path, key)):
            raise OutputError(
                f"{shown}: exists and is not a {what}; kgpeft replaces only its own files: choose another"
            )
    _check_writable(shown, path.resolve())
    return path


def check_output_files(folder: StrPath, names: Sequence[str], *, key: str, what: str, flag: str = "") -> Path:
    """Refuse, before any work, to write ``names`` into ``folder`` over files kgpeft did not write.

    ``names[0]`` is the JSON record (an object with ``key``) that vouches for the rest: with
    it, the set is kgpeft's own earlier output and is replaced; without it, any of ``names``
    already in ``folder`` is the user's. Other files in ``folder`` are never touched.
    ``flag`` (e.g. ``"--report-dir"``) leads the message, to say which option to change.

    >>> check_output_files("docs/results", ["report.json", "report.md"], key="systems", what="kgpeft eval")  # doctest: +SKIP
    PosixPath('docs/results')
    """
    folder = Path(folder)
    shown = f"{flag} {folder}".lstrip()
    if os.path.lexists(folder) and not folder.is_dir():
        raise OutputError(f"{shown}: exists and is a file, not a folder; choose another folder")
    record = folder / names[0]
    existing = [name for name in names if os.path.lexists(folder / name)]
    if existing and not (record.is_file() and is_kgpeft_json(record, key)):
        raise OutputError(f"{shown}: {existing[0]} there was not written by {what}; choose another folder")
    _check_writable(shown, folder.resolve() / names[0])
    return folder


def _check_writable(shown: StrPath, real: Path) -> None:
    """Refuse ``real`` (named ``shown`` in messages) when its nearest existing ancestor is a file or read-only."""
    existing = next(parent for parent in real.parents if os.path.lexists(parent))
    if not existing.is_dir():
        raise OutputError(f"{shown}: {existing} is a file, not a folder; choose another output path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{shown}: cannot write in {existing} (read-only or no permission); choose another path")


def is_kgpeft_json(path: StrPath, key: str) -> bool:
    """Whether ``path`` is a JSON object holding ``key``: how kgpeft recognises a file it wrote."""
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read(_JSON_PEEK))  # a bigger file fails to parse
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and key in data


def read_user_file(path: StrPath, *, error: type[KGPeftError] = KGPeftError, what: str = "a file") -> bytes:
    """The file's raw bytes, with one actionable message for each way reading can fail.

    Only a regular file is read, and only as many bytes as it holds: a path that comes from
    user data (an adapter's record, a config file) may name ``/dev/zero``, a FIFO or a
    directory, which would read forever, block, or fail obscurely. ``error`` is the type
    raised and ``what`` the kind of file expected, so every reader of user files shares this.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO blocks a plain open() until a writer comes
    except FileNotFoundError:
        raise error(f"{path}: no such file: check the path (it is relative to {Path.cwd()}).") from None
    except PermissionError:
        raise error(f"{path}: permission denied: make the file readable (chmod +r) or copy it.") from None
    except OSError as err:
        raise error(f"{path}: cannot read the file ({err.strerror or err}).") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise error(f"{path} is a directory: pass {what}.")
        if not stat.S_ISREG(mode):
            raise error(f"{path} is not a regular file (a device, FIFO or socket): pass {what}.")
        with open(fd, "rb", closefd=False) as handle:
            return handle.read(os.fstat(fd).st_size)  # bounded by the size: a file growing meanwhile is cut there
    except OSError as err:
        raise error(f"{path}: cannot read the file ({err.strerror or err}).") from None
    finally:
        os.close(fd)
