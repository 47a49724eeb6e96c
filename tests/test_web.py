"""`supervisor-tui web`: the board in a real browser (Debian's headless Chromium), fed by a
real hub over loopback, through the real command line; and the doors around it.

The hub runs in a thread of this process on a store the test writes to, as a collector
would; `web` runs as its own process, and each page it serves runs `watch` in another.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.cli import floor_description
from supervisor_tui.config import Config, default_rules
from supervisor_tui.core.kpis import floor_kpis
from supervisor_tui.hub.protocol import TokenEntry, hash_token
from supervisor_tui.hub.server import Hub
from supervisor_tui.model import AgentState, EscalationAcked
from supervisor_tui.store import SQLiteStore

from .browser import chromium, have_chromium, wait_for_screen
from .test_wall import raise_event

SUPERVISE = "supervise-token-for-the-browser-test"
VIEW = "view-token-for-the-browser-test"
TOKENS = [
    TokenEntry("Sam Lead", "supervise", hash_token(SUPERVISE)),
    TokenEntry("Wall TV", "view", hash_token(VIEW)),
]
FLOOR = Config.model_validate({"floor": {"name": "Browser floor"}, "rules": default_rules()})
RAISED = "Chat: longest wait"
"""The escalation ``raise_event`` writes, as the feed shows it (with the wait of now)."""
QUEUES = ("Voice · Sales", "Voice · Support", "Chat", "Email · Billing", "Email · Tech")

needs_chromium = pytest.mark.skipif(
    not have_chromium() and not os.environ.get("CI"),
    reason="no /usr/bin/chromium (make test installs it: make browser)",
)


@dataclass
class RunningHub:
    hub: Hub
    store: SQLiteStore
    loop: asyncio.AbstractEventLoop

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.hub.port}"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    with _hub(tmp_path) as running:
        yield running


@contextmanager
def _hub(tmp_path: Path, port: int = 0) -> Iterator[RunningHub]:
    """A hub on a floor whose morning ended a moment ago, in a thread of its own (the
    browser is driven from this one, with blocking calls)."""
    store = SQLiteStore(tmp_path / "floor.db")
    now = time.time()
    sim = FloorSimulation(SimOptions(seed=7, agents=24), now - 2 * 3600)
    store.append(list(sim.advance(2 * 3600)), {"simulator": "test"})
    hub = Hub(
        store,
        TOKENS,
        FLOOR.floor_targets(),
        time.time,
        floor=floor_description(FLOOR),
        port=port,
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(hub.start(), loop).result(30)
    try:
        yield RunningHub(hub, store, loop)
    finally:
        asyncio.run_coroutine_threadsafe(hub.stop(), loop).result(30)
        asyncio.run_coroutine_threadsafe(_cancel_the_rest(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        store.close()


async def _cancel_the_rest() -> None:
    """What the hub's watchers left waiting when the pages went away."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _token_file(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "board.token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


@dataclass
class RunningWeb:
    url: str
    pid: int


@pytest.fixture
def web(hub: RunningHub, tmp_path: Path) -> Iterator[RunningWeb]:
    with _web(hub.url, tmp_path) as running:
        yield running


@contextmanager
def _web(hub_url: str, tmp_path: Path, *more: str) -> Iterator[RunningWeb]:
    """`supervisor-tui web` on a port of its choosing; what it prints goes to a file (a pipe
    nobody reads would fill up and stop it)."""
    out = tmp_path / "web.out"
    with out.open("w") as sink:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "supervisor_tui.cli", "web", hub_url),
                *("--listen", "127.0.0.1:0", "--token-file", str(_token_file(tmp_path, VIEW))),
                *more,
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "SUPERVISOR_TUI_TOKEN"},
        )
    try:
        found = None
        deadline = time.monotonic() + 60
        while found is None and time.monotonic() < deadline and process.poll() is None:
            # the address in any language's words ("serving … on", "… で配信中")
            found = re.search(r"(https?://127\.0\.0\.1:\d+)/", out.read_text())
            time.sleep(0.1)
        assert found, f"web did not say where it listens: {out.read_text()}"
        yield RunningWeb(found[1], process.pid)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("not reached in time")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _focus(driver: object) -> None:
    """Keys to the terminal, as after a click on it, without a click the board would take as
    a mouse event on whatever is under the pointer."""
    driver.execute_script(  # type: ignore[attr-defined]
        "document.querySelector('.xterm-helper-textarea').focus()"
    )


def _press(driver: object, *keys: str) -> None:
    ActionChains(driver).send_keys(*keys).perform()  # type: ignore[arg-type]


