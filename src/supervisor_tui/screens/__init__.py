"""Modal screens: help, text prompts, the queue filter."""

from supervisor_tui.screens.help import HelpScreen
from supervisor_tui.screens.prompt import ChoiceScreen, TextPrompt
from supervisor_tui.screens.scorecard import ScoreCardScreen

__all__ = ["ChoiceScreen", "HelpScreen", "ScoreCardScreen", "TextPrompt"]
