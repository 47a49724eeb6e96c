"""Every error a user sees is in the floor's language (issue #21): a bad config, a config
others can read (with the exact chmod command), a missing file, argparse's own errors and
``--help``; and a source's health reasons, stored as codes beside their English, so a
recording made in English shows its 403 and 401 in Japanese."""

from __future__ import annotations

import os
import shlex
import string
import subprocess
import sys
from pathlib import Path

import pytest

from supervisor_tui import cli, i18n
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, ZendeskSettings
from supervisor_tui.core.projection import FloorState
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.model import Capability, HealthState, Reason, reasons
from supervisor_tui.store import SQLiteStore
from supervisor_tui.widgets.freshness import freshness_text

from .conftest import EPOCH, FakeClock, targets
from .helpers import StoreSink
from .test_secrets import poll_all

# What each language says, written out here (not read from the catalogs under test).
WORDS = {
    "vi": {
        "unknown zone": "múi giờ không xác định 'Mars/Olympus'",
        "unknown key": "khóa không xác định",
        "greater than 0": "phải lớn hơn 0",
        "others can read": "người khác có thể đọc hoặc sửa tệp này",
        "no such file": "không có tệp này",
        "not valid TOML": "TOML không hợp lệ",
    },
    "zh": {
        "unknown zone": "未知时区 'Mars/Olympus'",
        "unknown key": "未知的键",
        "greater than 0": "必须大于 0",
        "others can read": "其他人可以读取或修改它",
        "no such file": "文件不存在",
        "not valid TOML": "不是有效的 TOML",
    },
    "ja": {
        "unknown zone": "不明なタイムゾーン 'Mars/Olympus'",
        "unknown key": "不明なキー",
        "greater than 0": "0 より大きい必要があります",
        "others can read": "他のユーザーが読み取りや変更をできます",
        "no such file": "ファイルがありません",
        "not valid TOML": "正しい TOML ではありません",
    },
    "uk": {
        "unknown zone": "невідомий часовий пояс 'Mars/Olympus'",
        "unknown key": "невідомий ключ",
        "greater than 0": "має бути більше за 0",
        "others can read": "інші можуть читати або змінювати його",
        "no such file": "такого файлу немає",
        "not valid TOML": "некоректний TOML",
    },
}
LANGUAGES = sorted(WORDS)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = cli.main(args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_bad_config_is_said_in_the_floor_s_language(
    language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "floor.toml"
    config.write_text(
        "[floor]\ntimezone = 'Mars/Olympus'\n[display]\nstale_after_s = -5\nthemes = 'dark'\n"
    )
    config.chmod(0o600)
    code, _out, err = run_cli(["check", "-c", str(config), "--lang", language], capsys)
    assert code == 2
    words = WORDS[language]
    # the file, the key and the value as written; the words in the language
    assert f"{config}: display.themes: {words['unknown key']}" in err
    assert f"{config}: display.stale_after_s: {words['greater than 0']}" in err
    assert f"{config}: floor.timezone: {words['unknown zone']}" in err  # our own validator
    assert "-5" in err and "unknown key" not in err and "greater than" not in err
    assert "time zone" not in err and "Value error" not in err


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_config_s_own_language_says_its_errors(
    language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --lang: the language is the config's, read before its full load fails."""
    config = tmp_path / "floor.toml"
    config.write_text(f'[display]\nlanguage = "{language}"\nstale_after_s = 0\n')
    config.chmod(0o600)
    code, _out, err = run_cli(["check", "-c", str(config)], capsys)
    assert code == 2 and WORDS[language]["greater than 0"] in err


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_config_others_can_read_is_refused_with_the_exact_chmod_command(
    language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "night shift"  # a space: the command quotes the path
    folder.mkdir()
    config = folder / "floor.toml"
    config.write_text("[floor]\nname = 'Night'\n")
    config.chmod(0o644)
    code, _out, err = run_cli(["check", "-c", str(config), "--lang", language], capsys)
    assert code == 2
    assert WORDS[language]["others can read"] in err
    assert "(mode 644)" not in err and "644" in err
    command = f"chmod 600 {shlex.quote(str(config))}"
    assert err.rstrip().endswith(command), err


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_missing_or_broken_config_is_said_in_the_floor_s_language(
    language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.toml"
    code, _out, err = run_cli(["check", "-c", str(missing), "--lang", language], capsys)
    assert code == 2 and f"{missing}: {WORDS[language]['no such file']}" in err
    broken = tmp_path / "broken.toml"
    broken.write_text("not toml [")
    broken.chmod(0o600)
    code, _out, err = run_cli(["check", "-c", str(broken), "--lang", language], capsys)
    assert code == 2 and f"{broken}: {WORDS[language]['not valid TOML']}" in err


def test_help_in_vietnamese_lists_translated_option_help() -> None:
    """A real process, its language from the locale alone (no --lang)."""
    env = {**os.environ, "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "vi_VN.UTF-8"}
    done = subprocess.run(
        [sys.executable, "-m", "supervisor_tui.cli", "report", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    help_text = " ".join(done.stdout.split())  # argparse wraps lines at its width
    for said in (
        "cách dùng: supervisor-tui report",
        "tùy chọn:",
        "đối số vị trí:",
        "hiện trợ giúp này rồi thoát",
        "một hàng đợi, theo mã hoặc tên",  # --queue
        "ghi vào đây (mặc định: đầu ra chuẩn)",  # --out
        "bắt đầu, YYYY-MM-DD hoặc YYYY-MM-DDTHH:MM (giờ của sàn)",  # --from
    ):
        assert said in help_text, said
    for english in ("usage:", "show this help", "one queue, by id or name", "(default"):
        assert english not in help_text, english


def test_a_command_s_help_in_japanese(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_cli(["watch", "--lang", "ja", "--help"], capsys)
    flat = " ".join(out.split())
    assert (
        code == 0
        and "使い方:" in flat
        and "端末のトークン（既定値: $SUPERVISOR_TUI_TOKEN）" in flat
    )


def test_argparse_s_own_errors_are_in_ukrainian(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(["demo", "--lang", "uk", "--agents", "lots"], capsys)
    assert code == 2
    assert "використання: supervisor-tui demo" in err
    assert "supervisor-tui demo: помилка: аргумент --agents: 'lots' — не ціле число" in err
    code, _out, err = run_cli(["demo", "--lang", "uk", "--agents", "30000"], capsys)
    # the count with the language's group separator (a no-break space in Ukrainian)
    assert code == 2 and "оператори: 30\xa0000; симулятор приймає від 1 до 20\xa0000" in err
    code, _out, err = run_cli(["check", "--lang", "uk"], capsys)
    assert code == 2 and "потрібні такі аргументи: -c/--config" in err


EMAIL = "bot@example.com"
TOKEN = "CANARY-i18n-errors-4f1d"
WRONG = "CANARY-i18n-errors-wrong-9e0a"


async def test_a_403_recorded_in_english_is_shown_in_japanese(tmp_path: Path) -> None:
    """A floor recorded in English: the SLA policies refused (403) on one source, the token
    refused (401) on another. The recording keeps the English; a board in Japanese reads
    both in Japanese, the fix too, the helpdesk's names and paths as they were."""
    clock = FakeClock(EPOCH)
    fake = FakeZendesk(email=EMAIL, token=TOKEN, clock=clock)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=5, agents=12, speed=None, warmup_s=0), EPOCH)
    clock.advance(2 * 3600)
    fake.feed(sim.advance(2 * 3600))
    path = tmp_path / "floor.db"
    store = SQLiteStore(path)
    good = ZendeskAdapter(
        "zendesk", ZendeskSettings(base_url=fake.base_url, email=EMAIL, token=TOKEN), clock=clock
    )
    wrong = ZendeskAdapter(
        "oldzd", ZendeskSettings(base_url=fake.base_url, email=EMAIL, token=WRONG), clock=clock
    )
    try:
        assert i18n.current() == "en"
        fake.inject("/api/v2/slas/policies", "403", count=10_000)
        await poll_all(good, StoreSink(store, "zendesk", clock))
        await poll_all(wrong, StoreSink(store, "oldzd", clock))
    finally:
        await good.api.close()
        await wrong.api.close()
        store.close()
        await fake.stop()

    recording = SQLiteStore(path, read_only=True)
    try:
        events = recording.read_from(0, limit=1_000_000)
    finally:
        recording.close()
    i18n.use("ja")
    state = FloorState(targets())
    state.apply_all(events)
    zendesk, oldzd = state.sources["zendesk"], state.sources["oldzd"]

    # what is stored stays English, the reason as a code beside it
    limit = next(lim for lim in zendesk.limits if lim.capability is Capability.SLA_POLICIES)
    assert limit.reason.startswith("SLA policies: not allowed for these credentials (403)")
    assert limit.said is not None and limit.said.code == "capability_forbidden"
    assert oldzd.state is HealthState.DOWN and "refused" in oldzd.reason and "(401)" in oldzd.reason

    # shown in Japanese
    shown = reasons.limit_reason(limit)
    assert shown.startswith("SLA ポリシー: この認証情報では許可されていません（403）。"), shown
    assert "not allowed" not in shown and "unknown" not in shown  # what the board lacks too
    assert reasons.limit_fix(limit) == "SLA ポリシーのあるプランで管理者のトークンを使ってください"
    assert reasons.capability_label(limit.capability) == "SLA ポリシー"
    down = reasons.source_reason(oldzd)
    assert down.startswith("oldzd: サーバーが GET /api/v2/"), down
    assert "を拒否しました（401）— 認証情報を確認してください" in down
    bar = freshness_text(state.sources, clock(), 60).plain
    assert "サーバーが" in bar and "拒否しました（401）" in bar and "refused" not in bar

    # and the same recording in English reads as it was written
    i18n.use("en")
    assert reasons.limit_reason(limit) == limit.reason
    assert reasons.source_reason(oldzd) == oldzd.reason


def test_a_reason_of_a_newer_version_shows_its_english() -> None:
    """A code this version does not know, or one missing a value: the stored English."""
    i18n.use("ja")
    unknown = Reason(code="made_up_later", values=(("source", "zd"),))
    assert reasons.said("zd: something new", unknown) == "zd: something new"
    short = Reason(code="rate_limited", values=(("source", "zd"),))  # no seconds
    assert reasons.said("zd: 429, retry in 30 s", short) == "zd: 429, retry in 30 s"
    full = reasons.reason("rate_limited", source="zd", seconds=30)
    assert reasons.english(full) == "zd: 429, retry in 30 s"
    assert reasons.said(reasons.english(full), full) == "zd: 429、30 秒後に再試行"


def test_every_reason_code_is_said_in_every_language() -> None:
    """Each template formats with its own placeholders in every catalog."""
    for language in i18n.LANGUAGES:
        i18n.use(language)
        for code, template in reasons.TEMPLATES.items():
            names = [n for _, n, _, _ in string.Formatter().parse(template) if n]
            values = {n: Capability.CALLS.value if n == "capability" else f"<{n}>" for n in names}
            if "unreadable" in values:
                values.update(unreadable="forbidden", table="<table>")
            said = reasons.said("stored", reasons.reason(code, **values))
            assert said != "stored", (language, code)
            for name in names:
                if name not in ("capability", "unreadable", *reasons.TRANSLATED):
                    assert f"<{name}>" in said, (language, code, said)


SECRET_WORDS = {
    "vi": "người khác có thể đọc",
    "zh": "其他人可以读取",
    "ja": "他のユーザーも読み取れます",
    "uk": "можуть читати інші",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_token_file_others_can_read_is_refused_with_the_exact_chmod_command(
    language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``check`` names the source, says why in the language and gives a command that works
    as pasted, the path quoted (it has a space)."""
    folder = tmp_path / "helpdesk secrets"
    folder.mkdir()
    token = folder / "zendesk token"
    token.write_text("CANARY-i18n-token-file-5c2e\n")
    token.chmod(0o644)
    config = tmp_path / "floor.toml"
    config.write_text(
        "[[sources]]\nname = 'zd'\nkind = 'zendesk'\nsubdomain = 'acme'\n"
        f"email = 'bot@example.com'\ntoken_file = '{token}'\n"
    )
    config.chmod(0o600)
    code, out, err = run_cli(["check", "-c", str(config), "--lang", language], capsys)
    assert code == 1, err
    line = next(line for line in out.splitlines() if line.startswith("✖ zd (zendesk)"))
    assert SECRET_WORDS[language] in line and "644" in line
    assert line.endswith(f"chmod 600 {shlex.quote(str(token))}"), line
    assert "CANARY" not in out + err


ENGLISH_IN_LIMITS = ("not allowed", "unknown", "use an", "the plan", "cannot", "admin", " is not ")


@pytest.mark.parametrize("language", ["vi", "uk"])
def test_check_says_what_an_agent_s_token_lacks_in_the_language(
    language: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's helpdesks with an agent's tokens, as a new user runs ``check``: every
    capability off (Talk, presence, SLA, deletions, surveys...) is named, explained and
    given its fix in the language; only keys, endpoints and product names stay as written."""
    code, out, _err = run_cli(
        ["demo", "--check", "--account", "agent", "--lang", language, "--queues", "3"], capsys
    )
    assert code == 0, out
    limits = [line for line in out.splitlines() if line.lstrip().startswith("⚠")]
    assert len(limits) >= 6, out  # Zendesk and Freshdesk both lack several
    for line in limits:
        assert "→" in line, line  # each with its fix
        for english in ENGLISH_IN_LIMITS:
            assert english not in line, (english, line)


def test_a_command_line_the_language_cannot_be_read_from_is_said_once_in_the_locale_s(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--lang`` without its value: the early read of the language gives up quietly, and the
    command's own parser says what is wrong, once, in the locale's language."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    code, out, err = run_cli(["check", "--lang"], capsys)
    assert code == 2 and out == ""
    assert err.count("エラー") == 1 and "引数 --lang: 引数が 1 つ必要です" in err
    assert err.startswith("使い方: supervisor-tui check"), err


def test_check_json_stays_english_for_scripts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    token = tmp_path / "token"
    token.write_text("CANARY-i18n-json-77aa\n")
    token.chmod(0o644)
    config = tmp_path / "floor.toml"
    config.write_text(
        "[display]\nlanguage = 'ja'\n[[sources]]\nname = 'zd'\nkind = 'zendesk'\n"
        f"subdomain = 'acme'\nemail = 'bot@example.com'\ntoken_file = '{token}'\n"
    )
    config.chmod(0o600)
    code, out, _err = run_cli(["check", "-c", str(config), "--json"], capsys)
    assert code == 1
    (source,) = json.loads(out)["sources"]
    assert "can be read by others (mode 644); run: chmod 600" in source["error"]
