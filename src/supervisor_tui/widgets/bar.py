"""A one-line bar that draws itself: updating it never asks the screen for a new layout."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from supervisor_tui.widgets.lines import fitting


class Bar(Widget):
    DEFAULT_CSS = """
    Bar { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """
    """A line too long for every form is cut where it says so ("…"), never wrapped away."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._forms: tuple[Text, ...] = (Text(),)

    def set_text(self, text: Text) -> None:
        self.set_forms((text,))

    def set_forms(self, forms: tuple[Text, ...]) -> None:
        """The line's forms, longest first: it shows the first that fits its width (chosen
        again when the width changes), else the last, cut."""
        if forms == self._forms:
            return
        self._forms = forms
        self.refresh()

    def render(self) -> Text:
        return fitting(self._forms, self.content_size.width)
