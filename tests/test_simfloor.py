"""A simulated floor in Vietnamese, Chinese, Japanese or Ukrainian (issue #21): its agents have
that country's names, distinct for 10,000 agents and the same on every run; its queues, away
reasons and tickets are in the language; and it is the same floor as the English one (the
same events at the same times), only named differently. English floors keep their names."""

from __future__ import annotations

import unicodedata

import httpx
import pytest
from rich.cells import cell_len

from supervisor_tui import i18n
from supervisor_tui.adapters import simfloor
from supervisor_tui.adapters.polling import group_channel
from supervisor_tui.adapters.simulator import (
    QUEUE_PATTERN,
    FloorSimulation,
    SimOptions,
    SimulatorAdapter,
)
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.model import NewEvent

from .conftest import EPOCH, FakeClock, simulate
from .test_fake_zendesk import AUTH, UNTIL_S

LANGUAGES = ["vi", "zh", "ja", "uk"]
WORDS = ("name", "reason", "subject", "requester")


def scripts(name: str) -> set[str]:
    """The scripts a name is written in ("LATIN", "CJK", "HIRAGANA", "CYRILLIC", ...)."""
    return {
        unicodedata.name(char).split()[0]
        for char in name
        if char not in " '" and unicodedata.category(char).startswith("L")
    }


WRITTEN_IN = {
    "vi": {"LATIN"},
    "zh": {"CJK"},
    "ja": {"CJK", "HIRAGANA", "IDEOGRAPHIC"},  # 々 repeats the kanji before it
    "uk": {"CYRILLIC"},
}
OWN_LETTERS = {
    "vi": set("ăâđêôơưĂÂĐÊÔƠƯàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"),
    "uk": set("іїєґІЇЄҐ"),
}
"""Letters only this language of its script has: a Vietnamese, not a plain Latin, name; a
Ukrainian, not a Russian, one."""


@pytest.mark.parametrize("lang", LANGUAGES)
def test_ten_thousand_agents_have_distinct_names_of_the_country(lang: str) -> None:
    floor = FloorSimulation(SimOptions(agents=10_000, language=lang), EPOCH)
    names = [agent.name for agent in floor.agents]
    assert len(set(names)) == 10_000
    assert not any(name[-1].isdigit() for name in names)  # real combinations, not numbered
    for name in names:
        assert scripts(name) <= WRITTEN_IN[lang] and scripts(name), name
        # shown whole on the agents board (Chinese and Japanese in its usual 12 cells)
        assert cell_len(name) <= (12 if lang in ("zh", "ja") else simfloor.NAME_CELLS), name
    if lang in OWN_LETTERS:
        own = sum(1 for name in names if OWN_LETTERS[lang] & set(name))
        assert own > len(names) // 4, own
    again = FloorSimulation(SimOptions(agents=10_000, language=lang, seed=99), EPOCH)
    assert [agent.name for agent in again.agents] == names  # another run, the same names


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_floor_is_the_english_floor_in_other_words(lang: str) -> None:
    english = simulate(seed=3, until_s=5 * 3600)
    spoken = simulate(seed=3, until_s=5 * 3600, language=lang)

    def bare(event: NewEvent) -> tuple[object, ...]:
        payload = event.payload.model_dump(exclude=set(WORDS))
        return event.key, event.occurred_at, payload

    assert [bare(e) for e in spoken] == [bare(e) for e in english]
    words = simfloor.WORDS[lang]
    queues = {e.payload.name for e in spoken if e.kind == "queue.upserted"}  # type: ignore[attr-defined]
    assert queues == set(words.queues.values())
    subjects = {e.payload.subject for e in spoken if e.kind == "ticket.upserted"}  # type: ignore[attr-defined]
    assert subjects <= set(words.subjects) and len(subjects) > 5
    customers = {e.payload.requester for e in spoken if e.kind == "ticket.upserted"}  # type: ignore[attr-defined]
    assert all(scripts(c) <= WRITTEN_IN[lang] for c in customers) and len(customers) > 20
    reasons = {e.payload.reason for e in spoken if e.kind == "agent.state"} - {""}  # type: ignore[attr-defined]
    assert reasons == set(words.reasons.values())
    assert simulate(seed=3, until_s=3600, language=lang) == spoken[: len(simulate(3, 3600))]


def test_english_and_unknown_languages_keep_the_simulators_names() -> None:
    english = simulate(seed=5, until_s=3600)
    assert simulate(seed=5, until_s=3600, language="en") == english
    assert simulate(seed=5, until_s=3600, language="fr") == english
    names = [a.name for a in FloorSimulation(SimOptions(), EPOCH).agents]
    assert names[:3] == ["Ana A.", "Ben H.", "Chloé P."]  # as recorded before issue #21


def test_a_second_brand_is_named_in_the_language() -> None:
    floor = FloorSimulation(
        SimOptions(language="vi", brand="Retail", queues=7, first_queue=2), EPOCH
    )
    names = [q.name for q in floor.queues]
    assert names[0] == "Bán lẻ · Chat" and names[-1] == "Bán lẻ · Email · Hóa đơn 2"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_configured_simulator_speaks_the_boards_language(lang: str) -> None:
    assert i18n.use(lang) == lang
    adapter = SimulatorAdapter.from_config("sim", {"kind": "simulator", "seed": 3}, lambda: EPOCH)
    assert adapter.options.language == lang
    chosen = SimulatorAdapter.from_config("sim", {"language": "en"}, lambda: EPOCH)
    assert chosen.options.language == "en"  # a source's own language wins


async def test_the_fake_zendesk_names_a_break_as_the_floors_administrator_did() -> None:
    """A Vietnamese site's custom agent statuses are named in Vietnamese: an agent on a
    break is shown by that name (the board's away reason), with the custom status's id."""
    sim = FloorSimulation(SimOptions(seed=3, agents=20, speed=None, language="vi"), EPOCH)
    events = list(sim.advance(UNTIL_S))
    fake = FakeZendesk(clock=FakeClock(EPOCH + UNTIL_S + 120))
    fake.feed(events)
    base = await fake.start()
    try:
        async with httpx.AsyncClient(base_url=base, auth=AUTH) as client:
            body = (await client.get("/api/v2/agent_availabilities?page[size]=100")).json()
    finally:
        await fake.stop()
    statuses = {
        (doc["attributes"]["agent_status"]["name"], doc["attributes"]["agent_status"]["id"])
        for doc in body["data"]
    }
    on_break = {s for s in statuses if s[1] in (101, 102)}
    assert on_break and on_break <= {("Giải lao", 101), ("Ăn trưa", 102)}, statuses


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_helpdesk_group_named_in_the_language_is_read_as_its_channel(lang: str) -> None:
    """The Zendesk and Freshdesk adapters tell a group's channel from words in its name: a
    Vietnamese "Tổng đài · Bán hàng" is voice and a Japanese "チャット" chat, as "Voice ·
    Sales" and "Chat" are (else every queue of the floor would be shown as e-mail)."""
    for english, name, channel, *_ in QUEUE_PATTERN:
        spoken = simfloor.WORDS[lang].queues[name]
        assert group_channel(spoken) is channel, (spoken, english)
        assert group_channel(f"{simfloor.WORDS[lang].brands['Retail']} · {spoken}") is channel
