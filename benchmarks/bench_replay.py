"""Replay: open and seek on a 10,000,000-event recording (2,000,000 in ``--quick``), and replay
CPU at 60x.

Issue #20 aims at 10,000,000 events; simulating them takes longer than the whole suite may
(about 22,000 events/s here: over 7 minutes before storing), so a recording of 1,000,000
events of a 1,000-agent floor is simulated (with its snapshots, as a collector writes them)
and then laid end to end ten times, each copy a whole number of days later, keys and seqs
made new and each snapshot filed (and saying) its new seq: opening reads ten times the
timeline, a seek restores the same snapshots and folds the same events as in a real
recording of that length. Both files are kept in ``benchmarks/.cache`` between runs.

- seek: p50/p95 of ``ReplayPlayer.seek`` to random instants (nearest FloorState snapshot plus
  the events after it), against folding every event from the start, in the same run; and the
  p95 of a seek on past an instant the player left ten minutes back (it folds on from the
  state it let go of);
- CPU: the headless dashboard replaying the issue's floor (10,000 agents, 1,000 queues,
  200,000 open tickets: the first hour ``bench_render`` opens, shared by the run) at 60x, as %
  of one core, against the same replay at 1x.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import math
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.scale import FLOOR, QUICK, aim, floor_store, profile, write_profile
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import Recording, ReplayPlayer
from supervisor_tui.core.snapshot import SNAPSHOT_FORMAT, inflate
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.hub.record import store_batch
from supervisor_tui.store import SQLiteStore
from supervisor_tui.store.sqlite import TIMELINE_EVERY

EPOCH = 1_790_000_000.0 - 1_790_000_000.0 % 86_400 + 8 * 3600  # 08:00 UTC
EVENTS = 200_000 if QUICK else 1_000_000
CACHE = Path(__file__).resolve().parent / ".cache"


def build_recording(path: Path) -> None:
    """Days of a 1,000-agent, 100-queue floor until a million events, snapshots as recorded."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    store = SQLiteStore(tmp)
    state = FloorState(FloorTargets())
    day = 0
    while state.seq < EVENTS:
        sim = FloorSimulation(
            SimOptions(seed=day + 1, agents=1000, queues=100), EPOCH + day * 86_400
        )
        for hour in range(1, 13):
            events = list(sim.advance(hour * 3600))[: EVENTS - state.seq]
            for i in range(0, len(events), 5_000):
                store_batch(store, state, events[i : i + 5_000], None)
            if state.seq >= EVENTS:
                break
        day += 1
        print(f"  recording: {state.seq:,} events", flush=True)
    store.close()
    tmp.rename(path)


COPIES = 10


def build_copies(source: Path, path: Path, copies: int = COPIES) -> None:
    """``source`` laid end to end ``copies`` times (see the module's docstring)."""
    import zstandard

    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    tmp.write_bytes(source.read_bytes())
    tmp.chmod(0o600)
    conn = sqlite3.connect(tmp, isolation_level=None)
    count, first, last = conn.execute(
        "SELECT MAX(seq), MIN(received_at), MAX(received_at) FROM events"
    ).fetchone()
    span = math.ceil((last - first + 3600) / 86_400) * 86_400
    snapshots = conn.execute("SELECT seq, at, format, data FROM snapshots ORDER BY seq").fetchall()
    writer = zstandard.ZstdCompressor(level=1)
    for k in range(1, copies):
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO events (seq, source, key, kind, occurred_at, received_at, payload) "
            "SELECT seq + ?, source, key || ?, kind, occurred_at + ?, received_at + ?, payload "
            "FROM events WHERE seq <= ?",
            (k * count, f"#{k}", k * span, k * span, count),
        )
        for seq, at, fmt, data in snapshots:
            raw = inflate(data)
            head = raw.index(b",")
            assert raw[:head] == b'{"seq":%d' % seq, raw[:40]
            moved = b'{"seq":%d' % (seq + k * count) + raw[head:]
            conn.execute(
                "INSERT INTO snapshots (seq, at, format, data) VALUES (?, ?, ?, ?)",
                (seq + k * count, at + k * span, fmt, writer.compress(moved)),
            )
        conn.execute("COMMIT")
        print(f"  copies: {(k + 1) * count:,} events", flush=True)
    # the coarse timeline ``append`` notes as it stores (rows copied by SQL have none)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS timeline (seq INTEGER PRIMARY KEY, latest REAL NOT NULL)"
    )
    conn.execute("DELETE FROM timeline")
    conn.execute(
        "INSERT INTO timeline (seq, latest) SELECT seq, latest FROM (SELECT seq, "
        "MAX(received_at) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) AS latest FROM events) "
        "WHERE seq % ? = 0",
        (TIMELINE_EVERY,),
    )
    conn.commit()
    conn.close()
    tmp.rename(path)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def replay_cpu(
    recording: Recording,
    speed_index: int,
    seconds: float,
    from_s: float,
    prof: cProfile.Profile | None = None,
) -> float:
    from supervisor_tui.app import FloorSettings, SupervisorApp
    from supervisor_tui.core.rules import RuleEngine

    player = ReplayPlayer(recording, freeze_heap=True)  # as `supervisor-tui replay` plays
    player.seek(recording.start + from_s)
    player.speed_index = speed_index
    settings = FloorSettings(
        floor_name="bench", operator="bench", targets=recording.targets, rules=RuleEngine([])
    )
    app = SupervisorApp(recording.store, settings, clock=player.clock, player=player)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause(1.0)
        # the board counts the open tickets of every queue off screen once after a seek
        # (200,000 at this size, a slice between frames): the play is measured after that
        settled_by = time.perf_counter() + 60
        while app.board.counting_tickets and time.perf_counter() < settled_by:
            await pilot.pause(0.1)
        player.playing = True
        if prof is not None:  # the play alone, not the seek that sets it up
            prof.enable()
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if prof is not None:
            prof.disable()
    return 100 * cpu / wall


