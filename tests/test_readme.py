"""The README's quickstart is what CI runs: keep the two in step."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = re.findall(r"```\n(pip install [^\n]+)\n```", readme)
    assert len(commands) == 2, commands  # one to run ancre, one to run the tests
    assert commands[1] in ci.splitlines()


def test_packaging_installs_everything_under_ancre():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    packages = set(setuptools["packages"])
    assert {"ancre.index", "ancre.qa", "ancre.ui", "ancre.prompts", "ancre.samples"} <= packages
    assert all(p.startswith("ancre.") for p in packages)
    assert all(setuptools["package-dir"][p] == "/".join(p.split(".")[1:]) for p in packages)
    data = setuptools["package-data"]
    assert "*.txt" in data["ancre.prompts"] and "articles/*" in data["ancre.samples"]
    assert project["project"]["scripts"]["ancre"] == "ancre.ui.cli:run"


def test_no_generic_top_level_names_after_install(tmp_path):
    """From a neutral folder, `index`, `qa`, `ui`, `prompts` and `samples` are not importable:
    nothing generic lands at the top of site-packages."""
    code = (
        "import importlib.util as u, ancre.qa, ancre.index, ancre.ui, ancre.prompts, ancre.samples;"
        "print([n for n in ('index', 'qa', 'ui', 'prompts', 'samples') if u.find_spec(n)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path):
    """The README's "From Python" block, run as written (with a fake-free tiny corpus: the
    real models are installed anyway)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert "from ancre.qa import ask" in block and "from ancre.index import build" in block
    articles = tmp_path / "my-articles"
    articles.mkdir()
    (articles / "maire.txt").write_text(
        "Saint-Ybars élit sa maire\n\nLe conseil municipal de Saint-Ybars a élu Jeanne Martin "
        "maire dimanche, avec 15 voix sur 19.\n",
        encoding="utf-8",
    )
    env = {**os.environ, "ANCRE_LLM": "none"}
    out = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
