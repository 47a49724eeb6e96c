"""The training score card, shown when a training replay ends."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static


class ScoreCardScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ScoreCardScreen { align: center middle; }
    ScoreCardScreen > VerticalScroll {
        width: 110; height: 85%; padding: 1 2; border: thick $accent; background: $surface;
    }
    """
    BINDINGS = [Binding("escape,q,enter", "done", "Close", id="scorecard.close")]

    def __init__(self, markdown: str, written: tuple[Path, Path]) -> None:
        super().__init__()
        self.markdown = markdown
        self.written = written

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(self.markdown)
            yield Static(
                Text(
                    f"Saved to {self.written[0]} and {self.written[1]}. Press q to leave.",
                    style="dim",
                )
            )

    def action_done(self) -> None:
        self.app.exit()
