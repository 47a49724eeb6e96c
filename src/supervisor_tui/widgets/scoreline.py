"""Training's one line: how to start, then the running score and the last decision.

It replaces toasts, which piled up over the feed one per decision point.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from supervisor_tui.core import fmt
from supervisor_tui.core.training import Decision, action_word
from supervisor_tui.i18n import N_, _, ngettext

START_HINT = N_(
    "Training: press space to start · at each escalation: a ack, s snooze, r resolve, "
    "space let it go · q score card"
)
CHOICES = N_("a ack · s snooze · r resolve · space let it go")
"""The keys at a decision point (the board's own keys: the words only are translated)."""


class ScoreLine(Static):
    DEFAULT_CSS = """
    ScoreLine { height: 1; padding: 0 1; background: $boost; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._call: Text | None = None
        self._last: Text | None = None
        self.said = ""
        """The line as plain text (what a test or a screen reader reads)."""

    def _say(self, text: Text) -> None:
        self.said = text.plain
        self.update(text)

    def show_hint(self) -> None:
        self._say(Text(_(START_HINT), style="bold"))

    def _score_text(self, score: tuple[int, float | None]) -> Text:
        scored, total = score
        text = Text()
        text.append(_("Score") + " ", "dim")
        text.append("–" if total is None else f"{total:.0f}", "bold")
        decisions = ngettext("{count} decision", "{count} decisions", scored)
        text.append(" / 100 · " + decisions.format(count=scored), "dim")
        return text

    def show_running(self, score: tuple[int, float | None]) -> None:
        self._call = None
        self._show(score)

    def show_decision(self, title: str, score: tuple[int, float | None]) -> None:
        call = Text(" · " + _("your call:") + " ", "dim")
        call.append(Text(title, style="bold"))  # the rules' title holds a helpdesk's text
        call.append(" · " + _(CHOICES), "dim")
        self._call = call
        self._show(score)

    def show_scored(self, decision: Decision, score: tuple[int, float | None]) -> None:
        last = Text(" · " + _("last:") + " ", "dim")
        last.append(_("{points} pts").format(points=f"{decision.score:.0f}"), "bold")
        chose = action_word(decision.action)
        if decision.took_s is not None:
            last.append(
                _(", you chose {action} in {duration}").format(
                    action=chose, duration=fmt.duration(decision.took_s)
                )
            )
        else:
            last.append(_(", you chose {action}").format(action=chose))
        recorded = decision.recorded
        said = _("recorded supervisor: {action}").format(action=action_word(recorded.action))
        if recorded.after_s is not None:
            said = _("{recorded} after {duration}").format(
                recorded=said, duration=fmt.duration(recorded.after_s)
            )
        last.append("; " + said, "dim")
        self._last, self._call = last, None
        self._show(score)

    def _show(self, score: tuple[int, float | None]) -> None:
        """The running score, then the decision waiting for the trainee (it matters most
        when the line is cut), then how the last one scored."""
        text = self._score_text(score)
        for part in (self._call, self._last):
            if part is not None:
                text.append(part)
        self._say(text)
