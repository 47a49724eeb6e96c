"""The top line: floor name, mode (LIVE / PAUSED), the floor clock and who needs attention."""

from __future__ import annotations

import time

from rich.text import Text

from supervisor_tui.model import AgentState
from supervisor_tui.widgets.agents import STATE_LOOK
from supervisor_tui.widgets.bar import Bar


def clock_text(ts: float, utc_offset_s: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts + utc_offset_s))


def date_text(ts: float, utc_offset_s: int) -> str:
    return time.strftime("%a %d %b", time.gmtime(ts + utc_offset_s))


class TopBar(Bar):
    DEFAULT_CSS = """
    TopBar { height: 1; background: $primary 30%; padding: 0 1; }
    """

    def show(
        self,
        *,
        floor: str,
        now: float,
        utc_offset_s: int,
        mode: str,
        held: int,
        attention: int,
        agents: dict[AgentState, int],
        queue_filter: str | None,
    ) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("supervisor-tui ", "bold")
        text.append(Text(floor))
        text.append("  ")
        if mode == "paused":
            text.append(f" ⏸ PAUSED · {held} events held ", "bold black on yellow")
        elif mode.startswith("replay"):
            text.append(f" ⏵ {mode.replace('replay', 'REPLAY', 1)} ", "bold white on dark_blue")
        else:
            text.append(" ● LIVE ", "bold white on dark_green")
        if mode.startswith("replay"):
            text.append(f" {date_text(now, utc_offset_s)}", "bold")
        text.append(f" {clock_text(now, utc_offset_s)} ", "bold")
        if attention:
            text.append(f" ▲ {attention} need ack ", "bold white on red")
        else:
            text.append(" ✔ nothing to ack ", "green")
        if queue_filter:
            text.append("  filter: ", "dim")
            text.append(Text(queue_filter, style="bold"))
        text.append("   ")
        for state, count in agents.items():
            if state is AgentState.UNKNOWN and not count:
                continue  # only helpdesks without presence have such agents
            label, style = STATE_LOOK[state]
            text.append(f"{label} {count}  ", style)
        self.set_text(text)
