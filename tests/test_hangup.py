"""A wall terminal that goes away: the board ends, whatever state its output is in.

Textual writes to the terminal through a bounded queue and a writer thread. When the terminal
stops taking output (a dead pty, a hung ssh session), the writer blocks, the queue fills, and
the app's own loop blocks on it: a signal handled by that loop is never handled, and the board
was left running, deaf to SIGTERM, with its input thread spinning on the dead terminal."""

from __future__ import annotations

import os
import pty
import signal
import sys
import time
from pathlib import Path

import pytest


def wait_gone(pid: int, bound_s: float) -> int | None:
    """The exit status once the child is gone, or None if it is still there after bound_s."""
    end = time.monotonic() + bound_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= end:
            return None
        time.sleep(0.1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_board_whose_terminal_stopped_taking_output_still_ends_on_a_signal(
    tmp_path: Path, sig: signal.Signals
) -> None:
    command = str(Path(sys.executable).parent / "supervisor-tui")
    pid, master = pty.fork()
    if pid == 0:  # the child: the real demo on the pty, as in a terminal
        os.environ.update(
            {"TERM": "xterm-256color", "COLUMNS": "200", "LINES": "60", "HOME": str(tmp_path)}
        )
        os.execv(command, [command, "demo", "--helpdesk", "none", "--speed", "60"])
    try:
        # read what it draws for a while (it starts and paints), then stop reading: the pty
        # fills, Textual's writer blocks, its queue fills, and the app's loop blocks on it
        started = time.monotonic()
        seen = 0
        while time.monotonic() - started < 20 and seen < 200_000:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            seen += len(chunk)
        assert seen > 10_000, "the board never painted"
        time.sleep(8)  # it keeps painting at 60x into a terminal nobody reads
        os.kill(pid, sig)
        status = wait_gone(pid, 30)
        assert status is not None, "the board is still running 30 s after the signal"
        pid = 0  # reaped
    finally:
        if pid and wait_gone(pid, 0) is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)
