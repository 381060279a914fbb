"""Writing files so that a failure never leaves half a file, and says what to do about it.

Every file the harness writes (results, timings, summary, the README block, tables, figures,
cache entries, executed notebooks) goes through :func:`replacing`: the new content is written
to a temporary file of a unique name (process id and a random part) in the same folder, which
then replaces the target in one step (``os.replace``). A full disk, a read-only folder, a crash
or an interruption leave the previous file as it was; two processes writing the same file never
share a temporary file, and a reader sees the old or the new content, never a mix.

One notebook's outputs as a whole go the same way (:func:`staged`): the runner points the
notebook at a stage folder of a unique name, and the stage replaces the notebook's folder and
results file only when the notebook ran through. A notebook that fails or is cut off halfway
leaves its earlier outputs whole, not a mix of new figures and old results.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .paths import results_in

try:
    import fcntl
except ImportError:  # Windows has none: outputs are then replaced without a lock
    fcntl = None

__all__ = ["OutputError", "os_error_message", "replacing", "write_atomic", "check_writable", "staged",
           "clean_output_root"]


class OutputError(OSError):
    """A file could not be written; the message names it and the fix, in one line."""


def os_error_message(path: Path, exc: OSError, action: str = "write", folder: Path | None = None) -> str:
    """One line: what failed (``action`` on ``path``), why, and how to fix it (``folder``: the
    one to make readable or writable, by default ``path``'s)."""
    if exc.errno == errno.ENOSPC:
        why = ("the disk is full. Free some space (`make clean` empties build/), or set NTKLIB_OUTPUT (outputs) "
               "and NTKLIB_RESULT_CACHE (cached steps) to folders on another disk")
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        folder = Path(folder or Path(path).parent)
        while not folder.exists() and folder != folder.parent:  # the folder to fix is the first that exists
            folder = folder.parent
        why = (f"permission denied. Make {folder} {'readable' if action == 'read' else 'writable'}"
               + ("" if action == "read" else ", or set NTKLIB_OUTPUT (outputs) or NTKLIB_RESULT_CACHE (cached steps) "
                  "to a folder you can write"))
    else:
        why = exc.strerror or f"{type(exc).__name__}: {exc}"
    return f"cannot {action} {path}: {why}"


_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS}


