"""The board's footer: Textual's, without a key half hidden under the palette's key."""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

LAYOUT_TRIES = 20
"""Refreshes to wait for new keys to be laid out (a footer beneath a dialog is laid out
when its screen is next drawn, not when its keys change)."""


class BoardFooter(Footer):
    """Textual lays out the keys that do not fit under the command palette's key (docked
    right), and its compositor then cuts the palette key's text where a key under it ends:
    a wide character there (コマンド, 命令) is split and lost. Here a key that does not fit
    beside the palette's key is hidden whole instead, so nothing lies under it."""

    async def recompose(self) -> None:
        await super().recompose()
        self.call_after_refresh(self._hide_what_does_not_fit, LAYOUT_TRIES)

    def on_resize(self) -> None:
        for key in self.query(FooterKey):
            key.display = True
        self.call_after_refresh(self._hide_what_does_not_fit, LAYOUT_TRIES)

    def _hide_what_does_not_fit(self, tries: int) -> None:
        keys = list(self.query(FooterKey))
        palette = [key for key in keys if key.has_class("-command-palette")]
        if not palette:
            return
        if any(key.display and not key.region.width for key in keys):
            if tries > 0:  # not laid out yet: look again after the next refresh
                self.call_after_refresh(self._hide_what_does_not_fit, tries - 1)
            return
        edge = palette[0].region.x
        for key in keys:
            if key is not palette[0] and key.region.right > edge:
                key.display = False
