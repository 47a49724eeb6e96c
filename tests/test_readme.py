"""The README says what the code does: each helpdesk's table of figures and needs, and the
first steps with a real config, which work as written."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from supervisor_tui.adapters.base import needs_table
from supervisor_tui.adapters.freshdesk.adapter import FreshdeskAdapter
from supervisor_tui.adapters.jsm.adapter import JsmAdapter
from supervisor_tui.adapters.polling import PolledSource
from supervisor_tui.adapters.servicenow.adapter import ServiceNowAdapter
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter
from supervisor_tui.model import Capability

from .conftest import ROOT


@pytest.mark.parametrize(
    "adapter", [ZendeskAdapter, FreshdeskAdapter, JsmAdapter, ServiceNowAdapter]
)
def test_the_readme_table_of_each_helpdesk_is_its_declared_needs(
    adapter: type[PolledSource],
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert needs_table(adapter.NEEDS) in readme
    declared = [need.capability for need in adapter.NEEDS]
    assert len(declared) == len(set(declared))  # one row per capability
    assert Capability.TICKETS in declared and Capability.WRITE_BACK in declared
    for need in adapter.NEEDS:
        assert need.endpoint and need.requires and need.without


def quick_start() -> list[str]:
    """The shell lines of the README's first steps with a real config."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("start from the example config", 1)[1].split("```sh\n", 1)[1]
    return [line.split("#")[0].strip() for line in block.split("```", 1)[0].splitlines()]


def cli(line: str) -> list[str]:
    """A README line ``.venv/bin/supervisor-tui ARGS`` as this interpreter runs it."""
    words = shlex.split(line)
    assert words[0] == ".venv/bin/supervisor-tui", line
    return [sys.executable, "-m", "supervisor_tui.cli", *words[1:]]


def test_the_quick_start_works_as_written(tmp_path: Path) -> None:
    lines = quick_start()
    assert lines[:2] == ["cp config.example.toml floor.toml", "chmod 600 floor.toml"]
    shutil.copy(ROOT / "config.example.toml", tmp_path / "config.example.toml")
    (tmp_path / "config.example.toml").chmod(0o644)  # as git checks it out
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    for line in lines[:2]:
        subprocess.run(shlex.split(line), cwd=tmp_path, check=True, env=env)
    assert stat.S_IMODE((tmp_path / "floor.toml").stat().st_mode) == 0o600
    check = cli(lines[2])
    assert check[3:] == ["check", "-c", "floor.toml"]
    done = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert cli(lines[3])[3:] == ["run", "-c", "floor.toml"]


def test_a_config_others_can_read_is_refused_with_the_command_that_fixes_it(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "my floor"  # a space: the command must still work when pasted
    folder.mkdir()
    config = folder / "config.example.toml"
    shutil.copy(ROOT / "config.example.toml", config)
    config.chmod(0o644)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    command = [sys.executable, "-m", "supervisor_tui.cli", "check", "-c", str(config)]
    refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2
    message = refused.stderr.strip()
    assert "others can read or change it (mode 644)" in message
    fix = message.rsplit(": ", 1)[1]
    assert fix == f"chmod 600 '{config}'"
    subprocess.run(fix, shell=True, check=True)  # pasted as shown
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