def _is_write_error(exc: OSError, path: Path, tmp: Path) -> bool:
    """Whether ``exc`` is about writing ``path``: a full disk or a refused write, or an error
    naming the temporary file, the target or a folder above it."""
    named = isinstance(exc.filename, str | os.PathLike) and (
        str(exc.filename) == str(tmp) or path.is_relative_to(exc.filename))
    return exc.errno in _WRITE_ERRORS or named


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to: it replaces ``path`` when the block
    ends without error and is removed otherwise, leaving ``path`` as it was. An ``OSError`` of
    the write (full disk, refused, or naming the file or a folder above it) becomes an
    :class:`OutputError` with a one-line message (:func:`os_error_message`)."""
    path = Path(path)
    # the target's suffix last, so that writers that go by it (matplotlib, papermill) see it
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OutputError:
        raise
    except OSError as exc:
        if not _is_write_error(exc, path, tmp):
            raise  # the writer's own trouble (a kernel that did not start, ...), not the file's
        error = OutputError(os_error_message(path, exc))
        error.errno = exc.errno
        raise error from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_atomic(path: Path, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, line ends untouched) to ``path`` through :func:`replacing`."""
    with replacing(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8", newline="")
    return Path(path)


def check_writable(folder: Path) -> None:
    """Raise :class:`OutputError` when no file can be created in ``folder`` (made if missing):
    the runner and ``nh.start`` call it before any compute."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        error = OutputError(os_error_message(folder, exc, folder=folder))
        error.errno = exc.errno
        raise error from exc


def _owner_gone(pid: str) -> bool:
    """Whether the process ``pid`` (text) that named a temporary file or stage no longer runs on
    this machine; False where that cannot be told (not a number, another user's process, or
    Windows, where probing a process with ``os.kill`` would end it)."""
    if not pid.isdigit() or os.name == "nt":
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's process, or no way to tell: leave it
        return False
    return False


def remove_orphaned_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files of :func:`replacing` in ``folder`` whose writing process no
    longer runs on this machine (a worker ended mid-write, e.g. by Ctrl-C on a cluster); those of
    running processes are left alone. Their names carry no host: on a folder shared between
    machines, a process of another machine counts as ended. Returns what was removed."""
    removed = []
    for path in Path(folder).glob(".*.tmp*"):
        if _owner_gone(path.name.rsplit(".tmp", 1)[0].rsplit(".", 1)[-1].split("-", 1)[0]):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def clean_output_root(root: Path) -> list[Path]:
    """Remove what ended runs left in an output root: temporary files in it and in
    ``executed/`` (:func:`remove_orphaned_temporaries`), and the stages this machine made whose
    run no longer runs, first undoing a replacement of outputs that a kill cut halfway (the
    earlier folder goes back, unless a later run has published since). The runner calls it
    before and after each run. Returns what was removed."""
    root = Path(root)
    removed = remove_orphaned_temporaries(root) + remove_orphaned_temporaries(root / "executed")
    for stage in root.glob(f"{_STAGES}/*"):
        notebook, host, pid = _stage_owner(stage)
        if host != _host() or not _owner_gone(pid):
            continue
        if results_in(stage, notebook).is_file() or not (root / notebook).exists():
            with _locked(root), contextlib.suppress(OSError):  # the results file was never moved: unfinished
                _undo(stage, root, notebook)
        shutil.rmtree(stage, ignore_errors=True)
        removed.append(stage)
    with contextlib.suppress(OSError):  # emptied: no run has a stage here now
        (root / _STAGES).rmdir()
    return removed


# Stages: under an output root, one folder per notebook run, <notebook>.<host>.<pid>-<random>,
# holding a marker file while its run owns it and, during the replacement, the earlier folder
# (and the identity of the new one, once moved into place)
_STAGES, _MARKER, _ASIDE, _MOVED = ".staging", ".owned", "earlier", ".moved"


def _host() -> str:
    return socket.gethostname().replace(".", "_") or "host"


def _stage_name(notebook: str) -> str:
    return f"{notebook}.{_host()}.{os.getpid()}-{secrets.token_hex(4)}"


def _stage_owner(stage: Path) -> tuple[str, str, str]:
    """(notebook, host, pid) of a stage's name (:func:`_stage_name`)."""
    notebook, host, owner = (stage.name.split(".") + ["", ""])[:3]
    return notebook, host, owner.split("-", 1)[0]


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` for the block, so that two runs replacing the same
    notebook's outputs take turns; where the file system offers none (Windows; NFS, whose
    emulated flock refuses a folder opened for reading), the block runs unlocked, and a run
    that collides with another then fails with the reason instead of mixing them."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _undo(stage: Path, root: Path, notebook: str) -> None:
    """Put the earlier folder, moved aside into ``stage``, back in place, taking out the stage's
    own new folder if it is there; a folder another run has published since stays."""
    earlier, final = stage / _ASIDE, root / notebook
    if not earlier.is_dir():
        return
    if final.exists():
        moved = stage / _MOVED
        if not moved.is_file() or moved.read_text() != str(final.stat().st_ino):
            return
        os.replace(final, stage / notebook)
    os.replace(earlier, final)


def _publish(stage: Path, root: Path, notebook: str) -> None:
    """Move a finished run's files from ``stage`` into ``root``: the notebook's folder as a whole
    (files the run no longer writes go with the earlier folder), and its results file. Both are
    replaced or neither: a failure, or Ctrl-C, halfway puts the earlier ones back."""
    if not (stage / _MARKER).is_file():
        raise OutputError(f"{stage} was removed while {notebook} ran (by hand, or by a cleanup on another machine of "
                          "the same host name sharing this folder), so its outputs are incomplete and the earlier ones "
                          "were kept. Rerun it: finished steps come from the cache")
    new, final = stage / notebook, root / notebook
    results_in(root, notebook).parent.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        try:
            with contextlib.suppress(FileNotFoundError):
                os.replace(final, stage / _ASIDE)
            if new.is_dir():
                (stage / _MOVED).write_text(str(new.stat().st_ino))  # so that an undo knows its own folder
                os.replace(new, final)
            if results_in(stage, notebook).is_file():
                os.replace(results_in(stage, notebook), results_in(root, notebook))
        except BaseException:
            with contextlib.suppress(OSError):
                _undo(stage, root, notebook)
            raise


@contextlib.contextmanager
def staged(root: Path, notebook: str) -> Iterator[Path]:
    """A new, empty stage folder for one run of ``notebook`` whose outputs belong in ``root``:
    when the block ends without error its files replace the notebook's folder and results file
    there; in any case the stage is then removed. Errors of the move become :class:`OutputError`."""
    root = Path(root)
    stage = root / _STAGES / _stage_name(notebook)
    for attempt in range(3):
        try:
            stage.mkdir(parents=True)
            (stage / _MARKER).touch()
            break
        except FileNotFoundError as exc:  # a run beside removed the emptied .staging between its making and the stage's
            if attempt == 2:
                raise OutputError(os_error_message(root, exc, folder=root)) from exc
        except OSError as exc:
            raise OutputError(os_error_message(root, exc, folder=root)) from exc
    try:
        yield stage
        try:
            _publish(stage, root, notebook)
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(os_error_message(root / notebook, exc)) from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        with contextlib.suppress(OSError):  # the last stage out removes the folder (not empty: a run beside)
            stage.parent.rmdir()
