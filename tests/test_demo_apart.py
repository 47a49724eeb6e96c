"""A big demo floor runs apart: its helpdesks and collector in a child process, the board in
the process the user started, both on one SQLite file (issue #20: each gets a core of its
own). These run the real processes over loopback."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from supervisor_tui.config import Config
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import Escalation, FloorState
from supervisor_tui.store import SQLiteStore

from .conftest import targets


def lines_of(stream: object) -> queue.Queue[str | None]:
    """Each line a process writes, as it writes it (None at the end)."""
    told: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:  # type: ignore[attr-defined]
            told.put(line)
        told.put(None)

    threading.Thread(target=read, daemon=True).start()
    return told


def test_the_floor_side_collects_takes_an_ack_back_to_the_helpdesk_and_ends_with_its_stdin(
    tmp_path: Path,
) -> None:
    db = tmp_path / "floor.db"
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("SUPERVISOR_TUI_DEMO_ZENDESK_TOKEN", None)
    command = [sys.executable, "-m", "supervisor_tui", "demo", "--lang", "en"]
    command += ["--history-weeks", "0", "--floor-side", "--db", str(db)]
    with (tmp_path / "errors.txt").open("w+") as errors:
        side = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
        )
        try:
            told = lines_of(side.stdout)
            ready: dict[str, object] | None = None
            while ready is None:
                line = told.get(timeout=120)
                assert line is not None, "the floor side ended before it was ready"
                said = json.loads(line)
                ready = said.get("ready")
            config = Config.model_validate(ready)
            assert {s.name for s in config.sources} == {"zendesk", "retail"}
            # the secrets stay in the floor side: the board is told where they would be
            assert line is not None and "SUPERVISOR_TUI_DEMO_ZENDESK_TOKEN" in line

            store = SQLiteStore(db)
            try:
                state = FloorState(targets())
                deadline = time.monotonic() + 60
                ticket_escalations: list[Escalation] = []
                while not ticket_escalations and time.monotonic() < deadline:
                    for event in store.read_from(state.seq, 10_000):
                        state.apply(event)
                    ticket_escalations = [
                        e
                        for e in state.escalations.values()
                        if e.is_open and e.ticket_source == "zendesk" and e.ticket_id
                    ]
                    time.sleep(0.2)
                assert ticket_escalations, "no escalation on a zendesk ticket within a minute"
                esc = ticket_escalations[0]
                acked = EscalationDesk(store, time.time).ack(esc, "Sam", "from the board's process")
                assert acked is not None
                while store.outbox_pending_count() and time.monotonic() < deadline + 60:
                    time.sleep(0.2)
                assert store.outbox_pending_count() == 0, "the floor side never wrote it back"
            finally:
                store.close()
            side.stdin.close()  # type: ignore[union-attr]
            assert side.wait(60) == 0
            rest = []
            while (line := told.get(timeout=10)) is not None:
                rest.append(json.loads(line))
            taken = [t["write_back"] for t in rest if "write_back" in t]
            assert any(f"#{esc.ticket_id}" in t for t in taken), taken
            assert any("from the board's process" in t for t in taken), taken
        finally:
            if side.poll() is None:
                side.kill()
                side.wait()


def test_the_floor_side_ends_quietly_when_its_board_is_gone(tmp_path: Path) -> None:
    """The board's window closed under it (the board died; its pipes with it): the floor
    side has no one to tell what it says, stops at its stdin's end, and exits at once with
    no traceback (it spent a minute freeing its floor, at full speed, with no board left)."""
    env = {**os.environ, "HOME": str(tmp_path)}
    command = [sys.executable, "-m", "supervisor_tui", "demo", "--lang", "en"]
    command += ["--history-weeks", "0", "--floor-side", "--db", str(tmp_path / "gone.db")]
    with (tmp_path / "errors.txt").open("w+") as errors:
        side = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env
        )
        try:
            assert side.stdout is not None and side.stdin is not None
            side.stdout.close()  # nothing reads what it says any more
            side.stdin.close()
            assert side.wait(120) == 0
        finally:
            if side.poll() is None:
                side.kill()
                side.wait()
        errors.seek(0)
        said = errors.read()
    assert "Traceback" not in said and "BrokenPipe" not in said, said


class DemoTerminal:
    """``supervisor-tui demo --floor-process own`` on a pty of 200x60, as in a terminal."""

    def __init__(self, tmp_path: Path, db: Path | None, *extra: str) -> None:
        """``db`` None: the demo's own file, in a temporary directory under ``tmp_path``."""
        self.db = db
        command = str(Path(sys.executable).parent / "supervisor-tui")
        self.pid, self.master = pty.fork()
        if self.pid == 0:
            os.environ.update(
                {
                    "TERM": "xterm-256color",
                    "COLUMNS": "200",
                    "LINES": "60",
                    "HOME": str(tmp_path),
                    "TMPDIR": str(tmp_path),
                }
            )
            argv = [command, "demo", "--lang", "en", "--floor-process", "own"]
            argv += [] if db is None else ["--db", str(db)]
            os.execv(command, [*argv, "--history-weeks", "0", *extra])

    def read_until(self, needle: bytes, seconds: float) -> bytes:
        """What it drew until ``needle`` showed (or ``seconds`` passed)."""
        seen = b""
        deadline = time.monotonic() + seconds
        while needle not in seen and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                seen += os.read(self.master, 65536)
        return seen

    def quit(self, seconds: float = 60) -> int | None:
        """Presses q; its exit code, or None if it still runs after ``seconds``."""
        os.write(self.master, b"q")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with contextlib.suppress(OSError):
                os.read(self.master, 65536)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.pid = 0
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        return None

    def floor_sides(self, db: Path | None = None) -> list[str]:
        """The pids of its floor's process (pgrep: the pattern after ``--``)."""
        found = subprocess.run(
            ["pgrep", "-f", "--", f"--floor-side --db {db or self.db}"],
            capture_output=True,
            text=True,
        )
        assert found.returncode in (0, 1), found.stderr  # 1: none found
        return found.stdout.split()

    def close(self) -> None:
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.master)


