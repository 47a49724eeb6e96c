"""model, store, core, adapters and hub never import Textual (they run headless in `serve`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = [
    "supervisor_tui.model",
    "supervisor_tui.store",
    "supervisor_tui.core.projection",
    "supervisor_tui.core.kpis",
    "supervisor_tui.core.rules",
    "supervisor_tui.core.commands",
    "supervisor_tui.adapters.simulator",
    "supervisor_tui.hub.collector",
    "supervisor_tui.hub.live",
    "supervisor_tui.hub.check",
    "supervisor_tui.hub.webhooks",
    "supervisor_tui.hub.demo",
    "supervisor_tui.adapters.zendesk.adapter",
    "supervisor_tui.fakes.zendesk",
]


@pytest.mark.parametrize("module", CORE)
def test_core_module_does_not_import_textual(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')); "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} pulls in {out.stdout.strip()}"


def test_the_app_does_import_textual() -> None:
    """The check above can fail: the same probe sees Textual when it is there."""
    code = "import sys, supervisor_tui.app; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
