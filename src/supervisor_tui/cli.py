"""Command line: ``supervisor-tui demo | run``.

What a command prints for its user (help, errors, progress) is in the floor's language,
chosen before the parser is built (``--lang``, the config's ``[display] language``, the
locale), so ``--help`` and argparse's own errors are in it too. The log stays English: it is
for operators and grep."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, get_args

from supervisor_tui import __version__, i18n
from supervisor_tui.adapters.base import SourceSetupError
from supervisor_tui.config import (
    Config,
    ConfigError,
    ThemeName,
    default_rules,
    load_config,
    no_such_file,
    parse_config,
)
from supervisor_tui.core import fmt
from supervisor_tui.core.feed import DEMO_FLOOR, floor_words
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.hub.demo import (
    DEMO_EMAIL,
    DEMO_SN_USER,
    freshdesk_plan,
    zendesk_rate_limit,
)
from supervisor_tui.i18n import N_, _, ngettext
from supervisor_tui.model import printable
from supervisor_tui.store import SQLiteStore, StoreError

if TYPE_CHECKING:
    import subprocess
    from ssl import SSLContext

    from supervisor_tui.app import SupervisorApp
    from supervisor_tui.core.rules import RuleEngine
    from supervisor_tui.hub.collector import Collector
    from supervisor_tui.hub.demo import DemoHelpdesks
    from supervisor_tui.hub.live import LiveFloor
    from supervisor_tui.store.postgres import PostgresStore


def _simulated(field: str) -> Callable[[str], int]:
    """An argparse type for a count of the simulated floor, within the simulator's own bounds
    (its settings model is their one home), so a floor too big is one line, not a traceback."""
    from annotated_types import Ge, Le

    from supervisor_tui.adapters.simulator import SimulatorSource

    info = SimulatorSource.model_fields[field]
    low = next((int(str(m.ge)) for m in info.metadata if isinstance(m, Ge)), 1)
    high = next((int(str(m.le)) for m in info.metadata if isinstance(m, Le)), None)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                _("{value} is not a whole number").format(value=repr(text))
            ) from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                _("{value} {what}: the simulator takes {low} to {high}").format(
                    value=fmt.number(value),
                    what=_(SIMULATED[field]),
                    low=fmt.number(low),
                    high=fmt.number(high) if high is not None else "∞",
                )
            )
        return value

    parse.__name__ = field  # argparse names the type in its messages
    return parse


SIMULATED = {"agents": N_("agents"), "queues": N_("queues")}
"""The simulated floor's counts, as an error names them."""

ARGPARSE_WORDS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("unrecognized arguments: %s"),
    N_("the following arguments are required: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("not allowed with argument %s"),
    N_("one of the arguments %s is required"),
    N_("ignored explicit argument %r"),
    N_("can't open '%(filename)s': %(error)s"),
)
"""argparse's own words, listed so ``make messages`` extracts them: argparse looks them up
through the module-level ``gettext`` that ``_argparse_speaks`` points at our catalogs (the
%-placeholders are argparse's, kept as they are)."""


