"""The project's shape: what is installed, what may import what, and that README and CI agree."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI_PACKAGES = {"textual", "rich", "questionary"}


def test_core_never_imports_a_ui_package():
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names if name.split(".")[0] in UI_PACKAGES]
    assert offenders == []


def test_every_subpackage_is_listed_for_packaging():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = config["package-dir"]
    on_disk = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            on_disk.add(".".join([package, *relative.parts]))
    assert on_disk == set(config["packages"])


def test_the_installed_package_is_sagewiz_and_bare_core_is_not_importable():
    probe = (
        "import importlib.util, sagewiz.core, sagewiz.tui;"
        "print(importlib.util.find_spec('core') is None, importlib.util.find_spec('tui') is None)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd="/", capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_console_script_answers_help():
    out = subprocess.run([sys.executable, "-m", "sagewiz.tui.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "im2rec" in out.stdout and "check" in out.stdout and "sample" in out.stdout


def _readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_command_exactly():
    setup_and_run, setup_and_test = _readme_commands()[:2]
    assert "sagewiz" in setup_and_run and "pytest" in setup_and_test
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci_lines[-1] == setup_and_test
