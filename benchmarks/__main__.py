"""``make bench``: run every benchmark, write results.json and RESULTS.md beside this file."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import (
    bench_erlang,
    bench_freshdesk,
    bench_hub,
    bench_ingest,
    bench_jsm,
    bench_render,
    bench_replay,
    bench_report,
    bench_servicenow,
    bench_soak,
    bench_zendesk,
)

HERE = Path(__file__).resolve().parent


def better(row: dict[str, object]) -> str:
    """↑ or ↓: a row may say so (``better``: "higher"/"lower"); otherwise its unit tells."""
    said = row.get("better")
    if said in ("higher", "lower"):
        return "↑" if said == "higher" else "↓"
    unit = str(row["unit"])
    return "↑" if unit.endswith("/s") else "↓"


def digits(row: dict[str, object]) -> int:
    """Sub-millisecond figures keep three decimals; the rest one."""
    return 3 if abs(float(str(row["value"]))) < 1 else 1


def main() -> int:
    results = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "benchmarks": {},
    }
    for module in (
        bench_ingest,
        bench_erlang,
        bench_render,
        bench_replay,
        bench_report,
        bench_soak,
        bench_zendesk,
        bench_freshdesk,
        bench_jsm,
        bench_servicenow,
        bench_hub,
    ):
        name = module.__name__.rsplit(".", 1)[-1]
        print(f"== {name}", flush=True)
        # Each benchmark in a process of its own: memory and CPU figures are its own.
        out = HERE / f".{name}.json"
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import json, pathlib; from benchmarks import {name} as m; "
                f"pathlib.Path({str(out)!r}).write_text(json.dumps(m.run()))",
            ],
            check=True,
            cwd=HERE.parent,
        )
        results["benchmarks"][name] = json.loads(out.read_text())
        out.unlink()
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Benchmark results",
        "",
        f"Measured {results['when']} on Python {results['python']} ({results['machine']}).",
        "Ratios compare against a baseline measured in the same run (ratio = value ÷ baseline);",
        'absolute values are for reference only (shared, noisy machines). "Better" says which',
        "way a figure should move: ↑ higher is better (rates), ↓ lower is better (times, CPU,",
        "memory, requests spent). All: `make bench`; one:",
        "`.venv/bin/python -m benchmarks.bench_report` (any `bench_*` module).",
        "",
        "| benchmark | figure | better | value | baseline | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for bench, rows in results["benchmarks"].items():
        for row in rows:
            ratio = row["value"] / row["baseline"] if row["baseline"] else float("inf")
            lines.append(
                f"| {bench} | {row['figure']} | {better(row)} | "
                f"{row['value']:,.{digits(row)}f} {row['unit']} | "
                f"{row['baseline']:,.{digits(row)}f} {row['unit']} ({row['baseline_name']}) | "
                f"{ratio:.2f}x |"
            )
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print((HERE / "RESULTS.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
