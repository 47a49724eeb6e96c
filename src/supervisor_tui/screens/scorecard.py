"""The training score card, shown when a training replay ends."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

from supervisor_tui import actions
from supervisor_tui.i18n import N_, _


class ScoreCardScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ScoreCardScreen { align: center middle; }
    ScoreCardScreen > VerticalScroll {
        width: 96%; max-width: 180; height: 90%; padding: 1 2; border: thick $accent;
        background: $surface;
    }
    """
    BINDINGS = [Binding("escape,q,enter", "done", N_("Close"), id="scorecard.close")]

    def __init__(self, markdown: str, written: tuple[Path, Path]) -> None:
        super().__init__()
        actions.speak(self._bindings)
        self.markdown = markdown
        self.written = written

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(self.markdown)
            yield Static(
                Text(
                    _("Saved to {markdown} and {json}. Press q to leave.").format(
                        markdown=self.written[0], json=self.written[1]
                    ),
                    style="dim",
                )
            )

    def action_done(self) -> None:
        self.app.exit()
