"""The last English words of issue #21, each said in the floor's language: which credential a
401 refused, why an OAuth renewal failed, a ServiceNow table the source needs that the
instance lacks, a store file that cannot be read or written, the demo floor's name, and
every fix an adapter gives for a capability off. What is stored and logged stays English."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from supervisor_tui import cli, i18n
from supervisor_tui.adapters.freshdesk.adapter import FreshdeskAdapter
from supervisor_tui.adapters.http import RenewalFailed
from supervisor_tui.adapters.jsm.adapter import JsmAdapter
from supervisor_tui.adapters.oauth import OAuthRefresh, RefreshingAuth
from supervisor_tui.adapters.servicenow.adapter import ServiceNowAdapter
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, ZendeskSettings
from supervisor_tui.core.commands import CommandRefused, refusal_said
from supervisor_tui.core.feed import floor_words
from supervisor_tui.core.projection import FloorState
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.hub.client import HubClient, RemoteDesk
from supervisor_tui.hub.server import Hub
from supervisor_tui.model import HealthState, Reason, reasons
from supervisor_tui.report.model import FIXED_NOTES, NO_SURVEYS_NOTE, nps_counts, nps_note
from supervisor_tui.report.render import _note as report_note
from supervisor_tui.store import SQLiteStore, StoreError

from .conftest import EPOCH, FakeClock, record_floor, targets
from .helpers import StoreSink
from .test_hub import TOKENS, VIEW, until, url
from .test_i18n_errors import run_cli
from .test_secrets import poll_all
from .test_servicenow_adapter import make_floor

LANGUAGES = ("vi", "zh", "ja", "uk")

# What each language says, written out here (not read from the catalogs under test).
WORDS = {
    "vi": {
        "api token of": "API token của bot@example.com",
        "refused": "máy chủ từ chối",
        "file empty": "tệp trống",
        "invalid table": "bảng awa_presence_state không hợp lệ",
        "not a store": "không phải kho dữ liệu của supervisor-tui",
        "others": "người khác có thể đọc hoặc ghi tệp này (quyền 644)",
        "demo floor": "Sàn demo (mô phỏng)",
    },
    "zh": {
        "api token of": "bot@example.com 的 API 令牌",
        "refused": "拒绝了",
        "file empty": "文件为空",
        "invalid table": "无效的表 awa_presence_state",
        "not a store": "不是 supervisor-tui 存储",
        "others": "其他人可以读取或写入（权限 644）",
        "demo floor": "演示现场（模拟）",
    },
    "ja": {
        "api token of": "bot@example.com の API トークン",
        "refused": "を拒否しました",
        "file empty": "ファイルが空です",
        "invalid table": "無効なテーブル awa_presence_state",
        "not a store": "supervisor-tui のストアではありません",
        "others": "他のユーザーが読み書きできます（モード 644）",
        "demo floor": "デモフロア（シミュレーション）",
    },
    "uk": {
        "api token of": "токен API користувача bot@example.com",
        "refused": "сервер відхилив",
        "file empty": "файл порожній",
        "invalid table": "недійсна таблиця awa_presence_state",
        "not a store": "це не сховище supervisor-tui",
        "others": "інші можуть читати або змінювати його (режим 644)",
        "demo floor": "Демо-зал (імітація)",
    },
}

EMAIL = "bot@example.com"
TOKEN = "CANARY-i18n-rest-3b7e"
WRONG = "CANARY-i18n-rest-wrong-81c4"


async def test_the_refused_credential_is_named_in_the_language(tmp_path: Path) -> None:
    """A 401 recorded in English names "the API token of bot@example.com"; read back in each
    language, the credential is named in that language, the e-mail as it was."""
    clock = FakeClock(EPOCH)
    fake = FakeZendesk(email=EMAIL, token=TOKEN, clock=clock)
    await fake.start()
    path = tmp_path / "floor.db"
    store = SQLiteStore(path)
    wrong = ZendeskAdapter(
        "zd", ZendeskSettings(base_url=fake.base_url, email=EMAIL, token=WRONG), clock=clock
    )
    try:
        await poll_all(wrong, StoreSink(store, "zd", clock))
        events = store.read_from(0, limit=100_000)
    finally:
        await wrong.api.close()
        store.close()
        await fake.stop()
    state = FloorState(targets())
    state.apply_all(events)
    source = state.sources["zd"]
    assert source.state is HealthState.DOWN
    assert f"the server refused the API token of {EMAIL} (401)" in source.reason  # stored
    for language in LANGUAGES:
        i18n.use(language)
        shown = reasons.source_reason(source)
        assert WORDS[language]["api token of"] in shown, (language, shown)
        assert WORDS[language]["refused"] in shown, (language, shown)
        assert "API token of" not in shown and "refused" not in shown, (language, shown)
        assert TOKEN not in shown and WRONG not in shown
    i18n.use("en")
    assert reasons.source_reason(source) == source.reason


def test_a_credential_this_version_does_not_know_is_shown_as_stored() -> None:
    """A recording whose 401 names its credential in words (an older build) keeps them."""
    i18n.use("ja")
    old = Reason(
        code="auth_refused",
        values=(("source", "zd"), ("credential", "the API token of x@y.z"), ("where", "GET /a")),
    )
    assert "the API token of x@y.z" in reasons.said("stored", old)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_an_oauth_renewal_that_cannot_be_done_says_why_in_the_language(
    language: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The refresh-token file is empty: the renewal fails for good, with the file to fill
    in the floor's language and in English for the log; no secret in either."""
    file = tmp_path / "refresh token"
    file.write_text("")
    file.chmod(0o600)
    settings = OAuthRefresh(
        vendor="zendesk",
        token_url="http://127.0.0.1:9/oauth/tokens",  # never asked: the file is empty
        client_id="supervisor",
        client_secret=SecretStr("CANARY-client-secret-19d2"),
        refresh_token_file=file,
        source="zd",
    )
    flow = RefreshingAuth(settings).async_auth_flow(httpx.Request("GET", "http://127.0.0.1:9/"))
    with pytest.raises(RenewalFailed) as info:
        await flow.__anext__()
    assert info.value.permanent and info.value.said is not None
    english = str(info.value)
    assert english == (
        "zd: OAuth token expired and could not be refreshed (the file is empty): "
        f"authorize again and put the new refresh token in {file}"
    )
    i18n.use(language)
    shown = reasons.said(english, info.value.said)
    assert WORDS[language]["file empty"] in shown and str(file) in shown, shown
    assert "OAuth token expired" not in shown and "authorize again" not in shown
    assert "CANARY" not in shown + english + caplog.text


