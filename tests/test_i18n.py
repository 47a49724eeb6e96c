"""The floor's language: every message translated in every catalog, the language chosen from
config, flag or locale, English with one warning where a catalog is missing, and numbers in
the language's own signs with the one rounding rule."""

from __future__ import annotations

import logging
import re
import string
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor_tui import cli, i18n
from supervisor_tui.config import DisplayConfig
from supervisor_tui.core import fmt

SRC = Path(i18n.__file__).resolve().parent
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}


def source_messages() -> dict[str, str]:
    """msgid → where it is, from the source as `make messages` extracts it."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(SRC),
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.fixture
def fresh_catalogs() -> Iterator[None]:
    i18n._compiled.cache_clear()
    i18n._warned.clear()
    yield
    i18n._compiled.cache_clear()
    i18n._warned.clear()


def test_the_source_has_messages_to_translate() -> None:
    assert "{hours}h{minutes:02d}m" in source_messages()


@pytest.mark.parametrize("language", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_every_message_has_a_translation_in_every_catalog(language: str) -> None:
    with i18n.catalog_path(language).open("rb") as po:
        catalog = read_po(po)
    # a plural message is found by its singular and by its plural (the extractor lists both)
    translated = {
        str(msgid): m
        for m in catalog
        if m.id and not m.fuzzy
        for msgid in (m.id if isinstance(m.id, tuple) else (m.id,))  # a plural: both forms
    }
    missing = {
        msgid: where
        for msgid, where in source_messages().items()
        if msgid not in translated or not translated[msgid].string
    }
    assert not missing, f"{language}: untranslated: {missing}"
    for msgid, message in translated.items():
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        for form in forms:
            # a translation names the same placeholders, or .format() fails on screen
            assert fields(form) == fields(msgid), (language, msgid, form)


def test_the_config_knows_the_same_languages_as_the_catalogs() -> None:
    hint = typing.get_type_hints(DisplayConfig)["language"]
    literal = next(a for a in typing.get_args(hint) if typing.get_origin(a) is typing.Literal)
    assert set(typing.get_args(literal)) == set(i18n.LANGUAGES)
    for language in i18n.LANGUAGES:
        if language != "en":
            assert i18n.catalog_path(language).is_file(), language


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "vi_VN.UTF-8"}, "vi"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "ja_JP.UTF-8"}, "ja"),
        ({"LANGUAGE": "fr:uk:en", "LANG": "fr_FR.UTF-8"}, "uk"),
        ({"LC_MESSAGES": "zh_CN.GB2312"}, "zh"),
        ({"LANG": "zh-Hans-CN"}, "zh"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_language_defaults_from_the_locale(environ: dict[str, str], expected: str) -> None:
    assert i18n.language_from_environment(environ) == expected


def test_a_missing_catalog_falls_back_to_english_with_one_warning(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fresh_catalogs: None,
) -> None:
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)  # no catalog at all
    with caplog.at_level(logging.WARNING, logger="supervisor_tui.i18n"):
        assert i18n.use("ja") == "en"
        assert i18n.use("ja") == "en"
        assert fmt.duration(3900) == "1h05m"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'ja'" in warnings[0].getMessage()


def test_a_catalog_is_used_once_chosen(fresh_catalogs: None) -> None:
    assert i18n.use("ja") == "ja"
    assert fmt.duration(3900) == "1時間05分"
    assert i18n.use("uk") == "uk" and fmt.duration(3 * 86_400 + 4 * 3600) == "3д04год"
    assert i18n.use("en") == "en" and fmt.duration(3900) == "1h05m"


@settings(max_examples=200, deadline=None)
@given(
    share=st.floats(min_value=0, max_value=1, allow_nan=False),
    digits=st.integers(min_value=0, max_value=2),
)
def test_percent_rounds_alike_in_every_language(share: float, digits: int) -> None:
    """The signs are the language's; the rounding (halves up) is the same everywhere."""
    i18n.use("en")
    english = fmt.percent(share, digits)
    for language in ("vi", "uk"):
        i18n.use(language)
        assert fmt.percent(share, digits) == english.replace(".", ",")
    for language in ("zh", "ja"):
        i18n.use(language)
        assert fmt.percent(share, digits) == english
    i18n.use("en")


def test_lang_is_taken_by_every_command_and_the_config_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = cli._parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, command in commands.items():
        assert any("--lang" in a.option_strings for a in command._actions), name
    config = tmp_path / "floor.toml"
    config.write_text('[display]\nlanguage = "vi"\n')
    args = parser.parse_args(["check", "-c", str(config)])
    assert cli._configured_language(args) == "vi"
    args = parser.parse_args(["check", "-c", str(config), "--lang", "ja"])
    assert (args.lang or cli._configured_language(args)) == "ja"
    config.write_text("not toml [")
    assert cli._configured_language(parser.parse_args(["check", "-c", str(config)])) is None


def test_no_translation_splits_a_placeholder() -> None:
    """A brace left open in a catalog would raise on screen, not in review."""
    for language in i18n.LANGUAGES:
        if language == "en":
            continue
        text = i18n.catalog_path(language).read_text(encoding="utf-8")
        for line in re.findall(r'^msgstr(?:\[\d\])? "(.*)"$', text, flags=re.M):
            string.Formatter().parse(line.replace("\\n", "\n"))
            list(string.Formatter().parse(line))
