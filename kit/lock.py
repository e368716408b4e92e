"""An exclusive lock on a file, held by an OS lock that dies with its process.

A lock left by a killed process never blocks: the OS releases it when the
process ends (flock on POSIX, LockFile via msvcrt on Windows), so there is no
stale lock file to delete by hand. The lock file itself stays; it is empty.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path

# errnos that mean "someone else holds it"; anything else means the folder's file
# system cannot lock (some network shares), and then we go on unlocked rather
# than refuse every build forever.
_BUSY = {errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, getattr(errno, "EDEADLOCK", errno.EDEADLK)}

if sys.platform == "win32":  # pragma: no cover - our users' PCs; not run in CI here
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # one byte; locking past the end of file is allowed

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class Busy(Exception):
    """Another process (or another open of the file in this one) holds the lock."""


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold path's lock for the with block; raise Busy at once if it is taken."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes
    except PermissionError:  # made by another user account: reading is enough to lock it
        fd = os.open(path, os.O_RDONLY)
    try:
        try:
            _lock(fd)
        except OSError as exc:
            if exc.errno in _BUSY:
                raise Busy(str(path)) from None
            locked = False
        else:
            locked = True
        try:
            yield
        finally:
            if locked:
                with contextlib.suppress(OSError):
                    _unlock(fd)
    finally:
        os.close(fd)