async def test_a_core_servicenow_table_the_instance_lacks_is_said_in_the_language(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Presence from Advanced Work Assignment on an instance without it: the source is
    degraded with the instance's "Invalid table …" stored, and said in each language, the
    table's name as it is, never the instance's JSON."""
    caplog.set_level(logging.INFO, logger="supervisor_tui")
    async for floor in make_floor(tmp_path, awa=False):
        adapter: ServiceNowAdapter = floor.adapter(presence="awa")
        for task in adapter.tasks:
            task.due_at = 0
        await adapter.poll_due(floor.sink)
        await adapter.api.close()
        report = floor.sink.health_reports[-1]
    assert report.state is HealthState.DEGRADED
    assert "Invalid table awa_presence_state" in report.reason and "{" not in report.reason
    for language in LANGUAGES:
        i18n.use(language)
        shown = reasons.source_reason(report)
        assert WORDS[language]["invalid table"] in shown, (language, shown)
        assert "Invalid table" not in shown and "plugin is not" not in shown


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_file_that_is_not_a_recording_is_said_in_the_language(
    language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``replay``, ``report`` and ``audit`` on a file others may read, then on one that is
    not a recording: each says so in the language; the file is left as it was."""
    bad = tmp_path / "shift.db"
    bad.write_bytes(b"not a database, only words " * 200)
    before = bad.read_bytes()
    bad.chmod(0o644)
    code, _out, err = run_cli(["replay", str(bad), "--lang", language], capsys)
    assert code == 2 and WORDS[language]["others"] in err, err
    assert f"chmod 600 {bad}" in err and "can be read" not in err
    bad.chmod(0o600)
    for command in (["replay", str(bad)], ["report", str(bad)], ["audit", str(bad)]):
        code, _out, err = run_cli([*command, "--lang", language], capsys)
        assert code == 2 and WORDS[language]["not a store"] in err, (command, err)
        assert "not a supervisor-tui store" not in err
    assert bad.read_bytes() == before


def test_a_store_error_keeps_its_english_for_the_log(tmp_path: Path) -> None:
    i18n.use("uk")
    with pytest.raises(StoreError) as info:
        SQLiteStore(tmp_path / "none.db", read_only=True)
    assert str(info.value) == f"{tmp_path / 'none.db'}: no such file"
    assert info.value.said == f"{tmp_path / 'none.db'}: такого файлу немає"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_demo_floor_is_named_in_the_language(
    language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's floor keeps its English name in the config and in what it records (a
    recording made in one language replays in another); drawn, it is in the floor's
    language, with what follows it; a site's own name is never translated."""
    i18n.use(language)
    args = argparse.Namespace(seed=1, agents=10, queues=3, speed=1.0, profile="wall")
    name = cli.demo_config(args).floor.name
    assert name == "Demo floor (simulated)"
    assert floor_words(name) == WORDS[language]["demo floor"]
    assert floor_words(f"{name} · shift.db") == f"{WORDS[language]['demo floor']} · shift.db"
    assert floor_words("Demo") == "Demo" and floor_words("Support") == "Support"
    path = tmp_path / "shift.db"
    code, _out, err = run_cli(["record", "--out", str(path), "--hours", "1"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["report", str(path), "--lang", language], capsys)
    assert code == 0, err
    assert WORDS[language]["demo floor"] in out and "Demo floor" not in out, out[:300]


def test_every_fix_an_adapter_gives_is_in_every_catalog() -> None:
    """What gives a capability back (``Need.fix``, said beside a capability off) is one of
    the catalogs' sentences: never an English phrase made up on the spot."""
    fixes = {
        need.fix
        for adapter in (ZendeskAdapter, FreshdeskAdapter, JsmAdapter, ServiceNowAdapter)
        for need in adapter.NEEDS
        if need.fix
    }
    assert len(fixes) > 5
    for language in LANGUAGES:
        i18n.use(language)
        untranslated = {fix for fix in fixes if i18n._(fix) == fix}
        assert not untranslated, (language, untranslated)


HUB_WORDS = {
    "vi": ("token này chỉ được xem", "token không xác định", "ghi chú cần có nội dung"),
    "zh": ("此令牌只能查看", "未知令牌", "备注需要内容"),
    "ja": ("このトークンは閲覧のみ", "不明なトークン", "メモには本文が必要です"),
    "uk": ("цей токен може лише дивитися", "невідомий токен", "нотатка потребує тексту"),
}


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_hub_s_refusals_are_said_in_the_terminal_s_language(
    language: str, tmp_path: Path
) -> None:
    """A real hub on loopback refuses a view token's ack and an unknown token: it sends a
    code beside its English, and the terminal says both in its own floor's language."""
    store = record_floor(tmp_path / "floor.db", until_s=2 * 3600)
    hub = Hub(store, TOKENS, targets(), lambda: EPOCH + 7200, port=0, send_queue=16)
    await hub.start()
    i18n.use(language)
    wall = HubClient(url(hub), VIEW, targets())
    stranger = HubClient(url(hub), "CANARY-not-a-token-5e1f", targets())
    try:
        wall.start()
        stranger.start()
        await until(lambda: wall.seq == hub.state.seq and stranger.refused is not None)
        esc = next(e for e in hub.state.escalations.values() if e.is_open)
        with pytest.raises(CommandRefused) as info:
            await asyncio.to_thread(RemoteDesk(wall).ack, esc, "Wall", "")
        assert str(info.value) == "this token may watch, not act (scope view)"  # the log's
        assert HUB_WORDS[language][0] in info.value.said and "may watch" not in info.value.said
        assert stranger.refused == HUB_WORDS[language][1]
        assert stranger.refused_english == "unknown token"
        assert "unknown" not in stranger.link_status()
        with pytest.raises(CommandRefused) as info:
            RemoteDesk(wall).note(esc, "Wall", "  ")
        assert info.value.said == HUB_WORDS[language][2]
    finally:
        wall.close()
        stranger.close()
        await hub.stop()
        store.close()


def test_an_older_hub_s_words_are_shown_as_it_sent_them() -> None:
    """An older hub sends English words only; a newer one may send a code this version does
    not know: the terminal shows the words as sent, whatever its language."""
    i18n.use("ja")
    assert CommandRefused("", "this escalation is already resolved").said == (
        "this escalation is already resolved"
    )
    assert refusal_said("made_up_later", "a reason of tomorrow") == "a reason of tomorrow"
    assert refusal_said("resolved", "x") == CommandRefused("resolved").said != "x"


CONFIG_WORDS = {
    "vi": ("phải là một số hữu hạn", "phải là một trong 'low', 'normal', 'high', 'urgent'"),
    "zh": ("必须是有限数", "必须是 'low', 'normal', 'high', 'urgent' 之一"),
    "ja": ("有限の数値である必要があります", "'low', 'normal', 'high', 'urgent' のいずれか"),
    "uk": ("має бути скінченним числом", "має бути одним із: 'low', 'normal', 'high', 'urgent'"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_rarer_config_errors_are_said_in_the_language(
    language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A seed that is not a finite number and a priority that is none of the four: pydantic's
    rarer kinds in the language, the choices without pydantic's English "or"."""
    config = tmp_path / "floor.toml"
    config.write_text(
        "[[sources]]\nname = 'sim'\nkind = 'simulator'\nseed = nan\n"
        "[[rules]]\nid = 'risk'\nkind = 'sla_time_left'\nwarn_fraction = 0.25\n"
        "priorities = ['urgent', 'someday']\n"
    )
    config.chmod(0o600)
    code, _out, err = run_cli(["check", "-c", str(config), "--lang", language], capsys)
    assert code == 2
    finite, choices = CONFIG_WORDS[language]
    assert f"{config}: sources[0].seed: {finite}" in err, err
    assert choices in err and "'someday'" in err, err
    assert "Input should" not in err and " or " not in err and "finite number" not in err


WEB_WORDS = {
    "vi": "không phải địa chỉ loopback: hãy đặt --tls-cert và --tls-key",
    "zh": "不是回环地址：请设置 --tls-cert 和 --tls-key",
    "ja": "はループバックアドレスではありません: --tls-cert と --tls-key を設定するか",
    "uk": "— не адреса loopback: задайте --tls-cert і --tls-key",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_web_says_why_it_will_not_listen_in_the_language(
    language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``web`` on an address others can reach without TLS: refused in the language, the
    options to set and the address as typed."""
    token = tmp_path / "token"
    token.write_text("CANARY-web-view-token-0d3c\n")
    token.chmod(0o600)
    argv = ["web", "ws://127.0.0.1:9", "--listen", "0.0.0.0:8780", "--token-file", str(token)]
    code, _out, err = run_cli([*argv, "--lang", language], capsys)
    assert code == 2 and f"--listen 0.0.0.0:8780 {WEB_WORDS[language]}" in err, err
    assert "not a loopback" not in err and "CANARY" not in err
    code, _out, err = run_cli(
        ["web", "http://127.0.0.1:9", "--token-file", str(token), "--lang", language], capsys
    )
    assert code == 2 and "'http://127.0.0.1:9'" in err and "ws:// " in err
    assert "is not a ws://" not in err, err


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None)
@given(
    answers=st.integers(1, 10**7),
    superseded=st.integers(0, 10**6),
    unmatched=st.integers(0, 10**6),
)
def test_the_nps_note_is_read_back_with_the_templates_it_was_worded_with(
    answers: int, superseded: int, unmatched: int
) -> None:
    """``compute`` words the note and the renderers read it back from one set of templates:
    every count comes back as it went in, and is said in each language without English."""
    note = nps_note(answers, superseded, unmatched)
    assert nps_counts(note) == {
        "answers": answers,
        "superseded": superseded,
        "unmatched": unmatched,
    }
    for language in LANGUAGES:
        i18n.use(language)
        said = report_note(note)
        assert "survey answers" not in said and "left out" not in said, (language, said)
        assert said != note
    i18n.use("en")
    assert report_note(note) == note


def test_a_report_s_fixed_notes_are_said_in_every_language() -> None:
    assert nps_counts(NO_SURVEYS_NOTE) is None
    for language in LANGUAGES:
        i18n.use(language)
        for note in FIXED_NOTES:
            assert report_note(note) != note, (language, note)
    assert report_note("a note of a newer version") == "a note of a newer version"


ACTIVITY_WORDS = {
    "vi": ("trực", "hết ca", "nghỉ"),
    "zh": ("接线", "休班", "小休"),
    "ja": ("受付", "勤務外", "休憩"),
    "uk": ("лінія", "вільний", "перерва"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_agents_list_says_the_planned_activity_in_the_language(language: str) -> None:
    """The schedule beside each agent: the common activities in the language, within the
    list's 7 cells; a site's own word (its WFM's) as written."""
    from rich.cells import cell_len

    from supervisor_tui.core.schedule import activity_word

    i18n.use(language)
    assert (activity_word("open"), activity_word(""), activity_word("Break")) == (
        ACTIVITY_WORDS[language]
    )
    for word in ("open", "", "break", "lunch", "training", "meeting"):
        assert cell_len(activity_word(word)) <= 7, (language, word)
    assert activity_word("Coaching 1:1") == "Coaching 1:1"
    i18n.use("en")
    assert (activity_word("open"), activity_word("")) == ("open", "off")


HELP_LIMIT_WORDS = {
    "vi": ("cuộc gọi", "hãy dùng token của quản trị viên"),
    "zh": ("通话", "管理员"),
    "ja": ("通話", "管理者"),
    "uk": ("дзвінки", "адміністратора"),
}


@pytest.mark.parametrize("language", LANGUAGES)
async def test_help_says_what_the_helpdesks_do_not_let_us_read_in_the_language(
    language: str,
) -> None:
    """Help's list of limits (a Zendesk account without Talk's call export): the capability,
    why and the fix in the language, as the freshness bar says them, in the real app."""
    from textual.app import App
    from textual.geometry import Region
    from textual.widgets import Static

    from supervisor_tui.model import Capability, Limit
    from supervisor_tui.screens.help import HelpScreen

    said = reasons.reason("capability_forbidden", capability="calls", status=403)
    limit = Limit(
        capability=Capability.CALLS,
        reason=reasons.english(said),
        fix="use an admin's token",
        said=said,
    )
    i18n.use(language)

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(HelpScreen([], [("zd", limit)]))

    app = Host()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        texts = []
        for static in app.screen.query(Static):
            size = static.size
            for strip in static.render_lines(Region(0, 0, size.width, size.height)):
                texts.append(strip.text)
        text = "\n".join(texts)
    label = reasons.capability_label(Capability.CALLS)
    assert f"zd · {label}" in text and label != "calls"
    assert HELP_LIMIT_WORDS[language][0] in text, text
    assert "not allowed" not in text and "use an admin" not in text, text


@pytest.mark.parametrize("language", ["ja", "uk"])
def test_audit_words_the_escalations_titles_in_the_language(
    language: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shift recorded in English with a simulated supervisor's commands: ``audit`` in the
    language says each escalation's title in it (the rules' words; the floor's kept), while
    its CSV keeps the stored English for scripts."""
    path = tmp_path / "shift.db"
    code, _out, err = run_cli(
        ["record", "--out", str(path), "--hours", "2", "--lang", "en"], capsys
    )
    assert code == 0, err
    monkeypatch.setenv("COLUMNS", "400")  # a title on one line of the table
    code, out, err = run_cli(["audit", str(path), "--lang", language], capsys)
    assert code == 0, err
    flat = " ".join(out.split())
    assert "SLA breached" not in flat and "escalated by the helpdesk" not in flat, flat
    assert i18n._("SLA breached: {metric} on #{ticket}").split("{")[0].strip() in flat
    code, out, err = run_cli(["audit", str(path), "--format", "csv", "--lang", language], capsys)
    assert code == 0 and "SLA breached" in out


WATCH_WORDS = {
    "vi": "hub từ chối kết nối",
    "zh": "集线器拒绝连接",
    "ja": "ハブが接続を拒否しています",
    "uk": "хаб відхиляє з’єднання",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_watch_against_nothing_says_why_in_the_language(
    language: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``watch`` on a loopback port where no hub listens: each attempt says why the link
    failed in the language (the log keeps English), then it gives up as asked."""
    import socket

    caplog.set_level(logging.INFO, logger="supervisor_tui")
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        monkeypatch.setenv("SUPERVISOR_TUI_TOKEN", "CANARY-watch-token-2a9b")
        argv = ["watch", f"ws://127.0.0.1:{port}", "--give-up-after", "3", "--lang", language]
        code, _out, err = run_cli(argv, capsys)
    assert code == 2, err
    assert WATCH_WORDS[language] in err, err
    assert "refuses connections" not in err and "CANARY" not in err
    assert "the hub refuses connections" in caplog.text
