"""Help: the keys, what each figure means and how it is computed."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from supervisor_tui.core.erlang import CONCURRENCY_FORMULA
from supervisor_tui.core.forecast import FORECAST_METHOD, PROJECTION_METHOD
from supervisor_tui.core.kpis import ABANDON_FORMULA, FCR_FORMULA, SL_FORMULA
from supervisor_tui.core.schedule import ADHERENCE_FORMULA, CONFORMANCE_FORMULA
from supervisor_tui.model import Limit
from supervisor_tui.screens.prompt import Dialog

FIGURES = (
    ("Waiting", "contacts in the queue now (from the backend's report when it gives one)"),
    ("Longest", "how long the oldest waiting contact has waited; ticks every second"),
    ("SL", f"service level today: {SL_FORMULA}; T per queue"),
    ("ASA", "average wait of answered contacts today"),
    ("Abandon", f"{ABANDON_FORMULA}; short abandons are set per queue"),
    ("AHT", "talk + hold + wrap-up of contacts ended today"),
    (
        "Need · have",
        "Erlang C agents for the SL target at the last 30 min's arrivals and "
        "handle time, against agents signed in to the queue and not away. Erlang C ignores "
        "abandons and shared agents: read it as a guide, not a forecast. Where agents take "
        f"several chats at once (max_concurrent per queue): {CONCURRENCY_FORMULA}",
    ),
    ("Backlog", "open tickets (new, open, pending, on hold) by age since creation"),
    ("SLA", "⚠ at risk: under 25 % of the target left; ✖ breached: past due"),
    ("CSAT", "good ÷ (good + bad) ratings received today"),
    ("FCR", f"first contact resolution today: {FCR_FORMULA}"),
    ("Freshness", "each source's newest event; STALE when older than the configured limit"),
    (
        "½h fcst · act",
        f"this half hour's offered contacts, forecast and actual; {FORECAST_METHOD}; "
        "▲ over: offered today runs more than the configured margin above forecast",
    ),
    ("proj SL", PROJECTION_METHOD),
    (
        "Adherence",
        f"{ADHERENCE_FORMULA}: open (on queue) is kept by Available, Busy or Wrap-up, any "
        "other activity by Away or Offline; time without presence is left out. ✖ beside an "
        "agent: out of the scheduled state beyond the grace time",
    ),
    (
        "Conformance",
        f"{CONFORMANCE_FORMULA} (open activities), whenever worked: can pass 100 %",
    ),
    (
        "What-if (w)",
        "agents moved, added or removed, or a new SL target, projected by Erlang C "
        "now and for the coming half hours; nothing is changed in any helpdesk",
    ),
)


class HelpScreen(Dialog):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 100%; height: 80%; padding: 1 2;
        border: thick $accent; background: $surface;
    }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(
        self,
        keys: list[tuple[str, str]],
        limits: list[tuple[str, Limit]] | None = None,
    ) -> None:
        """``limits``: what each source's account does not let us read, by source name."""
        super().__init__()
        self.keys = keys
        self.limits = limits or []

    def compose(self) -> ComposeResult:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold cyan", no_wrap=True)
        keys.add_column()
        for key, description in self.keys:
            keys.add_row(key, description)
        figures = Table.grid(padding=(0, 2))
        figures.add_column(style="bold", no_wrap=True)
        figures.add_column()
        for name, meaning in FIGURES:
            figures.add_row(name, meaning)
        with VerticalScroll():
            yield Static(Text("Keys", style="bold underline"))
            yield Static(keys)
            yield Static(Text("\nFigures", style="bold underline"))
            yield Static(figures)
            if self.limits:
                yield Static(
                    Text("\nWhat the helpdesks do not let us read", style="bold underline")
                )
                limits = Table.grid(padding=(0, 2))
                limits.add_column(style="bold", no_wrap=True)
                limits.add_column()
                for source, limit in self.limits:
                    why = Text(limit.reason)  # the helpdesk's words are data, never markup
                    if limit.fix:
                        why.append(f"\n→ {limit.fix}", style="dim")
                    limits.add_row(Text(f"{source} · {limit.capability.label}"), why)
                yield Static(limits)
            yield Static(
                Text(
                    "\nColours always come with a glyph or a word: ▲ alert, "
                    "△ warning, ✔ ok, ✖ short or breached.",
                    style="dim",
                )
            )

    def action_close(self) -> None:
        self.dismiss(None)
