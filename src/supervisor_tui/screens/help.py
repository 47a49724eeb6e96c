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
from supervisor_tui.i18n import N_, _
from supervisor_tui.model import Limit, reasons
from supervisor_tui.screens.prompt import Dialog

FIGURES: tuple[tuple[str, str, dict[str, str]], ...] = (
    (
        N_("Waiting"),
        N_("contacts in the queue now (from the backend's report when it gives one)"),
        {},
    ),
    (N_("Longest"), N_("how long the oldest waiting contact has waited; ticks every second"), {}),
    (N_("SL"), N_("service level today: {formula}; T per queue"), {"formula": SL_FORMULA}),
    (N_("ASA"), N_("average wait of answered contacts today"), {}),
    (
        N_("Abandon"),
        N_("{formula}; short abandons are set per queue"),
        {"formula": ABANDON_FORMULA},
    ),
    (N_("AHT"), N_("talk + hold + wrap-up of contacts ended today"), {}),
    (
        N_("Need · have"),
        N_(
            "Erlang C agents for the SL target at the last 30 min's arrivals and "
            "handle time, against agents signed in to the queue and not away. Erlang C "
            "ignores abandons and shared agents: read it as a guide, not a forecast. Where "
            "agents take several chats at once (max_concurrent per queue): {formula}"
        ),
        {"formula": CONCURRENCY_FORMULA},
    ),
    (N_("Backlog"), N_("open tickets (new, open, pending, on hold) by age since creation"), {}),
    (N_("SLA"), N_("⚠ at risk: under 25 % of the target left; ✖ breached: past due"), {}),
    (N_("CSAT"), N_("good ÷ (good + bad) ratings received today"), {}),
    (N_("FCR"), N_("first contact resolution today: {formula}"), {"formula": FCR_FORMULA}),
    (
        N_("Freshness"),
        N_("each source's newest event; STALE when older than the configured limit"),
        {},
    ),
    (
        N_("½h fcst · act"),
        N_(
            "this half hour's offered contacts, forecast and actual; {method}; ▲ over: "
            "offered today runs more than the configured margin above forecast"
        ),
        {"method": FORECAST_METHOD},
    ),
    (N_("proj SL"), PROJECTION_METHOD, {}),
    (
        N_("Adherence"),
        N_(
            "{formula}: open (on queue) is kept by Available, Busy or Wrap-up, any other "
            "activity by Away or Offline; time without presence is left out. ✖ beside an "
            "agent: out of the scheduled state beyond the grace time"
        ),
        {"formula": ADHERENCE_FORMULA},
    ),
    (
        N_("Conformance"),
        N_("{formula} (open activities), whenever worked: can pass 100 %"),
        {"formula": CONFORMANCE_FORMULA},
    ),
    (
        N_("What-if (w)"),
        N_(
            "agents moved, added or removed, or a new SL target, projected by Erlang C "
            "now and for the coming half hours; nothing is changed in any helpdesk"
        ),
        {},
    ),
)
"""Each figure's name, what it means, and the formulas (from the core, one home each) put
into the meaning; all translated where drawn."""


def figure_meaning(meaning: str, formulas: dict[str, str]) -> str:
    """A figure's meaning in the floor's language, its formulas in it too."""
    said = _(meaning)
    return said.format(**{name: _(text) for name, text in formulas.items()}) if formulas else said


class HelpScreen(Dialog):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 100%; height: 80%; padding: 1 2;
        border: thick $accent; background: $surface;
    }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", N_("Close"), id="help.close")]

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
        # a run without spaces (a Chinese or Japanese sentence) folds by cells, never cut off
        keys.add_column(overflow="fold")
        for key, description in self.keys:
            keys.add_row(key, _(description))
        figures = Table.grid(padding=(0, 2))
        figures.add_column(style="bold", no_wrap=True)
        figures.add_column(overflow="fold")
        for name, meaning, formulas in FIGURES:
            figures.add_row(_(name), figure_meaning(meaning, formulas))
        with VerticalScroll():
            yield Static(Text(_("Keys"), style="bold underline"))
            yield Static(keys)
            yield Static(Text("\n" + _("Figures"), style="bold underline"))
            yield Static(figures)
            if self.limits:
                yield Static(
                    Text(
                        "\n" + _("What the helpdesks do not let us read"),
                        style="bold underline",
                    )
                )
                limits = Table.grid(padding=(0, 2))
                limits.add_column(style="bold", no_wrap=True)
                limits.add_column(overflow="fold")
                for source, limit in self.limits:
                    # in the floor's language; the helpdesk's words are data, never markup
                    why = Text(reasons.limit_reason(limit))
                    if limit.fix:
                        why.append(f"\n→ {reasons.limit_fix(limit)}", style="dim")
                    label = reasons.capability_label(limit.capability)
                    limits.add_row(Text(f"{source} · {label}"), why)
                yield Static(limits)
            yield Static(
                Text(
                    "\n"
                    + _(
                        "Colours always come with a glyph or a word: ▲ alert, △ warning, "
                        "✔ ok, ✖ short or breached."
                    ),
                    style="dim",
                )
            )

    def action_close(self) -> None:
        self.dismiss(None)
