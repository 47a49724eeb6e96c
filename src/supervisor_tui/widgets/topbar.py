"""The top line: the board's status in one word (the worst of hub link, sources, store and
pause), the floor clock, who needs attention, agents by state and the floor's name.

A narrow terminal gets fewer words, never fewer figures: the line is built from the longest
form down to the shortest, and the first that fits is shown.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from rich.text import Text

from supervisor_tui.core import fmt
from supervisor_tui.core.freshness import BoardStatus, Status
from supervisor_tui.i18n import N_, _
from supervisor_tui.model import AgentState
from supervisor_tui.widgets.agents import STATE_LOOK
from supervisor_tui.widgets.bar import Bar
from supervisor_tui.widgets.lines import cut, fitting

STATUS_LOOK: dict[BoardStatus, tuple[str, str, str]] = {
    BoardStatus.LIVE: ("●", N_("LIVE"), "bold white on dark_green"),
    BoardStatus.SYNCING: ("◌", N_("SYNCING"), "bold black on cyan"),
    BoardStatus.LIMITED: ("◑", N_("LIMITED"), "bold black on yellow"),
    BoardStatus.DEGRADED: ("◐", N_("DEGRADED"), "bold black on yellow"),
    BoardStatus.STALE: ("◐", N_("STALE"), "bold white on red"),
    BoardStatus.PAUSED: ("⏸", N_("PAUSED"), "bold black on yellow"),
    BoardStatus.HUB_DOWN: ("✖", N_("HUB DOWN"), "bold white on red"),
    BoardStatus.REPLAY: ("⏵", N_("REPLAY"), "bold white on dark_blue"),
}
"""Glyph, word (translated where drawn) and colour of the board's status: colour never
comes alone."""


def clock_text(ts: float, utc_offset_s: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts + utc_offset_s))


def date_text(ts: float, utc_offset_s: int) -> str:
    return time.strftime("%a %d %b", time.gmtime(ts + utc_offset_s))


@dataclass(frozen=True, slots=True)
class TopLine:
    """What the top line says."""

    floor: str
    now: float
    utc_offset_s: int
    status: Status
    mode: str
    """Says more about a replay ("replay 4x", "replay · decision point")."""
    held: int
    """Events held back while paused."""
    attention: int
    agents: dict[AgentState, int]
    queue_filter: str | None
    """The filtered queue's name."""
    view_only: bool = False
    resume_in: float | None = None
    """Seconds until a wall's pause resumes by itself."""
    paused: bool = False


class TopBar(Bar):
    DEFAULT_CSS = """
    TopBar { height: 1; background: $primary 30%; padding: 0 1; }
    """

    def show(self, line: TopLine) -> None:
        text = fitting(top_bar_forms(line), self.size.width)
        text.no_wrap = True
        text.overflow = "ellipsis"
        self.set_text(text)


def top_bar_forms(line: TopLine) -> Iterator[Text]:
    """The top line from the longest form to the shortest. The status, the clock, the ack
    count and every agent count are in every form; the floor's name goes first."""
    status, held = line.status, line.held
    # (brand, floor's name, short words, glyph-only agent counts), longest first
    forms = (
        (True, "full", False, False),
        (False, "full", False, False),
        (False, "full", False, True),
        (False, "full", True, True),
        (False, "cut", True, True),
        (False, "none", True, True),
    )
    for brand, name, short, glyphs in forms:
        text = Text(no_wrap=True, overflow="ellipsis")
        if brand:
            text.append("supervisor-tui ", "bold")
        if name != "none":
            text.append(Text(line.floor if name == "full" else cut(line.floor, 16)))
            text.append("  ")
        glyph, word, style = STATUS_LOOK[status.board]
        word = _(word)
        if status.board is BoardStatus.REPLAY:
            word = line.mode.replace("replay", word, 1)
        text.append(f" {glyph} {word} ", style)
        if status.cause:
            text.append(" ")
            text.append(Text(cut(status.cause, 14) if short else status.cause, style="bold"))
            text.append(" ·", "dim")
        if status.board is BoardStatus.PAUSED:
            if held:
                said = _("{count} held") if short else _("{count} events held")
                text.append(" · " + said.format(count=held), "bold")
        elif line.paused and status.board is not BoardStatus.REPLAY:
            # paused as well as in trouble: both are said
            said = _("PAUSED {count} held").format(count=held)
            text.append(f" ⏸ {said} ", "bold black on yellow")
        if line.resume_in is not None:
            said = _("resumes in {duration}").format(duration=fmt.duration(line.resume_in))
            text.append(f" · {said}", "bold")
        if line.view_only:
            text.append(" " + _("view only"), "bold cyan")
        if status.board is BoardStatus.REPLAY and not short:
            text.append(f" {date_text(line.now, line.utc_offset_s)}", "bold")
        text.append(f" {clock_text(line.now, line.utc_offset_s)} ", "bold")
        if line.attention:
            said = _("{count} ack") if short else _("{count} need ack")
            text.append(f" ▲ {said.format(count=line.attention)} ", "bold white on red")
        else:
            said = _("{count} ack").format(count=0) if short else _("nothing to ack")
            text.append(f" ✔ {said} ", "green")
        if line.queue_filter:
            text.append(" ⧩ " if short else "  " + _("filter:") + " ", "dim")
            text.append(
                Text(cut(line.queue_filter, 14) if short else line.queue_filter, style="bold")
            )
        text.append(" " if short else "   ")
        for state, count in line.agents.items():
            if state is AgentState.UNKNOWN and not count:
                continue  # only helpdesks without presence have such agents
            glyph, word, style = STATE_LOOK[state]
            if glyphs:  # "●17"
                text.append(f"{glyph}{count} ", style)
            else:
                text.append(f"{glyph} {_(word)} {count}  ", style)
        text.rstrip()
        yield text
