"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by selenium, and
a way to read what a board page shows.

xterm.js paints the terminal on a canvas, so the text is not in the DOM. Before the page's
scripts run, a hook catches the xterm ``Terminal`` textual.js makes (it is assigned to a
``terminal`` property) and keeps it on ``window``; the test then reads the terminal's own
buffer, which is what the canvas is painted from.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# flags that work on a closed network: nothing fetched, nothing synced, no sandbox as root
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1600,900",
)

HOOK = """
window.__terminals = [];
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {
      value: value, writable: true, configurable: true, enumerable: true,
    });
    if (value && value.buffer && typeof value.write === "function") {
      window.__terminals.push(value);
    }
  },
});
"""

READ_SCREEN = """
const terms = window.__terminals || [];
if (!terms.length) { return null; }
const buffer = terms[0].buffer.active;
const lines = [];
for (let i = 0; i < buffer.length; i++) {
  const line = buffer.getLine(i);
  lines.push(line ? line.translateToString(true) : "");
}
return lines.join("\\n");
"""


def have_chromium() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


@contextmanager
def chromium(profile_dir: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    # the Debian driver, named: selenium then never looks for (or downloads) one of its own
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(30)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOK})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)


def screen_text(driver: webdriver.Chrome) -> str:
    """The board's text as the page's terminal holds it ('' before it has one)."""
    text = driver.execute_script(READ_SCREEN)
    return str(text or "")


def wait_for_screen(
    driver: webdriver.Chrome, predicate: Callable[[str], bool], timeout: float = 60.0
) -> str:
    """The page's text once ``predicate`` holds; AssertionError with the last text if not."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen_text(driver)
        if predicate(text):
            return text
        time.sleep(0.25)
    raise AssertionError(f"the page never showed what was expected; it showed:\n{text}")
