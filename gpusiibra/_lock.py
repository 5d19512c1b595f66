"""An exclusive advisory lock on a file, released by the OS when the process ends (even when killed)."""
from __future__ import annotations

import json
import os
import socket
import time

__all__ = ["FileLock"]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class FileLock:
    """``flock`` (``msvcrt.locking`` on Windows) on ``path``; the holder writes its pid, host and start time there."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._f = None

    def acquire(self, wait: bool = False) -> bool:
        """Take the lock; ``False`` when another process holds it (``wait=True``: block until it is free)."""
        f = open(self.path, "a+")
        try:
            if os.name == "nt":
                import msvcrt

                f.seek(0)
                while True:
                    try:
                        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
                        break
                    except OSError:
                        if not wait:
                            raise
                        time.sleep(0.2)
            else:
                import fcntl

                fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError:
            f.close()
            return False
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}))
        f.flush()
        self._f = f
        return True

    def take(self, what: str, say) -> None:
        """Take the lock, waiting for it when another process holds it (``say`` tells the user who, while this
        one waits for ``what``)."""
        if not self.acquire():
            say(f"waiting for another process fetching {what}{self.holder()}")
            self.acquire(wait=True)

    def held(self) -> bool:
        """Whether another process holds the lock now (without taking it, and without writing)."""
        if os.name == "nt" or not os.path.exists(self.path):
            return False
        import fcntl

        try:
            with open(self.path) as f:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                except OSError:
                    return True
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        except OSError:
            return False
        return False

    def holder(self) -> str:
        """' (pid P on HOST, since T)' of the holder, or '' when unknown."""
        try:
            with open(self.path) as f:
                h = json.loads(f.read() or "{}")
            return f" (pid {h['pid']} on {h['host']}, since {h['since']})"
        except (OSError, ValueError, KeyError):
            return ""

    def release(self):
        if self._f is not None:
            self._f.close()  # closing the descriptor releases the lock
            self._f = None