def test_the_demo_apart_paints_and_quits_leaving_no_floor_process(tmp_path: Path) -> None:
    """`demo --floor-process own` in a terminal: the board paints what the floor side
    collects, and `q` ends both processes."""
    db = tmp_path / "apart.db"
    demo = DemoTerminal(tmp_path, db)
    try:
        seen = demo.read_until(b"newest", 120)
        assert b"second process" in seen
        assert b"newest" in seen, "the board never showed a source's newest event"
        time.sleep(2)
        assert demo.quit() == 0, "the demo did not end well on q"
        assert demo.floor_sides() == [], "the floor side outlived the board"
        store = SQLiteStore(db, read_only=True)
        try:
            assert store.last_seq() > 0
        finally:
            store.close()
    finally:
        demo.close()


def test_the_board_says_so_when_the_floors_process_dies(tmp_path: Path) -> None:
    """The floor's process killed under a running board: the board goes on showing what it
    has (its sources go stale with their age) and says the floor's process ended."""
    demo = DemoTerminal(tmp_path, tmp_path / "dies.db", "--helpdesk", "none")
    try:
        seen = demo.read_until(b"newest", 120)
        assert b"newest" in seen, "the board never showed a source's newest event"
        found = demo.floor_sides()
        assert len(found) == 1
        os.kill(int(found[0]), signal.SIGKILL)
        assert b"ended with code -9" in demo.read_until(b"ended with code", 60)
        assert demo.quit() is not None, "the board did not end on q"
    finally:
        demo.close()


@pytest.mark.parametrize("when", ["starting", "running"])
def test_a_closed_terminal_ends_the_demo_as_q_would(tmp_path: Path, when: str) -> None:
    """The terminal hangs up (its window closed, an SSH link dropped) while the floor starts
    (minutes at 10,000 agents) or once the board runs: the demo ends as on ``q``: its
    floor's process ends and its temporary files (a few hundred MB at 10,000 agents) are
    removed, not left behind by a process killed where it stood."""
    demo = DemoTerminal(tmp_path, None)
    try:
        needle = b"second process" if when == "starting" else b"newest"
        seen = demo.read_until(needle, 120)
        assert needle in seen, f"the demo never said {needle!r}"
        made = list(tmp_path.glob("supervisor-tui-demo-*"))
        assert len(made) == 1
        os.kill(demo.pid, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done, status = os.waitpid(demo.pid, os.WNOHANG)
            if done:
                demo.pid = 0
                break
            with contextlib.suppress(OSError):
                os.read(demo.master, 65536)
            time.sleep(0.05)
        assert demo.pid == 0, "the demo outlived its terminal"
        assert os.waitstatus_to_exitcode(status) != -signal.SIGHUP, "killed where it stood"
        assert demo.floor_sides(made[0] / "demo.db") == [], "the floor side outlived the board"
        assert list(tmp_path.glob("supervisor-tui-demo-*")) == [], "its files were left behind"
    finally:
        demo.close()