@needs_chromium
def test_the_board_in_a_browser_shows_the_floor_follows_it_and_a_supervisor_acks(
    hub: RunningHub, web: RunningWeb, tmp_path: Path
) -> None:
    state = hub.hub.state
    busy = sum(1 for a in state.agents.values() if a.state is AgentState.BUSY)
    with chromium(tmp_path / "profile") as driver:
        # the board, as a manager opens it: queue names and figures read from the page
        driver.get(web.url + "/")

        def whole_floor(text: str) -> bool:
            # the page is drawn before the hub's floor has all arrived: wait for all of it
            top = text.splitlines()[0] if text else ""
            return (
                all(name in text for name in QUEUES)
                and re.search(rf"◉ Busy {busy}\b", top) is not None
                and "hub: live" in text
            )

        text = wait_for_screen(driver, whole_floor)
        assert "Browser floor (via hub)" in text
        assert "view only" in text
        assert "✔ nothing to ack" in text.splitlines()[0]
        # the figures are the hub's floor's: contacts offered today on the voice and chat tiles
        shown = sorted(int(n) for n in re.findall(r"Offered ([\d,]+)", text.replace(",", "")))
        kpis = floor_kpis(state, time.time())
        expected = sorted(k.offered for q, k in kpis.items() if not q.startswith("email"))
        assert len(shown) == 3 and shown == expected and all(shown)
        shot = tmp_path / "board.png"
        assert driver.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert VIEW not in driver.page_source

        # an event on the floor reaches the page
        raised = f"browser-{time.time_ns()}"
        hub.store.append([raise_event(raised, time.time())])  # as the collector's rules do
        wait_for_screen(driver, lambda t: RAISED in t and "▲ 1 need ack" in t)

        # a view page cannot act: whatever its keys open, nothing reaches the store
        _focus(driver)
        _press(driver, "a")
        time.sleep(1)  # not a timing assertion: give a prompt the chance to open
        _press(driver, "from the wall", Keys.ENTER)
        time.sleep(1)
        _press(driver, Keys.ESCAPE)
        for kind in ("acked", "noted", "snoozed", "resolved"):
            assert not hub.store.events_of_kind(f"escalation.{kind}")

        # each page runs `watch` in a process of its own, the token in its environment only
        watchers = [p for p in _descendants(web.pid) if "watch" in _cmdline(p)]
        assert watchers
        for pid in [web.pid, *_descendants(web.pid)]:
            assert VIEW not in _cmdline(pid) and SUPERVISE not in _cmdline(pid)

        # a supervisor signs in with their own token and acks from the keyboard
        driver.get(web.url + "/supervise")
        driver.find_element(By.ID, "token").send_keys(SUPERVISE)
        driver.find_element(By.ID, "open").click()
        text = wait_for_screen(driver, lambda t: RAISED in t and "hub: live" in t)
        assert "view only" not in text
        assert SUPERVISE not in driver.page_source
        _focus(driver)
        _press(driver, "a")
        wait_for_screen(driver, lambda t: "Acknowledge" in t)
        _press(driver, "seen from the browser", Keys.ENTER)
        _wait(lambda: hub.store.events_of_kind("escalation.acked"))
        acked = hub.store.events_of_kind("escalation.acked")
        assert len(acked) == 1
        payload = acked[0].payload
        assert isinstance(payload, EscalationAcked)
        assert payload.escalation_id == raised
        assert payload.by == "Sam Lead"  # the token's name, not the web process's
        assert payload.note == "seen from the browser"
        wait_for_screen(driver, lambda t: "Ack saved" in t)
        driver.save_screenshot(str(tmp_path / "acked.png"))

        # the television's kiosk: the wall profile, read-only
        driver.get(web.url + "/kiosk")
        text = wait_for_screen(driver, whole_floor)
        assert "view only" in text
        driver.save_screenshot(str(tmp_path / "kiosk.png"))


def test_supervise_takes_only_a_supervise_token_and_no_page_holds_one(web: RunningWeb) -> None:
    with httpx.Client(base_url=web.url, timeout=30) as browser:
        board = browser.get("/")
        assert board.status_code == 200 and "/ws/board" in board.text
        assert VIEW not in board.text
        assert "/ws/kiosk" in browser.get("/kiosk").text

        form = browser.get("/supervise")
        assert form.status_code == 200 and 'name="token"' in form.text

        as_view = browser.post("/supervise", data={"token": VIEW})
        assert as_view.status_code == 403 and "may watch, not act" in as_view.text
        unknown = browser.post("/supervise", data={"token": "not-a-token"})
        assert unknown.status_code == 403 and "does not know" in unknown.text
        assert not browser.cookies
        # no board for a page that has not signed in, nor for one opened by another site
        assert browser.get("/ws/supervise").status_code == 403

        signed = browser.post("/supervise", data={"token": SUPERVISE})
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert SUPERVISE not in cookie and SUPERVISE not in signed.text
        page = browser.get("/supervise")
        assert "/ws/supervise" in page.text and SUPERVISE not in page.text
        elsewhere = browser.get("/ws/supervise", headers={"Origin": "https://evil.example"})
        assert elsewhere.status_code == 403
        assert browser.get("/ws/nothing").status_code == 404
        # a body bigger than a token is refused before it is read whole
        assert browser.post("/supervise", data={"token": "x" * 20_000}).status_code == 413