def _argparse_speaks() -> None:
    """argparse says its words (usage, errors) through ``gettext.gettext`` bound in its
    module; bind ours instead, so they are in the floor's language like ours."""
    vars(argparse).update(_=i18n._, ngettext=i18n.ngettext)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supervisor-tui", description=_("Live contact-center supervision in the terminal.")
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {__version__}",
        help=_("show the version and exit"),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help=_("the dashboard on a simulated floor (no account needed)"))
    demo.add_argument("--db", type=Path, help=_("keep the recording in this SQLite file"))
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--agents", type=_simulated("agents"), default=40)
    demo.add_argument("--queues", type=_simulated("queues"), default=5)
    demo.add_argument(
        "--speed", type=float, default=1.0, help=_("simulated seconds per second (default 1)")
    )
    demo.add_argument("--profile", choices=("wall", "desk"), default="desk")
    demo.add_argument("--theme", choices=get_args(ThemeName), default="dark")
    demo.add_argument(
        "--helpdesk",
        choices=("zendesk", "none"),
        default="zendesk",
        help=_(
            "serve the floor from a fake helpdesk on loopback through the real adapter "
            "(default zendesk), or feed the simulation straight in (none)"
        ),
    )
    demo.add_argument(
        "--account",
        choices=("admin", "supervisor", "agent"),
        default="admin",
        help=_(
            "what the demo's tokens may read: an admin's (default), a supervisor's custom "
            "role, or an agent's on smaller plans; the board and check show what is missing"
        ),
    )
    demo.add_argument(
        "--check",
        action="store_true",
        help=_(
            "run `check` against the demo's helpdesks (as a new user would) instead of "
            "opening the dashboard"
        ),
    )
    demo.add_argument(
        "--history-weeks",
        type=int,
        default=4,
        metavar="N",
        help=_(
            "write the same weekday of the last N weeks (calls and chats) and today's "
            "schedule into the store first, so the board shows forecast against actual and "
            "adherence (default 4; 0: none)"
        ),
    )
    demo.add_argument(
        "--all-backends",
        action="store_true",
        help=_(
            "four helpdesks on one board: also an IT desk on a fake Jira Service Management "
            "and an operations desk on a fake ServiceNow"
        ),
    )
    demo.add_argument(
        "--floor-process",
        choices=("auto", "own", "same"),
        default="auto",
        help=_(
            "run the helpdesks and the collector in a process of their own, the board in "
            "this one (own), or all in one process (same); auto: their own above {agents} "
            "agents"
        ).format(agents=fmt.number(DEMO_APART_AGENTS)),
    )
    demo.add_argument("--floor-side", action="store_true", help=argparse.SUPPRESS)
    _log_options(demo)

    run = sub.add_parser("run", help=_("adapters, store, rules and dashboard in one process"))
    run.add_argument("-c", "--config", type=Path, required=True)
    run.add_argument("--db", type=Path, help=_("the SQLite file (overrides [store] path)"))
    _log_options(run)

    serve = sub.add_parser("serve", help=_("headless: adapters, store, rules and the hub"))
    serve.add_argument("-c", "--config", type=Path, required=True)
    serve.add_argument("--db", type=Path, help=_("the SQLite file (overrides [store] path)"))
    serve.add_argument(
        "--no-hub",
        action="store_true",
        help=_(
            "collect only: this config's sources into a PostgreSQL floor that another "
            "serve's hub shows ([hub] is not read)"
        ),
    )
    _log_options(serve)

    watch = sub.add_parser("watch", help=_("the dashboard fed by a hub (no helpdesk secrets)"))
    watch.add_argument("url", help=_("ws://127.0.0.1:8765 or wss://host:port"))
    watch.add_argument(
        "--token", help=_("the terminal's token (default: $SUPERVISOR_TUI_TOKEN)"), default=None
    )
    watch.add_argument("--cafile", type=Path, help=_("CA file to trust for a wss:// hub"))
    watch.add_argument("--profile", choices=("wall", "desk"), default=None)
    watch.add_argument(
        "--give-up-after",
        type=float,
        metavar="SECONDS",
        default=None,
        help=_(
            "stop waiting for the hub after this long (default: keep trying, for wall boxes"
            " that start before the hub)"
        ),
    )
    watch.add_argument("--theme", choices=get_args(ThemeName), default="dark")
    watch.add_argument(
        "--bell", action="store_true", help=_("ring the terminal bell for each new CRIT escalation")
    )
    _log_options(watch, _("watch.log in the data directory"))

    web = sub.add_parser(
        "web", help=_("the board in a browser: a TV's kiosk, a manager without a terminal")
    )
    web.add_argument("url", help=_("the hub: ws://127.0.0.1:8765 or wss://host:port"))
    web.add_argument(
        "--listen",
        default="127.0.0.1:8780",
        help=_("host:port for browsers (default 127.0.0.1:8780; another address needs TLS)"),
    )
    web.add_argument(
        "--token-file",
        type=Path,
        help=_("a file (mode 600) holding the board's view token (default: $SUPERVISOR_TUI_TOKEN)"),
    )
    web.add_argument("--cafile", type=Path, help=_("CA file to trust for a wss:// hub"))
    web.add_argument("--tls-cert", type=Path, help=_("certificate for https (off loopback)"))
    web.add_argument("--tls-key", type=Path, help=_("its private key"))
    web.add_argument(
        "--max-sessions", type=int, default=16, help=_("pages open at once (default 16)")
    )

    token = sub.add_parser("token", help=_("make a hub token and print its [[hub.tokens]] entry"))
    token.add_argument("--name", required=True, help=_("recorded on acks made with it"))
    token.add_argument("--scope", choices=("view", "supervise"), default="view")

    check = sub.add_parser("check", help=_("one full sync of every source: counts and health"))
    check.add_argument("-c", "--config", type=Path, required=True)
    check.add_argument("--json", action="store_true", help=_("print one JSON object"))
    _log_options(check)

    report = sub.add_parser(
        "report", help=_("shift, daily, weekly or monthly report from recordings")
    )
    report.add_argument(
        "files", nargs="+", metavar="FILE", help=_("recordings, or a postgresql:// store")
    )
    report.add_argument("-c", "--config", type=Path, help=_("targets (T, SL target, offsets)"))
    report.add_argument(
        "--group", choices=("shift", "day", "week", "month"), default="day", help=_("(default day)")
    )
    report.add_argument(
        "--from", dest="since", help=_("start, YYYY-MM-DD or YYYY-MM-DDTHH:MM (floor time)")
    )
    report.add_argument("--to", dest="until", help=_("end (not included), same forms"))
    report.add_argument("--queue", help=_("one queue, by id or name"))
    report.add_argument(
        "--format",
        choices=("term", "md", "csv", "json", "html"),
        default="term",
        help=_("term: a summary on screen (default); md, csv, json, html: a document"),
    )
    report.add_argument("--out", type=Path, help=_("write here (default: standard output)"))

    audit = sub.add_parser(
        "audit", help=_("every ack, note, snooze and resolve: who, when, where, its write-back")
    )
    audit.add_argument("file", metavar="FILE", help=_("a recording, or a postgresql:// store"))
    audit.add_argument(
        "-c", "--config", type=Path, help=_("the floor's time zone and store schema")
    )
    audit.add_argument(
        "--from", dest="since", help=_("start, YYYY-MM-DD or YYYY-MM-DDTHH:MM (floor time)")
    )
    audit.add_argument("--to", dest="until", help=_("end (not included), same forms"))
    audit.add_argument("--format", choices=("term", "csv", "json"), default="term")

    record = sub.add_parser("record", help=_("write a simulated shift to a recording, no UI"))
    record.add_argument("--source", choices=("simulator",), default="simulator")
    record.add_argument("--hours", type=float, default=8.0)
    record.add_argument(
        "--speed", choices=("max",), default="max", help=_("only 'max': as fast as the machine can")
    )
    record.add_argument("--out", type=Path, required=True)
    record.add_argument("--seed", type=int, default=7)
    record.add_argument("--agents", type=_simulated("agents"), default=40)
    record.add_argument("--queues", type=_simulated("queues"), default=5)
    record.add_argument(
        "--step", type=float, default=5.0, help=_("simulated seconds between rule evaluations")
    )
    record.add_argument(
        "--history-weeks",
        type=int,
        default=0,
        metavar="N",
        help=_(
            "first write the same weekday of the last N weeks and the day's schedule "
            "(forecast against actual and adherence in replay and reports)"
        ),
    )
    record.add_argument(
        "--unsupervised",
        action="store_true",
        help=_("no simulated supervisor acks (by default one acks most escalations)"),
    )

    importing = sub.add_parser(
        "import", help=_("survey answers (NPS), a forecast or a schedule into a store")
    )
    what = importing.add_subparsers(dest="what", required=True)
    surveys = what.add_parser(
        "surveys",
        help=_("a CSV of survey answers: ticket or requester, score 0-10, answered_at (ISO 8601)"),
    )
    surveys.add_argument("file", type=Path, metavar="FILE.csv")
    surveys.add_argument("--db", type=Path, help=_("the store file (default: the config's store)"))
    surveys.add_argument("-c", "--config", type=Path, help=_("its store and time zone"))
    surveys.add_argument(
        "--source", default="surveys", help=_("the helpdesk the ticket ids belong to")
    )
    _intraday_imports(what)
    replay = sub.add_parser("replay", help=_("the dashboard over a recording (read-only)"))
    replay.add_argument("file", type=Path)
    replay.add_argument("-c", "--config", type=Path, help=_("targets, rules and display settings"))
    replay.add_argument(
        "--train",
        action="store_true",
        help=_("stop at each escalation and score the trainee's choices"),
    )
    replay.add_argument("--trainee", default="", help=_("the trainee's name on the score card"))
    replay.add_argument(
        "--card", type=Path, help=_("score card path without suffix (default training-DATE-TIME)")
    )
    replay.add_argument("--at", help=_("start at this clock time (HH:MM)"))
    replay.add_argument("--profile", choices=("wall", "desk"), default=None)
    for command in sub.choices.values():
        command.add_argument(
            "--lang",
            choices=i18n.LANGUAGES,
            default=None,
            help=_(
                "the language of the board, help, reports and errors (default: [display] "
                "language, else the environment's locale, else English)"
            ),
        )
    return parser


def _log_options(command: argparse.ArgumentParser, default: str | None = None) -> None:
    from supervisor_tui.logs import LEVELS

    where = default or _(
        "beside the SQLite store, FILE.log; with a PostgreSQL store, floor.log in the data "
        "directory"
    )
    command.add_argument(
        "--log-file", type=Path, help=_("the log (default: {where})").format(where=where)
    )
    command.add_argument("--log-level", choices=LEVELS, default="info", help=_("(default info)"))
    command.add_argument("--log-json", action="store_true", help=_("JSON lines, one per event"))


DEMO_APART_AGENTS = 2_000
"""A demo floor of more agents runs its helpdesks and collector in a second process and the
board in this one, following the store (as a big site runs ``serve`` and its boards apart):
each gets a core of its own instead of sharing one interpreter's."""
DEMO_BIG_MORNING_S = 3600.0
"""Such a floor's demo starts an hour into its day, not 3 h 40 min in: Zendesk's Talk
exports give 10 pages of 1,000 a minute, and the longer morning of 10,000 agents is 167,000
calls and twice as many legs (a first sync of about 40 minutes before the source is live;
an hour of it, about 12). The board says "first sync…" meanwhile, as with a real account."""