def run() -> list[dict[str, Any]]:
    CACHE.mkdir(exist_ok=True)
    one = CACHE / f"replay-{EVENTS}-v{SNAPSHOT_FORMAT}.db"
    if not one.exists():
        t = time.perf_counter()
        build_recording(one)
        print(f"  built the recording in {time.perf_counter() - t:.0f} s", flush=True)
    path = CACHE / f"replay-{EVENTS * COPIES}-v{SNAPSHOT_FORMAT}-timeline.db"
    if not path.exists():
        t = time.perf_counter()
        build_copies(one, path)
        print(f"  laid it end to end in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    store = SQLiteStore(path, read_only=True)
    store_open_s = time.perf_counter() - t
    t = time.perf_counter()
    recording = Recording(store, FloorTargets())
    open_s = time.perf_counter() - t + store_open_s
    open_profile = ""
    if open_s > 1.0:
        _, open_profile = profile("replay_open", lambda: Recording(store, FloorTargets()))
    rng = random.Random(3)
    player = ReplayPlayer(recording, freeze_heap=True)  # as `supervisor-tui replay` seeks
    seeks = []
    for _ in range(20):
        target = rng.uniform(recording.start, recording.end)
        player.seek(recording.start if abs(player.t - target) < 3600 else player.t)
        t = time.perf_counter()
        player.seek(target)
        seeks.append(time.perf_counter() - t)
    # Back and forth: a look ten minutes back (a rebuild) and on again a minute past where the
    # player was, which folds on from the state it let go of (``Recording.keep``).
    returns = []
    for _ in range(20):
        player.seek(rng.uniform(recording.start + 3600, recording.end))
        player.seek(player.t - 600)
        t = time.perf_counter()
        player.seek(player.t + 660)
        returns.append(time.perf_counter() - t)
    full = []  # to an event of the first copy: the other copies are folded the same way
    for _ in range(2):
        seq = rng.randint(1, EVENTS)
        t = time.perf_counter()
        state = FloorState(FloorTargets())
        state.apply_all(store.read_range(0, seq))
        full.append(time.perf_counter() - t)
    p50, p95 = statistics.median(seeks) * 1000, percentile(seeks, 0.95) * 1000
    seek_profile = ""
    if p95 > 100.0:

        def seek_far() -> None:
            for _ in range(5):
                player.seek(recording.start)
                player.seek(rng.uniform(recording.start, recording.end))

        _, seek_profile = profile("replay_seek", seek_far)
    refold = statistics.median(full) * 1000
    gc.unfreeze()  # as the board does when it closes
    store.close()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "floor.db"
        floor_store(path)
        floor = Recording(SQLiteStore(path, read_only=True), FloorTargets())
        # five minutes in, 60x for 15 s: a quarter of an hour of the floor, ~140,000 events
        cpu_60 = asyncio.run(replay_cpu(floor, 5, 15.0, 300.0))
        cpu_1 = asyncio.run(replay_cpu(floor, 0, 15.0, 300.0))
        replay_profile = ""
        if cpu_60 > 25.0:
            played = cProfile.Profile()
            asyncio.run(replay_cpu(floor, 5, 10.0, 300.0, played))
            replay_profile = write_profile(
                "replay_60x", played, note=f"10 s of the app replaying {FLOOR.label} at 60x."
            )
        floor.store.close()
    size = f"{recording.last_seq:,} events: {EVENTS:,} simulated, laid end to end {COPIES} times"
    rows = [
        aim(
            {
                "figure": f"open a recording ({size})",
                "value": open_s * 1000,
                "unit": "ms",
                "baseline_name": "opening the store file alone",
                "baseline": store_open_s * 1000,
                "ratio": open_s / store_open_s if store_open_s else 0.0,
                "profile": open_profile,
            },
            "≤",
            1000.0,
        ),
        {
            "figure": f"seek p50 ({size})",
            "value": p50,
            "unit": "ms",
            "baseline_name": "fold from the start (to an event of the first copy)",
            "baseline": refold,
            "ratio": refold / p50,
        },
        aim(
            {
                "figure": f"seek p95 ({size})",
                "value": p95,
                "unit": "ms",
                "baseline_name": "fold from the start (to an event of the first copy)",
                "baseline": refold,
                "ratio": refold / p95,
                "profile": seek_profile,
            },
            "≤",
            100.0,
        ),
        {
            "figure": f"seek back to past an instant seen, p95 ({size})",
            "value": percentile(returns, 0.95) * 1000,
            "unit": "ms",
            "baseline_name": "seek p95 to a random instant",
            "baseline": p95,
            "ratio": p95 / max(percentile(returns, 0.95) * 1000, 0.001),
        },
        aim(
            {
                "figure": f"replay CPU at 60x, {FLOOR.label}",
                "value": cpu_60,
                "unit": "% core",
                "baseline_name": "same at 1x",
                "baseline": cpu_1,
                "ratio": cpu_60 / max(cpu_1, 0.1),
                "profile": replay_profile,
                "why": "reading each step's events (a payload validated per event), the fold "
                "and the compositor, all on the app's thread: PLANS.md, Session 10",
            },
            "≤",
            25.0,
        ),
    ]
    print(f"  opened the recording in {open_s * 1000:,.0f} ms", flush=True)
    for row in rows:
        print(
            f"  {row['figure']}: {row['value']:,.1f} {row['unit']} "
            f"(baseline {row['baseline']:,.1f}, {row['ratio']:.1f}x; aim {row.get('aim', '-')})",
            flush=True,
        )
    return rows
