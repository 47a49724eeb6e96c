"""Writing a document that holds names: whole or not at all, and readable by its owner only."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it, renamed into place.

    The temporary file is created with mode 0600 by ``os.open`` itself, so there is no moment
    when another user could open it (a report lists agents by name with their figures); a
    file or link already at the temporary name is removed first, never followed.
    Raises OSError; the temporary file is gone afterwards either way."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
