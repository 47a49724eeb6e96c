"""A one-line bar that draws itself: updating it never asks the screen for a new layout."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class Bar(Widget):
    DEFAULT_CSS = """
    Bar { height: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()

    def set_text(self, text: Text) -> None:
        if text == self._text:
            return
        self._text = text
        self.refresh()

    def render(self) -> Text:
        return self._text
