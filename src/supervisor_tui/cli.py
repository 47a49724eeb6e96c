"""Command line: ``supervisor-tui demo | run``."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from supervisor_tui import __version__
from supervisor_tui.config import Config, ConfigError, default_rules, load_config
from supervisor_tui.store import StoreError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supervisor-tui", description="Live contact-center supervision in the terminal."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="the dashboard on a simulated floor (no account needed)")
    demo.add_argument("--db", type=Path, help="keep the recording in this SQLite file")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--agents", type=int, default=40)
    demo.add_argument("--queues", type=int, default=5)
    demo.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per second (default 1)"
    )
    demo.add_argument("--profile", choices=("wall", "desk"), default="desk")

    run = sub.add_parser("run", help="adapters, store, rules and dashboard in one process")
    run.add_argument("-c", "--config", type=Path, required=True)
    run.add_argument("--db", type=Path, help="the SQLite file (overrides [store] path)")
    return parser


def demo_config(args: argparse.Namespace) -> Config:
    return Config.model_validate(
        {
            "floor": {"name": "Demo floor (simulated)"},
            "display": {"profile": args.profile, "stale_after_s": 30},
            "sources": [
                {
                    "name": "simulator",
                    "kind": "simulator",
                    "seed": args.seed,
                    "agents": args.agents,
                    "queues": args.queues,
                    "speed": args.speed,
                }
            ],
            "targets": {"queues": {"chat": {"sl_threshold_s": 60}}},
            "rules": default_rules(),
        }
    )


def _log_to(path: Path) -> None:
    logging.basicConfig(
        filename=path, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _run_dashboard(config: Config, db: Path) -> int:
    from supervisor_tui.app import FloorSettings, SupervisorApp
    from supervisor_tui.hub.live import build_live_floor

    unknown = sorted(set(config.keys) - SupervisorApp.binding_ids())
    if unknown:
        known = ", ".join(sorted(SupervisorApp.binding_ids()))
        raise ConfigError(
            f"[keys]: unknown binding id {', '.join(unknown)} (expected one of: {known})"
        )
    floor = build_live_floor(config, db)
    settings = FloorSettings(
        floor_name=config.floor.name,
        operator=config.operator_name(),
        targets=config.floor_targets(),
        rules=floor.rules,
        profile=config.display.profile,
        stale_after_s=config.display.stale_after_s,
        keys=dict(config.keys),
    )
    app = SupervisorApp(floor.store, settings, clock=floor.clock, collector=floor.collector)
    try:
        app.run()
    finally:
        floor.store.close()
    return app.return_code or 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            config = demo_config(args)
            if args.db is not None:
                _log_to(args.db.with_suffix(".log"))
                code = _run_dashboard(config, args.db)
                print(f"The recording is in {args.db}")
                return code
            with tempfile.TemporaryDirectory(prefix="supervisor-tui-demo-") as tmp:
                _log_to(Path(tmp) / "demo.log")
                return _run_dashboard(config, Path(tmp) / "demo.db")
        if args.command == "run":
            config = load_config(args.config)
            db = args.db or config.store.resolved_path()
            _log_to(db.with_suffix(".log"))
            return _run_dashboard(config, db)
    except (ConfigError, StoreError) as exc:
        print(f"supervisor-tui: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
