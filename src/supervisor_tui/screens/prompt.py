"""Small modal questions: a line of text (ack note, note, snooze minutes) or a choice."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from supervisor_tui import actions
from supervisor_tui.i18n import N_, _


class Dialog(ModalScreen[str | None]):
    """A dialog that closes by itself (as if cancelled) after the app's ``dialog_idle_s``
    without input: a wall nobody touches never keeps a question open for ever."""

    _idle_timer: Timer | None = None

    def __init__(self) -> None:
        super().__init__()
        actions.speak(self._bindings)  # its footer words (Close, Cancel) in the language

    def on_mount(self) -> None:
        idle = getattr(self.app, "dialog_idle_s", None)
        if isinstance(idle, int | float) and idle > 0:
            self._idle_timer = self.set_timer(idle, self._idle, name="dialog-idle")

    def touched(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.reset()

    def on_key(self) -> None:
        self.touched()

    def _idle(self) -> None:
        if self.is_current:
            self.dismiss(None)


class TextPrompt(Dialog):
    """Enter answers (possibly with an empty string), Escape cancels (None)."""

    DEFAULT_CSS = """
    TextPrompt { align: center middle; }
    TextPrompt > Vertical {
        width: 80; max-width: 100%; height: auto; padding: 1 2;
        border: thick $accent; background: $surface;
    }
    TextPrompt Label { margin-bottom: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"), id="prompt.cancel")]

    def __init__(
        self,
        question: str,
        *,
        placeholder: str = "",
        value: str = "",
        required: bool = False,
        subject: str = "",
    ) -> None:
        super().__init__()
        self.question = question
        self.placeholder = placeholder
        self.value = value
        self.required = required
        self.subject = subject

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.question, style="bold"))
            if self.subject:
                yield Label(Text(self.subject))
            yield Input(value=self.value, placeholder=self.placeholder, max_length=2000)
            yield Label(Text(_("Enter to confirm · Esc to cancel"), style="dim"))

    def on_input_changed(self) -> None:
        self.touched()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.required and not event.value.strip():
            self.notify(
                _("Type something first, or Esc to cancel."), severity="warning", markup=False
            )
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(Dialog):
    """Pick one of a few options; the option id is returned."""

    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical {
        width: 60; max-width: 100%; height: auto; max-height: 80%; padding: 1 2;
        border: thick $accent; background: $surface;
    }
    ChoiceScreen OptionList { height: auto; max-height: 20; }
    """
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"), id="choice.cancel")]

    def __init__(self, question: str, options: list[tuple[str, str]]) -> None:
        super().__init__()
        self.question = question
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.question, style="bold"))
            yield OptionList(*[Option(Text(label), id=oid) for oid, label in self.options])

    def on_option_list_option_highlighted(self) -> None:
        self.touched()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
