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
    """Pick one of the options; the option id is returned. More options than fit (a floor
    of a thousand queues) get a search line above them: the words typed narrow the list
    (each word anywhere in the label, case ignored), ↑/↓ move, Enter picks."""

    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical {
        width: 60; max-width: 100%; height: auto; max-height: 80%; padding: 1 2;
        border: thick $accent; background: $surface;
    }
    ChoiceScreen OptionList { height: auto; max-height: 20; }
    ChoiceScreen Input { margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="choice.cancel"),
        Binding("down", "move(1)", show=False, id="choice.down"),
        Binding("up", "move(-1)", show=False, id="choice.up"),
    ]
    SEARCH_FROM = 10
    """This many options or more: a search line narrows them."""

    def __init__(self, question: str, options: list[tuple[str, str]]) -> None:
        super().__init__()
        self.question = question
        self.options = options
        self._folded = [(oid, label, label.casefold()) for oid, label in options]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.question, style="bold"))
            if len(self.options) >= self.SEARCH_FROM:
                yield Input(placeholder=_("type to narrow the list"), max_length=200)
            yield OptionList(*[Option(Text(label), id=oid) for oid, label in self.options])

    def on_input_changed(self, event: Input.Changed) -> None:
        self.touched()
        words = event.value.casefold().split()
        listed = self.query_one(OptionList)
        listed.clear_options()
        listed.add_options(
            Option(Text(label), id=oid)
            for oid, label, folded in self._folded
            if all(word in folded for word in words)
        )
        listed.highlighted = 0 if listed.option_count else None

    def on_input_submitted(self) -> None:
        listed = self.query_one(OptionList)
        if listed.highlighted is not None:
            self.dismiss(listed.get_option_at_index(listed.highlighted).id)

    def action_move(self, step: int) -> None:
        """↑/↓ from the search line move the highlight in the list below it."""
        listed = self.query_one(OptionList)
        if listed.option_count:
            at = listed.highlighted if listed.highlighted is not None else -step
            listed.highlighted = max(0, min(listed.option_count - 1, at + step))

    def on_option_list_option_highlighted(self) -> None:
        self.touched()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
