"""``supervisor-tui report``: from a recording to a document, or a clear error and no file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supervisor_tui.cli import main

from .conftest import record_floor


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "shift.db"
    record_floor(path, until_s=4 * 3600).close()
    return path


def test_markdown_to_stdout(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(recording), "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert "Voice · Sales" in out and "How figures are computed" in out


def test_json_and_csv_to_files(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["report", str(recording), "--format", "json", "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["grouping"] == "day" and data["periods"][0]["queues"]
    csv_out = tmp_path / "r.csv"
    assert main(["report", str(recording), "--format", "csv", "--out", str(csv_out)]) == 0
    assert csv_out.read_text(encoding="utf-8").splitlines()[0].startswith("period,")


def test_html_is_one_file(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(recording), "--format", "html", "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and "<svg" in html
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary left


def test_bad_input_is_a_clear_error_and_leaves_no_file(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.md"
    assert (
        main(["report", str(recording), "--queue", "Fax", "--format", "md", "--out", str(out)]) == 2
    )
    assert "no queue 'Fax'" in capsys.readouterr().err
    assert (
        main(
            ["report", str(recording), "--from", "2030-01-01", "--format", "md", "--out", str(out)]
        )
        == 2
    )
    assert "no events in the range" in capsys.readouterr().err
    assert main(["report", str(recording), "--from", "yesterday", "--format", "md"]) == 2
    assert "expected YYYY-MM-DD" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a recording" * 100)
    assert main(["report", str(corrupt), "--format", "md", "--out", str(out)]) == 2
    assert "corrupt.db" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.db"), "--format", "md"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["corrupt.db"]


def test_report_from_a_postgresql_store(
    recording: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from supervisor_tui.store import PostgresStore, SQLiteStore

    from .pg import new_schema

    schema = new_schema()
    source = SQLiteStore(recording, read_only=True)
    target = PostgresStore(pg_url, schema=schema)
    target.append([_as_new(e) for e in source.read_from(0, 10**7)])
    source.close()
    target.close()
    config = recording.parent / "pg.toml"
    config.write_text(f'[store]\nschema_name = "{schema}"\n', encoding="utf-8")
    config.chmod(0o600)
    assert main(["report", str(recording), "--format", "json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert main(["report", pg_url, "-c", str(config), "--format", "json"]) == 0
    from_pg = json.loads(capsys.readouterr().out)
    assert from_pg["periods"] == from_file["periods"]  # the same floor, the same figures


def _as_new(event: object) -> object:
    from supervisor_tui.model import NewEvent

    e = event
    return NewEvent(
        source=e.source,  # type: ignore[attr-defined]
        key=e.key,  # type: ignore[attr-defined]
        occurred_at=e.occurred_at,  # type: ignore[attr-defined]
        received_at=e.received_at,  # type: ignore[attr-defined]
        payload=e.payload,  # type: ignore[attr-defined]
    )