def demo_warmup_s(agents: int) -> float:
    """How far into its day the demo floor starts: an hour for a big floor (whichever
    helpdesk serves it: the simulator alone wrote 3 h 40 min of 10,000 agents after the
    board opened, STALE for 4-5 minutes), the simulator's own morning otherwise."""
    from supervisor_tui.adapters.simulator import SimOptions

    return DEMO_BIG_MORNING_S if agents > DEMO_APART_AGENTS else SimOptions().warmup_s


DEMO_TOKEN_ENV = "SUPERVISOR_TUI_DEMO_ZENDESK_TOKEN"
DEMO_HISTORY_EVENTS = 1_000_000
"""The most past contacts' events the demo writes before it opens (about 1,000 agents for
four weeks); a larger floor gets a forecast instead."""
DEMO_FRESHDESK_KEY_ENV = "SUPERVISOR_TUI_DEMO_FRESHDESK_KEY"
DEMO_SN_PASSWORD_ENV = "SUPERVISOR_TUI_DEMO_SERVICENOW_PASSWORD"


def demo_config(
    args: argparse.Namespace,
    zendesk_url: str | None = None,
    freshdesk_url: str | None = None,
    jsm_url: str | None = None,
    servicenow_url: str | None = None,
) -> Config:
    """The demo floor: the simulation itself, or the fake helpdesks at these URLs."""
    if zendesk_url is None:
        source: dict[str, object] = {
            "name": "simulator",
            "kind": "simulator",
            "seed": args.seed,
            "agents": args.agents,
            "queues": args.queues,
            "speed": args.speed,
            "warmup_s": demo_warmup_s(args.agents),
        }
        chat_queue = "chat"
    else:
        source = {
            "name": "zendesk",
            "kind": "zendesk",
            "base_url": zendesk_url,
            "email": DEMO_EMAIL,
            "token_env": DEMO_TOKEN_ENV,
            "rate_limit_per_minute": zendesk_rate_limit(args.agents),
            "write_back": True,
            "views": {"Open e-mail": 360_000_000_901},
        }
        chat_queue = f"zendesk:{demo_group_id('chat', args.queues)}"
    sources = [source]
    if freshdesk_url is not None:
        sources.append(
            {
                "name": "retail",
                "kind": "freshdesk",
                "base_url": freshdesk_url,
                "api_key_env": DEMO_FRESHDESK_KEY_ENV,
                "plan": freshdesk_plan(args.agents),
                "write_back": True,
            }
        )
    if jsm_url is not None:
        sources.append(
            {
                "name": "it",
                "kind": "jsm",
                "base_url": jsm_url,
                "email": DEMO_EMAIL,
                "token_env": DEMO_TOKEN_ENV,
                "write_back": True,
            }
        )
    if servicenow_url is not None:
        sources.append(
            {
                "name": "ops",
                "kind": "servicenow",
                "base_url": servicenow_url,
                "username": DEMO_SN_USER,
                "password_env": DEMO_SN_PASSWORD_ENV,
                "write_back": True,
            }
        )
    return Config.model_validate(
        {
            "floor": {"name": DEMO_FLOOR},  # English as stored; core.feed.floor_words says it
            "display": {
                "profile": args.profile,
                "theme": getattr(args, "theme", "dark"),  # callers with an older Namespace
                "stale_after_s": 90 if zendesk_url else 30,
            },
            "sources": sources,
            "targets": {"queues": {chat_queue: {"sl_threshold_s": 60}}},
            "rules": default_rules(),
        }
    )


