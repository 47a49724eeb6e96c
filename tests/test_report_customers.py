"""Issue #18 (G): NPS from imported survey answers, repeat-contact rate, reopen rate and
complaints by tag whenever it was added; each figure recomputed here from the events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supervisor_tui.cli import main
from supervisor_tui.model import (
    Channel,
    QueueUpserted,
    SurveyAnswered,
    TicketStatus,
    TicketUpserted,
)
from supervisor_tui.report.compute import compute
from supervisor_tui.report.render import to_markdown
from supervisor_tui.store import SQLiteStore

from .test_report import Floor, at, small_targets, ticket


@pytest.fixture
def shift(tmp_path: Path) -> Path:
    path = tmp_path / "shift.db"
    assert main(["record", "--out", str(path), "--hours", "1.5", "--seed", "5"]) == 0
    return path


def _tickets(path: Path) -> dict[str, str]:
    store = SQLiteStore(path, read_only=True)
    try:
        return {
            e.payload.ticket_id: str(e.payload.queue_id)
            for e in store.events_of_kind("ticket.upserted")
            if isinstance(e.payload, TicketUpserted) and e.payload.queue_id
        }
    finally:
        store.close()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def test_imported_surveys_give_nps_by_the_queue_of_their_ticket(
    shift: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queues = _tickets(shift)
    store = SQLiteStore(shift, read_only=True)
    start = store.read_from(0, 1)[0].received_at
    store.close()
    ids = sorted(queues)[:12]
    assert len(ids) == 12
    scores = [10, 9, 3, 7, 10, 0, 8, 9, 6, 10, 2, 9]
    rows = ["ticket,score,answered_at,comment"]
    rows += [
        f"{tid},{score},{_iso(start + 600 + n)},fine"
        for n, (tid, score) in enumerate(zip(ids, scores, strict=True))
    ]
    csv_file = tmp_path / "answers.csv"
    csv_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = ["import", "surveys", str(csv_file), "--db", str(shift), "--source", "simulator"]
    assert main(args) == 0
    assert "imported 12 survey answers of 12 rows" in capsys.readouterr().err
    assert main(args) == 0  # the same file again: nothing twice
    assert "imported 0 survey answers of 12 rows (12 already" in capsys.readouterr().err
    out = tmp_path / "r.json"
    assert main(["report", str(shift), "--format", "json", "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    by_queue: dict[str, list[int]] = {}
    for tid, score in zip(ids, scores, strict=True):
        by_queue.setdefault(queues[tid], []).append(score)
    shown = {q["queue_id"]: q for q in data["periods"][0]["queues"]}
    for queue_id, answers in by_queue.items():
        promoters = sum(1 for s in answers if s >= 9)
        detractors = sum(1 for s in answers if s <= 6)
        assert shown[queue_id]["survey_answers"] == len(answers)
        assert shown[queue_id]["nps"] == pytest.approx(
            100 * (promoters - detractors) / len(answers)
        )
    assert main(["report", str(shift), "--format", "md"]) == 0
    assert "NPS (answers)" in capsys.readouterr().out


def test_a_file_with_bad_rows_is_refused_whole_with_a_line_per_row(
    shift: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "answers.csv"
    csv_file.write_text(
        "ticket,requester,score,answered_at\n"
        "101,,9,2026-12-05T09:00:00\n"  # good
        "102,,11,2026-12-05T09:00:00\n"
        ",,5,2026-12-05T09:00:00\n"
        "103,,7,yesterday\n"
        "104,,seven,2026-12-05T09:00:00\n",
        encoding="utf-8",
    )
    assert main(["import", "surveys", str(csv_file), "--db", str(shift)]) == 2
    err = capsys.readouterr().err
    assert f"{csv_file}:3: score '11' is not a whole number from 0 to 10" in err
    assert f"{csv_file}:4: neither a ticket nor a requester" in err
    assert f"{csv_file}:5: answered_at 'yesterday' is not an ISO 8601 date-time" in err
    assert f"{csv_file}:6: score 'seven'" in err
    assert "nothing imported (4 bad of 5 rows)" in err
    store = SQLiteStore(shift, read_only=True)
    try:
        assert store.events_of_kind(SurveyAnswered.KIND) == []  # not even the good row
    finally:
        store.close()
    header_only = tmp_path / "wrong.csv"
    header_only.write_text("id,rating\n1,9\n", encoding="utf-8")
    assert main(["import", "surveys", str(header_only), "--db", str(shift)]) == 2
    assert "the header lacks score, answered_at, ticket or requester" in capsys.readouterr().err


def test_repeat_contacts_reopens_and_complaints_tagged_later() -> None:
    f = Floor()
    f.add(QueueUpserted(queue_id="mail", name="Mail", channel=Channel.EMAIL), at(-100))
    made = [  # (id, requester, created) — Ann writes three times, Bo twice 8 days apart
        ("a1", "ann@x", at(-30)),
        ("a2", "ann@x", at(9)),
        ("a3", "ann@x", at(10)),
        ("b1", "bo@x", at(-8 * 24)),
        ("b2", "bo@x", at(11)),
        ("c1", "cy@x", at(12)),
    ]
    for tid, who, created in sorted(made, key=lambda m: m[2]):
        f.add(ticket(tid, TicketStatus.NEW, created, created_at=created, requester=who), created)
    # a2 solved at 13:00 and reopened at 14:00; c1 tagged a complaint at 15:00 (not at birth)
    f.add(ticket("a2", TicketStatus.SOLVED, at(13), created_at=at(9), requester="ann@x"), at(13))
    f.add(ticket("a2", TicketStatus.OPEN, at(14), created_at=at(9), requester="ann@x"), at(14))
    f.add(
        ticket(
            "c1",
            TicketStatus.OPEN,
            at(15),
            created_at=at(12),
            requester="cy@x",
            tags=("complaint",),
        ),
        at(15),
    )
    report = compute([("r", f.events)], targets=small_targets(), start=at(0), end=at(24))
    (mail,) = report.periods[0].queues
    created_today = [m for m in made if at(0) <= m[2] < at(24)]
    repeats = [
        m
        for m in created_today
        if any(o[1] == m[1] and 0 < m[2] - o[2] <= 7 * 86_400 for o in made)
    ]
    assert [m[0] for m in repeats] == ["a2", "a3"]  # b2: Bo's last was 8 days before
    assert mail.repeat_contacts == 2
    assert mail.repeat_contact_rate == pytest.approx(2 / len(created_today))
    assert (mail.reopened, mail.tickets_solved, mail.reopen_rate) == (1, 1, 1.0)
    assert mail.complaints == 1 and mail.complaint_rate == pytest.approx(1 / 4)
    assert "Repeat contacts" in to_markdown(report)


def test_answers_for_one_ticket_count_once_whoever_brought_them(
    shift: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NPS merges answers by ticket: the same export imported once with ``--source`` and
    once without, and a customer who answered again (a survey sent twice), count one answer
    per ticket, the latest (before, each copy counted)."""
    queues = _tickets(shift)
    store = SQLiteStore(shift, read_only=True)
    start = store.read_from(0, 1)[0].received_at
    store.close()
    ids = sorted(queues)[:6]
    first = tmp_path / "first.csv"
    first.write_text(
        "ticket,score,answered_at\n"
        + "".join(f"{tid},3,{_iso(start + 600 + n)}\n" for n, tid in enumerate(ids)),
        encoding="utf-8",
    )
    again = tmp_path / "again.csv"  # the first two customers changed their minds: 10
    again.write_text(
        "ticket,score,answered_at\n"
        + "".join(f"{tid},10,{_iso(start + 900 + n)}\n" for n, tid in enumerate(ids[:2])),
        encoding="utf-8",
    )
    assert main(["import", "surveys", str(first), "--db", str(shift), "--source", "simulator"]) == 0
    assert main(["import", "surveys", str(first), "--db", str(shift)]) == 0  # no --source
    assert main(["import", "surveys", str(again), "--db", str(shift)]) == 0
    capsys.readouterr()
    out = tmp_path / "r.json"
    assert main(["report", str(shift), "--format", "json", "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    latest = {tid: 3 for tid in ids} | {tid: 10 for tid in ids[:2]}
    shown = {q["queue_id"]: q for q in data["periods"][0]["queues"]}
    for queue_id in {queues[tid] for tid in ids}:
        answers = [latest[tid] for tid in ids if queues[tid] == queue_id]
        promoters = sum(1 for s in answers if s >= 9)
        detractors = sum(1 for s in answers if s <= 6)
        assert shown[queue_id]["survey_answers"] == len(answers)
        assert shown[queue_id]["nps"] == pytest.approx(
            100 * (promoters - detractors) / len(answers)
        )
    assert sum(q["survey_answers"] for q in shown.values()) == 6
