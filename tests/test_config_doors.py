"""Hostile files and names at the configuration's doors (issue #19): a token name that tries
to add a line to the config, TOML nested past the parser's depth, a port that is not one, and
a config or secret file that is a directory, a FIFO or not there: one clear line each, never
a traceback or a hang."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from supervisor_tui.adapters.base import SourceSetupError
from supervisor_tui.adapters.http import read_secret
from supervisor_tui.cli import main
from supervisor_tui.config import ConfigError, load_config, parse_config
from supervisor_tui.hub.protocol import hash_token

# A FIFO is opened in a child process with a deadline: on the code before the fix, the
# open or the read waits for a writer that never comes.
DEADLINE_S = 30


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in this process (fast); ``cli_process`` where it could hang."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def cli_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supervisor_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        stdin=subprocess.DEVNULL,
    )


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


# -- `token --name` -------------------------------------------------------------------------

HOSTILE_NAMES = [
    'x" scope = "supervise',
    'Sam "the boss" \\ Lead',
    'x\\nscope = \\"supervise',  # a backslash-n typed in single quotes, not a line break
    "[[hub.tokens]] # ''' \"\"\"",
    "Zoë 李 🙂 O'Brien",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_token_name_round_trips_as_exactly_that_name(tmp_path: Path, name: str) -> None:
    made = cli("token", "--name", name, "--scope", "view")
    assert made.returncode == 0, made.stderr
    token = made.stderr.rsplit(": ", 1)[1].strip()
    config = write_config(tmp_path / "floor.toml", "[hub]\n" + made.stdout)
    [entry] = load_config(config).hub.tokens
    assert (entry.name, entry.scope, entry.sha256) == (name, "view", hash_token(token))


@pytest.mark.parametrize(
    "name", ['x"\nscope = "supervise', "a\rb", "bell\x07", "rtl\u202egnp.exe", "tab\tname"]
)
def test_a_token_name_with_control_characters_is_refused(name: str) -> None:
    made = cli("token", "--name", name)
    assert made.returncode == 2
    assert made.stdout == ""  # no entry, and no token handed out
    assert "no control or invisible characters in a name" in made.stderr
    assert "Traceback" not in made.stderr and len(made.stderr.strip().splitlines()) == 1


def test_a_config_written_by_hand_with_a_control_character_in_a_name_is_refused() -> None:
    data = {"hub": {"tokens": [{"name": "a\u0085b", "scope": "view", "sha256": "0" * 64}]}}
    with pytest.raises(ConfigError, match=r"hub.tokens\[0\].name: .*U\+0085"):
        parse_config(data, "site.toml")


def test_names_and_keys_from_the_file_reach_the_error_escaped() -> None:
    """Found by the fuzz suite: a key or a repeated source name went into the message as it
    was, so an escape sequence in a config file reached the terminal."""
    data = {
        "sources": [{"name": "\x1b[2J", "kind": "simulator"}] * 2,
        "floor": {"\x1e\x1b]8;;http://x\x07": 1},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data, "site.toml")
    message = str(info.value)
    assert all(c.isprintable() or c == "\n" for c in message), repr(message)
    assert '(repeated: "\\u001B[2J")' in message
    assert 'floor."\\u001E\\u001B]8;;http://x\\u0007": unknown key' in message


# -- TOML nested past the parser's depth ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * 5000 + "]" * 5000,
        "x = " + "{a = " * 5000 + "1" + "}" * 5000,
    ],
    ids=["arrays", "inline-tables"],
)
def test_toml_nested_too_deeply_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = write_config(tmp_path / "deep.toml", text)
    with pytest.raises(ConfigError, match=r"deep\.toml: .*nested too deeply"):
        load_config(path)


def test_nesting_the_parser_takes_but_validation_would_not_is_a_config_error(
    tmp_path: Path,
) -> None:
    depth = 200  # parsed by tomllib; deep enough to try the validator and the error report
    path = write_config(tmp_path / "deep.toml", "keys = " + "[" * depth + "]" * depth)
    with pytest.raises(ConfigError, match=r"deep\.toml: keys"):
        load_config(path)


# -- ports --------------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["hub", "webhooks"])
@pytest.mark.parametrize("port", ["0", "99999", "65536"])
def test_a_port_out_of_range_is_a_config_error(section: str, port: str) -> None:
    with pytest.raises(ConfigError, match=rf"{section}\.listen: .*1 to 65535"):
        parse_config({section: {"listen": f"127.0.0.1:{port}"}}, "site.toml")


def test_the_edge_ports_are_accepted() -> None:
    for port in (1, 65535):
        config = parse_config(
            {"hub": {"listen": f"127.0.0.1:{port}"}, "webhooks": {"listen": f"127.0.0.1:{port}"}},
            "site.toml",
        )
        assert config.hub.address()[1] == port == config.webhooks.address()[1]


# -- files that are not regular files -------------------------------------------------------


def odd_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"odd-{kind}"
    if kind == "directory":
        path.mkdir(mode=0o700)
    elif kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "missing":
        pass
    elif kind == "under-a-file":
        plain = tmp_path / "plain"
        plain.write_text("x")
        path = plain / "token"  # ENOTDIR: cannot be opened at all
    return path


ODD = ["directory", "fifo", "missing", "under-a-file"]
EXPECTED = {
    "directory": "not a regular file (a directory)",
    "fifo": "not a regular file (a FIFO)",
    "missing": "No such file or directory",
    "under-a-file": "Not a directory",
}


@pytest.mark.parametrize("kind", ODD)
def test_a_config_that_is_not_a_regular_file_is_one_line_and_no_hang(
    tmp_path: Path, kind: str
) -> None:
    path = odd_file(tmp_path, kind)
    done = (cli_process if kind == "fifo" else cli)("check", "-c", str(path))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(f"supervisor-tui: {path}")
    expected = "no such file" if kind == "missing" else EXPECTED[kind]
    assert expected in done.stderr


READ_SECRET = """
import sys
from supervisor_tui.adapters.base import SourceSetupError
from supervisor_tui.adapters.http import read_secret
try:
    read_secret(file=sys.argv[1], what="source 'zendesk'")
