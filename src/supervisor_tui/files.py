"""Reading the small files a user points us at (the configuration, token files): only
regular files, never waiting on a FIFO or a device, never more than a limit."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def read_small_file(path: Path, limit: int) -> tuple[int, bytes]:
    """A regular file's mode and bytes, or OSError. Opened without blocking and checked on
    the open descriptor: a FIFO, a device or a directory in its place is refused at once
    (reading a FIFO would wait for a writer for ever), as is a file over ``limit`` bytes."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(st.st_mode)
                else "a FIFO"
                if stat.S_ISFIFO(st.st_mode)
                else "a socket"
                if stat.S_ISSOCK(st.st_mode)
                else "a device"
            )
            raise OSError(0, f"not a regular file ({kind})")
        if st.st_size > limit:
            raise OSError(0, f"{st.st_size:,} bytes, more than the {limit:,} a file here may have")
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.read(limit + 1)
        if len(raw) > limit:
            raise OSError(0, f"more than the {limit:,} bytes a file here may have")
        return st.st_mode, raw
    finally:
        os.close(fd)
