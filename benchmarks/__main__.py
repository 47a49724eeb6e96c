"""``make bench``: run every benchmark, write results.json and RESULTS.md beside this file."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import (
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


def main() -> int:
    results = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "benchmarks": {},
    }
    for module in (
        bench_ingest,
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
        "Ratios compare against a baseline measured in the same run; absolute values are for",
        "reference only (shared, noisy machines). All: `make bench`; one:",
        "`.venv/bin/python -m benchmarks.bench_report` (any `bench_*` module).",
        "",
        "| benchmark | figure | value | baseline | ratio |",
        "|---|---|---|---|---|",
    ]
    for bench, rows in results["benchmarks"].items():
        for row in rows:
            lines.append(
                f"| {bench} | {row['figure']} | {row['value']:,.1f} {row['unit']} | "
                f"{row['baseline']:,.1f} {row['unit']} ({row['baseline_name']}) | "
                f"{row['ratio']:.1f}x |"
            )
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print((HERE / "RESULTS.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
