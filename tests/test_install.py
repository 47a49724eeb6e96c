"""Installed like a Python tool: a wheel built from this tree, installed into a fresh venv,
gives a `supervisor-tui` that knows its version and finds its stylesheet, web pages and
message catalogs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

from .conftest import ROOT

CHECK = """
import sys
from pathlib import Path
import supervisor_tui, supervisor_tui.app as app
from supervisor_tui.web import TEMPLATES
from textual.css.stylesheet import Stylesheet

print(supervisor_tui.__file__)
css = Path(app.__file__).parent / app.SupervisorApp.CSS_PATH
sheet = Stylesheet()
sheet.read(css)
sheet.parse()
print(len(sheet.rules), "rules from", css)
for page in ("board.html", "login.html"):
    assert (TEMPLATES / page).is_file(), page
from supervisor_tui import i18n
for language in i18n.LANGUAGES[1:]:
    assert i18n.catalog_path(language).is_file(), language
"""


def test_a_built_wheel_installs_a_working_command(tmp_path: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    # from a copy of what a checkout holds: a build/ or egg-info left in this tree by an
    # earlier build would hand setuptools the files the package data may be missing
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(
        ROOT / "src",
        tree / "src",
        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "*.pyc"),
    )
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(tree)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("supervisor_tui-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "-q"),
            *("--no-deps", "--no-index", str(wheel)),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # the dependencies come from this venv (no download), after the fresh venv's own
    # packages: the wheel's copy of supervisor_tui is the one imported, never this tree
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    shown = subprocess.run(
        [str(venv / "bin" / "supervisor-tui"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"supervisor-tui {version}"

    checked = subprocess.run(
        [str(python), "-c", CHECK], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stderr
    where, rules = checked.stdout.splitlines()[:2]
    assert where.startswith(site)  # the installed copy, with its own app.tcss
    assert int(rules.split()[0]) > 0

    helped = subprocess.run(
        [str(venv / "bin" / "supervisor-tui"), "web", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0 and "--token-file" in helped.stdout