def test_the_pages_speak_the_floors_language(hub: RunningHub, tmp_path: Path) -> None:
    """The login page, its refusals and the board page's notices come from the same
    catalogs as the board, with the page's language declared; the floor's name stays data."""
    with (
        _web(hub.url, tmp_path, "--lang", "ja") as web,
        httpx.Client(base_url=web.url, timeout=30) as browser,
    ):
        form = browser.get("/supervise")
        assert '<html lang="ja">' in form.text
        assert "ボードを開く" in form.text and "Open the board" not in form.text
        assert "supervisor-tui token --scope supervise" in form.text  # a command: as typed
        as_view = browser.post("/supervise", data={"token": VIEW})
        assert as_view.status_code == 403 and "閲覧のみ" in as_view.text
        assert "may watch" not in as_view.text
        board = browser.get("/")
        assert '<html lang="ja">' in board.text and "ボードに接続しています" in board.text
        assert "connecting to the board" not in board.text


def _web_exits(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from supervisor_tui.cli import main

    code = main(["web", *argv])
    return code, capsys.readouterr().err


def test_the_board_refuses_a_supervise_token_of_its_own(
    hub: RunningHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Anyone who opens the page would act under its name: web wants a view token."""
    token = _token_file(tmp_path, SUPERVISE)
    code, err = _web_exits([hub.url, "--listen", "127.0.0.1:0", "--token-file", str(token)], capsys)
    assert code == 2
    assert "('Sam Lead') is a supervise token" in err and SUPERVISE not in err


def test_the_board_off_loopback_needs_tls_and_its_token_file_is_private(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _token_file(tmp_path, VIEW)
    url = "ws://127.0.0.1:9"
    code, err = _web_exits([url, "--listen", "0.0.0.0:8780", "--token-file", str(token)], capsys)
    assert code == 2 and "not a loopback address: set --tls-cert and --tls-key" in err
    token.chmod(0o644)
    code, err = _web_exits([url, "--token-file", str(token)], capsys)
    assert code == 2 and "chmod 600" in err and VIEW not in err


def test_pages_open_at_once_are_bounded(hub: RunningHub, tmp_path: Path) -> None:
    """Each page is a process: past --max-sessions a page is told to wait, not given one."""
    with _web(hub.url, tmp_path, "--max-sessions", "1") as running:
        ws_url = running.url.replace("http://", "ws://") + "/ws/board?width=80&height=24"
        with connect(ws_url, open_timeout=30) as first:
            assert first.recv(timeout=60)  # the first page's board is drawn
            with pytest.raises(InvalidStatus) as refused:
                connect(ws_url, open_timeout=30)
            assert refused.value.response.status_code == 503
        # the first one closed: its place is free again
        _wait(lambda: _opens(ws_url))


def _opens(ws_url: str) -> bool:
    try:
        with connect(ws_url, open_timeout=30) as page:
            return bool(page.recv(timeout=60))
    except InvalidStatus:
        return False


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "web.pem", tmp_path / "web.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_the_board_over_tls_pages_sockets_and_a_secure_cookie(
    hub: RunningHub, tmp_path: Path
) -> None:
    cert, key = _self_signed(tmp_path)
    tls = ssl.create_default_context(cafile=str(cert))
    with _web(hub.url, tmp_path, "--tls-cert", str(cert), "--tls-key", str(key)) as running:
        assert running.url.startswith("https://127.0.0.1:")
        with httpx.Client(base_url=running.url, verify=tls, timeout=30) as browser:
            assert "/ws/kiosk" in browser.get("/kiosk").text
            signed = browser.post("/supervise", data={"token": SUPERVISE})
            assert signed.status_code == 303
            assert "Secure" in signed.headers["set-cookie"]  # never sent back over http
        ws_url = running.url.replace("https://", "wss://") + "/ws/kiosk?width=120&height=40"
        with connect(ws_url, ssl=tls, open_timeout=30) as page:
            assert page.recv(timeout=60)  # the kiosk's board, drawn over wss
        with pytest.raises(httpx.TransportError):  # plain http is not answered
            httpx.get(running.url.replace("https://", "http://") + "/", timeout=10)


def test_the_board_waits_for_a_hub_that_starts_later(tmp_path: Path) -> None:
    """A TV box often boots before the collector: web says each attempt and serves once the
    hub is up, instead of exiting."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "web.out"
    later = ExitStack()

    def start_the_hub() -> None:
        _wait(lambda: out.exists() and "cannot reach" in out.read_text(), 60)
        later.enter_context(_hub(tmp_path, port))

    starter = threading.Thread(target=start_the_hub, daemon=True)
    starter.start()
    try:
        with _web(f"ws://127.0.0.1:{port}", tmp_path) as running:
            assert "/ws/kiosk" in httpx.get(running.url + "/kiosk", timeout=30).text
        said = out.read_text()
        assert f"cannot reach ws://127.0.0.1:{port}" in said and "attempt 1" in said
        assert VIEW not in said
    finally:
        starter.join(70)
        later.close()
