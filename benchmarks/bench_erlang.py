"""Erlang C staffing for big queues (issue #20: 10,000 agents in well under a millisecond).

- need: ``agents_needed`` for one voice queue of 10,000 erlangs (80/20, AHT 180 s), the
  board's per-queue figure, against the textbook recursion from B(0) for the same answer (what
  the board did before the O(√A) start);
- per-queue cost for a floor of 1,000 queues of 10 to 10,000 erlangs.
"""

from __future__ import annotations

import math
import time
from typing import Any

from benchmarks.scale import aim
from supervisor_tui.core.erlang import agents_needed

AHT_S = 180.0
T_S = 20.0
TARGET = 0.80


def _textbook_once(traffic: float) -> int:
    """The old staffing search: B(floor(A)+1) from B(0) once, then one step per agent."""
    n = math.floor(traffic) + 1
    b = 1.0
    for k in range(1, n + 1):
        b = traffic * b / (k + traffic * b)
    while True:
        pw = n * b / (n - traffic * (1 - b))
        if 1 - pw * math.exp(-(n - traffic) * T_S / AHT_S) >= TARGET:
            return n
        n += 1
        b = traffic * b / (n + traffic * b)


def _per_call_ms(fn: Any, arg: float, repeat: int) -> float:
    t = time.perf_counter()
    for _ in range(repeat):
        fn(arg)
    return (time.perf_counter() - t) / repeat * 1e3


def run() -> list[dict[str, Any]]:
    traffic = 10_000.0
    ours = agents_needed(traffic / AHT_S, AHT_S, T_S, TARGET)
    if ours != _textbook_once(traffic):
        raise AssertionError(f"staffing differs from the textbook: {ours}")
    fast = _per_call_ms(lambda a: agents_needed(a / AHT_S, AHT_S, T_S, TARGET), traffic, 500)
    slow = _per_call_ms(_textbook_once, traffic, 50)

    floor = [10.0 * 1000.0 ** (i / 999) for i in range(1000)]  # 10 to 10,000 erlangs
    t = time.perf_counter()
    for a in floor:
        agents_needed(a / AHT_S, AHT_S, T_S, TARGET)
    floor_ms = (time.perf_counter() - t) * 1e3
    t = time.perf_counter()
    for a in floor[::10]:
        _textbook_once(a)
    textbook_floor_ms = (time.perf_counter() - t) * 1e3 * 10

    rows = [
        {
            "figure": f"need for 10,000 erlangs ({ours} agents)",
            "value": fast,
            "unit": "ms",
            "baseline_name": "recursion from B(0)",
            "baseline": slow,
            "ratio": fast / slow,
            "better": "lower",
        },
        {
            "figure": "need for 1,000 queues of 10 to 10,000 erlangs",
            "value": floor_ms,
            "unit": "ms",
            "baseline_name": "recursion from B(0), 1 in 10 queues × 10",
            "baseline": textbook_floor_ms,
            "ratio": floor_ms / textbook_floor_ms,
            "better": "lower",
        },
    ]
    aim(rows[0], "≤", 1.0, "≤ 1 ms a queue")
    aim(rows[1], "≤", 1000.0, "≤ 1 ms a queue (1,000 ms)")
    for row in rows:
        print(f"{row['figure']}: {row['value']:.3f} {row['unit']} vs {row['baseline']:.3f}")
    return rows


if __name__ == "__main__":
    run()