def demo_group_id(queue_id: str, queues: int) -> int:
    """The fake Zendesk's group id for one of the simulated queues."""
    from supervisor_tui.adapters.simulator import QUEUE_PATTERN
    from supervisor_tui.fakes.zendesk import GROUP_BASE

    ids = [QUEUE_PATTERN[i % len(QUEUE_PATTERN)][0] for i in range(queues)]
    return GROUP_BASE + ids.index(queue_id) + 1 if queue_id in ids else GROUP_BASE


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _demo_intraday(
    args: argparse.Namespace,
    db: Path,
    epoch: float,
    queue_id: Callable[[str], str],
    agent_id: Callable[[str], str],
    say: Callable[[str], None] = _say,
) -> None:
    """The demo floor's past weeks and today's schedule, written before the board opens."""
    from supervisor_tui.adapters.simulator import (
        CLOSE_AFTER_S,
        SimOptions,
        forecast_events,
        history_events,
        history_size,
        schedule_events,
    )
    from supervisor_tui.core.intraday import INTERVAL_S, interval_start
    from supervisor_tui.model import ForecastImported

    if args.history_weeks <= 0:
        return
    options = SimOptions(
        seed=args.seed, agents=args.agents, queues=args.queues, language=i18n.current()
    )
    weeks = min(args.history_weeks, 8)
    store = SQLiteStore(db)
    try:
        if store.last_seq():
            return  # a kept recording (--db) already has them
        size = history_size(options, epoch, weeks)
        if size <= DEMO_HISTORY_EVENTS:
            events = history_events(options, epoch, weeks, queue_id=queue_id, received_at=epoch)
        else:
            # as a floor this size works: today's forecast from the workforce tool, not
            # millions of past contacts written and folded before the board opens
            floor = Config.model_validate({}).floor_targets()  # the demo's clock: its zone
            first = interval_start(epoch, floor)
            starts = [float(first + k * INTERVAL_S) for k in range(CLOSE_AFTER_S // INTERVAL_S + 1)]
            events = forecast_events(
                options, epoch, starts, INTERVAL_S, queue_id=queue_id, at=epoch
            )
            rows = sum(
                len(e.payload.intervals) for e in events if isinstance(e.payload, ForecastImported)
            )
            said = _(
                "demo: a floor this size gets today's forecast ({rows} intervals) instead of "
                "{weeks} weeks of contacts (about {events} events)"
            ).format(rows=fmt.number(rows), weeks=weeks, events=fmt.number(size))
            say(said)
        events += schedule_events(options, epoch, agent_id=agent_id, at=epoch)
        store.append(events)
    finally:
        store.close()


def _demo(args: argparse.Namespace, db: Path) -> int:
    if args.floor_side:
        return _demo_floor_side(args, db)
    if _floor_apart(args):
        return _demo_apart(args, db)
    with _demo_floor(args, db, _say) as (config, clock, helpdesks):
        if args.check and helpdesks is not None:
            import asyncio

            from supervisor_tui.hub.check import check_all, summary_lines

            result = asyncio.run(check_all(config))
            print("\n".join(summary_lines(result)))
            return 0 if all(s["ok"] for s in result["sources"]) else 1
        code = _run_dashboard(config, db, clock=clock)
        _print_write_backs(helpdesks.write_backs() if helpdesks is not None else [])
        return code


def _floor_apart(args: argparse.Namespace) -> bool:
    """The board in a process of its own? Not for ``--check`` (no board), nor a sped-up floor
    (its clock is the simulator's, in the floor's process)."""
    if args.check or args.floor_process == "same":
        return False
    if args.speed != 1.0:
        if args.floor_process == "own":
            raise ConfigError(_("demo: --floor-process own runs the floor at --speed 1 only"))
        return False
    return bool(args.floor_process == "own" or args.agents > DEMO_APART_AGENTS)


def _print_write_backs(taken: list[str]) -> None:
    if taken:
        print(_("The fake helpdesk took these write-backs from the floor:"))
        print("\n".join(f"  {line}" for line in taken))


@contextmanager
def _demo_floor(
    args: argparse.Namespace, db: Path, say: Callable[[str], None]
) -> Iterator[tuple[Config, Callable[[], float] | None, DemoHelpdesks | None]]:
    """The demo's floor: its config, the floor's clock (None: the simulator's own) and the
    fake helpdesks serving it (None with ``--helpdesk none``), its past weeks and today's
    schedule written into ``db``. The helpdesks stop when the block ends."""
    if args.helpdesk == "none":
        epoch = round(time.time() - demo_warmup_s(args.agents))
        _demo_intraday(args, db, epoch, str, str, say)
        yield demo_config(args), None, None
        return
    import os

    from supervisor_tui.adapters.simulator import SimOptions
    from supervisor_tui.hub.demo import DemoHelpdesks

    options = SimOptions(
        seed=args.seed,
        agents=args.agents,
        queues=args.queues,
        speed=args.speed,
        language=i18n.current(),
    )
    options = dataclasses.replace(options, warmup_s=demo_warmup_s(args.agents))
    helpdesks = DemoHelpdesks(
        options,
        it_desks=args.all_backends,
        account=args.account,
    )
    if args.agents > DEMO_APART_AGENTS:
        say(
            _(
                "demo: the fake helpdesks simulate the first hour of the floor's day for "
                "{agents} agents (about a minute)…"
            ).format(agents=fmt.number(args.agents))
        )
    url = helpdesks.start()
    try:
        from supervisor_tui.fakes.common import number
        from supervisor_tui.fakes.zendesk import USER_BASE

        assert helpdesks.options.epoch is not None
        _demo_intraday(
            args,
            db,
            helpdesks.options.epoch,
            lambda q: f"zendesk:{demo_group_id(q, args.queues)}",
            lambda a: f"zendesk:{USER_BASE + number(a)}",
            say,
        )
        # this process (and its floor side) only; throwaway credentials for the fakes
        os.environ[DEMO_TOKEN_ENV] = helpdesks.token
        os.environ[DEMO_FRESHDESK_KEY_ENV] = helpdesks.api_key
        os.environ[DEMO_SN_PASSWORD_ENV] = helpdesks.sn_password
        assert helpdesks.freshdesk is not None
        config = demo_config(
            args,
            url,
            helpdesks.freshdesk.base_url,
            helpdesks.jsm.base_url if helpdesks.jsm is not None else None,
            helpdesks.servicenow.base_url if helpdesks.servicenow is not None else None,
        )
        yield config, helpdesks.clock, helpdesks
    finally:
        helpdesks.stop()


def _demo_floor_side(args: argparse.Namespace, db: Path) -> NoReturn:
    """The demo's helpdesks and collector for a board in the parent process
    (:func:`_demo_apart`). It speaks JSON lines on stdout: ``say`` (a line for the user),
    ``ready`` (the floor's config, without secrets: they stay in this process), then at the
    end each ``write_back`` the fakes took. It stops when its stdin closes (the board ended,
    or died) or on SIGTERM."""
    import json
    import os

    def tell(**what: object) -> None:
        with contextlib.suppress(OSError):  # the board is gone (its window closed): no one to tell
            print(json.dumps(what), flush=True)

    code = 1
    try:
        _run_floor_side(args, db, tell)
        code = 0
    except BaseException:
        logging.getLogger(__name__).exception("demo: the floor's process failed")
        with contextlib.suppress(OSError):  # the board shows its last lines when it ends
            traceback.print_exc(file=sys.stderr)
    finally:
        # Everything is written and closed. A floor of 10,000 agents is millions of objects:
        # the interpreter would spend a minute freeing them one by one (at full speed, with
        # no board left if its window was closed) before the process ends.
        with contextlib.suppress(OSError):
            sys.stdout.flush()
        logging.shutdown()
        os._exit(code)


def _run_floor_side(args: argparse.Namespace, db: Path, tell: Callable[..., None]) -> None:
    import asyncio
    import os

    from supervisor_tui.hub.live import build_live_floor

    with _demo_floor(args, db, lambda text: tell(say=text)) as (config, clock, helpdesks):
        floor = build_live_floor(config, db, clock)
        _take_lease(floor)

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, stop.set)

            def readable() -> None:
                try:
                    data = os.read(0, 4096)
                except OSError:
                    data = b""
                if not data:
                    loop.remove_reader(0)
                    stop.set()

            loop.add_reader(0, readable)
            await floor.collector.start()
            tell(ready=config.model_dump(mode="json"))
            try:
                await stop.wait()
            finally:
                await floor.collector.stop()

        try:
            asyncio.run(main())
        finally:
            floor.store.close()
        for line in helpdesks.write_backs() if helpdesks is not None else []:
            tell(write_back=line)


def _demo_apart(args: argparse.Namespace, db: Path) -> int:
    """The board here, the floor (helpdesks and collector) in a child process writing the
    same SQLite file; the board follows the file and writes its acks into it, and the
    collector there takes them back to the helpdesks."""
    import subprocess

    from supervisor_tui.core.rules import RuleEngine

    _say(
        _(
            "demo: {agents} agents and {queues} queues: the helpdesks and the collector run "
            "in a second process, the board in this one"
        ).format(agents=fmt.number(args.agents), queues=fmt.number(args.queues))
    )
    command = [sys.executable, "-m", "supervisor_tui", *args.argv, "--floor-side", "--db", str(db)]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errors:
        # a hang-up (SystemExit) between starting the floor's process and the ``try`` that
        # stops it would leave it running: it waits until the ``try``
        hang_up = {signal.SIGHUP} if hasattr(signal, "SIGHUP") else set()
        signal.pthread_sigmask(signal.SIG_BLOCK, hang_up)
        try:
            floor_side = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                encoding="utf-8",
                start_new_session=True,  # the terminal's keys and signals are the board's
            )
        except BaseException:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, hang_up)
            raise
        assert floor_side.stdin is not None and floor_side.stdout is not None
        code = 0
        config: Config | None = None
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, hang_up)
            try:
                for line in floor_side.stdout:
                    told = _told(line)
                    if "say" in told:
                        _say(printable(str(told["say"])))
                    elif "ready" in told:
                        config = Config.model_validate(told["ready"])
                        break
            except KeyboardInterrupt:
                code = 130  # Ctrl-C before the board opened: stopped, as asked
            if config is not None:
                code = _board(
                    config,
                    SQLiteStore(db),
                    time.time,
                    RuleEngine(list(config.rules)),
                    None,
                    started=partial(_watch_floor_side, floor_side),
                )
        finally:
            if config is None:  # stopped (Ctrl-C) or failed before the floor was ready
                floor_side.terminate()
            else:
                _say(_("demo: stopping the floor…"))
            try:  # closes its stdin: the floor side stops
                rest, _unused = floor_side.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                floor_side.kill()
                rest, _unused = floor_side.communicate()
        _print_write_backs(
            [str(t["write_back"]) for t in map(_told, rest.splitlines()) if "write_back" in t]
        )
        if floor_side.returncode and code != 130:
            errors.seek(0)
            said = errors.read().strip().splitlines()[-20:]
            _say(
                _("demo: the floor's process ended with code {code}").format(
                    code=floor_side.returncode
                )
            )
            _say("\n".join(printable(line) for line in said))
            return code or floor_side.returncode
    return code


