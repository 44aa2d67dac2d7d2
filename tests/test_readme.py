"""The README's quickstart is what CI runs: keep the two in step."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = re.findall(r"```\n(pip install [^\n]+)\n```", readme)
    assert len(commands) == 2, commands  # one to run ancre, one to run the tests
    assert commands[1] in ci.splitlines()


def test_packaging_ships_prompts_and_samples():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    assert {"index", "qa", "ui", "prompts", "samples"} <= set(setuptools["packages"])
    data = setuptools["package-data"]
    assert "*.txt" in data["prompts"] and "articles/*" in data["samples"]
    assert project["project"]["scripts"]["ancre"] == "ancre.ui.cli:main"