except SourceSetupError as exc:
    print(exc)
"""


@pytest.mark.parametrize("kind", ODD)
def test_a_token_file_that_is_not_a_regular_file_is_a_setup_error(
    tmp_path: Path, kind: str
) -> None:
    path = odd_file(tmp_path, kind)
    if kind != "fifo":
        with pytest.raises(SourceSetupError) as info:
            read_secret(file=str(path), what="source 'zendesk'")
        said = str(info.value)
    else:
        done = subprocess.run(
            [sys.executable, "-c", READ_SECRET, str(path)],
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr
        said = done.stdout
    assert said.startswith(f"source 'zendesk': cannot read {path} (")
    assert EXPECTED[kind] in said


def test_a_token_file_that_is_not_text_or_far_too_big_is_refused(tmp_path: Path) -> None:
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe token")
    binary.chmod(0o600)
    with pytest.raises(SourceSetupError, match="is not UTF-8 text"):
        read_secret(file=str(binary), what="source 'x'")
    big = tmp_path / "big"
    big.write_bytes(b"a" * (1024 * 1024))
    big.chmod(0o600)
    with pytest.raises(SourceSetupError, match="more than the"):
        read_secret(file=str(big), what="source 'x'")
    good = tmp_path / "good"
    good.write_text("  tok-123\n")
    good.chmod(0o600)
    assert read_secret(file=str(good), what="source 'x'") == "tok-123"


def test_the_token_entry_is_valid_toml_on_its_own() -> None:
    made = cli("token", "--name", 'a"b', "--scope", "supervise")
    assert tomllib.loads(made.stdout)["hub"]["tokens"][0]["name"] == 'a"b'


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["demo", "--agents", "30000"], "30,000 agents: the simulator takes 1 to 20,000"),
        (["demo", "--queues", "0"], "0 queues: the simulator takes 1 to 2,000"),
        (["record", "--agents", "lots", "--hours", "1", "--out", "x.db"], "'lots' is not a whole"),
    ],
)
def test_a_simulated_floor_out_of_bounds_is_one_line_not_a_traceback(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bounds are the simulator's own (its settings model), said before anything starts."""
    from supervisor_tui import cli

    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
