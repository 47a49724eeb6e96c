"""``make bench``: run every benchmark, write results.json and RESULTS.md beside this file."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import (
    bench_erlang,
    bench_freshdesk,
    bench_hub,
    bench_ingest,
    bench_jsm,
    bench_postgres,
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


def met(row: dict[str, object]) -> str:
    """✓ or ✗ against the row's aim; blank when it has none."""
    if "met" not in row:
        return ""
    return "✓" if row["met"] else "✗"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tenth of the issue's floor through the same code: a few minutes",
    )
    parser.add_argument("only", nargs="*", help="run only these bench_* modules")
    args = parser.parse_args(argv)
    results: dict[str, object] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "mode": "quick" if args.quick else "full",
        "benchmarks": {},
        "seconds": {},
    }
    benchmarks: dict[str, object] = {}
    seconds: dict[str, float] = {}
    earlier = HERE / "results.json"
    if args.only and earlier.exists():
        # Some benchmarks again: the others keep their rows from the last run in this mode.
        last = json.loads(earlier.read_text())
        if last.get("mode") == results["mode"]:
            benchmarks.update(last.get("benchmarks", {}))
            seconds.update(last.get("seconds", {}))
            results["when"] = f"{last.get('when')} (then {', '.join(args.only)} {results['when']})"
    failed: list[str] = []
    results["benchmarks"], results["seconds"] = benchmarks, seconds
    modules = [
        m
        for m in (
            bench_ingest,
            bench_postgres,
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
        )
        if not args.only or m.__name__.rsplit(".", 1)[-1] in args.only
    ]
    env = dict(os.environ, BENCH_QUICK="1" if args.quick else "0")
    # What the benchmarks share (the simulated floor) is built once into this run's directory.
    with tempfile.TemporaryDirectory(prefix="bench-") as run_dir:
        env["BENCH_RUN_DIR"] = run_dir
        for module in modules:
            name = module.__name__.rsplit(".", 1)[-1]
            print(f"== {name}", flush=True)
            # Each benchmark in a process of its own: memory and CPU figures are its own.
            out = HERE / f".{name}.json"
            t = time.perf_counter()
            done = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"import json, pathlib; from benchmarks import {name} as m; "
                    f"pathlib.Path({str(out)!r}).write_text(json.dumps(m.run()))",
                ],
                check=False,
                cwd=HERE.parent,
                env=env,
            )
            seconds[name] = time.perf_counter() - t
            print(f"   ({seconds[name]:.0f} s)", flush=True)
            if done.returncode != 0 or not out.exists():
                failed.append(f"- {name}: exit {done.returncode} (its output above says why)")
                continue
            benchmarks[name] = json.loads(out.read_text())
            out.unlink()
    total = sum(seconds.values())  # this run and, with names given, the rows kept from the last
    results["total_s"] = total
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    mode = (
        "`make bench-quick` (a tenth of the issue's floor)"
        if args.quick
        else "`make bench` (the issue's floor)"
    )
    lines = [
        "# Benchmark results",
        "",
        f"Measured {results['when']} on Python {results['python']} ({results['machine']}) by "
        f"{mode}: {total / 60:.1f} min in all.",
        "Ratios compare against a baseline measured in the same run (ratio = value ÷ baseline);",
        'absolute values are for reference only (shared, noisy machines). "Better" says which',
        "way a figure should move: ↑ higher is better (rates), ↓ lower is better (times, CPU,",
        "memory, requests spent). All: `make bench`; one:",
        "`.venv/bin/python -m benchmarks.bench_report` (any `bench_*` module).",
        'The "aim" is issue #20\'s; ✓ met, ✗ missed in this run, and each missed aim names the',
        "profile that explains it (under `benchmarks/profiles/`).",
        "",
        "| benchmark | figure | better | value | baseline | ratio | aim | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    missed = []
    for bench, rows in benchmarks.items():
        assert isinstance(rows, list)
        for row in rows:
            ratio = row["value"] / row["baseline"] if row["baseline"] else float("inf")
            lines.append(
                f"| {bench} | {row['figure']} | {better(row)} | "
                f"{row['value']:,.{digits(row)}f} {row['unit']} | "
                f"{row['baseline']:,.{digits(row)}f} {row['unit']} ({row['baseline_name']}) | "
                f"{ratio:.2f}x | {row.get('aim', '')} | {met(row)} |"
            )
            if row.get("met") is False:
                missed.append(
                    f"- {bench}, {row['figure']}: "
                    + (f"profile `{row['profile']}`" if row.get("profile") else "no profile")
                    + (f"; {row['why']}" if row.get("why") else "")
                )
    if failed:
        lines += ["", "## Benchmarks that failed in this run", "", *failed]
    if missed:
        lines += ["", "## Missed aims and their profiles", "", *missed]
    lines += ["", "## Time per benchmark", ""]
    lines += [f"- {name}: {s:.0f} s" for name, s in seconds.items()]
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print((HERE / "RESULTS.md").read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
