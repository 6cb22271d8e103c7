"""An exclusive lock on a TinyDB folder, between the threads and processes of one machine.

TinyDB has no lock: each change reads the whole ``metadata.json``, changes it and writes it
back, so two writers at once lose each other's changes, and a table object guesses its next
document id from what it read before. Every writer of this package (``TinyDbObserver``,
``TinyDbStore.update_meta``/``claim``/``delete``) holds this lock around each
read-change-write: an OS lock (``fcntl.flock``, advisory, on ``metadata.json`` itself, which
TinyDB rewrites in place, so the folder holds only what the original puts there; on Windows,
untested, ``msvcrt.locking`` on a file ``metadata.json.lock`` beside it, since Windows locks
are mandatory), plus a thread lock, since one process may hold several observers of one folder. The lock is re-entrant
within a thread. Tools that do not take it (the original Sacred's observer, TinyDB itself)
are not kept out: TinyDB stays a store for one machine and a few writers.

Locks on a network filesystem are only as good as its support for ``flock`` (NFS v4 has it).
"""

from __future__ import annotations

import os
import threading

__all__ = ("folder_lock", "LOCK_NAME")

LOCK_NAME = "metadata.json.lock" if os.name == "nt" else "metadata.json"

if os.name == "nt":  # pragma: no cover (Windows)
    import msvcrt

    def _lock(fd):
        os.lseek(fd, 0, os.SEEK_SET)
        while True:
            try:  # LK_LOCK tries for 10 seconds, then raises: go on waiting
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:
                continue

    def _unlock(fd):
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd):
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd):
        fcntl.flock(fd, fcntl.LOCK_UN)


class FolderLock:
    """The lock of one folder: ``with lock: ...`` (re-entrant within a thread)."""

    def __init__(self, path):
        self.path = path
        self._reset()

    def _reset(self):
        self._pid = os.getpid()
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd = None

    def __enter__(self):
        if self._pid != os.getpid():  # a forked child: its parent's holders are not here
            self._reset()
        self._thread_lock.acquire()
        try:
            if self._depth == 0:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    _lock(fd)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *exc):
        try:
            self._depth -= 1
            if self._depth == 0:
                fd, self._fd = self._fd, None
                try:
                    _unlock(fd)
                finally:
                    os.close(fd)
        finally:
            self._thread_lock.release()
        return False


_LOCKS: dict = {}
_GUARD = threading.Lock()


def folder_lock(root) -> FolderLock:
    """The lock of the TinyDB folder ``root`` (one object per folder and process)."""
    path = os.path.join(os.path.abspath(os.fspath(root)), LOCK_NAME)
    with _GUARD:
        lock = _LOCKS.get(path)
        if lock is None:
            lock = _LOCKS[path] = FolderLock(path)
        return lock


def _forget_after_fork():  # a child must not inherit a lock held by a thread of its parent
    global _GUARD
    _GUARD = threading.Lock()
    _LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
