"""What-if: move agents between queues (or add, remove, change a target) and see each
affected queue's projected service level and ASA now and for the coming half hours.

Nothing is changed in any helpdesk. ``ctrl+n`` closes the screen with a one-paragraph
summary of the scenario, which the app offers to record as a note on an open escalation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, Select, Static

from supervisor_tui.core import fmt
from supervisor_tui.core.forecast import PROJECTION_METHOD
from supervisor_tui.core.whatif import QueueWhatIf, Scenario
from supervisor_tui.i18n import N_, _
from supervisor_tui.screens.prompt import Dialog

NOBODY = "-"
"""The "from" or "to" that means agents added (from nobody) or removed (to nobody)."""
COLUMNS = (N_("when"), N_("offered/30m"), N_("AHT"), N_("agents"), N_("SL"), N_("ASA"))
"""The projection table's headings (translated where drawn)."""


def _sl(value: float) -> str:
    return fmt.percent(value)


def _asa(value: float) -> str:
    return "∞" if math.isinf(value) else fmt.duration(value)


def scenario_of(source: str, target: str, agents: int, sl_target: float | None) -> Scenario:
    delta: dict[str, int] = {}
    if agents:
        if source != NOBODY:
            delta[source] = delta.get(source, 0) - agents
        if target != NOBODY:
            delta[target] = delta.get(target, 0) + agents
    targets = {target: sl_target} if sl_target is not None and target != NOBODY else {}
    return Scenario(agent_delta={q: d for q, d in delta.items() if d}, sl_target=targets)


def _when(label: str) -> str:
    """A row's time: "now" in the floor's language, else the half hour's start."""
    return _("now") if label == "now" else label


def summary(scenario: Scenario, results: list[QueueWhatIf], names: dict[str, str]) -> str:
    """The decision as a note: the scenario and, per queue, SL now and over what comes."""
    parts = [_("What-if: {scenario}.").format(scenario=scenario.describe(names))]
    for q in results:
        if not q.rows:
            continue
        rows = ", ".join(
            f"{_when(r.label)} {_sl(r.sl_before)}→{_sl(r.sl_after)}"
            + (" (" + _("ASA") + f" {_asa(r.asa_after_s)})" if r.label == "now" else "")
            for r in q.rows
        )
        parts.append(_("{queue}: SL {rows}.").format(queue=q.name, rows=rows))
    return " ".join(parts)


class WhatIfScreen(Dialog):
    DEFAULT_CSS = """
    WhatIfScreen { align: center middle; }
    WhatIfScreen > Vertical {
        width: 110; max-width: 100%; height: 90%; padding: 0 1;
        border: thick $accent; background: $surface;
    }
    WhatIfScreen Horizontal { height: auto; }
    WhatIfScreen Horizontal > Select { width: 2fr; }
    WhatIfScreen Horizontal > Input { width: 1fr; }
    WhatIfScreen #result { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "cancel", N_("Close"), id="whatif.close"),
        Binding("ctrl+n", "record", N_("Record as note"), id="whatif.record"),
    ]

    def __init__(
        self,
        queues: list[tuple[str, str, bool]],
        project: Callable[[Scenario], list[QueueWhatIf]],
    ) -> None:
        """``queues``: (id, name, takes live contacts); ``project``: the figures of a
        scenario at the board's instant."""
        super().__init__()
        self.queues = queues
        self.names = {qid: name for qid, name, _ in queues}
        self.project = project
        self.scenario = Scenario()
        self.results: list[QueueWhatIf] = []

    def compose(self) -> ComposeResult:
        options = [(Text(name), qid) for qid, name, _ in self.queues]
        with Vertical():
            yield Label(Text(_("What if… (nothing is changed in any helpdesk)"), style="bold"))
            with Horizontal():
                yield Select(
                    [(Text(_("nobody (add agents)")), NOBODY), *options],
                    prompt=_("move from"),
                    id="from",
                    allow_blank=True,
                )
                yield Select(
                    [(Text(_("nobody (remove agents)")), NOBODY), *options],
                    prompt=_("to"),
                    id="to",
                    allow_blank=True,
                )
                yield Input(placeholder=_("agents"), id="agents", type="integer", max_length=4)
                yield Input(placeholder=_("SL %"), id="target", type="number", max_length=5)
            with VerticalScroll(id="result"):
                yield Static(id="figures")
            yield Label(
                Text(
                    _("{method}. Esc closes · ctrl+n records it as a note").format(
                        method=_(PROJECTION_METHOD)
                    ),
                    style="dim",
                )
            )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#from", Select).focus()
        self._recompute()

    def on_select_changed(self) -> None:
        self.touched()
        self._recompute()

    def on_input_changed(self) -> None:
        self.touched()
        self._recompute()

    def _recompute(self) -> None:
        source = self.query_one("#from", Select).value
        target = self.query_one("#to", Select).value
        raw_agents = self.query_one("#agents", Input).value.strip()
        raw_target = self.query_one("#target", Input).value.strip()
        agents = int(raw_agents) if raw_agents.lstrip("-").isdigit() else 0
        sl_target: float | None = None
        try:
            value = float(raw_target) if raw_target else None
        except ValueError:
            value = None
        if value is not None and 0 < value < 100:
            sl_target = value / 100
        self.scenario = scenario_of(
            source if isinstance(source, str) else NOBODY,
            target if isinstance(target, str) else NOBODY,
            max(0, agents),
            sl_target,
        )
        self.results = self.project(self.scenario) if self.scenario.queues() else []
        self.query_one("#figures", Static).update(self._table())

    def _table(self) -> Text | Group:
        if not self.results:
            return Text(
                _("Choose where agents move from and to, and how many (or a new SL target)."),
                style="dim",
            )
        parts: list[Text | Table] = [Text(self.scenario.describe(self.names), style="bold")]
        for q in self.results:
            head = Text(f"\n{q.name}", style="bold")
            if not q.realtime:
                head.append("  " + _("ticket queue: backlog burn-down, not Erlang C"), style="dim")
                parts.append(head)
                continue
            said = _("SL target {share}").format(share=fmt.percent(q.target_after))
            head.append(f"  {said}", style="dim")
            parts.append(head)
            if len(q.rows) == 1:
                parts.append(Text("  " + _("no forecast for the coming half hours"), style="dim"))
            grid = Table(box=None, pad_edge=False, show_edge=False)
            for column in COLUMNS:
                grid.add_column(_(column), no_wrap=True)
            for r in q.rows:
                ok = r.sl_after >= q.target_after
                sl = Text(f"{_sl(r.sl_before)} → ")
                sl.append(f"{_sl(r.sl_after)} {'✔' if ok else '✖'}", "green" if ok else "red")
                grid.add_row(
                    Text(f"  {_when(r.label)}"),
                    Text(f"{r.offered_per_30m:.0f}"),
                    Text(fmt.duration(r.aht_s)),
                    Text(f"{r.agents_before} → {r.agents_after}"),
                    sl,
                    Text(f"{_asa(r.asa_before_s)} → {_asa(r.asa_after_s)}"),
                )
            parts.append(grid)
        return Group(*parts)

    def action_record(self) -> None:
        if not self.results:
            self.notify(_("Nothing to record yet."), severity="warning", markup=False)
            return
        self.dismiss(summary(self.scenario, self.results, self.names))

    def action_cancel(self) -> None:
        self.dismiss(None)