def _watch_floor_side(floor_side: subprocess.Popen[str], app: SupervisorApp) -> None:
    """If the floor's process ends while the board runs, the board says so: its sources go
    stale with their age, and this says why."""
    import threading

    def wait() -> None:
        code = floor_side.wait()
        said = _("demo: the floor's process ended with code {code}").format(code=code)
        with contextlib.suppress(RuntimeError):  # the board has ended too
            app.call_from_thread(app.notify, said, severity="error", timeout=3600)

    threading.Thread(target=wait, name="floor-side", daemon=True).start()


def _told(line: str) -> dict[str, object]:
    """One line from the demo's floor side; anything else is shown as it is."""
    import json

    try:
        told = json.loads(line)
    except ValueError:
        told = None
    return told if isinstance(told, dict) else {"say": line.rstrip("\n")}


def _log_to(args: argparse.Namespace, beside: Path) -> None:
    """The log: ``--log-file``, else beside the store (``FILE.log``); with a PostgreSQL
    store that is the data directory, maybe not made yet."""
    from supervisor_tui.logs import log_to

    path = args.log_file or beside.with_suffix(".log")
    try:
        log_to(path, level=args.log_level, json_lines=args.log_json)
    except OSError as exc:
        raise ConfigError(
            _("{path}: cannot write the log ({why})").format(path=path, why=exc.strerror)
        ) from None


@contextmanager
def _logging(args: argparse.Namespace, default: Path) -> Iterator[None]:
    """As :func:`_log_to`, for a command that ends without ending the process (check and
    watch; ``main`` is also called in-process): the log is closed when it ends."""
    from supervisor_tui.logs import logging_to

    path = args.log_file or default
    with ExitStack() as stack:
        try:
            stack.enter_context(logging_to(path, level=args.log_level, json_lines=args.log_json))
        except OSError as exc:
            raise ConfigError(
                _("{path}: cannot write the log ({why})").format(path=path, why=exc.strerror)
            ) from None
        yield


def _sqlite_file(args: argparse.Namespace, config: Config) -> Path | None:
    """The SQLite file to open, or None for the PostgreSQL store the config names (``--db``
    wins over both)."""
    if args.db is not None:
        return Path(args.db)
    if config.store.postgres_url() is not None:
        return None
    return config.store.resolved_path()


def _run_dashboard(
    config: Config, db: Path | None, clock: Callable[[], float] | None = None
) -> int:
    from supervisor_tui.hub.live import build_live_floor

    _check_keys(config)
    floor = build_live_floor(config, db, clock)
    _take_lease(floor)
    return _board(config, floor.store, floor.clock, floor.rules, floor.collector)


def _check_keys(config: Config) -> None:
    from supervisor_tui.app import SupervisorApp

    unknown = sorted(set(config.keys) - SupervisorApp.binding_ids())
    if unknown:
        known = ", ".join(sorted(SupervisorApp.binding_ids()))
        raise ConfigError(
            f"[keys]: unknown binding id {', '.join(unknown)} (expected one of: {known})"
        )


def _board(
    config: Config,
    store: SQLiteStore | PostgresStore,
    clock: Callable[[], float],
    rules: RuleEngine,
    collector: Collector | None,
    *,
    started: Callable[[SupervisorApp], None] | None = None,
) -> int:
    """The dashboard on a store, with the collector that fills it in this process, or
    none (another process collects: the demo's floor side)."""
    from supervisor_tui.app import FloorSettings, SupervisorApp

    _check_keys(config)
    settings = FloorSettings(
        floor_name=config.floor.name,
        operator=config.operator_name(),
        targets=config.floor_targets(),
        rules=rules,
        profile=config.display.profile,
        stale_after_s=config.display.stale_after_s,
        keys=dict(config.keys),
        wall_pause_resume_s=config.display.wall_pause_resume_s,
        dialog_idle_s=config.display.dialog_idle_s,
        **config.display.look(),
        intraday=config.intraday.settings(),
    )
    app = SupervisorApp(store, settings, clock=clock, collector=collector)
    if started is not None:
        started(app)
    try:
        app.run()
    finally:
        store.close()
    return app.return_code or 0


def _take_lease(floor: LiveFloor) -> None:
    """One collector per store (per source on a PostgreSQL floor): a second one stops here with
    one line naming the first."""
    try:
        floor.collector.take_lease()
    except BaseException:
        floor.store.close()
        raise


def _token(args: argparse.Namespace) -> int:
    import secrets

    import tomli_w
    from pydantic import ValidationError

    from supervisor_tui.config import HubToken
    from supervisor_tui.hub.protocol import hash_token

    token = secrets.token_urlsafe(32)
    entry = {"name": args.name, "scope": args.scope, "sha256": hash_token(token)}
    try:
        HubToken.model_validate(entry)  # the entry is refused now, not when the hub starts
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ConfigError(f"token --name {args.name!r}: {reasons}") from None
    said = _("token (give it to the terminal; it is not kept anywhere): {token}")
    print(said.format(token=token), file=sys.stderr)
    # written by a TOML writer: a name is data, it cannot add a line to the config
    print("[[hub.tokens]]")
    print(tomli_w.dumps(entry), end="")
    return 0


