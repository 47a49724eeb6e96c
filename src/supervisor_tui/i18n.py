"""The floor's language: gettext catalogs for every word, Babel's locale data for numbers and
dates. One home for both, below every layer (model, core, report and widgets all use it).

The language is chosen once per process (``use``): ``[display] language`` or ``--lang``, else
the environment's locale (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English.
Catalogs are the ``.po`` files under ``locale/<lang>/LC_MESSAGES/``, compiled in memory when
first used, so a stale ``.mo`` can never disagree with its source. A language without a
catalog falls back to English with one warning.

Strings are marked ``_("…")`` where they are shown; strings defined at import time (column
headers, help entries) are marked ``N_("…")`` and translated with ``_`` when drawn.
Placeholders are named (``_("{count} open").format(count=n)``) so translators may reorder them.
"""

from __future__ import annotations

import gettext
import io
import logging
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

log = logging.getLogger(__name__)

DOMAIN: Final = "supervisor_tui"
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
LANGUAGES: Final = ("en", "vi", "zh", "ja", "uk")
"""The languages the board is written in, English first (the source language)."""
TERRITORY: Final = {"en": "en_US", "vi": "vi_VN", "zh": "zh_Hans_CN", "ja": "ja_JP", "uk": "uk_UA"}
"""Which Babel locale gives each language its number and date formats."""

HTML_LANG: Final = {"zh": "zh-Hans"}
"""``<html lang>`` (BCP 47) where it is not the language's code: the catalog is Simplified."""

_current: str = "en"
_translations: gettext.NullTranslations = gettext.NullTranslations()
_warned: set[str] = set()


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The first supported language the environment asks for, else English.

    ``LANGUAGE`` is a colon-separated list of preferences (GNU gettext); the others hold one
    locale such as ``vi_VN.UTF-8``. ``C`` and ``POSIX`` mean English."""
    env = os.environ if environ is None else environ
    wanted: list[str] = []
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            wanted.extend(value.split(":") if name == "LANGUAGE" else [value])
    for value in wanted:
        code = value.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
        if code in ("c", "posix"):
            return "en"
        if code in LANGUAGES:
            return code
    return "en"


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _compiled(language: str) -> gettext.NullTranslations | None:
    """The language's catalog compiled in memory, or None where it has none."""
    path = catalog_path(language)
    if not path.is_file():
        return None
    with path.open("rb") as po:
        catalog = read_po(po, locale=TERRITORY.get(language, language), domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def use(language: str | None) -> str:
    """Speak ``language`` from now on (None: the environment's); returns the language in
    use, which is English when the asked one has no catalog (said once, as a warning)."""
    global _current, _translations
    wanted = language or language_from_environment()
    if wanted == "en":
        _current, _translations = "en", gettext.NullTranslations()
        return _current
    compiled = _compiled(wanted) if wanted in LANGUAGES else None
    if compiled is None:
        if wanted not in _warned:
            _warned.add(wanted)
            log.warning("no catalog for language %r: the board is shown in English", wanted)
        _current, _translations = "en", gettext.NullTranslations()
        return _current
    _current, _translations = wanted, compiled
    return _current


def current() -> str:
    """The language in use ("en", "vi", "zh", "ja" or "uk")."""
    return _current


def locale() -> Locale:
    """Babel's locale for the language in use (numbers, percent signs, dates)."""
    return locale_of(_current)


@cache
def locale_of(language: str) -> Locale:
    try:
        return Locale.parse(TERRITORY.get(language, "en_US"))
    except (UnknownLocaleError, ValueError):  # pragma: no cover - Babel ships all five
        return Locale.parse("en_US")


def _(message: str) -> str:
    """``message`` in the floor's language (itself where no translation exists)."""
    return _translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form for ``n`` in the floor's language (Ukrainian has three, Japanese one)."""
    return _translations.ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` where the same English word needs different words by context."""
    return _translations.pgettext(context, message)


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined; translate it with ``_`` where drawn."""
    return message


def html_lang() -> str:
    """The current language as an HTML page declares it (``<html lang>``)."""
    return HTML_LANG.get(_current, _current)