def floor_description(config: Config) -> dict[str, object]:
    """What a watching terminal needs to draw the floor as the hub does."""
    import dataclasses

    return {
        "name": config.floor.name,
        "targets": dataclasses.asdict(config.floor_targets()),
        "rules": [rule.model_dump(mode="json") for rule in config.rules],
        "stale_after_s": config.display.stale_after_s,
        "profile": config.display.profile,
    }


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import ssl

    from supervisor_tui.hub.live import build_live_floor
    from supervisor_tui.hub.protocol import TokenEntry
    from supervisor_tui.hub.server import Hub

    config = load_config(args.config)
    db = _sqlite_file(args, config)
    _log_to(args, db or config.store.resolved_path())
    hub_config = config.hub
    if not hub_config.tokens and not args.no_hub:
        raise ConfigError(
            _("{path}: [hub] has no tokens (make one: {command})").format(
                path=args.config, command="supervisor-tui token"
            )
        )
    tls = None
    if hub_config.tls_cert and hub_config.tls_key:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(hub_config.tls_cert, hub_config.tls_key)
    floor = build_live_floor(config, db)
    _take_lease(floor)
    where = floor.store.path if isinstance(floor.store, SQLiteStore) else floor.store.where
    host, port = hub_config.address()
    hub = Hub(
        floor.store,
        [TokenEntry(t.name, t.scope, t.sha256) for t in hub_config.tokens],
        config.floor_targets(),
        floor.clock,
        floor=floor_description(config),
        host=host,
        port=port,
        ssl_context=tls,
        send_queue=hub_config.send_queue,
        per_peer=hub_config.per_address,
        max_connections=hub_config.max_connections,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await floor.collector.start()
        if args.no_hub:
            sources = ", ".join(sorted(floor.collector.adapters)) or _("no sources")
            said = _("collecting {sources} for {floor}  (store {store})").format(
                sources=sources, floor=repr(config.floor.name), store=where
            )
        else:
            bound = await hub.start()
            scheme = "wss" if tls else "ws"
            said = _("serving {floor}: {address}  (store {store})").format(
                floor=repr(config.floor.name), address=f"{scheme}://{host}:{bound}", store=where
            )
        print(said, flush=True)
        try:
            await stop.wait()
        finally:
            if not args.no_hub:
                await hub.stop()
            await floor.collector.stop()

    try:
        asyncio.run(main())
    finally:
        floor.store.close()
    return 0


def _watch(args: argparse.Namespace) -> int:
    import os
    import ssl

    from platformdirs import user_data_path

    token = args.token or os.environ.get("SUPERVISOR_TUI_TOKEN")
    if not token:
        raise ConfigError(
            _("watch: needs {option} or {variable}").format(
                option="--token", variable="SUPERVISOR_TUI_TOKEN"
            )
        )
    if not args.url.startswith(("ws://", "wss://")):
        raise ConfigError(
            _("watch: {url} is not a ws:// or wss:// address").format(url=repr(args.url))
        )
    tls = None
    if args.url.startswith("wss://"):
        tls = ssl.create_default_context(cafile=str(args.cafile) if args.cafile else None)
    with _logging(args, user_data_path("supervisor-tui") / "watch.log"):
        return _watching(args, token, tls)


def _watching(args: argparse.Namespace, token: str, tls: SSLContext | None) -> int:
    import asyncio

    from supervisor_tui.app import FloorSettings, SupervisorApp
    from supervisor_tui.core.rules import RuleEngine
    from supervisor_tui.core.targets import QueueTargets
    from supervisor_tui.hub.client import HubClient, HubRefused, RemoteDesk, hello

    log = logging.getLogger("supervisor_tui.watch")

    def say(line: str) -> None:
        print(f"supervisor-tui: watch: {line}", file=sys.stderr, flush=True)
        log.info("watch: %s", line)

    try:
        say(_("connecting to {url} …").format(url=args.url))
        probe = asyncio.run(
            hello(args.url, token, say, ssl_context=tls, give_up_after_s=args.give_up_after)
        )
    except HubRefused as exc:
        log.error("watch: the hub refused: %s", exc)
        raise ConfigError(_("watch: the hub refused: {reason}").format(reason=exc.said)) from None
    except TimeoutError as exc:
        log.error("watch: %s", exc)
        raise ConfigError(f"watch: {exc}") from None
    log.info("watch: %s welcomed token %r (scope %s)", args.url, probe.name, probe.scope)
    floor = probe.floor
    raw_targets = dict(floor.get("targets") or {})
    targets = FloorTargets(
        default=QueueTargets(**raw_targets.get("default", {})),
        queues={k: QueueTargets(**v) for k, v in (raw_targets.get("queues") or {}).items()},
        utc_offset_s=int(raw_targets.get("utc_offset_s") or 0),
        timezone=str(raw_targets.get("timezone") or ""),
    )
    rules = Config.model_validate({"rules": floor.get("rules") or []}).rules
    client = HubClient(args.url, token, targets, ssl_context=tls)
    settings = FloorSettings(
        # TRANSLATORS: the floor's name on a terminal fed by a hub
        floor_name=_("{floor} (via hub)").format(floor=floor_words(str(floor.get("name") or ""))),
        operator=probe.name,
        targets=targets,
        rules=RuleEngine(list(rules)),
        profile=args.profile or str(floor.get("profile") or "desk"),
        stale_after_s=float(floor.get("stale_after_s") or 60),
        theme=args.theme,
        bell=args.bell,
    )
    app = SupervisorApp(client, settings, clock=time.time, desk=RemoteDesk(client))
    try:
        app.run()
    finally:
        client.close()
        log.info("watch: %s: the board was closed", args.url)
    return app.return_code or 0


def _web(args: argparse.Namespace) -> int:
    import re

    from supervisor_tui.adapters.http import read_secret
    from supervisor_tui.web import WebError, WebOptions, serve

    where = re.fullmatch(r"([^\s:]+):(\d{1,5})", args.listen)
    if where is None or not 0 <= int(where[2]) <= 65535:
        raise ConfigError(
            _("web: {option} {value}: expected host:port").format(
                option="--listen", value=repr(args.listen)
            )
        )
    if args.token_file is not None:
        token = read_secret(file=str(args.token_file), what="web --token-file")
    else:
        token = read_secret(env="SUPERVISOR_TUI_TOKEN", what="web (or give --token-file)")
    if not token:
        raise ConfigError(_("web: the board's token is empty"))
    options = WebOptions(
        hub_url=args.url,
        token=token,
        host=where[1],
        port=int(where[2]),
        cafile=args.cafile,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        max_sessions=max(1, args.max_sessions),
        lang=args.lang,
    )
    try:
        return serve(options, lambda line: print(line, flush=True))
    except WebError as exc:
        raise ConfigError(f"web: {exc}") from None


def _check(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from supervisor_tui.hub.check import check_all, summary_lines

    config = load_config(args.config)
    if not config.sources:
        raise ConfigError(_("{path}: no [[sources]] to check").format(path=args.config))
    if args.json:
        i18n.use("en")  # for scripts, as the log: the same words on every floor
    log = logging.getLogger("supervisor_tui.check")
    with _logging(args, config.store.resolved_path().with_suffix(".log")):
        names = ", ".join(source.name for source in config.sources)
        log.info("check: sources %s, from %s", names, args.config)
        result = asyncio.run(check_all(config))
        for line in summary_lines(result):  # what the terminal is shown, a line each
            level = logging.INFO
            if line.startswith("✖"):
                level = logging.ERROR
            elif line.lstrip().startswith("⚠"):
                level = logging.WARNING
            log.log(level, "check: %s", line.strip())
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(summary_lines(result)))
    return 0 if all(s["ok"] for s in result["sources"]) else 1


def _report(args: argparse.Namespace) -> int:
    import supervisor_tui.report.render as render
    from supervisor_tui.core.files import write_private
    from supervisor_tui.core.replay import recorded_settings
    from supervisor_tui.core.targets import targets_from_settings
    from supervisor_tui.report.compute import ReportError, compute
    from supervisor_tui.store import SQLiteStore, every_event

    config = load_config(args.config) if args.config is not None else Config()
    stores: list[SQLiteStore | PostgresStore] = []
    try:
        for name in args.files:
            stores.append(_open_recording(name, config))
        recorded = next((r for s in stores if (r := recorded_settings(s)) is not None), None)
        floor_name = config.floor.name
        if args.config is not None or recorded is None:
            targets = config.floor_targets()
            if recorded is not None:
                said = _("report: targets from {path}, not the ones recorded with the floor")
                print(said.format(path=args.config), file=sys.stderr)
        else:
            targets = targets_from_settings(recorded)
            floor_name = recorded.floor_name
        start = _floor_time(args.since, targets, "--from")
        end = _floor_time(args.until, targets, "--to")
        if start is not None and end is not None and end <= start:
            raise ConfigError(
                _("{later} must come after {earlier}").format(later="--to", earlier="--from")
            )

        try:
            report = compute(
                [
                    (str(s.path) if isinstance(s, SQLiteStore) else s.url, every_event(s))
                    for s in stores
                ],
                targets=targets,
                grouping=args.group,
                start=start,
                end=end,
                queue=args.queue,
                title=f"{floor_name}: report",
                follow_settings=args.config is None,
                history_weeks=config.intraday.history_weeks,
            )
        except ReportError as exc:
            raise ConfigError(str(exc)) from None
    finally:
        for s in stores:
            s.close()
    if args.format == "term":
        from rich.console import Console

        Console().print(render.rich_summary(report))
        return 0
    text = {
        "md": render.to_markdown,
        "csv": render.to_csv,
        "json": render.to_json,
        "html": render.to_html,
    }[args.format](report)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        write_private(args.out, text)
    except OSError as exc:
        raise ConfigError(
            _("{path}: cannot write ({why})").format(path=args.out, why=exc.strerror)
        ) from None
    print(_("report written to {path}").format(path=args.out), file=sys.stderr)
    return 0


def _open_recording(name: str, config: Config) -> SQLiteStore | PostgresStore:
    """A recording, read-only: a SQLite file or a postgresql:// store."""
    from supervisor_tui.store.postgres import PostgresStore

    if name.startswith(("postgresql://", "postgres://")):
        return PostgresStore(name, read_only=True, schema=config.store.schema_name)
    path = Path(name)
    if not path.exists():
        raise ConfigError(no_such_file(path))
    return SQLiteStore(path, read_only=True)


def _audit(args: argparse.Namespace) -> int:
    from rich.console import Console

    import supervisor_tui.report.audit as audit
    from supervisor_tui.core.replay import recorded_settings
    from supervisor_tui.core.targets import targets_from_settings
    from supervisor_tui.store.base import WriteBackOutcome
    from supervisor_tui.store.postgres import PostgresStore

    config = load_config(args.config) if args.config is not None else Config()
    store = _open_recording(args.file, config)
    try:
        recorded = recorded_settings(store)
        if args.config is None and recorded is not None:
            targets = targets_from_settings(recorded)
        else:
            targets = config.floor_targets()
        start = _floor_time(args.since, targets, "--from")
        end = _floor_time(args.until, targets, "--to")
        if start is not None and end is not None and end <= start:
            raise ConfigError(
                _("{later} must come after {earlier}").format(later="--to", earlier="--from")
            )
        outcomes: list[WriteBackOutcome] | None
        try:
            outcomes = store.write_back_outcomes()
        except StoreError as exc:  # an older recording's outbox: the commands still count
            print(_("audit: write-backs unknown ({reason})").format(reason=exc), file=sys.stderr)
            outcomes = None
        kinds = (
            "escalation.raised",
            "escalation.acked",
            "escalation.noted",
            "escalation.snoozed",
            "escalation.resolved",
        )
        events = [e for k in kinds for e in store.events_of_kind(k)]
        events.sort(key=lambda e: e.seq)
        entries = audit.audit_trail(events, outcomes, targets.zone(), start=start, end=end)
    finally:
        store.close()
    if args.format == "csv":
        sys.stdout.write(audit.to_csv(entries))
    elif args.format == "json":
        sys.stdout.write(audit.to_json(entries))
    else:
        # a URL is shown as the store says it (without its password)
        where = printable(store.where if isinstance(store, PostgresStore) else args.file)
        count = len(entries)
        title = i18n.ngettext(
            "Commands on {where}: {count}", "Commands on {where}: {count}", count
        ).format(where=where, count=fmt.number(count))
        Console().print(audit.to_table(entries, title))
    return 0


def _floor_time(text: str | None, floor: FloorTargets, what: str) -> float | None:
    """A floor-time date or date-time as UTC epoch seconds (in the floor's time zone)."""
    if text is None:
        return None
    from datetime import datetime

    for form in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"):
        try:
            local = datetime.strptime(text, form).replace(tzinfo=floor.zone())
        except ValueError:
            continue
        return local.timestamp()
    raise ConfigError(
        _("{option} {value}: expected {forms}").format(
            option=what, value=repr(text), forms="YYYY-MM-DD, YYYY-MM-DDTHH:MM"
        )
    )


def _record(args: argparse.Namespace) -> int:
    from supervisor_tui.adapters.simulator import SimOptions
    from supervisor_tui.core.rules import RuleEngine
    from supervisor_tui.hub.record import record_simulation

    config = demo_config(
        argparse.Namespace(
            profile="desk", seed=args.seed, agents=args.agents, queues=args.queues, speed=1.0
        )
    )
    options = SimOptions(
        seed=args.seed, agents=args.agents, queues=args.queues, language=i18n.current()
    )

    shown = [-1]

    def progress(done: float, events: int) -> None:
        step = int(done * (100 if sys.stderr.isatty() else 4))
        if step != shown[0]:
            shown[0] = step
            end = "" if sys.stderr.isatty() else "\n"
            said = ngettext("{count} event", "{count} events", events).format(
                count=fmt.number(events)
            )
            shown_done = fmt.percent(done, 1).rjust(6)
            print(f"\r{shown_done}  {said}", end=end, file=sys.stderr, flush=True)

    events = record_simulation(
        args.out,
        options,
        RuleEngine(list(config.rules)),
        config.floor_targets(),
        hours=args.hours,
        progress=progress,
        supervised=not args.unsupervised,
        step_s=args.step,
        floor_name=config.floor.name,
        history_weeks=min(max(args.history_weeks, 0), 8),
    )
    said = ngettext("wrote {count} event to {path}", "wrote {count} events to {path}", events)
    print("\n" + said.format(count=fmt.number(events), path=args.out), file=sys.stderr)
    return 0


def _replay(args: argparse.Namespace) -> int:
    import getpass

    from supervisor_tui.app import FloorSettings, SupervisorApp
    from supervisor_tui.core.replay import (
        Recording,
        ReplayPlayer,
        clock_in_recording,
        recorded_settings,
    )
    from supervisor_tui.core.rules import RuleEngine
    from supervisor_tui.core.targets import targets_from_settings
    from supervisor_tui.core.training import TrainingSession
    from supervisor_tui.store import SQLiteStore

    config = load_config(args.config) if args.config is not None else Config()
    store = SQLiteStore(args.file, read_only=True)
    try:
        recorded = recorded_settings(store)
        floor_name = config.floor.name
        rules = list(config.rules)
        if args.config is not None or recorded is None:
            if recorded is None and args.config is None:
                config = demo_config(
                    argparse.Namespace(profile="desk", seed=7, agents=40, queues=5, speed=1.0)
                )
                floor_name, rules = config.floor.name, list(config.rules)
            elif recorded is not None:
                said = _(
                    "replay: targets and rules from {path}, not the ones recorded with the floor"
                )
                print(said.format(path=args.config), file=sys.stderr)
            targets = config.floor_targets()
        else:
            targets = targets_from_settings(recorded)
            floor_name = recorded.floor_name
            rules = list(
                parse_config({"rules": list(recorded.rules)}, f"{args.file} (recorded rules)").rules
            )

        def progress(done: int, total: int) -> None:
            said = _("indexing {done} / {total} events").format(
                done=fmt.number(done), total=fmt.number(total)
            )
            print(f"\r{said}", end="", file=sys.stderr, flush=True)

        recording = Recording(
            store, targets, progress=progress, follow_settings=args.config is None
        )
        player = ReplayPlayer(recording, stop_at_escalations=args.train, freeze_heap=True)
        if args.at:
            at = clock_in_recording(args.at, recording.start, targets)
            if at is None:
                raise ConfigError(
                    _("{option} {value}: expected {forms}").format(
                        option="--at", value=repr(args.at), forms="HH:MM, HH:MM:SS"
                    )
                )
            player.seek(at)
        trainee = args.trainee or getpass.getuser()
        training = TrainingSession(trainee, printable(str(args.file))) if args.train else None
        settings = FloorSettings(
            floor_name=f"{floor_name} · {printable(args.file.name)}",
            operator=trainee,
            targets=targets,
            rules=RuleEngine(rules),
            profile=args.profile or config.display.profile,
            stale_after_s=config.display.stale_after_s,
            keys=dict(config.keys),
            **config.display.look(),
            intraday=config.intraday.settings(),
        )
        app = SupervisorApp(
            store,
            settings,
            clock=player.clock,
            player=player,
            training=training,
            card_path=args.card,
        )
        app.run()
        if app.card_written is not None:
            said = _("score card: {first} and {second}")
            print(said.format(first=app.card_written[0], second=app.card_written[1]))
    finally:
        store.close()
    return app.return_code or 0


def _intraday_imports(what: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    forecast = what.add_parser(
        "forecast",
        help=_(
            "a CSV forecast: queue (id or name), interval_start (ISO 8601, a half hour), "
            "offered, aht (seconds)"
        ),
    )
    forecast.add_argument("file", type=Path, metavar="FILE.csv")
    schedule = what.add_parser(
        "schedule",
        help=_(
            "agents' schedules from CSV (agent, start, end, activity) or iCalendar (.ics); "
            "agents matched by e-mail or name"
        ),
    )
    schedule.add_argument("file", type=Path, metavar="FILE")
    for each in (forecast, schedule):
        each.add_argument("--db", type=Path, help=_("the store file (default: the config's store)"))
        each.add_argument("-c", "--config", type=Path, help=_("its store and time zone"))


def _import_intraday(args: argparse.Namespace) -> int:
    """A forecast or a schedule, matched against the queues and agents the store knows."""
    from supervisor_tui.report.forecast_file import read_forecast
    from supervisor_tui.report.importfile import ImportFileError, directory
    from supervisor_tui.report.schedule_file import read_schedule

    config = load_config(args.config) if args.config is not None else Config()
    store = SQLiteStore(args.db or config.store.resolved_path())
    try:
        known = directory(store)
        now = time.time()
        try:
            if args.what == "forecast":
                forecast = read_forecast(args.file, config.floor_targets(), known, now)
                events = forecast.events
                said = ngettext(
                    "{count} forecast interval", "{count} forecast intervals", forecast.rows
                ).format(count=fmt.number(forecast.rows))
            else:
                schedule = read_schedule(args.file, config.floor_targets(), known, now)
                events = schedule.events
                said = ngettext(
                    "{count} scheduled activity of {agents} agents",
                    "{count} scheduled activities of {agents} agents",
                    schedule.rows,
                ).format(count=fmt.number(schedule.rows), agents=fmt.number(schedule.agents))
        except ImportFileError as exc:
            raise ConfigError(str(exc)) from None
        store.append(events)  # one transaction: all of them or none
    finally:
        store.close()
    said = _("imported {what} from {file}").format(what=said, file=printable(args.file.name))
    print(said, file=sys.stderr)
    return 0


def _import_surveys(args: argparse.Namespace) -> int:
    from supervisor_tui.report.surveys import SurveyFileError, read_surveys
    from supervisor_tui.store import SQLiteStore

    config = load_config(args.config) if args.config is not None else Config()
    try:
        found = read_surveys(args.file, config.floor_targets(), args.source)
    except SurveyFileError as exc:
        raise ConfigError(str(exc)) from None
    store = SQLiteStore(args.db or config.store.resolved_path())
    try:
        stored = store.append(found.events)  # one transaction: all of them or none
    finally:
        store.close()
    said = ngettext(
        "imported {count} survey answer of {rows} rows ({known} already in the store)",
        "imported {count} survey answers of {rows} rows ({known} already in the store)",
        len(stored),
    ).format(
        count=fmt.number(len(stored)),
        rows=fmt.number(found.rows),
        known=fmt.number(found.rows - len(stored)),
    )
    print(said, file=sys.stderr)
    return 0


def _configured_language(args: argparse.Namespace) -> str | None:
    """``[display] language`` from the command's config, read ahead of the full load so that
    the load's own errors are said in it; any trouble here is left to that load."""
    import os
    import stat
    import tomllib

    path = getattr(args, "config", None)
    if not isinstance(path, Path):
        return None
    try:
        # opened without blocking and read only if it is a regular file of a config's size:
        # a FIFO or a device would hang or never end (the load's own checks say so)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > 1_000_000:
                return None
            language = tomllib.load(f).get("display", {}).get("language")
    except (OSError, ValueError, AttributeError):
        return None
    return language if isinstance(language, str) else None


class _EarlyParser(argparse.ArgumentParser):
    """Reads ``--lang`` and ``-c`` only, and never prints or exits: whatever it cannot read
    is left to the full parser (argparse calls ``error`` on some paths despite
    ``exit_on_error=False``, an ambiguous option among them)."""

    def error(self, message: str) -> NoReturn:
        raise argparse.ArgumentError(None, message)


def _early_language(argv: list[str] | None) -> str | None:
    """``--lang``, else the language of the config given with ``-c``, read from the command
    line before the parser is built: its help and its errors are then in that language."""
    early = _EarlyParser(add_help=False, exit_on_error=False)
    early.add_argument("--lang")
    early.add_argument("-c", "--config", type=Path)
    try:
        known, _rest = early.parse_known_args(sys.argv[1:] if argv is None else argv)
    except argparse.ArgumentError:
        return None  # the full parser says what is wrong, in the locale's language
    if known.lang in i18n.LANGUAGES:
        return str(known.lang)
    return _configured_language(known)


def _hang_up(signum: int, frame: object) -> None:
    """The terminal closed (a window shut, an SSH link dropped): end the command as ``q``
    would, so what it holds is let go (the demo's files, a few hundred MB at 10,000 agents,
    its floor's process, the store's lock), not killed where it stood."""
    del frame
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    if (
        hasattr(signal, "SIGHUP")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGHUP, _hang_up)
    i18n.use(_early_language(argv))
    _argparse_speaks()
    args = _parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    i18n.use(args.lang or _configured_language(args))
    try:
        if args.command == "demo":
            if args.floor_side and args.db is not None:
                _log_to(args, args.db)
                return _demo_floor_side(args, args.db)
            if args.db is not None:
                _log_to(args, args.db)
                code = _demo(args, args.db)
                print(_("The recording is in {path}").format(path=args.db))
                return code
            with tempfile.TemporaryDirectory(prefix="supervisor-tui-demo-") as tmp:
                _log_to(args, Path(tmp) / "demo.db")
                return _demo(args, Path(tmp) / "demo.db")
        if args.command == "run":
            config = load_config(args.config)
            db = _sqlite_file(args, config)
            _log_to(args, db or config.store.resolved_path())
            return _run_dashboard(config, db)
        if args.command == "check":
            return _check(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "watch":
            return _watch(args)
        if args.command == "web":
            return _web(args)
        if args.command == "token":
            return _token(args)
        if args.command == "record":
            return _record(args)
        if args.command == "report":
            return _report(args)
        if args.command == "audit":
            return _audit(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "import":
            if args.what in ("forecast", "schedule"):
                return _import_intraday(args)
            return _import_surveys(args)
    except (ConfigError, StoreError, SourceSetupError) as exc:
        # the message may quote a file's name, and a name can hold escape sequences
        said = exc.said if isinstance(exc, StoreError) else str(exc)
        print(f"supervisor-tui: {printable(said)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
